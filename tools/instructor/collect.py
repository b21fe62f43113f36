"""``collect``: an LMS assignment download into ``submitted/<student>/song2vec/``.

All of the download is read and checked before anything is written: file names
(:mod:`~tools.instructor.collect_files`), the LMS's naming
(:mod:`~tools.instructor.collect_names`), the roster
(:mod:`~tools.instructor.collect_roster`), each notebook (JSON, one of this assignment's
by its nbgrader cells), duplicates and missing notebooks. The submissions are then
written to a staging folder in the course root and moved into ``submitted/`` student
by student; a failed check leaves ``submitted/`` as it was.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import nbformat

from tools.instructor.collect_files import read_download
from tools.instructor.collect_names import LMS_NAMES, SubmittedFile, collector, is_receipt, notebook_name, read_name
from tools.instructor.collect_roster import ROSTER_FILE, add_found, read_roster, roster_text
from tools.instructor.errors import CourseToolError
from tools.instructor.paths import course_paths
from tools.instructor.settings import ASSIGNMENT, TOOL_COMMAND

TIMESTAMP_FILE = "timestamp.txt"  # nbgrader reads the hand-in time from it (late penalties)


@dataclass
class CollectReport:
    """What ``collect`` did: ``students`` (id -> notebooks), ``superseded`` and ``late``
    (lines to show), ``ignored`` (files not taken), ``roster_added`` (new roster rows)."""

    students: dict[str, list[str]] = field(default_factory=dict)
    superseded: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    roster_added: list[str] = field(default_factory=list)


def expected_notebooks(course_root: Path) -> dict[str, set[str]]:
    """notebook name -> grade ids of its nbgrader cells, read from the release (else the source)."""
    paths = course_paths(course_root)
    folder = paths.release if any(paths.release.glob("*.ipynb")) else paths.source
    out = {}
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
    if not out:
        raise CourseToolError(f"no notebooks of {ASSIGNMENT!r} in {folder}; run `{TOOL_COMMAND} release` first")
    return out


def check_notebook(data: bytes, name: str, grade_ids: set[str], path: str) -> None:
    """Raise ValueError unless ``data`` is a notebook whose nbgrader cells are those of ``name``."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # any parse failure means the same thing to the instructor
        raise ValueError(f"{path!r} is not a readable notebook ({type(exc).__name__}: {str(exc)[:120]}); ask the "
                         "student to upload the .ipynb again") from None
    found = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
    if grade_ids and not found & grade_ids:
        raise ValueError(f"{path!r} is named {name}.ipynb but holds none of its graded cells "
                         f"({', '.join(sorted(grade_ids)[:3])} ...): a notebook of another assignment?")


def pick_latest(files: list[SubmittedFile], report: CollectReport) -> dict[tuple[str, str], SubmittedFile]:
    """(lms id, notebook) -> the latest file; earlier ones go to ``report.superseded``.

    Raises ValueError for two files that are equally late.
    """
    groups: dict[tuple[str, str], list[SubmittedFile]] = {}
    for f in files:
        groups.setdefault((f.lms_id, f.notebook), []).append(f)
    latest = {}
    for key, group in sorted(groups.items()):
        group.sort(key=lambda f: f.order)
        if len(group) > 1 and group[-1].order == group[-2].order:
            raise ValueError(f"{group[-2].path!r} and {group[-1].path!r} are both {key[1]}.ipynb of LMS id {key[0]}, "
                             "with nothing in their names saying which is later; remove one")
        latest[key] = group[-1]
        report.superseded += [f"{f.path} (replaced by {group[-1].path})" for f in group[:-1]]
    return latest


def read_submissions(lms: str, files: dict[str, bytes], known: dict[str, set[str]],
                     report: CollectReport) -> list[SubmittedFile]:
    """The notebooks of a download, named by the course; the rest goes to ``report.ignored``."""
    plugin = collector(lms)
    out = []
    for path in sorted(files):
        if is_receipt(lms, path) or not path.endswith(".ipynb"):
            report.ignored.append(path)
            continue
        found = read_name(lms, path, plugin)
        if found is None:
            raise ValueError(f"{path!r} does not follow {lms}'s naming of a submission; was the download made "
                             f"by {lms}? (docs/GRADING.md, 'Walking a term')")
        name = notebook_name(found.notebook, set(known))
        if name is None:
            raise ValueError(f"{path!r} is not one of {ASSIGNMENT}'s notebooks (expected "
                             f"{', '.join(n + '.ipynb' for n in sorted(known))})")
        out.append(SubmittedFile(found.path, found.lms_id, found.name, name, found.order, found.late,
                                 found.timestamp))
    return out


