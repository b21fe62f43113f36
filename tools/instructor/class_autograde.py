"""Autograde a class: students in parallel (a Dask cluster, local or remote), each in a
private copy of the course, results merged one student at a time into the gradebook.

Design (docs/GRADING.md, "Grading a class"):

* **One writer.** Each job (:mod:`~tools.instructor.student_job`) grades one student
  against its own copy of the gradebook; only this process writes the course's
  gradebook, committing each student's rows as their job finishes
  (:mod:`~tools.instructor.gradebook_merge`). The grades equal those of one sequential
  ``nbgrader autograde`` (tests/instructor/test_class_autograde.py checks this).
* **Where jobs run.** ``--jobs 1``: here, one after another. ``--jobs N``: a Dask
  ``LocalCluster`` of N single-threaded worker processes. ``--scheduler tcp://HOST:PORT``
  (or ``DASK_SCHEDULER_ADDRESS``): an existing Dask cluster; the course's files travel
  with the jobs, so workers need the course environment but no shared filesystem.
* **Resumable.** :mod:`~tools.instructor.resume` skips students whose submission is
  unchanged since they were graded; an interrupted run keeps every grade already merged.
* **Sandboxed.** Kernels run in bubblewrap (:mod:`~tools.instructor.sandbox`) unless
  ``--sandbox none``; where the sandbox cannot start, the run stops before grading.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from helpers import environment
from helpers.progress import Progress
from tools.instructor import gradebook_merge
from tools.instructor.errors import CourseToolError
from tools.instructor.paths import course_paths, db_url
from tools.instructor.resume import GradingState, files_digest, graded_students, grading_key, submission_files
from tools.instructor.sandbox.policy import check_sandbox
from tools.instructor.scores import ScoreTable, collect_scores, run_export, submitted_students
from tools.instructor.settings import (
    ASSIGNMENT,
    CELL_TIMEOUT_VAR,
    DASK_SCHEDULER_VAR,
    GRADING_LOG_DIR,
    GRADING_PROFILE,
    SANDBOX_VAR,
    TOOL_COMMAND,
    grading_cell_timeout,
    sandbox_limits,
    sandbox_mode,
    similarity_threshold,
)
from tools.instructor.similarity import similarity_report
from tools.instructor.similarity_html import run_similarity
from tools.instructor.student_job import (
    CourseBundle,
    StudentResult,
    Submission,
    grade_student,
    grade_student_in_turn,
    make_bundle,
    prefetched_results,
    read_submission,
)
from tools.instructor.tamper import Anomaly, format_tamper_report, tamper_report

SHOWN_FAILURES = 6
WORKER_WAIT_S = 60
NO_SANDBOX_WARNING = ("WARNING: --sandbox none: student code runs with your own permissions. It can read the "
                      "source notebooks (solutions, hidden tests), change gradebook.db and other students' "
                      "files, and use the network. Grade this way only inside a throw-away container.")


def student_checks(course_root: Path, student: str) -> list[Anomaly]:
    """The tamper report of one freshly graded student (:func:`~tools.instructor.tamper.tamper_report`).

    The runner calls it after merging each student: the student's progress line says how
    many findings there are, and the whole report follows the score table. A student whose
    grading failed (no autograded notebooks) is still checked against the release.
    """
    return tamper_report(course_root, student)


@dataclass(frozen=True)
class GradingSettings:
    """What decides a score besides the submission; ``env`` carries them to nbgrader."""

    profile: str
    cell_timeout: int
    sandbox: str
    limits: dict[str, int]

    def env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = dict(extra or {})
        env.update({environment.PROFILE: self.profile, CELL_TIMEOUT_VAR: str(self.cell_timeout),
                    SANDBOX_VAR: self.sandbox})
        return env

    def key_fields(self) -> dict[str, object]:
        return {"profile": self.profile, "cell_timeout": self.cell_timeout, "sandbox": self.sandbox,
                "limits": self.limits if self.sandbox != "none" else None}


def grading_settings(env: dict[str, str] | None, *, profile: str | None, sandbox: str | None) -> GradingSettings:
    """The settings of a run: arguments first, then ``env``, then this process's
    environment, then the defaults of :mod:`tools.instructor.settings`."""
    merged = {**os.environ, **(env or {})}
    profile = profile or (env or {}).get(environment.PROFILE) or GRADING_PROFILE
    if sandbox is not None:
        merged[SANDBOX_VAR] = sandbox
    mode = sandbox_mode(merged)
    return GradingSettings(profile, grading_cell_timeout(profile, merged), mode, sandbox_limits(merged))


# --------------------------------------------------------------------------- where jobs run


@contextlib.contextmanager
def sequential_results(bundle: CourseBundle, submissions: Sequence[Submission], env: dict[str, str],
                       timeout: float | None) -> Iterator[Iterator[StudentResult]]:
    """The students graded here, one after another, as an iterator of results (the next
    student's start prefetched: :func:`~tools.instructor.student_job.prefetched_results`)."""
    results = prefetched_results(bundle, list(submissions), env, timeout)
    try:
        yield results
    finally:
        results.close()


def worker_report(env: dict[str, str]) -> dict[str, str | None]:
    """Run on each Dask worker before grading: whether its sandbox starts and which
    instructor tools it runs (a digest of ``tools/instructor``)."""
    from tools.instructor.paths import REPO_ROOT

    problem = check_sandbox({**os.environ, **env}) if env.get(SANDBOX_VAR) != "none" else None
    tools = files_digest(submission_files(REPO_ROOT / "tools" / "instructor"))
    return {"sandbox": problem, "tools": tools}


@contextlib.contextmanager
def dask_results(bundle: CourseBundle, submissions: Sequence[Submission], env: dict[str, str],
                 timeout: float | None, *, jobs: int, scheduler: str | None) -> Iterator[Iterator[StudentResult]]:
    """The students graded on a Dask cluster, as an iterator of results in the order they
    finish: ``scheduler``'s, or a ``LocalCluster`` of ``jobs`` worker processes.

    Raises CourseToolError when the scheduler cannot be reached, no worker joins, or a
    worker's sandbox cannot start or it runs other instructor tools than this process.
    """
    from distributed import Client, LocalCluster, as_completed

    from tools.instructor.paths import REPO_ROOT

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=WORKER_WAIT_S)
            except OSError as exc:
                raise CourseToolError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        else:
            # Two threads per worker, one student's code at a time: the other thread's student
            # starts meanwhile (grade_student_in_turn).
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=2, processes=True, dashboard_address=":0",
                                   memory_limit=0, silence_logs=logging.ERROR)
            client = Client(cluster)
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except Exception as exc:
            raise CourseToolError(f"no Dask worker joined {scheduler or 'the local cluster'} within "
                                  f"{WORKER_WAIT_S} s: {exc}") from None
        reports = client.run(worker_report, env)
        ours = files_digest(submission_files(REPO_ROOT / "tools" / "instructor"))
        bad = [f"{w}: {r['sandbox']}" for w, r in reports.items() if r["sandbox"]]
        bad += [f"{w}: runs other instructor tools than this checkout" for w, r in reports.items()
                if r["tools"] != ours]
        if bad:
            raise CourseToolError(f"{len(bad)} Dask worker(s) cannot grade: " + "; ".join(bad)
                                  + " (or grade with --sandbox none)" * any(r["sandbox"] for r in reports.values()))
        shared = client.scatter(bundle, broadcast=True)
        run_id = uuid.uuid4().hex[:8]
        job = grade_student if scheduler else grade_student_in_turn
        futures = {client.submit(job, shared, sub, env, timeout, key=f"autograde-{run_id}-{sub.student}",
                                 pure=False): sub for sub in submissions}

        def results() -> Iterator[StudentResult]:
            for future in as_completed(futures):
                sub = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # e.g. KilledWorker: the worker died again and again
                    yield StudentResult(sub.student, sub.digest, None, error=f"Dask job failed: {exc!r}")

        try:
            yield results()
        finally:
            client.cancel(list(futures))
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------- merging


