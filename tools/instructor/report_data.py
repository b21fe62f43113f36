"""What the class report shows, gathered from the course: the gradebook, the autograded
notebooks' test outputs, the tamper report and the autograde records.

Every string here may come from a student; :mod:`~tools.instructor.report` escapes it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools.instructor.paths import course_paths, db_url
from tools.instructor.scores import submitted_students
from tools.instructor.settings import ASSIGNMENT, GRADING_STATE_FILE
from tools.instructor.tamper import tamper_report

MESSAGE_CHARS = 160


@dataclass
class FailedTest:
    """A test cell: how many students failed it and their most common messages."""

    grade_id: str
    notebook: str
    failures: int = 0
    messages: Counter = field(default_factory=Counter)


@dataclass
class ClassData:
    """Everything the report draws. ``cell_scores``: grade id -> (max, scores);
    ``notebook_scores``: notebook -> (max, scores); ``totals``: student -> points;
    ``names``: student -> the name the LMS shows (from the roster, may be hostile);
    ``failed``: test cells failed at least once, most failed first; ``tamper``: student ->
    findings; ``similar``: flagged pairs; ``grading``: student -> (graded at, seconds or
    None); ``pending``: student -> notebooks still to grade by hand."""

    cell_scores: dict[str, tuple[float, list[float]]] = field(default_factory=dict)
    notebook_scores: dict[str, tuple[float, list[float]]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    max_total: float = 0.0
    names: dict[str, str] = field(default_factory=dict)
    failed: list[FailedTest] = field(default_factory=list)
    tamper: dict[str, list[str]] = field(default_factory=dict)
    similar: list[tuple[str, str, float]] = field(default_factory=list)
    grading: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)


def read_gradebook(course_root: Path, data: ClassData) -> None:
    """Fill the scores and the manual grading still due from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url(course_root)) as gb:
        try:
            assignment = gb.find_assignment(ASSIGNMENT)
        except MissingEntry:
            return
        data.max_total = float(assignment.max_score)
        for nb in assignment.notebooks:
            data.notebook_scores[nb.name] = (float(nb.max_score), [])
        for sub in sorted(assignment.submissions, key=lambda s: s.student_id):
            data.totals[sub.student_id] = float(sub.score)
            for nb in sub.notebooks:
                data.notebook_scores[nb.name][1].append(float(nb.score))
                for grade in nb.grades:
                    key = f"{nb.name}/{grade.name}"
                    data.cell_scores.setdefault(key, (float(grade.max_score), []))[1].append(float(grade.score))
                if nb.needs_manual_grade:
                    data.pending.setdefault(sub.student_id, []).append(nb.name)


def first_line(text: str) -> str:
    line = next((ln for ln in str(text).splitlines() if ln.strip()), "")
    return line.strip()[:MESSAGE_CHARS]


def read_failures(course_root: Path) -> list[FailedTest]:
    """Test cells (graded, not answers) whose autograded output holds an error, with
    their messages (exception name and first line), most failed first."""
    found: dict[str, FailedTest] = {}
    for path in sorted(course_paths(course_root).autograded.glob(f"*/{ASSIGNMENT}/*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # a broken autograded notebook is the tamper report's business
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade") or meta.get("solution") or cell.cell_type != "code":
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if not errors:
                continue
            key = f"{path.stem}/{meta.get('grade_id')}"
            entry = found.setdefault(key, FailedTest(str(meta.get("grade_id")), path.stem))
            entry.failures += 1
            err = errors[0]
            entry.messages[f"{err.get('ename', '')}: {first_line(err.get('evalue', ''))}"] += 1
    return sorted(found.values(), key=lambda t: (-t.failures, t.notebook, t.grade_id))


def read_grading_times(course_root: Path) -> dict[str, tuple[str, float | None]]:
    """student -> (when last graded, seconds it took where recorded) from autograde-state.json."""
    path = course_paths(course_root).root / GRADING_STATE_FILE
    try:
        students = json.loads(path.read_text(encoding="utf-8")).get("students", {})
    except (OSError, ValueError, AttributeError):
        return {}
    out = {}
    for student, entry in students.items():
        if isinstance(entry, dict):
            seconds = entry.get("seconds")
            out[str(student)] = (str(entry.get("graded_at", "")),
                                 float(seconds) if isinstance(seconds, (int, float)) else None)
    return out


def gather(course_root: Path, *, names: dict[str, str] | None = None,
           similar: list[tuple[str, str, float]] | None = None) -> ClassData:
    """The report's data for ``course_root``; ``names``: student -> display name;
    ``similar``: (student, student, similarity) pairs flagged by a similarity check."""
    data = ClassData(names=dict(names or {}), similar=list(similar or []))
    read_gradebook(course_root, data)
    data.failed = read_failures(course_root)
    for student in submitted_students(course_root):
        findings = [str(a) for a in tamper_report(course_root, student)]
        if findings:
            data.tamper[student] = findings
    data.grading = read_grading_times(course_root)
    return data
