"""Target 5: the student path is untouched and stays fast.

* reports the settings the notebooks' reference run trains with (``PRESETS["assignment"]``,
  the original assignment's; ``tests/helpers/test_sgns.py`` checks them value by value);
* times the six notebooks under the CI profile (``SONGREC_PROFILE=ci
  tools/run_notebooks.py``, executed copies under bench/results/notebooks_ci); the budget
  is 3 minutes. ``--skip-notebooks`` leaves this out;
* issue 19: times the six notebooks in the default profile (the real assignment, `make
  notebooks`), each side with an empty reference-run cache, for the baseline
  (``bench.common.WAIT_BASELINE``, exported with ``git archive`` and run from its own tree)
  and for this checkout, in the same run; the goal is at most 3 minutes.

Writes bench/results/student.csv and bench/results/student_wait.csv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, RESULTS, WAIT_BASELINE, say, tree_env, write_csv
from helpers import environment

BUDGET_S = 180.0


def main(notebooks: bool = True) -> dict:
    from helpers.course import PROFILES
    from helpers.sgns import PRESETS

    say("== student path (target 5) ==")
    same = PROFILES["default"].sgns == PRESETS["assignment"]
    say("the default profile trains with PRESETS['assignment']" if same
        else f"the default profile trains with {PROFILES['default'].sgns}, not PRESETS['assignment']")
    row = {"profile_is_assignment": same, "notebooks_ci_seconds": float("nan"),
           "notebooks_ok": None, "budget_s": BUDGET_S}
    if notebooks:
        env = {**os.environ, environment.PROFILE: "ci", "TF_CPP_MIN_LOG_LEVEL": "2"}
        out = RESULTS / "notebooks_ci"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(REPO / "tools" / "run_notebooks.py"),
                               "--out", str(out.relative_to(REPO))], cwd=REPO, env=env,
                              capture_output=True, text=True)
        row["notebooks_ci_seconds"] = time.perf_counter() - start
        row["notebooks_ok"] = proc.returncode == 0
        if proc.returncode:
            say(proc.stdout[-2000:], proc.stderr[-2000:])
        say(f"six notebooks, CI profile: {row['notebooks_ci_seconds']:.0f} s "
            f"({'ok' if row['notebooks_ok'] else 'FAILED'}; budget {BUDGET_S:.0f} s)")
    write_csv("student", [row])
    return {"row": row}


def six_notebooks(tree: Path, out: Path, cache: Path) -> float:
    """Seconds for ``tree``'s tools/run_notebooks.py to execute its six notebooks in the default
    profile, with its own helpers first on the import path and an empty reference-run cache."""
    env = tree_env(tree, **{environment.PROFILE: "default", environment.CACHE_DIR: str(cache),
                            "TF_CPP_MIN_LOG_LEVEL": "2"})
    env.pop(environment.REFERENCE_RUNS, None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(tree / "tools" / "run_notebooks.py"), "--out", str(out)],
                          cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"the six notebooks of {tree} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def default_wait(baseline: str = WAIT_BASELINE) -> dict:
    """Issue 19: the six notebooks in the default profile, ``baseline`` and this checkout."""
    from bench.bench_instructor_wait import baseline_tree
    from bench.cell_times import cell_seconds

    say(f"== student wait: the six notebooks, default profile, {baseline} vs this checkout (issue 19) ==")
    rows = []
    with tempfile.TemporaryDirectory(prefix="songrec-student-wait-") as tmp:
        tmp = Path(tmp)
        for side, tree in (("baseline", baseline_tree(baseline, tmp / "tree")), ("this", REPO)):
            out = RESULTS / f"notebooks_default_{side}"
            shutil.rmtree(out, ignore_errors=True)
            load = os.getloadavg()[0]
            seconds = six_notebooks(tree, out, tmp / f"cache-{side}")
            per = {p.stem: round(sum(s for _, s, _ in cell_seconds(p)), 1) for p in sorted(out.glob("*.ipynb"))}
            rows.append({"side": side, "ref": baseline if side == "baseline" else "checkout", "load_before": load,
                         "seconds": round(seconds, 1), **{f"{k}_cells_s": v for k, v in per.items()}})
            say(f"{side:8s} (load {load:.1f}): {seconds:.0f} s for the six notebooks; cells per notebook (s): {per}")
    base, this = rows
    ratio = base["seconds"] / this["seconds"]
    say(f"x{ratio:.2f} less waiting than {baseline}; <= {BUDGET_S:.0f} s: "
        + ("met" if this["seconds"] <= BUDGET_S else "not met"))
    write_csv("student_wait", rows)
    return {"rows": rows, "ratio": ratio}


def render_wait_row(res: dict) -> str:
    """The results-table row of :func:`default_wait`."""
    base, this = res["rows"]
    mark = "met" if this["seconds"] <= BUDGET_S else "**not met**"
    return (f"| 19 | student wait: the six notebooks, default profile (`make notebooks`, real data, empty cache) | "
            f"`{base['ref']}`: {base['seconds']:.0f} s | {this['seconds']:.0f} s | x{res['ratio']:.2f} (load "
            f"{base['load_before']:.1f} / {this['load_before']:.1f}) | <= 180 s: {mark} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-notebooks", action="store_true")
    ap.add_argument("--wait", action="store_true", help="only the default-profile wait against the baseline")
    args = ap.parse_args()
    if args.wait:
        default_wait()
    else:
        main(not args.skip_notebooks)
