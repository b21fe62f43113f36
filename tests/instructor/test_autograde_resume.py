"""Partial and interrupted class runs through the command line: Ctrl-C, a hard kill,
resuming, ``--student``, ``--force``, unchanged submissions skipped.

A four-student toy class (tests/nbgrader_toy.py) graded by ``python -m tools.instructor
autograde --jobs 1`` in a subprocess whose output the test reads line by line.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import class_autograde, paths
from tools.instructor.errors import CourseToolError
from tools.instructor.release import run_release
from tools.instructor.sandbox.policy import check_sandbox
from tools.instructor.settings import GRADING_STATE_FILE

CELL_TIMEOUT = 6
STUDENTS = ("ann", "bob", "cat", "dan")  # all hand in the solution; ann and cat also the questions
needs_sandbox = pytest.mark.skipif(bool(check_sandbox()) and os.environ.get("SONGREC_REQUIRE_SANDBOX") != "1",
                                   reason=f"the sandbox cannot start here: {check_sandbox()}")


def build(root: Path) -> dict[str, str]:
    src = toy.build_toy_course(root)
    env = toy.course_env_for_tests(CELL_TIMEOUT)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    for student in STUDENTS:
        folder = root / "submitted" / student / toy.ASSIGNMENT
        folder.mkdir(parents=True)
        names = toy.NOTEBOOKS if student in ("ann", "cat") else toy.NOTEBOOKS[:1]
        for name in names:
            nbformat.write(nbformat.read(src / f"{name}.ipynb", as_version=4), folder / f"{name}.ipynb")
    return env


def _hear_ctrl_c() -> None:
    # A shell starts background jobs (`.ci/run ... &`, nohup) with SIGINT ignored, and Python
    # keeps an inherited SIG_IGN: the command would never see the test's Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(root: Path, env: dict[str, str], *args: str, stop_after: int | None = None, sig=signal.SIGINT):
    """Run the autograde command; with ``stop_after``, send ``sig`` to its process group
    once that many students have finished. Returns (exit status, output lines)."""
    proc = subprocess.Popen([sys.executable, "-m", "tools.instructor", "autograde", "--root", str(root),
                             "--jobs", "1", "--profile", "ci", *args],
                            cwd=toy.REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_hear_ctrl_c)
    lines, finished = [], 0
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if " points, " in line:
            finished += 1
            if finished == stop_after:
                os.killpg(proc.pid, sig)
    return proc.wait(timeout=300), lines


def graded_in(lines: list[str]) -> list[str]:
    """Students whose result line the run printed."""
    return [line.split("] ", 1)[1].split(":")[0] for line in lines if " points, " in line]


def gradebook_students(root: Path) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(paths.db_url(root)) as gb:
        return {s.student_id for s in gb.find_assignment(toy.ASSIGNMENT).submissions}


@needs_sandbox
@pytest.mark.slow
def test_interrupted_and_killed_runs_resume_with_only_the_ungraded(tmp_path):
    root = tmp_path / "course"
    env = build(root)
    state = root / GRADING_STATE_FILE

    # Ctrl-C after the first student: the second is abandoned, the first is kept.
    rc, lines = cli(root, env, stop_after=1, sig=signal.SIGINT)
    first = graded_in(lines)
    assert rc == 130 and len(first) == 1, lines
    assert any(line.startswith("interrupted: 1 of 4 student(s) graded and saved") for line in lines), lines
    assert set(json.loads(state.read_text())["students"]) == set(first) == gradebook_students(root)

    # A hard kill (SIGKILL to the whole process group) after the next student.
    rc, lines = cli(root, env, stop_after=1, sig=signal.SIGKILL)
    second = graded_in(lines)
    assert rc == -signal.SIGKILL and len(second) == 1 and second[0] not in first, lines
    assert "skipping 1 student(s)" in "\n".join(lines)
    assert set(json.loads(state.read_text())["students"]) == set(first + second)
    assert set(first + second) <= gradebook_students(root)

    # The rerun grades exactly the two others.
    rc, lines = cli(root, env)
    assert rc == 0, lines
    assert sorted(graded_in(lines)) == sorted(set(STUDENTS) - set(first + second))
    assert set(json.loads(state.read_text())["students"]) == set(STUDENTS)

    # Nothing changed: nothing graded. A changed submission: only that student.
    rc, lines = cli(root, env)
    assert rc == 0 and graded_in(lines) == [] and "nothing to grade" in lines
    (root / "submitted" / "bob" / toy.ASSIGNMENT / "notes.txt").write_text("added after the deadline")
    rc, lines = cli(root, env)
    assert rc == 0 and graded_in(lines) == ["bob"], lines

    # --student picks; --force regrades an unchanged one.
    rc, lines = cli(root, env, "--student", "dan", "--student", "ann")
    assert rc == 0 and graded_in(lines) == [], lines
    rc, lines = cli(root, env, "--student", "dan", "--force")
    assert rc == 0 and graded_in(lines) == ["dan"], lines


def test_unknown_student_and_bad_jobs_are_refused_before_grading(tmp_path):
    root = tmp_path / "course"
    build(root)
    with pytest.raises(CourseToolError, match=r"--student must name a folder of .*got \['zed'\]"):
        class_autograde.run_class_autograde(root, students=["ann", "zed"], out=io.StringIO())
    with pytest.raises(ValueError, match="--jobs must be at least 1, got 0"):
        class_autograde.run_class_autograde(root, jobs=0, out=io.StringIO())
    assert not (root / "autograded").exists()


def test_an_unavailable_sandbox_stops_the_run_and_names_the_way_out(tmp_path, monkeypatch):
    root = tmp_path / "course"
    build(root)
    monkeypatch.setattr(class_autograde, "check_sandbox", lambda environ: "bwrap: no permission to create a namespace")
    with pytest.raises(CourseToolError, match="no permission to create a namespace.*--sandbox none"):
        class_autograde.run_class_autograde(root, out=io.StringIO(), jobs=1)
    assert not (root / "autograded").exists() and not (root / GRADING_STATE_FILE).exists()


@pytest.mark.slow
def test_sandbox_none_warns_and_still_grades(tmp_path):
    root = tmp_path / "course"
    env = build(root)
    out = io.StringIO()
    class_autograde.run_class_autograde(root, env=env, out=out, jobs=1, sandbox="none", students=["bob"])
    text = out.getvalue()
    assert text.startswith(class_autograde.NO_SANDBOX_WARNING)
    assert "sandbox none" in text and "bob: 5/5 points" in text
