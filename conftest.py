"""Root pytest configuration: shared by tests/ and the notebooks collected by nbval."""

import os
from pathlib import Path

# Before anything imports TensorFlow, and inherited by notebook kernels.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SONGREC_PROFILE", "ci")

NO_DATA_SANITIZER = Path(__file__).parent / "tests" / "nbval" / "no_real_data.cfg"


def pytest_configure(config):
    """Without the real data the notebooks still execute, but pinned outputs are not compared."""
    # Markers of the extra environments (registered here to keep pyproject.toml's list short).
    config.addinivalue_line("markers", "colab: runs the released notebooks in a simulated Colab "
                                       "runtime (`make test-colab`; builds a cached venv)")
    if not os.environ.get("SONGREC_DATA_DIR") and hasattr(config.option, "nbval_sanitize_with"):
        if config.option.nbval_sanitize_with is None:
            config.option.nbval_sanitize_with = str(NO_DATA_SANITIZER)


def pytest_report_header(config):
    data = os.environ.get("SONGREC_DATA_DIR")
    where = f"SONGREC_DATA_DIR={data}" if data else "absent (real-data tests skip; notebooks use synthetic data)"
    return [f"songrec: profile={os.environ['SONGREC_PROFILE']}, real data={where}"]


def pytest_terminal_summary(terminalreporter):
    """One closing summary of what was skipped, grouped by reason (each reason names the fix).

    A fresh machine without Chromium, bubblewrap or the real data skips whole groups of
    tests; the per-test 'SKIPPED' lines scroll away, so the run ends with one list.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    groups: dict[str, int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        groups[reason] = groups.get(reason, 0) + 1
    terminalreporter.section("songrec: what was skipped and how to run it")
    for reason, count in sorted(groups.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{count:4d} skipped: {reason}")
    terminalreporter.write_line("`make test` installs Chromium and bubblewrap itself where it runs as root with apt "
                                "(`make browser-deps sandbox-deps`); real-data tests need SONGREC_DATA_DIR "
                                "or `make data`.")