def max_points(course_root: Path) -> dict[str, dict[str, float]]:
    """notebook -> autograded test cell -> its points, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course_root)) as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        return {nb.name: {c.name: float(c.max_score) for c in nb.grade_cells if c.cell_type == "code"}
                for nb in assignment.notebooks}


def _install_autograded(course_root: Path, student: str, files: dict[str, bytes]) -> None:
    """Replace ``autograded/<student>/song2vec/`` with ``files`` (none: remove it, as
    nbgrader does after a failed student). Files are read-only (nbgrader's 444)."""
    dest = course_paths(course_root).autograded / student / ASSIGNMENT
    new, old = dest.with_name(f".{ASSIGNMENT}.new"), dest.with_name(f".{ASSIGNMENT}.old")
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    if files:
        for rel, data in files.items():
            path = new / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o444)
    if dest.exists():
        dest.rename(old)
    if files:
        new.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def summary_line(result: StudentResult, points: dict[str, dict[str, float]]) -> str:
    """``alice: 31/34 points, 27.4 s, failed: 02_noise_test, ...`` (or the error)."""
    head = f"{result.student}: "
    if result.rows is not None:
        got = total = 0.0
        failed = []
        for nb, cells in points.items():
            grades = result.rows.notebooks.get(nb, {}).get("grades", {})
            for cell, most in cells.items():
                score = grades.get(cell, {}).get("auto_score") or 0.0
                got, total = got + score, total + most
                if score < most:
                    failed.append(cell)
        head += f"{got:g}/{total:g} points, {result.seconds:.1f} s"
        if failed:
            more = f" (+{len(failed) - SHOWN_FAILURES} more)" if len(failed) > SHOWN_FAILURES else ""
            head += ", failed: " + ", ".join(failed[:SHOWN_FAILURES]) + more
        else:
            head += ", no failed tests"
    else:
        head += f"not graded, {result.seconds:.1f} s"
    if result.error:
        head += f"; ERROR: {result.error} (log: {GRADING_LOG_DIR}/{result.student}.log)"
    return head


