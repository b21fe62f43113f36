"""``autograde`` and ``feedback``: nbgrader's grading steps with the course's checks around them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import nbformat

from tools.instructor import cells
from tools.instructor.errors import CourseToolError
from tools.instructor.nbgrader_calls import run_nbgrader
from tools.instructor.paths import course_paths
from tools.instructor.scores import ScoreTable, collect_scores
from tools.instructor.settings import ASSIGNMENT


def run_autograde(course_root: Path, *, env: dict[str, str] | None = None, echo: bool = False,
                  out: TextIO | None = None, timeout: float | None = None, **options) -> ScoreTable:
    """Autograde the submitted students, print the score table and the tamper report
    (:mod:`tools.instructor.tamper`), write grades.csv.

    ``env``: extra variables for nbgrader and its kernels; ``echo``: print each
    student's nbgrader log; ``out``: where the output goes (default stdout);
    ``timeout``: seconds for one student. ``options``: those of
    :func:`~tools.instructor.class_autograde.run_class_autograde` (``jobs``,
    ``scheduler``, ``students``, ``force``, ``sandbox``, ``profile``, ``quiet``, ``tty``).
    Returns the score table.
    Raises CourseToolError without submissions or a release, when the sandbox cannot
    start, and (after writing what could be graded) when nbgrader reported an error for
    any student.
    """
    from tools.instructor.class_autograde import run_class_autograde

    return run_class_autograde(course_root, env=env, echo=echo, out=out, timeout=timeout, **options)


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
