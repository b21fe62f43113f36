"""``export --to canvas|moodle|blackboard|csv``: the gradebook as each LMS's grade import
CSV, and ``--feedback``: the feedback HTML packed per student for upload.

Canvas: its gradebook CSV (``Student, ID, SIS User ID, SIS Login ID, Section``, then
``song2vec (<assignment id>)``; Canvas matches rows on ``ID``, its user id). Moodle: a
grade import CSV with ``User ID`` and ``Email address`` to map on, and a ``song2vec``
column. Blackboard: the Grade Center's ``Last Name, First Name, Username``, then
``song2vec [Total Pts: N Score] |<column id>``. csv: every figure, by student id.
The roster (:mod:`~tools.instructor.collect_roster`) maps students back to LMS ids.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from pathlib import Path
from typing import TextIO

from tools.instructor.collect_roster import ROSTER_FILE, RosterEntry, read_roster
from tools.instructor.export_grades import ClassGrades, read_grades
from tools.instructor.paths import course_paths
from tools.instructor.settings import ASSIGNMENT, TOOL_COMMAND

FORMATS = ("canvas", "moodle", "blackboard", "csv")


def points(value: float) -> str:
    return f"{value:g}"


def split_name(name: str) -> tuple[str, str]:
    """(last, first) of a display name: ``"Last, First"`` or ``"First Last"``."""
    if "," in name:
        last, first = name.split(",", 1)
        return last.strip(), first.strip()
    first, _, last = name.strip().rpartition(" ")
    return (last, first) if first else (name.strip(), "")


def lms_rows(grades: ClassGrades, lms: str, roster: dict[str, RosterEntry], assignment_id: str) -> list[list[str]]:
    """The CSV rows (header first) of ``lms``'s grade import."""
    if lms == "canvas":
        title = f"{ASSIGNMENT} ({assignment_id})" if assignment_id else ASSIGNMENT
        rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title],
                ["    Points Possible", "", "", "", "", points(grades.max_score)]]
        rows += [[roster[g.student].name, roster[g.student].lms_id, "", "", "", points(g.total)]
                 for g in grades.students]
    elif lms == "moodle":
        rows = [["Full name", "User ID", "Email address", ASSIGNMENT]]
        rows += [[roster[g.student].name, roster[g.student].lms_id, roster[g.student].email, points(g.total)]
                 for g in grades.students]
    elif lms == "blackboard":
        title = f"{ASSIGNMENT} [Total Pts: {points(grades.max_score)} Score]"
        rows = [["Last Name", "First Name", "Username", f"{title} |{assignment_id}" if assignment_id else title]]
        rows += [[*split_name(roster[g.student].name), roster[g.student].lms_id, points(g.total)]
                 for g in grades.students]
    else:
        rows = [["student_id", *grades.notebooks, "auto_points", "manual_points", "late_penalty", "total",
                 "max_total", "needs_manual_grade"]]
        rows += [[g.student, *(points(g.by_notebook.get(n, 0.0)) for n in grades.notebooks), points(g.auto),
                  points(g.manual), points(g.penalty), points(g.total), points(grades.max_score),
                  " ".join(g.needs_manual)] for g in grades.students]
    return rows


def roster_for(course_root: Path, lms: str, grades: ClassGrades, roster_path: Path | None,
               out: TextIO) -> dict[str, RosterEntry]:
    """student id -> roster row for ``lms``; the graded students it lacks are left out of
    ``grades`` and named in a warning on ``out``.

    Raises ValueError when it has none of the graded students.
    """
    path = Path(roster_path) if roster_path else course_paths(course_root).root / ROSTER_FILE
    by_student = read_roster(path).by_student(lms)
    lacking = [g.student for g in grades.students if g.student not in by_student]
    advice = f"add a line '{lms},<{lms} id>,<name>,<student id>,' for each (written by `{TOOL_COMMAND} collect`)"
    if len(lacking) == len(grades.students):
        raise ValueError(f"{path} has no {lms} account for any graded student ({', '.join(lacking)}); {advice}")
    if lacking:
        print(f"warning: NOT exported, {path} has no {lms} account for: {', '.join(lacking)}; {advice}", file=out)
        grades.students = [g for g in grades.students if g.student in by_student]
    return by_student


def safe_part(text: str) -> str:
    """``text`` fit to be one part of a zip member name (no separators, no ``..``)."""
    return re.sub(r"[\\/\x00-\x1f]|\.\.", "_", text).strip() or "_"


def feedback_folder(lms: str, student: str, roster: dict[str, RosterEntry]) -> str:
    """Where a student's feedback goes in the zip, named the way ``lms`` names the student."""
    if lms == "csv":
        return safe_part(student)
    entry = roster[student]
    if lms == "canvas":
        lastfirst = re.sub(r"[^a-z]", "", "".join(split_name(entry.name)).lower()) or "student"
        return f"{lastfirst}_{safe_part(entry.lms_id)}"
    if lms == "moodle":
        return f"{safe_part(entry.name)}_{safe_part(entry.lms_id)}_assignsubmission_file_"
    return safe_part(entry.lms_id)


def pack_feedback(course_root: Path, lms: str, grades: ClassGrades, roster: dict[str, RosterEntry],
                  target: Path) -> list[str]:
    """Write ``target`` (a zip) with each student's feedback HTML under their own folder;
    returns the students who have no feedback yet."""
    feedback = course_paths(course_root).feedback
    without = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for g in grades.students:
            pages = sorted((feedback / g.student / ASSIGNMENT).glob("*.html"))
            if not pages:
                without.append(g.student)
            for page in pages:
                archive.write(page, f"{feedback_folder(lms, g.student, roster)}/{page.name}")
    return without


def run_lms_export(course_root: Path, lms: str, target: Path | None, *, roster_path: Path | None = None,
                   assignment_id: str = "", feedback: Path | None = None, out: TextIO | None = None) -> ClassGrades:
    """Write the grade import CSV of ``lms`` to ``target`` and, given ``feedback``, the feedback zip.

    Raises ValueError for an unknown format or a graded student the roster lacks.
    """
    out = out or sys.stdout
    if lms not in FORMATS:
        raise ValueError(f"unknown export format {lms!r}; expected one of {', '.join(FORMATS)}")
    if target is None:
        raise ValueError(f"export --to {lms} needs --out FILE, the CSV to write")
    grades = read_grades(course_root)
    roster = roster_for(course_root, lms, grades, roster_path, out) if lms != "csv" else {}
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(lms_rows(grades, lms, roster, assignment_id))
    Path(target).write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {lms} grades of {len(grades.students)} student(s) to {target}", file=out)
    pending = [f"{g.student} ({', '.join(g.needs_manual)})" for g in grades.students if g.needs_manual]
    if pending:
        print(f"warning: still to grade by hand, exported with the points so far: {'; '.join(pending)}", file=out)
    late = [f"{g.student} (-{points(g.penalty)})" for g in grades.students if g.penalty]
    if late:
        print(f"late penalties taken off: {', '.join(late)}", file=out)
    if feedback is not None:
        without = pack_feedback(course_root, lms, grades, roster, Path(feedback))
        print(f"wrote feedback for upload to {feedback}", file=out)
        if without:
            print(f"warning: no feedback yet for {', '.join(without)}; run `{TOOL_COMMAND} feedback` first", file=out)
    return grades
