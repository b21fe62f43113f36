"""The next student's start, prefetched (issue 19): ``--jobs 1`` starts student k+1's nbgrader
while student k is graded, gated so that none of k+1's cells runs before k is done.

* ``start_gate`` on a real pipe: an opened gate lets through once; a gate closed unopened
  refuses, and keeps refusing; a variable that names no pipe is refused with its value;
* a gated job on the toy course (tests/nbgrader_toy.py) starts its kernel and then waits:
  its first cell runs only after the gate was opened, and it scores what an ungated job
  scores (the hand-derived 2 + 3 points of the toy solution);
* ``prefetched_results`` grades students in order, one student's cells never overlapping
  another's, and closing it early stops the student started ahead (its process and folder
  gone).
"""

from __future__ import annotations

import datetime
import io
import os
import time

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import student_job
from tools.instructor.errors import CourseToolError
from tools.instructor.preprocessors import start_gate
from tools.instructor.release import run_release
from tools.instructor.sandbox.policy import check_sandbox
from tools.instructor.settings import ASSIGNMENT

needs_sandbox = pytest.mark.skipif(bool(check_sandbox()) and os.environ.get("SONGREC_REQUIRE_SANDBOX") != "1",
                                   reason=f"the sandbox cannot start here: {check_sandbox()}")


# --------------------------------------------------------------------------- the gate itself


@pytest.fixture
def gate(monkeypatch):
    """A fresh gate on a real pipe: (write end, the module's state)."""
    read_end, write_end = os.pipe()
    state = {"fd": read_end, "closed": False}
    monkeypatch.setattr(start_gate, "_gate", state)
    yield write_end, state
    for fd in (read_end, write_end):
        try:
            os.close(fd)
        except OSError:
            pass


def test_an_opened_gate_lets_through_once_and_is_closed_after(gate):
    write_end, state = gate
    os.write(write_end, start_gate.GATE_OPEN)
    assert start_gate.gate_pending()
    start_gate.wait_for_start()
    assert not start_gate.gate_pending()
    start_gate.wait_for_start()   # passed already: returns at once instead of reading again
    assert state["fd"] is None


def test_a_gate_closed_unopened_refuses_now_and_later(gate):
    write_end, _ = gate
    os.close(write_end)
    with pytest.raises(CourseToolError, match="closed the start gate"):
        start_gate.wait_for_start()
    with pytest.raises(CourseToolError):   # a later notebook must not run ungated
        start_gate.wait_for_start()


def test_half_a_word_is_not_an_open_gate(gate):
    write_end, _ = gate
    os.write(write_end, start_gate.GATE_OPEN[:1])
    os.close(write_end)
    with pytest.raises(CourseToolError):
        start_gate.wait_for_start()


def test_no_gate_means_no_wait(monkeypatch):
    monkeypatch.setattr(start_gate, "_gate", {"fd": None, "closed": False})
    start_gate.wait_for_start()
    assert not start_gate.gate_pending()


@pytest.mark.parametrize("value", ["not-a-number", "987654"])
def test_a_variable_that_names_no_pipe_is_refused_with_its_value(monkeypatch, value):
    monkeypatch.setenv("SONGREC_GRADING_GATE_FD", value)
    with pytest.raises(CourseToolError, match=repr(value)):
        start_gate._take_fd()
    assert "SONGREC_GRADING_GATE_FD" not in os.environ   # taken out before any kernel could inherit it


# --------------------------------------------------------------------------- through nbgrader


