"""The roster: which LMS account is which student of the course (``lms-roster.csv``).

A CSV file in the course root with the header ``lms,lms_id,name,student_id,email``,
one row per student and LMS: ``lms`` is ``canvas``, ``moodle``, ``blackboard`` or
``folder``; ``lms_id`` the id the LMS puts in its file names (Canvas user id, Moodle
participant id, Blackboard username, the folder name); ``name`` the name it shows;
``student_id`` the folder under ``submitted/`` and the gradebook id; ``email`` optional,
for the Moodle export. ``collect`` writes the file on first use with an id proposed
from each name found; edit ``student_id`` (and ``email``) and collect again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

ROSTER_FILE = "lms-roster.csv"
COLUMNS = ("lms", "lms_id", "name", "student_id", "email")
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class RosterEntry:
    """One row of the roster (see the module docstring)."""

    lms: str
    lms_id: str
    name: str
    student_id: str
    email: str = ""


@dataclass
class Roster:
    """The rows of a roster file, by ``(lms, lms_id)``."""

    entries: dict[tuple[str, str], RosterEntry] = field(default_factory=dict)

    def by_student(self, lms: str) -> dict[str, RosterEntry]:
        """student id -> row, for the rows of ``lms``."""
        return {e.student_id: e for (kind, _), e in self.entries.items() if kind == lms}


def check_student_id(value: str, where: str) -> str:
    """``value`` when it is a safe folder name for ``submitted/``.

    Raises ValueError naming ``where`` otherwise.
    """
    if not STUDENT_ID.match(value or "") or ".." in value:
        raise ValueError(f"{where}: student id {value!r} is not a safe folder name; expected letters, digits, "
                         "'_', '.', '-' (at most 64, starting with a letter or digit)")
    return value


def propose_id(name: str, lms_id: str) -> str:
    """A student id made from a display name (letters and digits only), else from the LMS id."""
    for text in (name, lms_id):
        slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:64]
        if slug and STUDENT_ID.match(slug):
            return slug
    return "student_" + hashlib.sha256(lms_id.encode()).hexdigest()[:10]


def read_roster(path: Path) -> Roster:
    """The roster in ``path`` (empty when there is no file).

    Raises ValueError for a header other than ``COLUMNS``, an unsafe student id, or a
    student id given to two LMS accounts.
    """
    roster = Roster()
    if not Path(path).is_file():
        return roster
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    if not rows or tuple(c.strip() for c in rows[0]) != COLUMNS:
        raise ValueError(f"{path}: the first line must be {','.join(COLUMNS)}, got {rows[0] if rows else 'nothing'}")
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        row = [c.strip() for c in row] + [""] * (len(COLUMNS) - len(row))
        entry = RosterEntry(*row[:len(COLUMNS)])
        check_student_id(entry.student_id, f"{path} line {number}")
        key = (entry.lms, entry.student_id)
        if key in seen:
            raise ValueError(f"{path} line {number}: student id {entry.student_id!r} is already given to another "
                             f"{entry.lms} account on line {seen[key]}")
        seen[key] = number
        roster.entries[(entry.lms, entry.lms_id)] = entry
    return roster


def roster_text(roster: Roster) -> str:
    """The roster as the CSV text of its file."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in sorted(roster.entries.values(), key=lambda e: (e.lms, e.student_id)):
        writer.writerow([entry.lms, entry.lms_id, entry.name, entry.student_id, entry.email])
    return buf.getvalue()


def add_found(roster: Roster, lms: str, found: dict[str, str]) -> list[RosterEntry]:
    """Add a row with a proposed student id for each LMS id of ``found`` (id -> name) that
    the roster lacks; returns the rows added."""
    taken = {e.student_id for e in roster.entries.values() if e.lms == lms}
    added = []
    for lms_id, name in sorted(found.items()):
        if (lms, lms_id) in roster.entries:
            continue
        base = propose_id(name, lms_id)
        student, n = base, 2
        while student in taken:
            student, n = f"{base}_{n}", n + 1
        taken.add(student)
        entry = RosterEntry(lms, lms_id, name, student)
        roster.entries[(lms, lms_id)] = entry
        added.append(entry)
    return added