def stage(staging: Path, chosen: dict[str, dict[str, SubmittedFile]], files: dict[str, bytes]) -> None:
    """Write each student's notebooks (and hand-in time, where known) under ``staging``."""
    for student, notebooks in chosen.items():
        folder = staging / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, f in notebooks.items():
            (folder / f"{name}.ipynb").write_bytes(files[f.path])
        stamps = [f.timestamp for f in notebooks.values() if f.timestamp]
        if stamps:
            (folder / TIMESTAMP_FILE).write_text(max(stamps).strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="utf-8")


def run_collect(course_root: Path, lms: str, download: Path, *, roster_path: Path | None = None,
                replace: bool = False, allow_missing: bool = False, out: TextIO | None = None) -> CollectReport:
    """Collect the download ``download`` of ``lms`` (one of ``LMS_NAMES``) into ``submitted/``.

    ``roster_path``: the roster (default ``lms-roster.csv`` in the course root; written on
    first use); ``replace``: replace a student's earlier collected submission;
    ``allow_missing``: accept a student who handed in only some notebooks.
    Raises ValueError (writing nothing under ``submitted/``) for bad input.
    """
    out = out or sys.stdout
    if lms not in LMS_NAMES:
        raise ValueError(f"unknown LMS {lms!r}; expected one of {', '.join(LMS_NAMES)}")
    paths = course_paths(course_root)
    roster_path = Path(roster_path) if roster_path else paths.root / ROSTER_FILE
    known = expected_notebooks(course_root)
    report = CollectReport()
    files = read_download(Path(download))
    latest = pick_latest(read_submissions(lms, files, known, report), report)
    if not latest:
        raise ValueError(f"{download}: no notebook found; expected {lms}'s assignment download")
    for f in latest.values():
        check_notebook(files[f.path], f.notebook, known[f.notebook], f.path)
    roster = read_roster(roster_path)
    first_use = not any(kind == lms for kind, _ in roster.entries)
    names = {f.lms_id: f.name for f in latest.values()}
    unknown = sorted(i for i in names if (lms, i) not in roster.entries)
    if unknown and not first_use:
        lines = "; ".join(f"{lms},{i},{names[i]},<student id>," for i in unknown)
        raise ValueError(f"{len(unknown)} {lms} account(s) match no student of {roster_path}: add a line for each "
                         f"({lines}) and collect again")
    added = add_found(roster, lms, names)
    report.roster_added = [f"{e.lms_id} ({e.name}) -> {e.student_id}" for e in added]
    chosen: dict[str, dict[str, SubmittedFile]] = {}
    for (lms_id, name), f in latest.items():
        chosen.setdefault(roster.entries[(lms, lms_id)].student_id, {})[name] = f
        if f.late:
            report.late.append(f"{roster.entries[(lms, lms_id)].student_id}: {f.path}")
    missing = {s: sorted(set(known) - set(nbs)) for s, nbs in chosen.items() if set(known) - set(nbs)}
    if missing and not allow_missing:
        raise ValueError("missing notebooks: " + "; ".join(f"{s} lacks {', '.join(m)}" for s, m in missing.items())
                         + " (pass --allow-missing to collect what was handed in)")
    existing = sorted(s for s in chosen if (paths.submitted / s / ASSIGNMENT).exists())
    if existing and not replace:
        raise ValueError(f"submitted/ already holds {', '.join(existing)}; pass --replace to replace their "
                         "submissions with this download")
    paths.submitted.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".collect-", dir=paths.root))
    try:
        stage(staging / "new", chosen, files)
        for student in sorted(chosen):
            target = paths.submitted / student / ASSIGNMENT
            if target.exists():
                (staging / "old" / student).mkdir(parents=True)
                target.rename(staging / "old" / student / ASSIGNMENT)
            target.parent.mkdir(exist_ok=True)
            (staging / "new" / student / ASSIGNMENT).rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if added or first_use:
        roster_path.write_text(roster_text(roster), encoding="utf-8")
    report.students = {s: sorted(nbs) for s, nbs in sorted(chosen.items())}
    print(format_report(report, roster_path, paths.submitted), file=out)
    return report


def format_report(report: CollectReport, roster_path: Path, submitted: Path) -> str:
    """What ``collect`` did, as lines to print."""
    lines = [f"collected {len(report.students)} student(s) into {submitted}: {', '.join(report.students)}"]
    if report.roster_added:
        lines.append(f"roster {roster_path}: added {len(report.roster_added)} row(s), check the student ids: "
                     + "; ".join(report.roster_added))
    for title, items in (("resubmitted, the latest one kept", report.superseded),
                         ("marked late by the LMS", report.late), ("not a notebook, ignored", report.ignored)):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {item}" for item in items)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lines.append(f"done at {stamp}")
    return "\n".join(lines)