def merge_result(course_root: Path, result: StudentResult, state: GradingState, key: str) -> None:
    """Write one job's result into the course: gradebook rows (one commit), the
    autograded folder, the log, then the recorded hash (only when it succeeded)."""
    if result.rows is not None:
        gradebook_merge.write_results(db_url(course_root), result.student, result.rows)
    if result.rows is not None or result.error:
        _install_autograded(course_root, result.student, result.files)
    logs = course_paths(course_root).root / GRADING_LOG_DIR
    logs.mkdir(exist_ok=True)
    (logs / f"{result.student}.log").write_text(result.log + (f"\n{result.error}\n" if result.error else ""),
                                                encoding="utf-8")
    if result.error or result.rows is None:
        state.record_error(result.student, result.error or "nbgrader left no grades")
    else:
        state.record(result.student, result.digest, key)


# --------------------------------------------------------------------------- the run


def run_class_autograde(course_root: Path, *, env: dict[str, str] | None = None, out: TextIO | None = None,
                        jobs: int | None = None, scheduler: str | None = None,
                        students: Sequence[str] | None = None, force: bool = False, sandbox: str | None = None,
                        profile: str | None = None, timeout: float | None = None, quiet: bool = False,
                        echo: bool = False, tty: bool | None = None) -> ScoreTable:
    """Autograde the class (or ``students``), print progress and the score table, write grades.csv.

    ``env``: extra variables for nbgrader and its kernels. ``jobs``: parallel jobs
    (default: the number of CPU cores); ``scheduler``: a Dask scheduler address (default
    ``DASK_SCHEDULER_ADDRESS``; then ``jobs`` is ignored). ``students``: grade only these
    ids. ``force``: grade students whose submission is unchanged too. ``sandbox``:
    ``bwrap`` or ``none`` (default ``SONGREC_SANDBOX``, else ``bwrap``). ``profile``: the
    notebook profile (default ``grading``). ``timeout``: seconds for one student.
    ``quiet``: print only the table and the tamper and similarity reports. ``echo``: print
    each student's nbgrader log.
    ``tty``: draw the progress bar in place (default: whether ``out`` is a terminal).
    Returns the score table of every student in the gradebook.
    Raises CourseToolError before grading (no submissions, unknown student, never
    released, sandbox unavailable, bad cluster) and after it, naming the students
    nbgrader reported an error for; ValueError for a bad setting. Ctrl-C stops the run
    and keeps every grade merged so far.
    """
    out = out or sys.stdout
    say = (lambda line: None) if quiet else (lambda line: print(line, file=out, flush=True))
    everyone = submitted_students(course_root)
    if not everyone:
        raise CourseToolError(f"no submissions: expected folders "
                              f"{course_paths(course_root).submitted}/<student>/{ASSIGNMENT}/")
    chosen = list(dict.fromkeys(students)) if students else everyone
    unknown = [s for s in chosen if s not in everyone]
    if unknown:
        raise CourseToolError(f"--student must name a folder of {course_paths(course_root).submitted}, got "
                              f"{unknown}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    collect_scores(course_root)  # fails early, with advice, if never released
    grading = grading_settings(env, profile=profile, sandbox=sandbox)
    job_env = grading.env(env)
    scheduler = scheduler or os.environ.get(DASK_SCHEDULER_VAR) or None
    jobs = jobs or os.cpu_count() or 1
    if grading.sandbox == "none":
        print(NO_SANDBOX_WARNING, file=out, flush=True)
    elif not scheduler:
        problem = check_sandbox({**os.environ, **job_env})
        if problem:
            raise CourseToolError(f"{problem}. Autograding runs student code; fix the sandbox, or grade "
                                  "without it with --sandbox none")

    key = grading_key(course_root, grading.key_fields())
    state = GradingState(course_root)
    submissions = [read_submission(course_root, s) for s in chosen]
    done = graded_students(course_root, db_url(course_root), chosen)
    todo = [s for s in submissions if force or not (s.student in done and state.unchanged(s.student, s.digest, key))]
    skipped = sorted(set(chosen) - {s.student for s in todo})
    if skipped:
        say(f"skipping {len(skipped)} student(s) graded before from the same submission and settings "
            f"(--force grades them again): {', '.join(skipped[:10])}{' ...' if len(skipped) > 10 else ''}")
    where = (f"on Dask scheduler {scheduler}" if scheduler else
             f"in {min(jobs, len(todo))} local jobs" if jobs > 1 and len(todo) > 1 else "here, one at a time")
    if todo:
        say(f"grading {len(todo)} student(s) {where}; profile {grading.profile}, cell timeout "
            f"{grading.cell_timeout} s, sandbox {grading.sandbox}")
    else:
        say("nothing to grade")
    failed: list[str] = []
    reports: dict[str, list[Anomaly]] = {}
    if todo:
        bundle = make_bundle(course_root)
        points = max_points(course_root)
        progress = Progress(len(todo), out, unit="students", tty=tty) if not quiet else None
        if scheduler or jobs > 1:
            runner = dask_results(bundle, todo, job_env, timeout, jobs=min(jobs, len(todo)), scheduler=scheduler)
        else:
            runner = sequential_results(bundle, todo, job_env, timeout)
        try:
            with runner as results:
                for result in results:
                    merge_result(course_root, result, state, key)
                    if result.error:
                        failed.append(result.student)
                    lines = [summary_line(result, points)]
                    reports[result.student] = found = student_checks(course_root, result.student)
                    if found:
                        lines.append(f"  ! tamper report: {len(found)} finding(s), listed after the score table")
                    if progress:
                        progress.finished("\n".join(lines))
                    if echo:
                        print(result.log, file=out, flush=True)
        except KeyboardInterrupt:
            if progress:
                progress.close()
            print(f"interrupted: {progress.done if progress else '?'} of {len(todo)} student(s) graded and saved; "
                  f"run `{TOOL_COMMAND} autograde` again to grade the rest", file=out, flush=True)
            raise
        if progress:
            progress.close()
    table = run_export(course_root, out=out)
    similar = similarity_report(course_root, similarity_threshold())
    for student, found in reports.items():
        found += similar.findings(student)
    if reports:
        print(format_tamper_report(reports), file=out, flush=True)
    run_similarity(course_root, report=similar, show_code=False, out=out)
    print(f"  `{TOOL_COMMAND} similarity` prints them side by side", file=out, flush=True)
    if failed:
        raise CourseToolError(f"autograding failed for {len(failed)} student(s): {sorted(failed)}; see "
                              f"{GRADING_LOG_DIR}/<student>.log, then run autograde again to retry them")
    return table
