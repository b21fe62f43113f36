"""One student's autograding as a self-contained job: what a Dask worker (or the
coordinating process itself, with ``--jobs 1``) runs.

The job carries what it needs, so a worker needs no shared filesystem: a
:class:`CourseBundle` (``nbgrader_config.py``, the instructor tools it loads, a snapshot
of the gradebook and the assignment's non-notebook source files; shipped to each worker
once) and a :class:`Submission` (the student's files). The worker lays out a private
course in a temporary folder, runs ``nbgrader autograde --student`` there with its own
gradebook, and returns a :class:`StudentResult`: the student's gradebook rows
(:mod:`~tools.instructor.gradebook_merge`) and autograded files. Only the coordinating
process writes the course's gradebook.

A worker needs the course's Python environment (``helpers`` importable, nbgrader,
bubblewrap for the sandbox) and, for the real data, ``SONGREC_DATA_DIR``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.instructor import gradebook_merge
from tools.instructor.grading_runs import reference_runs_env
from tools.instructor.nbgrader_calls import failed_students, run_nbgrader
from tools.instructor.paths import CONFIG_FILE, course_paths, db_url, gradebook_file
from tools.instructor.resume import files_digest, submission_files
from tools.instructor.settings import ASSIGNMENT, FOLDERS, GRADEBOOK_FILE

TOOLS_FOLDER = "tools"
BUNDLE_SNAPSHOT = "gradebook-snapshot.db"
REFERENCE_RUN_CALL = b"reference_run("  # in a source notebook: helpers.course.reference_run is used


@dataclass(frozen=True)
class CourseBundle:
    """What every job of one run shares. ``files``: relative path -> bytes of the course
    configuration and tools, the source folder's non-notebook files and the gradebook
    (at ``GRADEBOOK_FILE``). ``reference_runs``: whether a source notebook asks for the
    course's reference run (then each worker trains it once for the kernels:
    :mod:`tools.instructor.grading_runs`)."""

    files: dict[str, bytes]
    reference_runs: bool = False


@dataclass(frozen=True)
class Submission:
    """One student's handed-in files (path relative to ``submitted/<student>/song2vec/``
    -> bytes) and their sha256 (:func:`~tools.instructor.resume.files_digest`)."""

    student: str
    files: dict[str, bytes]
    digest: str


@dataclass
class StudentResult:
    """What a job returns.

    ``rows``: the student's gradebook rows, None when nbgrader left none.
    ``files``: the autograded folder (relative path -> bytes), empty when nbgrader
    removed it after an error. ``error``: None, or one line on what went wrong.
    ``log``: nbgrader's log. ``seconds``: the job's wall time.
    ``worker``: where it ran (host name and process id).
    """

    student: str
    digest: str
    rows: gradebook_merge.StudentRows | None
    files: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None
    log: str = ""
    seconds: float = 0.0
    worker: str = ""


def make_bundle(course_root: Path) -> CourseBundle:
    """The :class:`CourseBundle` of ``course_root``; the gradebook is copied with
    SQLite's backup API, so the copy is consistent even while nbgrader reads it."""
    paths = course_paths(course_root)
    root = paths.root
    files = {CONFIG_FILE: (root / CONFIG_FILE).read_bytes()}
    for sub in (TOOLS_FOLDER,):
        for rel, data in submission_files(root / sub).items():
            files[f"{sub}/{rel}"] = data
    reference_runs = False
    if paths.source.is_dir():
        for rel, data in submission_files(paths.source).items():
            if not rel.endswith(".ipynb"):
                files[f"{FOLDERS['source']}/{ASSIGNMENT}/{rel}"] = data
            elif REFERENCE_RUN_CALL in data:
                reference_runs = True
    db = gradebook_file(db_url(course_root))
    if db is None:
        raise ValueError(f"the gradebook must be a SQLite file to grade in parallel, got {db_url(course_root)!r}")
    with tempfile.TemporaryDirectory(prefix="songrec-bundle-") as tmp:
        snapshot = Path(tmp) / BUNDLE_SNAPSHOT
        with sqlite3.connect(db) as src, sqlite3.connect(snapshot) as dst:
            src.backup(dst)
        files[GRADEBOOK_FILE] = snapshot.read_bytes()
    return CourseBundle(files, reference_runs)


def read_submission(course_root: Path, student: str) -> Submission:
    """``submitted/<student>/song2vec/`` as a :class:`Submission`."""
    files = submission_files(course_paths(course_root).submitted / student / ASSIGNMENT)
    return Submission(student, files, files_digest(files))


def last_exception(log: str) -> str:
    """The last ``SomeError: message`` line of a traceback in nbgrader's ``log`` (shortened), or ""."""
    found = re.findall(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)(?:: .*)?)$", log, flags=re.MULTILINE)
    return found[-1].strip()[:200] if found else ""


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def grade_student(bundle: CourseBundle, submission: Submission, env: dict[str, str],
                  timeout: float | None = None) -> StudentResult:
    """Autograde one student in a private copy of the course; returns their results.

    ``env``: variables for nbgrader and its kernels (profile, cell timeout, sandbox).
    ``timeout``: seconds for the whole student; past it nbgrader and its kernels are
    killed and the result carries the error.
    Never raises for a student's own failure: the result says what went wrong.
    """
    start = time.monotonic()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    student = submission.student
    with tempfile.TemporaryDirectory(prefix="songrec-grade-") as tmp:
        course = Path(tmp) / "course"
        _write_tree(course, bundle.files)
        _write_tree(course_paths(course).submitted / student / ASSIGNMENT, submission.files)
        job_env, note = reference_runs_env(env) if bundle.reference_runs else (dict(env), "")
        job_env["TMPDIR"] = tmp  # the sandboxed kernels' folders go here, and are removed with it
        error, log = None, ""
        try:
            proc = run_nbgrader(course, ["autograde", ASSIGNMENT, "--student", student, "--force"], env=job_env,
                                check=False, timeout=timeout, die_with_parent=True)
            log = (f"NOTE: {note}\n" if note else "") + proc.stdout
            if proc.returncode != 0 or failed_students(log):
                error = f"nbgrader autograde exited with {proc.returncode} and reported an error"
                cause = last_exception(log)
                error += f" ({cause})" if cause else ""
        except Exception as exc:  # a timeout or a failure to start nbgrader: this student only
            error = str(exc)
            log = getattr(exc, "log", "")
        rows = gradebook_merge.read_results(db_url(course), student)
        graded = course_paths(course).autograded / student / ASSIGNMENT
        files = submission_files(graded) if graded.is_dir() else {}
    return StudentResult(student, submission.digest, rows, files, error, log, time.monotonic() - start, worker)
