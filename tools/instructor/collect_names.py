"""The file names each LMS gives a submission in its assignment download.

Each convention is a named regular expression handed to nbgrader's
``FileNameCollectorPlugin`` (the plugin ``zip_collect`` uses), so a name is read the
way nbgrader reads it; the groups add what ``zip_collect`` has no place for: the
name the LMS shows, a late flag, and the order of resubmissions.

Canvas (``<lastfirst>[_LATE]_<user id>_<submission id>_<original name>``; a resubmitted
file is renamed ``<stem>-1``, ``<stem>-2`` ...), Moodle (``<Full Name>_<participant
id>_assignsubmission_file_/<original name>``, or the same flattened with the ``/``
left out), Blackboard (``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original
name>``, plus a ``.txt`` receipt per attempt), and a plain folder
(``<student>/<notebook>.ipynb`` or ``<student>/song2vec/<notebook>.ipynb``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

LMS_NAMES = ("canvas", "moodle", "blackboard", "folder")

PATTERNS = {
    "canvas": r"^(?P<name>[^/_]+?)(?P<late>_LATE)?_(?P<student_id>\d+)_(?P<attempt>\d+)_"
              r"(?P<file_id>[^/]+?)(?:-(?P<resubmission>\d+))?\.ipynb$",
    "moodle": r"^(?P<name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_(?:file|onlinetext)_/?"
              r"(?:[^/]+/)*(?P<file_id>[^/]+)\.ipynb$",
    "blackboard": r"^(?P<assignment>[^/]+?)_(?P<student_id>[^/_]+)_attempt_"
                  r"(?P<timestamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)_(?P<file_id>[^/]+)\.ipynb$",
    "folder": r"^(?P<student_id>[^/]+)/(?:song2vec/)?(?P<file_id>[^/]+)\.ipynb$",
}
# Files a download holds beside the notebooks, skipped without a word.
RECEIPT = {"blackboard": re.compile(r"^[^/]+_[^/_]+_attempt_\d{4}(-\d\d){5}\.txt$")}
# What a browser or the LMS adds when the same name is uploaded twice: "01_toy (1)".
COPY_SUFFIX = re.compile(r"(?: \(\d+\)|-\d+)$")


@dataclass(frozen=True)
class SubmittedFile:
    """One notebook found in a download.

    ``path``: its name inside the download (``/``-separated); ``lms_id``: the student
    as the LMS knows them; ``name``: the name the LMS shows; ``notebook``: the file's
    stem as uploaded; ``order``: larger is later; ``late``: the LMS marked it late;
    ``timestamp``: when it was handed in, where the name says (UTC).
    """

    path: str
    lms_id: str
    name: str
    notebook: str
    order: tuple
    late: bool = False
    timestamp: dt.datetime | None = None


def collector(lms: str):
    """nbgrader's ``FileNameCollectorPlugin`` set up with the convention of ``lms``.

    Raises ValueError for an LMS not in ``LMS_NAMES``.
    """
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    if lms not in PATTERNS:
        raise ValueError(f"unknown LMS {lms!r}; expected one of {', '.join(LMS_NAMES)}")
    return FileNameCollectorPlugin(named_regexp=PATTERNS[lms], valid_ext=[".ipynb"])


def is_receipt(lms: str, path: str) -> bool:
    """Whether ``path`` is a file the LMS adds beside the submissions (a receipt)."""
    pattern = RECEIPT.get(lms)
    return bool(pattern and pattern.match(path))


def read_name(lms: str, path: str, plugin=None) -> SubmittedFile | None:
    """What the name ``path`` (inside a download of ``lms``) says; None when it does not
    follow the convention."""
    found = (plugin or collector(lms)).collect(path)
    if not found:
        return None
    stem = found["file_id"]
    resubmission = int(found.get("resubmission") or 0)
    stamp = None
    if found.get("timestamp"):
        stamp = dt.datetime.strptime(found["timestamp"], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=dt.UTC)
    order = (stamp.isoformat() if stamp else "", int(found.get("attempt") or 0), resubmission)
    display = found.get("name") or found["student_id"]
    return SubmittedFile(path=path, lms_id=found["student_id"], name=display, notebook=stem, order=order,
                         late=bool(found.get("late")), timestamp=stamp)


def notebook_name(stem: str, known: set[str]) -> str | None:
    """The course notebook ``stem`` stands for (an uploaded copy's ``-1`` or `` (1)`` left
    out); None when it names none of ``known``."""
    if stem in known:
        return stem
    bare = COPY_SUFFIX.sub("", stem)
    return bare if bare in known else None
