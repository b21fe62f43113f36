"""Target 6: autograding a class of the real notebooks, sequential vs ``--jobs 2``.

A throw-away copy of the course (its nbgrader_config.py, tools/ and the six source
notebooks) is released, and a small class hands in: two full solutions, the untouched
release, and a half-done one (parts 1-3 solved, 4-6 as released). The class is graded
in the ``grading`` profile with the sandbox on, first with ``--jobs 1`` (one student
after another, in this process), then with ``--jobs 2`` (a Dask LocalCluster of two
workers, its start-up included), both with ``--force``; the two score tables must be
equal. Reported: seconds per submission for each (wall time / submissions) and their
ratio, measured in the same run.

Then one full solution is graded alone, sequentially, in each profile of ``--profiles``
(default ``ci`` and ``default``; ``default`` retrains the full assignment and needs the
Cornell data): the seconds one student takes.

Writes bench/results/autograde.csv. ``python -m bench.bench_autograde --update`` also
replaces row 6 of bench/RESULTS.md (the one copy of that table; the docs link to it).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import BENCH_DIR, REPO, say, write_csv
from helpers import environment

TARGET_S = 30.0
SUBMISSIONS = ("solution_a", "solution_b", "blank", "half")
HALF_SOLVED = ("01_", "02_", "03_")
ROW_PREFIX = "| 6 | autograde"


def copy_course(root: Path) -> Path:
    """A copy of this course under ``root`` (source notebooks, nbgrader_config.py, the
    instructor tools), not yet released; returns its source-notebook folder."""
    from tools.instructor.settings import ASSIGNMENT

    src = root / "notebooks" / ASSIGNMENT
    shutil.copytree(REPO / "notebooks" / ASSIGNMENT, src, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "tools").mkdir()
    shutil.copy(REPO / "tools" / "__init__.py", root / "tools" / "__init__.py")
    shutil.copytree(REPO / "tools" / "instructor", root / "tools" / "instructor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return src


def build_class(root: Path, profile: str, students=SUBMISSIONS) -> None:
    """Release a copy of the course under ``root`` and hand in ``students``."""
    from tools.instructor.release import run_release
    from tools.instructor.settings import ASSIGNMENT

    src = copy_course(root)
    run_release(root, env={environment.PROFILE: profile}, repo="bench/songrec", out=io.StringIO())
    rel = root / "release" / ASSIGNMENT
    for student in students:
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for nb in sorted(src.glob("*.ipynb")):
            solved = student.startswith("solution") or (student == "half" and nb.name.startswith(HALF_SOLVED))
            shutil.copy(nb if solved else rel / nb.name, folder / nb.name)


def grade(root: Path, *, jobs: int, profile: str) -> tuple[float, list]:
    """Seconds to autograde the whole class of ``root``, and its score rows."""
    from tools.instructor.class_autograde import run_class_autograde

    start = time.perf_counter()
    table = run_class_autograde(root, jobs=jobs, force=True, profile=profile, out=io.StringIO(), sandbox="bwrap")
    return time.perf_counter() - start, [(r.student, r.auto) for r in table.rows]


def main(profiles: tuple[str, ...] = ("ci", "default")) -> dict:
    from helpers.data import find_data_dir

    say("== autograde a class (target 6) ==")
    rows = []
    with tempfile.TemporaryDirectory(prefix="songrec-bench-autograde-") as tmp:
        root = Path(tmp) / "course"
        build_class(root, "grading")
        n = len(SUBMISSIONS)
        seq, seq_scores = grade(root, jobs=1, profile="grading")
        say(f"grading profile, {n} submissions, --jobs 1: {seq:.0f} s ({seq / n:.1f} s per submission)")
        par, par_scores = grade(root, jobs=2, profile="grading")
        say(f"grading profile, {n} submissions, --jobs 2: {par:.0f} s ({par / n:.1f} s per submission)")
        if seq_scores != par_scores:
            raise AssertionError(f"--jobs 2 gave other scores than --jobs 1: {par_scores} vs {seq_scores}")
        rows.append({"what": "class", "profile": "grading", "submissions": n, "sequential_s": seq,
                     "jobs2_s": par, "per_submission_sequential_s": seq / n, "per_submission_jobs2_s": par / n,
                     "speedup": seq / par, "same_scores": True, "cpu_cores": os.cpu_count(),
                     "load_before": os.getloadavg()[0]})
    for profile in profiles:
        if profile == "default" and find_data_dir(None) is None:
            say("default profile: skipped (no Cornell data; set SONGREC_DATA_DIR)")
            continue
        with tempfile.TemporaryDirectory(prefix=f"songrec-bench-autograde-{profile}-") as tmp:
            root = Path(tmp) / "course"
            build_class(root, profile, students=("solution_a",))
            seconds, _ = grade(root, jobs=1, profile=profile)
            say(f"{profile} profile, one full solution, --jobs 1: {seconds:.0f} s")
            rows.append({"what": "one student", "profile": profile, "submissions": 1, "sequential_s": seconds,
                         "per_submission_sequential_s": seconds})
    write_csv("autograde", rows)
    return {"rows": rows}


def render_row(res: dict) -> str:
    """Row 6 of the results table."""
    cls = next(r for r in res["rows"] if r["what"] == "class")
    single = {r["profile"]: r["sequential_s"] for r in res["rows"] if r["what"] == "one student"}
    alone = ", ".join(f"{p} profile {s:.0f} s" for p, s in single.items())
    ok = cls["per_submission_jobs2_s"] <= TARGET_S
    return (f"{ROW_PREFIX}, {cls['submissions']} submissions of the six notebooks, grading profile, sandboxed "
            f"| `--jobs 1`: {cls['per_submission_sequential_s']:.1f} s per submission | `--jobs 2`: "
            f"{cls['per_submission_jobs2_s']:.1f} s per submission, same scores"
            + (f"; one student alone: {alone}" if alone else "")
            + f" | x{cls['speedup']:.2f} | <= {TARGET_S:.0f} s per submission: {'met' if ok else '**not met**'} |")


def splice_row(text: str, row: str) -> str:
    """``text`` with its row 6 replaced by ``row`` (inserted after the last numbered row if missing)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(ROW_PREFIX):
            lines[i] = row
            return "\n".join(lines)
    last = max(i for i, line in enumerate(lines) if re.match(r"\| \d+ \|", line))
    lines.insert(last + 1, row)
    return "\n".join(lines)


def update_tables(row: str) -> None:
    """Put ``row`` into bench/RESULTS.md."""
    for path in (BENCH_DIR / "RESULTS.md",):
        path.write_text(splice_row(path.read_text(encoding="utf-8"), row), encoding="utf-8")
        say(f"updated {path}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", default="ci,default",
                    help="profiles to time one student in, comma-separated (empty: none)")
    ap.add_argument("--update", action="store_true", help="write row 6 into bench/RESULTS.md")
    args = ap.parse_args()
    result = main(tuple(p for p in args.profiles.split(",") if p))
    say(render_row(result))
    if args.update:
        update_tables(render_row(result))
