"""Target 5: the student path is untouched and stays fast.

* reports the settings the notebooks' reference run trains with (``PRESETS["assignment"]``,
  the original assignment's; ``tests/helpers/test_sgns.py`` checks them value by value);
* times the six notebooks under the CI profile (``SONGREC_PROFILE=ci
  tools/run_notebooks.py``, executed copies under bench/results/notebooks_ci); the budget
  is 3 minutes. ``--skip-notebooks`` leaves this out;
* issue 19: times the six notebooks in the default profile (the real assignment, `make
  notebooks`), each side with an empty reference-run cache, for the baseline
  (``bench.common.WAIT_BASELINE``, exported with ``git archive`` and run from its own tree)
  and for this checkout, in the same run: this checkout as a student runs it (parts 5 and 6
  use the reference runs its release published, trained once and timed apart) and once
  more retraining them; the goal is at most 3 minutes.

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


def six_notebooks(tree: Path, out: Path, cache: Path, reference_runs: str | None = None) -> float:
    """Seconds for ``tree``'s tools/run_notebooks.py to execute its six notebooks in the default
    profile, with its own helpers first on the import path and an empty reference-run cache.
    ``reference_runs``: a published spec (``URL#sha256=HEX``) parts 5 and 6 verify and use,
    or None: they train the reference runs (the baseline's runner knows no other way)."""
    env = tree_env(tree, **{environment.PROFILE: "default", environment.CACHE_DIR: str(cache),
                            "TF_CPP_MIN_LOG_LEVEL": "2"})
    env.pop(environment.REFERENCE_RUNS, None)
    cmd = [sys.executable, str(tree / "tools" / "run_notebooks.py"), "--out", str(out)]
    if tree == REPO:
        cmd += ["--reference-runs", reference_runs or "retrain"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"the six notebooks of {tree} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if reference_runs:
        used = [p.name for p in sorted(out.glob("0[56]_*.ipynb"))
                if "Using the course's published reference run" in p.read_text(encoding="utf-8")]
        if len(used) != 2:
            raise RuntimeError(f"parts 5 and 6 should have used the published reference runs; only {used} did")
    return seconds


def publish(dest: Path) -> tuple[str, float]:
    """The default profile's reference runs trained once, in a child with an empty cache, and
    published into ``dest`` with their manifest, by the grader's step that does the same for
    the grading profile (``tools.instructor.grading_runs.train_published``, which runs the
    release's ``write_reference_runs``): (spec ``file://.../manifest.json#sha256=HEX``, seconds)."""
    from tools.instructor.grading_runs import train_published

    start = time.perf_counter()
    spec, why = train_published(tree_env(REPO, TF_CPP_MIN_LOG_LEVEL="2"), "default", dest)
    if not spec:
        raise RuntimeError(f"publishing the reference runs failed: {why}")
    return spec, time.perf_counter() - start


def default_wait(baseline: str = WAIT_BASELINE) -> dict:
    """Issue 19: the six notebooks in the default profile, each with an empty reference-run cache:
    ``baseline`` (parts 5 and 6 train the reference runs), this checkout as a student gets it
    (the release has published the reference runs; parts 5 and 6 download and verify them:
    what the release's setup cells do), and this checkout retraining them (`make notebooks`
    before any `make release`). The release's one-time training is timed on its own: the
    instructor pays it once per release, no student waits for it."""
    from bench.bench_instructor_wait import baseline_tree
    from bench.cell_times import cell_seconds

    say(f"== student wait: the six notebooks, default profile, {baseline} vs this checkout (issue 19) ==")
    rows = []
    with tempfile.TemporaryDirectory(prefix="songrec-student-wait-") as tmp:
        tmp = Path(tmp)
        load = os.getloadavg()[0]
        spec, publish_s = publish(tmp / "reference")
        say(f"release (load {load:.1f}): the reference runs trained and published once in {publish_s:.0f} s")
        sides = (("baseline", baseline_tree(baseline, tmp / "tree"), None), ("this", REPO, spec),
                 ("this_retrain", REPO, None))
        for side, tree, runs in sides:
            out = RESULTS / f"notebooks_default_{side}"
            shutil.rmtree(out, ignore_errors=True)
            load = os.getloadavg()[0]
            seconds = six_notebooks(tree, out, tmp / f"cache-{side}", runs)
            per = {p.stem: round(sum(s for _, s, _ in cell_seconds(p)), 1) for p in sorted(out.glob("*.ipynb"))}
            rows.append({"side": side, "ref": baseline if side == "baseline" else "checkout", "load_before": load,
                         "seconds": round(seconds, 1), "publish_s": round(publish_s, 1) if runs else None,
                         **{f"{k}_cells_s": v for k, v in per.items()}})
            say(f"{side:12s} (load {load:.1f}): {seconds:.0f} s for the six notebooks; cells per notebook (s): {per}")
    base, this, _ = rows
    ratio = base["seconds"] / this["seconds"]
    say(f"x{ratio:.2f} less waiting than {baseline}; <= {BUDGET_S:.0f} s: "
        + ("met" if this["seconds"] <= BUDGET_S else "not met"))
    write_csv("student_wait", rows)
    return {"rows": rows, "ratio": ratio}


def render_wait_row(res: dict) -> str:
    """The results-table row of :func:`default_wait`."""
    base, this, retrain = res["rows"]
    mark = "met" if this["seconds"] <= BUDGET_S else "**not met**"
    return (f"| 19 | student wait: the six notebooks, default profile (real data, empty cache; parts 5 and 6 "
            f"verify and use the reference runs the release published, where the baseline trains them) | "
            f"`{base['ref']}`: {base['seconds']:.0f} s | {this['seconds']:.0f} s | x{res['ratio']:.2f} (load "
            f"{base['load_before']:.1f} / {this['load_before']:.1f}); the release trained the runs once in "
            f"{this['publish_s']:.0f} s (the instructor's wait, not the student's); with no release "
            f"(`tools/run_notebooks.py --reference-runs retrain`) {retrain['seconds']:.0f} s | <= 180 s: {mark} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-notebooks", action="store_true")
    ap.add_argument("--wait", action="store_true", help="only the default-profile wait against the baseline")
    args = ap.parse_args()
    if args.wait:
        default_wait()
    else:
        main(not args.skip_notebooks)
