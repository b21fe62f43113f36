"""One student's autograding results, read from one gradebook and written into another.

Parallel grading gives every job a private copy of the gradebook (SQLite allows one
writer at a time, and nbgrader holds no lock across a student's notebooks). The job reads
the student's rows back with :func:`read_results`; the coordinating process, the only
writer of the course's gradebook, applies them with :func:`write_results`, one student
at a time.

Only what ``nbgrader autograde`` itself writes is copied: the submission's timestamp,
each notebook's late penalty, each grade's ``auto_score`` and ``needs_manual_grade``, and
each comment's ``auto_comment``. Manual scores, extra credit and manual comments stay as
the course's gradebook has them, so grading by hand while a run is going on is not undone.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

from tools.instructor.settings import ASSIGNMENT

GRADE_FIELDS = ("auto_score", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment",)
NOTEBOOK_FIELDS = ("late_submission_penalty",)


@dataclass
class StudentRows:
    """A student's autograded rows: plain values only, so they travel between processes.

    ``timestamp``: the submission's timestamp (ISO 8601) or None.
    ``notebooks``: notebook name -> ``{"late_submission_penalty": float | None,
    "grades": {cell: {"auto_score", "needs_manual_grade"}}, "comments": {cell: {"auto_comment"}}}``.
    """

    timestamp: str | None
    notebooks: dict[str, dict] = field(default_factory=dict)


def read_results(db_url: str, student: str) -> StudentRows | None:
    """The autograded rows of ``student``'s submission in the gradebook at ``db_url``;
    None when the gradebook has no submission for them."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(ASSIGNMENT, student)
        except MissingEntry:
            return None
        rows = StudentRows(sub.timestamp.isoformat() if sub.timestamp else None)
        for nb in sub.notebooks:
            rows.notebooks[nb.name] = {
                **{name: getattr(nb, name) for name in NOTEBOOK_FIELDS},
                "grades": {g.name: {name: getattr(g, name) for name in GRADE_FIELDS} for g in nb.grades},
                "comments": {c.name: {name: getattr(c, name) for name in COMMENT_FIELDS} for c in nb.comments},
            }
    return rows


def write_results(db_url: str, student: str, rows: StudentRows) -> None:
    """Apply ``rows`` to ``student``'s submission in the gradebook at ``db_url``,
    creating the student and the submission when missing, then commit once.

    Raises ValueError, writing nothing, when ``rows`` names a notebook or cell the
    gradebook's assignment does not have (the job graded another release).
    """
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    timestamp = dt.datetime.fromisoformat(rows.timestamp) if rows.timestamp else None
    with Gradebook(db_url) as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        known = {nb.name: {c.name for c in nb.grade_cells} | {c.name for c in nb.solution_cells}
                 | {c.name for c in nb.task_cells} for nb in assignment.notebooks}
        for name, nb_rows in rows.notebooks.items():
            unknown = (set(nb_rows["grades"]) | set(nb_rows["comments"])) - known.get(name, set())
            if name not in known or unknown:
                raise ValueError(f"results for {student!r} must match the gradebook's assignment, got notebook "
                                 f"{name!r} with cells {sorted(unknown) or 'unknown'}")
        gb.update_or_create_student(student)
        try:
            sub = gb.find_submission(ASSIGNMENT, student)
        except MissingEntry:
            with warnings.catch_warnings():
                # nbgrader's own add_submission trips SQLAlchemy 2's autoflush warning
                # (it does so in `nbgrader autograde` too); the rows are created all the same.
                warnings.simplefilter("ignore", SAWarning)
                sub = gb.add_submission(ASSIGNMENT, student)
        sub.timestamp = timestamp
        for nb in sub.notebooks:
            nb_rows = rows.notebooks.get(nb.name)
            if nb_rows is None:
                continue
            for name in NOTEBOOK_FIELDS:
                setattr(nb, name, nb_rows[name])
            for grade in nb.grades:
                for name, value in nb_rows["grades"].get(grade.name, {}).items():
                    setattr(grade, name, value)
            for comment in nb.comments:
                for name, value in nb_rows["comments"].get(comment.name, {}).items():
                    setattr(comment, name, value)
        gb.db.commit()
