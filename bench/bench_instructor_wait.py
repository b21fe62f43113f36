"""The instructor's wait (issue 19): grading per submission, and a class of 30 with ``--jobs 2``,
for this checkout and for a baseline (``bench.common.WAIT_BASELINE``: main before issue 19)
measured in the same run.

Each side runs in its own child process, in its own tree: the baseline is ``git archive``d
into a temporary folder, so its grading code, instructor tools, notebooks and ``helpers``
are the baseline's own (the child puts that tree first on PYTHONPATH; the course copy's
nbgrader kernels get it too, see ``tools.instructor.nbgrader_calls.course_env``). The
child uses only ``bench.bench_autograde.build_class`` and ``grade``, which both trees have.

Measured per side, all in the ``grading`` profile with the bubblewrap sandbox:

* ``sequential``: ``--jobs 1`` over the four standard submissions (two full solutions,
  the untouched release, a half-done one; in this checkout the next student is started
  ahead of their turn, gated); reported per submission;
* ``class``: ``--class-size`` full solutions (the slowest kind) with ``--jobs 2``, the Dask
  cluster's start included.

The two sides run one after the other (baseline first), so a change in the machine's load
between them shows up in the ratios: the load average before each side is printed.
Goals (issue 19): at most 15 s per submission sequentially and a class of 30 in at most
300 s with ``--jobs 2`` (a quiet 2-core machine).

    python -m bench.bench_instructor_wait [--baseline main] [--class-size 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, WAIT_BASELINE, say, tree_env, write_csv

SEQUENTIAL_TARGET_S = 15.0
CLASS_TARGET_S = 300.0
CLASS_SIZE = 30

# Runs in the child, in the tree being measured; only uses what main's bench already has.
CHILD = r"""
import json, os, sys, tempfile, time
from pathlib import Path
from bench.bench_autograde import SUBMISSIONS, build_class, grade
size = int(sys.argv[1])
out = {"load_before": os.getloadavg()[0]}
with tempfile.TemporaryDirectory(prefix="songrec-wait-seq-") as tmp:
    root = Path(tmp) / "course"
    build_class(root, "grading")
    seconds, scores = grade(root, jobs=1, profile="grading")
    out.update(sequential_s=seconds, sequential_n=len(SUBMISSIONS), sequential_scores=scores)
if size:
    with tempfile.TemporaryDirectory(prefix="songrec-wait-class-") as tmp:
        root = Path(tmp) / "course"
        build_class(root, "grading", students=tuple(f"solution_{i:02d}" for i in range(size)))
        seconds, scores = grade(root, jobs=2, profile="grading")
        # Every student hands in the same solution: one distinct score table is expected.
        out.update(class_s=seconds, class_n=size,
                   class_scores=sorted({json.dumps(s, sort_keys=True) for _, s in scores}))
print("WAIT-RESULT " + json.dumps(out))
"""


def baseline_tree(ref: str, dest: Path) -> Path:
    """``ref`` of this repository exported into ``dest`` (no .git), for timing its code."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref],
                             check=True, capture_output=True).stdout
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def measure(tree: Path, class_size: int) -> dict:
    """Run :data:`CHILD` in ``tree`` and return what it reported."""
    env = tree_env(tree)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(class_size)], cwd=str(tree), env=env,
                          capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WAIT-RESULT ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"timing {tree} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(line.split(" ", 1)[1])


def main(baseline: str = WAIT_BASELINE, class_size: int = CLASS_SIZE) -> dict:
    say(f"== the instructor's wait: this checkout vs {baseline} (same run) ==")
    sides = {}
    with tempfile.TemporaryDirectory(prefix="songrec-wait-base-") as tmp:
        sides["baseline"] = measure(baseline_tree(baseline, Path(tmp) / "tree"), class_size)
    sides["this"] = measure(REPO, class_size)
    rows = []
    for name, r in sides.items():
        per = r["sequential_s"] / r["sequential_n"]
        row = {"side": name, "ref": baseline if name == "baseline" else "checkout", "load_before": r["load_before"],
               "per_submission_sequential_s": per, "class_n": r.get("class_n", 0), "class_jobs2_s": r.get("class_s")}
        rows.append(row)
        say(f"{name:8s} (load {r['load_before']:.1f}): {per:.1f} s per submission sequentially"
            + (f"; a class of {r['class_n']} with --jobs 2: {r['class_s']:.0f} s" if "class_s" in r else ""))
    base, this = sides["baseline"], sides["this"]
    if base["sequential_scores"] != this["sequential_scores"]:
        raise AssertionError(f"scores differ from {baseline}'s: {this['sequential_scores']} "
                             f"vs {base['sequential_scores']}")
    ratio_seq = (base["sequential_s"] / base["sequential_n"]) / (this["sequential_s"] / this["sequential_n"])
    say(f"sequential: x{ratio_seq:.2f} faster than {baseline}; target <= {SEQUENTIAL_TARGET_S:.0f} s per submission: "
        + ("met" if this["sequential_s"] / this["sequential_n"] <= SEQUENTIAL_TARGET_S else "not met"))
    result = {"rows": rows, "ratio_sequential": ratio_seq}
    if class_size:
        result["ratio_class"] = base["class_s"] / this["class_s"]
        target = CLASS_TARGET_S * class_size / CLASS_SIZE
        say(f"class of {class_size}, --jobs 2: x{result['ratio_class']:.2f} faster than {baseline}; target "
            f"<= {target:.0f} s: " + ("met" if this["class_s"] <= target else "not met"))
    write_csv("instructor_wait", rows)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=WAIT_BASELINE, help=f"git ref to compare with (default: {WAIT_BASELINE}, "
                                                              "main before issue 19)")
    ap.add_argument("--class-size", type=int, default=CLASS_SIZE, help="students in the --jobs 2 class (0: skip)")
    args = ap.parse_args()
    main(args.baseline, args.class_size)


def render_row(res: dict) -> str:
    """Row 7 of the results table: this checkout's waits and the ratios against the baseline."""
    base, this = (next(r for r in res["rows"] if r["side"] == s) for s in ("baseline", "this"))
    seq = this["per_submission_sequential_s"]
    text = (f"| 7 | instructor's wait vs `{base['ref']}` (same run) | {seq:.1f} s per submission sequentially "
            f"(`{base['ref']}`: {base['per_submission_sequential_s']:.1f} s, x{res['ratio_sequential']:.2f})")
    ok = seq <= SEQUENTIAL_TARGET_S
    if "ratio_class" in res:
        text += (f"; class of {this['class_n']}, `--jobs 2`: {this['class_jobs2_s']:.0f} s "
                 f"(`{base['ref']}`: {base['class_jobs2_s']:.0f} s, x{res['ratio_class']:.2f})")
        ok = ok and this["class_n"] == CLASS_SIZE and this["class_jobs2_s"] <= CLASS_TARGET_S
    return (text + f" | load {base['load_before']:.1f} / {this['load_before']:.1f} | | <= 15 s and <= 300 s: "
            + ("met" if ok else "**not met**") + " |")
