"""Scores from the gradebook: the student x notebook table, grades.csv, ``export``."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tools.instructor.errors import CourseToolError
from tools.instructor.paths import course_paths, db_url, gradebook_file
from tools.instructor.settings import ASSIGNMENT, TOOL_COMMAND

COLUMN_WIDTH = 14


@dataclass
class ScoreRow:
    """One student's scores, by notebook name.

    ``scores``: autograded plus manual points so far; ``auto``: the autograded code
    points; ``needs_manual``: whether the notebook still awaits a grader.
    """

    student: str
    scores: dict[str, float]
    auto: dict[str, float]
    needs_manual: dict[str, bool]


@dataclass
class ScoreTable:
    """Every submission's scores: ``notebooks`` in order, their ``max_scores``, the ``rows``."""

    notebooks: list[str]
    max_scores: dict[str, float]
    rows: list[ScoreRow]

    def total(self, row: ScoreRow) -> float:
        return sum(row.scores.get(n, 0.0) for n in self.notebooks)

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())


def submitted_students(course_root: Path) -> list[str]:
    """Student ids that have a ``submitted/<student>/song2vec/`` folder, sorted."""
    sub = course_paths(course_root).submitted
    if not sub.is_dir():
        return []
    return sorted(p.name for p in sub.iterdir() if (p / ASSIGNMENT).is_dir() and not p.name.startswith("."))


def register_students(course_root: Path, students: Iterable[str]) -> None:
    """Add each student id to the gradebook (nbgrader autograde skips unknown students)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course_root)) as gb:
        for student in students:
            gb.update_or_create_student(student)


def collect_scores(course_root: Path) -> ScoreTable:
    """Per-student, per-notebook scores read from the gradebook.

    Raises CourseToolError, creating no gradebook, when the assignment was never released.
    """
    from nbgrader.api import Gradebook, MissingEntry

    url = db_url(course_root)
    advice = f"the gradebook has no assignment {ASSIGNMENT!r}; run `{TOOL_COMMAND} release` first"
    file = gradebook_file(url)
    if file is not None and not file.is_file():
        raise CourseToolError(advice)
    with Gradebook(url) as gb:
        try:
            assignment = gb.find_assignment(ASSIGNMENT)
        except MissingEntry:
            raise CourseToolError(advice) from None
        notebooks = sorted(nb.name for nb in assignment.notebooks)
        max_scores = {nb.name: float(nb.max_score) for nb in assignment.notebooks}
        rows = []
        for sub in sorted(assignment.submissions, key=lambda s: s.student_id):
            rows.append(ScoreRow(sub.student_id,
                                 {nb.name: float(nb.score) for nb in sub.notebooks},
                                 {nb.name: float(nb.code_score) for nb in sub.notebooks},
                                 {nb.name: bool(nb.needs_manual_grade) for nb in sub.notebooks}))
    return ScoreTable(notebooks, max_scores, rows)


def format_score_table(table: ScoreTable) -> str:
    """The table as text: a row per student, ``*`` where manual grading is still due."""
    width = max([len("student")] + [len(r.student) for r in table.rows])
    cols = table.notebooks + ["total"]
    lines = [f"{'student':<{width}}  " + "  ".join(f"{c:>{COLUMN_WIDTH}}" for c in cols),
             f"{'(max)':<{width}}  " + "  ".join(f"{table.max_scores[n]:>{COLUMN_WIDTH}g}" for n in table.notebooks)
             + f"  {table.max_total:>{COLUMN_WIDTH}g}"]
    for row in table.rows:
        cells = [f"{row.scores.get(n, 0.0):g}{'*' if row.needs_manual.get(n) else ''}".rjust(COLUMN_WIDTH)
                 for n in table.notebooks]
        cells.append(f"{table.total(row):g}".rjust(COLUMN_WIDTH))
        lines.append(f"{row.student:<{width}}  " + "  ".join(cells))
    lines.append("* = still needs manual grading in the formgrader")
    return "\n".join(lines)


def write_grades_csv(table: ScoreTable, path: Path) -> Path:
    """Write one row per student to ``path``: notebook scores, total, max_total, needs_manual_grade.

    Returns ``path``.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", *table.notebooks, "total", "max_total", "needs_manual_grade"])
    for row in table.rows:
        writer.writerow([row.student, *(f"{row.scores.get(n, 0.0):g}" for n in table.notebooks),
                         f"{table.total(row):g}", f"{table.max_total:g}", int(any(row.needs_manual.values()))])
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)


def run_export(course_root: Path, *, out: TextIO | None = None) -> ScoreTable:
    """Print the score table to ``out`` (default stdout) and write ``grades.csv`` in the course root."""
    out = out or sys.stdout
    table = collect_scores(course_root)
    target = write_grades_csv(table, course_paths(course_root).grades_csv)
    print(format_score_table(table), file=out)
    print(f"wrote {target}", file=out)
    return table
