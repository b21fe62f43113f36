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
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.instructor import gradebook_merge
from tools.instructor.grading_runs import reference_runs_env
from tools.instructor.nbgrader_calls import NbgraderRun, failed_students
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


class StudentJob:
    """One student's autograding, started: a private copy of the course in a temporary
    folder and ``nbgrader autograde --student`` running in it. :meth:`finish` waits for it
    and returns the :class:`StudentResult`; :meth:`cancel` stops it and removes the folder.

    ``gated``: nbgrader starts its first kernel and imports what the tests need, then waits
    for :meth:`finish` before it runs the student's first cell
    (:class:`~tools.instructor.nbgrader_calls.NbgraderRun`): the grader starts the next
    student this way while the current one is graded.
    """

    def __init__(self, bundle: CourseBundle, submission: Submission, env: dict[str, str], *,
                 gated: bool = False) -> None:
        self.submission = submission
        self.start = time.monotonic()
        self.worker = f"{os.uname().nodename}:{os.getpid()}"
        self._tmp = tempfile.TemporaryDirectory(prefix="songrec-grade-")
        self.course = Path(self._tmp.name) / "course"
        self.run: NbgraderRun | None = None
        self.error: str | None = None
        try:
            _write_tree(self.course, bundle.files)
            _write_tree(course_paths(self.course).submitted / submission.student / ASSIGNMENT, submission.files)
            job_env, self.note = reference_runs_env(env) if bundle.reference_runs else (dict(env), "")
            job_env["TMPDIR"] = self._tmp.name  # the sandboxed kernels' folders go here, and are removed with it
            self.run = NbgraderRun(self.course, ["autograde", ASSIGNMENT, "--student", submission.student, "--force"],
                                   env=job_env, die_with_parent=True, gated=gated, own_group=True)
        except Exception as exc:  # a failure to start nbgrader: this student only
            self.error = str(exc)
        except BaseException:
            self._tmp.cleanup()
            raise

    def open_gate(self) -> None:
        """Let a gated job run the student's cells now (:meth:`finish` does it too)."""
        if self.run is not None:
            self.run.open_gate()

    def finish(self, timeout: float | None = None) -> StudentResult:
        """Wait for nbgrader (``timeout``: seconds from now for the rest of the student; past
        them nbgrader and its kernels are killed) and return the student's results; the
        temporary folder is removed. Never raises for a student's own failure."""
        student = self.submission.student
        error, log = self.error, ""
        try:
            if self.run is not None:
                try:
                    proc = self.run.wait(check=False, timeout=timeout)
                    log = (f"NOTE: {self.note}\n" if self.note else "") + proc.stdout
                    if proc.returncode != 0 or failed_students(log):
                        error = f"nbgrader autograde exited with {proc.returncode} and reported an error"
                        cause = last_exception(log)
                        error += f" ({cause})" if cause else ""
                except Exception as exc:  # a timeout: this student only
                    error = str(exc)
                    log = getattr(exc, "log", "")
            rows = gradebook_merge.read_results(db_url(self.course), student)
            graded = course_paths(self.course).autograded / student / ASSIGNMENT
            files = submission_files(graded) if graded.is_dir() else {}
        finally:
            self.cancel()
        return StudentResult(student, self.submission.digest, rows, files, error, log,
                             time.monotonic() - self.start, self.worker)

    def cancel(self) -> None:
        """Stop nbgrader (if still running) and remove the temporary folder."""
        if self.run is not None and self.run.proc.poll() is None:
            self.run.kill()
            self.run.proc.wait()
        self._tmp.cleanup()


def grade_student(bundle: CourseBundle, submission: Submission, env: dict[str, str],
                  timeout: float | None = None) -> StudentResult:
    """Autograde one student in a private copy of the course; returns their results.

    ``env``: variables for nbgrader and its kernels (profile, cell timeout, sandbox).
    ``timeout``: seconds for the whole student; past it nbgrader and its kernels are
    killed and the result carries the error.
    Never raises for a student's own failure: the result says what went wrong.
    """
    return StudentJob(bundle, submission, env).finish(timeout)


# One student's code at a time in a process that grades with two threads (a local Dask
# worker: ``grade_student_in_turn``); the other thread's student waits at its gate, started.
_TURN = threading.Lock()


def grade_student_in_turn(bundle: CourseBundle, submission: Submission, env: dict[str, str],
                          timeout: float | None = None) -> StudentResult:
    """:func:`grade_student`, for a worker with two job threads: the student's nbgrader starts
    at once, gated, and the gate opens when no other student of this process is being graded.
    So one thread's student starts (nbgrader, kernel, TensorFlow's import) while the other's
    code runs, and the students' code still runs one at a time per process. ``timeout``
    counts from the student's turn."""
    job = StudentJob(bundle, submission, env, gated=True)
    try:
        with _TURN:
            return job.finish(timeout)
    finally:
        job.cancel()


def prefetched_results(bundle: CourseBundle, submissions: list[Submission], env: dict[str, str],
                       timeout: float | None = None) -> Iterator[StudentResult]:
    """The students graded one after another, each one's results as it finishes; while one
    is graded, the next one's nbgrader starts, gated (:class:`StudentJob`), so its start
    overlaps this one's grading and the students' code still runs one at a time.

    ``timeout`` counts from when a student's turn comes. Closing the iterator early stops
    the job started ahead.
    """
    ahead: StudentJob | None = None
    try:
        for index, submission in enumerate(submissions):
            current = ahead or StudentJob(bundle, submission, env)
            current.open_gate()  # before the next job starts: its set-up must not delay this turn
            ahead = None
            if index + 1 < len(submissions):
                ahead = StudentJob(bundle, submissions[index + 1], env, gated=True)
            yield current.finish(timeout)
    finally:
        if ahead is not None:
            ahead.cancel()