def _class(tmp_path, students: dict[str, bool]) -> tuple:
    """The toy course released under ``tmp_path``, ``students`` (name -> solved) handed in;
    returns (bundle, submissions, env)."""
    root = tmp_path / "course"
    src = toy.build_toy_course(root)
    env = toy.course_env_for_tests(60)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    release = root / "release" / ASSIGNMENT
    for student, solved in students.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name in toy.NOTEBOOKS:
            nb = nbformat.read(release / f"{name}.ipynb", as_version=4)
            if solved:
                answers = {toy.grade_id(c): c.source for c in nbformat.read(src / f"{name}.ipynb", as_version=4).cells
                           if toy.nbg(c).get("solution")}
                for cell in nb.cells:
                    if toy.grade_id(cell) in answers:
                        cell.source = answers[toy.grade_id(cell)]
            nbformat.write(nb, folder / f"{name}.ipynb")
    from tools.instructor.class_autograde import grading_settings

    job_env = grading_settings(env, profile="ci", sandbox=None).env(env)
    bundle = student_job.make_bundle(root)
    return bundle, [student_job.read_submission(root, s) for s in students], job_env


def _cell_times(result) -> list[tuple[float, float]]:
    """(start, end) of every executed cell of the student's autograded 01_toy, in order."""
    nb = nbformat.reads(result.files["01_toy.ipynb"].decode(), as_version=4)
    times = []
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.status.busy" in ex:
            times.append(tuple(datetime.datetime.fromisoformat(ex[k].replace("Z", "+00:00")).timestamp()
                               for k in ("iopub.status.busy", "shell.execute_reply")))
    assert times, "no executed cell in 01_toy"
    return times


def _scores(result) -> dict[str, float]:
    """grade_id -> points the student's autograded 01_toy earned: a test cell's points when
    it has no error output (how nbgrader scores it), else 0."""
    nb = nbformat.reads(result.files["01_toy.ipynb"].decode(), as_version=4)
    points = toy.autograded_points(nb)
    return {gid: 0.0 if any(o.get("output_type") == "error" for o in cell.get("outputs", [])) else points[gid]
            for cell in nb.cells if (gid := toy.grade_id(cell)) in points}


@needs_sandbox
@pytest.mark.slow
def test_a_gated_job_waits_with_its_kernel_ready_and_then_scores_like_any(tmp_path):
    bundle, (sub,), env = _class(tmp_path, {"solution": True})
    job = student_job.StudentJob(bundle, sub, env, gated=True)
    try:
        deadline = time.monotonic() + 300
        while not any(start_gate.WAITING_LOG in line for line in job.run.lines):
            assert job.run.proc.poll() is None, "".join(job.run.lines[-20:])
            assert time.monotonic() < deadline, "the gated job never reached its gate"
            time.sleep(0.1)
        time.sleep(2)   # a job that ignored its gate would run its cells now
        opened = time.time()
        result = job.finish(timeout=300)
    finally:
        job.cancel()
    assert result.error is None, result.log[-2000:]
    first_start = _cell_times(result)[0][0]
    assert first_start >= opened, f"a cell ran {opened - first_start:.2f} s before the gate opened"
    assert _scores(result) == toy.TEST_POINTS


@needs_sandbox
@pytest.mark.slow
def test_prefetched_results_grade_in_order_without_overlap_and_stop_the_job_ahead(tmp_path, monkeypatch):
    students = {"s1": True, "s2": False, "s3": True}
    bundle, subs, env = _class(tmp_path, students)
    started = []

    class Recorded(student_job.StudentJob):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(student_job, "StudentJob", Recorded)
    results = list(student_job.prefetched_results(bundle, subs, env, timeout=300))
    assert [r.student for r in results] == list(students)
    assert all(r.error is None for r in results), [r.log[-1500:] for r in results if r.error]
    for result, solved in zip(results, students.values()):
        assert _scores(result) == (toy.TEST_POINTS if solved else {k: 0.0 for k in toy.TEST_POINTS})
    spans = [(_cell_times(r)[0][0], _cell_times(r)[-1][1]) for r in results]
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "a student's cells ran while the one before was still being graded"
    assert [job.submission.student for job in started] == list(students)

    started.clear()
    early = student_job.prefetched_results(bundle, subs, env, timeout=300)
    first = next(early)
    assert first.student == "s1" and len(started) == 2
    ahead = started[1]
    early.close()
    assert ahead.run.proc.poll() is not None, "the job started ahead is still running"
    assert not ahead.course.exists(), "the job started ahead left its folder behind"
