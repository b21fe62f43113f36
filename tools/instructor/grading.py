"""``autograde`` and ``feedback``: nbgrader's grading steps with the course's checks around them."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

import nbformat

from tools.instructor import cells
from tools.instructor.errors import CourseToolError
from tools.instructor.nbgrader_calls import LOG_TAIL_LINES, run_nbgrader
from tools.instructor.paths import course_paths
from tools.instructor.scores import ScoreTable, collect_scores, register_students, run_export, submitted_students
from tools.instructor.settings import ASSIGNMENT
from tools.instructor.tamper import format_tamper_report, tamper_report

FAILED_STUDENT_RE = re.compile(r"error processing assignment '[^']*' for student '([^']+)'")


def failed_students(log: str) -> list[str]:
    """Students nbgrader reported an autograding error for, read from its ``log`` text."""
    return sorted(set(FAILED_STUDENT_RE.findall(log)))


def run_autograde(course_root: Path, *, env: dict[str, str] | None = None, echo: bool = False,
                  out: TextIO | None = None, timeout: float | None = None) -> ScoreTable:
    """Autograde every submitted student, print the score table and the tamper report
    (:mod:`tools.instructor.tamper`), write grades.csv.

    ``env``, ``echo``, ``timeout``: as for :func:`~tools.instructor.nbgrader_calls.run_nbgrader`.
    ``out``: where the table goes (default stdout).
    Returns the score table.
    Raises CourseToolError without submissions or a release, and (after writing what could
    be graded) when nbgrader reported an error for any student.
    """
    out = out or sys.stdout
    students = submitted_students(course_root)
    if not students:
        raise CourseToolError(f"no submissions: expected folders "
                              f"{course_paths(course_root).submitted}/<student>/{ASSIGNMENT}/")
    collect_scores(course_root)  # fails early, with advice, if never released
    register_students(course_root, students)
    result = run_nbgrader(course_root, ["autograde", ASSIGNMENT, "--force"], env=env, echo=echo, check=False,
                          timeout=timeout)
    table = run_export(course_root, out=out)
    print(format_tamper_report({s: tamper_report(course_root, s) for s in students}), file=out)
    failed = failed_students(result.stdout)
    if result.returncode != 0 or failed:
        tail = "".join(result.stdout.splitlines(keepends=True)[-LOG_TAIL_LINES:])
        raise CourseToolError(f"nbgrader autograde exited with {result.returncode}; students with errors: "
                              f"{failed or 'unknown'}", log=tail)
    return table


def mark_scheme_leaks(course_root: Path) -> list[str]:
    """``"<notebook path>: <grade_id>"`` of each autograded cell, other than a student's
    answer, that holds a mark scheme.

    nbgrader restores locked cells (task cells included) from the gradebook while
    autograding, so a rubric left in such a cell would be shown in the feedback.
    """
    leaks = []
    for path in sorted(course_paths(course_root).autograded.glob(f"*/{ASSIGNMENT}/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cells.cell_kind(cell) != "answer" and "BEGIN MARK SCHEME" in cell.get("source", ""):
                leaks.append(f"{path}: {cells.grade_id(cell) or 'untracked cell'}")
    return leaks


def run_feedback(course_root: Path, *, env: dict[str, str] | None = None, out: TextIO | None = None) -> list[Path]:
    """Generate HTML feedback under ``feedback/``.

    ``env``: variables for nbgrader; ``out``: where the summary goes (default stdout).
    Returns the feedback files written.
    Raises CourseToolError, writing nothing, when a mark scheme would reach students.
    """
    out = out or sys.stdout
    leaks = mark_scheme_leaks(course_root)
    if leaks:
        raise CourseToolError(f"a mark scheme would reach students through feedback: {leaks}; move it into the "
                              "answer cell (docs/GRADING.md)")
    run_nbgrader(course_root, ["generate_feedback", ASSIGNMENT, "--force"], env=env)
    folder = course_paths(course_root).feedback
    files = sorted(folder.glob(f"*/{ASSIGNMENT}/*.html"))
    print(f"wrote {len(files)} feedback file(s) under {folder}", file=out)
    waiting = ungraded_notebooks(course_root)
    if waiting:
        print(f"warning: {len(waiting)} notebook(s) still need manual grading, and their feedback says "
              f"\"not graded yet\" for those parts: {', '.join(waiting)}. Grade them in the formgrader, then run "
              "feedback again.", file=out)
    return files


def ungraded_notebooks(course_root: Path) -> list[str]:
    """``"<student>/<notebook>"`` for every submitted notebook that still needs manual grading."""
    table = collect_scores(course_root)
    return [f"{row.student}/{name}" for row in table.rows for name in table.notebooks if row.needs_manual.get(name)]
