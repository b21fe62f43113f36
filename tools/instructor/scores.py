"""Scores from the gradebook: the student x notebook table, grades.csv, ``export``.

Never a silent 0: a student whose last grading failed (``autograde-state.json`` keeps the
error, :mod:`tools.instructor.resume`) shows ``ERROR`` instead of scores, and a notebook
graded with a problem (an older release with cells that match nothing, a cell whose kernel
had to be killed; read from the autograded notebook's ``metadata.songrec``) is marked
``!``; the lines under the table and grades.csv's ``notes`` column say what happened and
what to do.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tools.instructor.errors import CourseToolError
from tools.instructor.paths import course_paths, db_url, gradebook_file
from tools.instructor.resume import GradingState
from tools.instructor.settings import ASSIGNMENT, GRADING_LOG_DIR, TOOL_COMMAND

COLUMN_WIDTH = 14
ERROR_MARK = "ERROR"
NOTE_MARK = "!"
SHOWN_IDS = 8


@dataclass
class ScoreRow:
    """One student's scores, by notebook name.

    ``scores``: autograded plus manual points so far; ``auto``: the autograded code
    points; ``needs_manual``: whether the notebook still awaits a grader; ``notes``:
    notebook -> what went wrong while grading it; ``error``: why the student's last
    grading failed (their scores are then not shown), else None.
    """

    student: str
    scores: dict[str, float]
    auto: dict[str, float]
    needs_manual: dict[str, bool]
    notes: dict[str, str] = field(default_factory=dict)
    error: str | None = None


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


@contextmanager
def open_assignment(course_root: Path, advice: str) -> Iterator[Any]:
    """The course's gradebook assignment, inside an open gradebook.

    Raises CourseToolError(advice), creating no gradebook file, when the gradebook or the
    assignment is missing (opening a missing sqlite file would create an empty one).
    """
    from nbgrader.api import Gradebook, MissingEntry

    url = db_url(course_root)
    file = gradebook_file(url)
    if file is not None and not file.is_file():
        raise CourseToolError(advice)
    with Gradebook(url) as gb:
        try:
            assignment = gb.find_assignment(ASSIGNMENT)
        except MissingEntry:
            raise CourseToolError(advice) from None
        yield assignment


def collect_scores(course_root: Path) -> ScoreTable:
    """Per-student, per-notebook scores read from the gradebook.

    Raises CourseToolError, creating no gradebook, when the assignment was never released.
    """
    advice = f"the gradebook has no assignment {ASSIGNMENT!r}; run `{TOOL_COMMAND} release` first"
    with open_assignment(course_root, advice) as assignment:
        notebooks = sorted(nb.name for nb in assignment.notebooks)
        max_scores = {nb.name: float(nb.max_score) for nb in assignment.notebooks}
        rows = []
        for sub in sorted(assignment.submissions, key=lambda s: s.student_id):
            rows.append(ScoreRow(sub.student_id,
                                 {nb.name: float(nb.score) for nb in sub.notebooks},
                                 {nb.name: float(nb.code_score) for nb in sub.notebooks},
                                 {nb.name: bool(nb.needs_manual_grade) for nb in sub.notebooks}))
    errors = GradingState(course_root).errors()
    known = {row.student for row in rows}
    rows += [ScoreRow(s, {}, {}, {}) for s in sorted(set(errors) - known)]
    rows.sort(key=lambda r: r.student)
    for row in rows:
        row.error = errors.get(row.student)
        row.notes = grading_notes(course_root, row.student, notebooks)
    return ScoreTable(notebooks, max_scores, rows)


def _ids(ids) -> str:
    from tools.instructor.preprocessors.match_release import shown_id

    ids = [shown_id(i) for i in ids]
    return ", ".join(ids[:SHOWN_IDS]) + (f" (+{len(ids) - SHOWN_IDS} more)" if len(ids) > SHOWN_IDS else "")


def grading_notes(course_root: Path, student: str, notebooks: Iterable[str]) -> dict[str, str]:
    """Notebook -> one sentence on what went wrong while it was graded, read from the
    autograded notebook's ``metadata.songrec`` (written by the course's preprocessors)."""
    notes = {}
    folder = course_paths(course_root).autograded / student / ASSIGNMENT
    for name in notebooks:
        try:
            meta = json.loads((folder / f"{name}.ipynb").read_text(encoding="utf-8"))["metadata"].get("songrec", {})
        except (OSError, ValueError, KeyError, AttributeError):
            continue
        parts = []
        release = meta.get("release") or {}
        if release.get("unmatched") or release.get("missing"):
            what = [f"cells {_ids(release['unmatched'])} match nothing" if release.get("unmatched") else "",
                    f"answers {_ids(release['missing'])} not found" if release.get("missing") else ""]
            parts.append("older release: " + "; ".join(w for w in what if w)
                         + " (scored as unanswered; ask the student to copy their answers into the current "
                           "release, or grade those parts by hand)")
        killed = (meta.get("grading") or {}).get("killed") or []
        if killed:
            parts.append(f"cells {_ids(killed)} ran past the cell timeout and ignored the interrupt: the kernel "
                         "was killed, those cells score nothing, the rest was graded")
        if parts:
            notes[name] = "; ".join(parts)
    return notes


def format_score_table(table: ScoreTable) -> str:
    """The table as text: a row per student, ``*`` where manual grading is still due."""
    width = max([len("student")] + [len(r.student) for r in table.rows])
    cols = table.notebooks + ["total"]
    lines = [f"{'student':<{width}}  " + "  ".join(f"{c:>{COLUMN_WIDTH}}" for c in cols),
             f"{'(max)':<{width}}  " + "  ".join(f"{table.max_scores[n]:>{COLUMN_WIDTH}g}" for n in table.notebooks)
             + f"  {table.max_total:>{COLUMN_WIDTH}g}"]
    for row in table.rows:
        if row.error:
            cells = [ERROR_MARK.rjust(COLUMN_WIDTH) for _ in cols]
        else:
            cells = [(f"{row.scores.get(n, 0.0):g}{'*' if row.needs_manual.get(n) else ''}"
                      f"{NOTE_MARK if n in row.notes else ''}").rjust(COLUMN_WIDTH) for n in table.notebooks]
            cells.append(f"{table.total(row):g}".rjust(COLUMN_WIDTH))
        lines.append(f"{row.student:<{width}}  " + "  ".join(cells))
    lines.append("* = still needs manual grading in the formgrader")
    for row in table.rows:
        if row.error:
            lines.append(f"{ERROR_MARK} {row.student}: not graded: {row.error}. See "
                         f"{GRADING_LOG_DIR}/{row.student}.log, then run `{TOOL_COMMAND} autograde` again")
        for name, note in row.notes.items():
            lines.append(f"{NOTE_MARK} {row.student}/{name}: {note}")
    return "\n".join(lines)


def write_grades_csv(table: ScoreTable, path: Path) -> Path:
    """Write one row per student to ``path``: notebook scores, total, max_total,
    needs_manual_grade, notes (``ERROR`` for every score of a student whose grading failed).

    Returns ``path``.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", *table.notebooks, "total", "max_total", "needs_manual_grade", "notes"])
    for row in table.rows:
        if row.error:
            writer.writerow([row.student, *([ERROR_MARK] * (len(table.notebooks) + 1)), f"{table.max_total:g}", "",
                             f"not graded: {row.error}; see {GRADING_LOG_DIR}/{row.student}.log"])
            continue
        notes = "; ".join(f"{n}: {note}" for n, note in row.notes.items())
        writer.writerow([row.student, *(f"{row.scores.get(n, 0.0):g}" for n in table.notebooks),
                         f"{table.total(row):g}", f"{table.max_total:g}", int(any(row.needs_manual.values())), notes])
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
