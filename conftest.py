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
