"""Which students a run must grade: each submission's hash, recorded once it is graded.

``autograde-state.json`` (``settings.GRADING_STATE_FILE``, in the course root) maps each
student to the sha256 of their submitted files and the grading key (the source
notebooks and every setting that changes a score) of the run that graded them. A
student is skipped when both are unchanged, the gradebook holds their submission and
their autograded folder exists; ``--force`` grades everyone again.

The file is rewritten (to a temporary name, then renamed) right after each student's
results are committed to the gradebook, so a run killed at any moment leaves it naming
only students whose grades are in the gradebook; at worst the student whose results were
being written when it died is graded again. A student whose grading failed is kept with
the error (and no submission hash), so the score table can say so and the next run grades
them again.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from helpers.digest import sha256_bytes
from tools.instructor.paths import course_paths, source_notebooks
from tools.instructor.settings import ASSIGNMENT, GRADING_STATE_FILE

STATE_VERSION = 1
# What nbgrader itself ignores in a submission folder (nbgrader_config.py's ignore list).
IGNORED = (".ipynb_checkpoints", "*.pyc", "__pycache__", ".DS_Store")


def submission_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX path -> bytes), sorted, without the
    names nbgrader ignores and without symbolic links."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d) and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if _ignored(name) or path.is_symlink():
                continue
            out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def files_digest(files: Mapping[str, bytes]) -> str:
    """sha256 of a set of files (name -> bytes), independent of their order."""
    parts = []
    for name in sorted(files):
        data = files[name]
        parts += [name.encode(), b"\0", str(len(data)).encode(), b"\0", data]
    return sha256_bytes(*parts)


def grading_key(course_root: Path, settings: Mapping[str, object]) -> str:
    """sha256 of the source notebooks and ``settings`` (profile, cell timeout, sandbox
    and its limits): what decides a score besides the submission."""
    sources = {p.name: p.read_bytes() for p in source_notebooks(course_root)}
    return sha256_bytes(files_digest(sources).encode(), json.dumps(dict(settings), sort_keys=True).encode())


class GradingState:
    """The recorded hashes of one course (``autograde-state.json``)."""

    def __init__(self, course_root: Path):
        self.path = course_paths(course_root).root / GRADING_STATE_FILE
        self.students: dict[str, dict] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}  # unreadable: every student is graded again, which is always safe
            if isinstance(data, dict) and data.get("version") == STATE_VERSION:
                self.students = {k: v for k, v in data.get("students", {}).items() if isinstance(v, dict)}

    def unchanged(self, student: str, digest: str, key: str) -> bool:
        """Whether ``student`` was last graded from the submission ``digest`` under ``key``."""
        entry = self.students.get(student, {})
        return entry.get("submission") == digest and entry.get("key") == key

    def record(self, student: str, digest: str, key: str) -> None:
        """Remember that ``student`` was graded from ``digest`` under ``key``; rewrite the file."""
        self.students[student] = {"submission": digest, "key": key,
                                  "graded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        self._save()

    def forget(self, student: str) -> None:
        """Drop ``student``: the next run grades them again."""
        if self.students.pop(student, None) is not None:
            self._save()

    def record_error(self, student: str, error: str) -> None:
        """Remember that grading ``student`` failed with ``error`` (one line); the next run
        grades them again, and the score table shows the error instead of their scores."""
        self.students[student] = {"error": error,
                                  "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        self._save()

    def errors(self) -> dict[str, str]:
        """Student -> the error of their last, failed grading."""
        return {s: str(e["error"]) for s, e in self.students.items() if e.get("error")}

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": STATE_VERSION, "students": self.students}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def graded_students(course_root: Path, db_url: str, students: Iterable[str]) -> set[str]:
    """Those of ``students`` with a submission in the gradebook and an autograded folder."""
    from nbgrader.api import Gradebook

    autograded = course_paths(course_root).autograded
    with Gradebook(db_url) as gb:
        in_gradebook = {s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions}
    return {s for s in students if s in in_gradebook and (autograded / s / ASSIGNMENT).is_dir()}
