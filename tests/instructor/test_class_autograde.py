"""Grading a whole class: parallel jobs, a real Dask cluster, the sandbox, resume.

One toy class (tests/nbgrader_toy.py: ``01_toy`` has part A = ``square``, 2 points, and
part B = ``mean``, 3 points) of twelve students is graded three ways:

* ``stock``: one plain ``nbgrader autograde song2vec --force`` over the whole class, in
  one process, sandboxed the same way (nbgrader_config.py installs the sandbox): the
  sequential reference;
* ``jobs2``: ``run_autograde(..., jobs=2)``, a Dask LocalCluster of two workers;
* ``cluster``: a ``dask scheduler`` and two ``dask worker`` processes started here on
  127.0.0.1, one of which is killed while the class is being graded.

Every gradebook row and every autograded notebook must be the same three times. The
expected points are written by hand from the cells. Five students are hostile; each
does one forbidden thing in part A and solves part B, so each must score exactly 3,
and nothing outside their sandbox may change.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import grading, paths
from tools.instructor.nbgrader_calls import run_nbgrader
from tools.instructor.release import run_release
from tools.instructor.sandbox.policy import check_sandbox
from tools.instructor.scores import register_students
from tools.instructor.settings import SIMILARITY_HTML

CELL_TIMEOUT = 6
MEMORY_MB = 2048          # the sandbox's address-space limit in these tests
PROCESSES = 64            # and its process limit
HOG_BYTES = 16 << 30      # what the memory hog asks for: 8 x the limit
SECRET = "instructor-secret-7c1e"
EXPECTED = {  # student -> (part A, part B) points, by hand
    "solution": (2, 3), "blank": (0, 0), "off_by_one": (2, 0), "half": (2, 0), "looper": (2, 0),
    "tamper": (0, 3), "reader": (0, 3), "db_writer": (0, 3), "netcat": (0, 3), "hog": (0, 3),
    "forker": (0, 3), "snoop": (0, 3),
}
HOSTILE = ("reader", "db_writer", "netcat", "hog", "forker", "snoop")

pytestmark = pytest.mark.skipif(bool(check_sandbox()) and os.environ.get("SONGREC_REQUIRE_SANDBOX") != "1",
                                reason=f"the sandbox cannot start here: {check_sandbox()}")


class Listener:
    """A TCP server on the host's 127.0.0.1 that records what it receives."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                self.received.append(conn.recv(100))

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def hostile_cells(root: Path, home: Path, port: int) -> dict[str, str]:
    """Part A's answer cell of each hostile student: the attack, then a correct square."""
    square = "def square(x):\n    return x * x\n"
    return {
        "reader": f"print(open({str(root / 'notebooks' / toy.ASSIGNMENT / '01_toy.ipynb')!r}).read())\n" + square,
        # Plain files first: the kernel guard refuses notebook and gradebook files before the
        # sandbox is even asked, and these attacks are here to show the sandbox.
        "db_writer": (f"open({str(root / 'pwned.txt')!r}, 'w').write('pwned')\n"
                      f"open({str(root / 'gradebook.db')!r}, 'ab').write(b'pwned')\n" + square),
        "netcat": (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'pwned')\n"
                   + square),
        "hog": f"_hog = bytearray({HOG_BYTES})\n" + square,
        "forker": ("import os, time\n"
                   "for _ in range(1000):\n"
                   "    if os.fork() == 0:\n"
                   "        time.sleep(60)\n"
                   "        os._exit(0)\n" + square),
        "snoop": (f"print(open({str(home / 'secret.txt')!r}).read())\n"
                  f"print(open({str(root / 'submitted' / 'solution' / toy.ASSIGNMENT / '01_toy.ipynb')!r}).read())\n"
                  + square),
    }


def class_submissions(root: Path, source: dict, release: dict, home: Path, port: int) -> dict[str, dict]:
    """student -> notebook name -> notebook."""
    rel, src = release["01_toy"], source["01_toy"]
    solved = toy.with_cells_from(rel, src, {"01_square", "01_mean"})

    def with_sources(**sources):
        nb = copy.deepcopy(solved)
        for cell in nb.cells:
            if toy.grade_id(cell) in sources:
                cell.source = sources[toy.grade_id(cell)]
        return nb

    out = {"solution": dict(source), "blank": dict(release),
           "off_by_one": {"01_toy": with_sources(**{"01_mean": "def mean(values):\n"
                                                                "    return sum(values) / (len(values) - 1)"})},
           "half": {"01_toy": toy.with_cells_from(rel, src, {"01_square"})},
           "looper": {"01_toy": with_sources(**{"01_mean": "def mean(values):\n    while True:\n        pass"})}}
    nb = with_sources(**{"01_square": "def square(x):\n    return 0", "01_square_test": "pass"})
    nb.cells = [c for c in nb.cells if toy.grade_id(c) != "01_mean_test"]
    out["tamper"] = {"01_toy": nb}
    for student, cell in hostile_cells(root, home, port).items():
        out[student] = {"01_toy": with_sources(**{"01_square": cell})}
    return out


def build_class(root: Path, home: Path, port: int) -> dict[str, str]:
    """Release the toy course at ``root`` and hand in the class; returns the grading env."""
    src = toy.build_toy_course(root)
    env = toy.course_env_for_tests(CELL_TIMEOUT)
    env.update(SONGREC_SANDBOX="bwrap", SONGREC_SANDBOX_MEMORY_MB=str(MEMORY_MB),
               SONGREC_SANDBOX_PROCESSES=str(PROCESSES), HOME=str(home))
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    source = {n: nbformat.read(src / f"{n}.ipynb", as_version=4) for n in toy.NOTEBOOKS}
    release = {n: nbformat.read(root / "release" / toy.ASSIGNMENT / f"{n}.ipynb", as_version=4)
               for n in toy.NOTEBOOKS}
    for student, notebooks in class_submissions(root, source, release, home, port).items():
        folder = root / "submitted" / student / toy.ASSIGNMENT
        folder.mkdir(parents=True)
        for name, nb in notebooks.items():
            nbformat.write(nb, folder / f"{name}.ipynb")
    (root / "submitted" / "solution" / toy.ASSIGNMENT / "timestamp.txt").write_text("2026-03-01 12:00:00.250000 UTC")
    return env


def gradebook_dump(root: Path) -> dict:
    """Every row nbgrader keeps for a submission, as plain values."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(paths.db_url(root)) as gb:
        for sub in gb.find_assignment(toy.ASSIGNMENT).submissions:
            for nb in sub.notebooks:
                out[(sub.student_id, nb.name)] = {
                    "timestamp": sub.timestamp, "late_submission_penalty": nb.late_submission_penalty,
                    "flagged": nb.flagged,
                    "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                               for g in nb.grades},
                    "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments}}
    return out


def autograded_dump(root: Path) -> dict:
    """(student, notebook) -> per cell (source, output types and error names); the
    course's own path, which the hostile cells name, reads ``ROOT``."""
    out = {}
    for path in sorted((root / "autograded").glob(f"*/{toy.ASSIGNMENT}/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[(path.parts[-3], path.stem)] = [
            (c.source.replace(str(root), "ROOT"), [(o.output_type, o.get("ename")) for o in c.get("outputs", [])])
            for c in nb.cells]
    return out


def tree_digest(folder: Path, skip=()) -> dict[str, str]:
    """relative path -> sha256 of every file under ``folder`` (leaving out ``skip`` names)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part in skip for part in rel.parts):
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def auto_points(root: Path) -> dict[str, tuple[float, float]]:
    dump = gradebook_dump(root)
    return {s: (dump[(s, "01_toy")]["grades"]["01_square_test"][0],
                dump[(s, "01_toy")]["grades"]["01_mean_test"][0]) for s in EXPECTED}


# --------------------------------------------------------------------------- the three gradings


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A grader's home holding a secret, and a listener on the host's loopback."""
    home = tmp_path_factory.mktemp("grader_home")
    (home / "secret.txt").write_text(SECRET)
    listener = Listener()
    yield {"home": home, "listener": listener}
    listener.close()


@pytest.fixture(scope="module")
def stock(tmp_path_factory, world):
    root = tmp_path_factory.mktemp("class_stock")
    env = build_class(root, world["home"], world["listener"].port)
    register_students(root, EXPECTED)
    run_nbgrader(root, ["autograde", toy.ASSIGNMENT, "--force"], env=env, check=False, timeout=900)
    return root


@pytest.fixture(scope="module")
def jobs2(tmp_path_factory, world):
    root = tmp_path_factory.mktemp("class_jobs2")
    env = build_class(root, world["home"], world["listener"].port)
    before = tree_digest(root)
    out = io.StringIO()
    grading.run_autograde(root, env=env, out=out, jobs=2, timeout=600)
    return {"root": root, "before": before, "out": out.getvalue()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, world):
    """The class graded through a real scheduler and two workers on 127.0.0.1; worker 1
    is killed once the first student's result is in."""
    root = tmp_path_factory.mktemp("class_cluster")
    env = build_class(root, world["home"], world["listener"].port)
    run = tmp_path_factory.mktemp("dask")
    procs = []
    dask_env = {**os.environ, "PYTHONPATH": str(toy.REPO_ROOT)}

    def start(*args):
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=toy.REPO_ROOT, env=dask_env,
                                stdout=subprocess.DEVNULL, stderr=open(run / f"log{len(procs)}", "w"),
                                start_new_session=True)
        procs.append(proc)
        return proc

    sched_file = run / "scheduler.json"
    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file))
        deadline = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        import json

        address = json.loads(sched_file.read_text())["address"]
        workers = [start("worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                         "--name", f"w{i}") for i in range(2)]
        out = ProgressWatch()
        killer = threading.Thread(target=out.kill_after_first, args=(workers[0],), daemon=True)
        killer.start()
        grading.run_autograde(root, env=env, out=out, scheduler=address, timeout=600)
        killer.join(timeout=1)
        return {"root": root, "address": address, "out": out.getvalue(), "killed": out.killed}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


class ProgressWatch(io.StringIO):
    """An output that kills a Dask worker as soon as the first student's line is written."""

    def __init__(self):
        super().__init__()
        self.first = threading.Event()
        self.killed = False

    def write(self, text):
        if " points, " in text:
            self.first.set()
        return super().write(text)

    def kill_after_first(self, worker):
        if self.first.wait(timeout=300) and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            self.killed = True


@pytest.mark.slow
def test_stock_sequential_grades_are_the_hand_derived_ones(stock):
    assert auto_points(stock) == {s: (float(a), float(b)) for s, (a, b) in EXPECTED.items()}


@pytest.mark.slow
def test_two_local_jobs_give_exactly_the_sequential_grades(stock, jobs2):
    assert gradebook_dump(jobs2["root"]) == gradebook_dump(stock)
    assert autograded_dump(jobs2["root"]) == autograded_dump(stock)
    assert "12/12 students" in jobs2["out"]


@pytest.mark.slow
def test_scheduler_and_two_workers_give_the_same_grades_despite_a_killed_worker(stock, cluster):
    assert cluster["killed"], "the test did not get to kill a worker"
    assert gradebook_dump(cluster["root"]) == gradebook_dump(stock)
    assert autograded_dump(cluster["root"]) == autograded_dump(stock)
    assert f"on Dask scheduler {cluster['address']}" in cluster["out"]


@pytest.mark.slow
def test_submission_timestamp_is_merged(jobs2):
    dump = gradebook_dump(jobs2["root"])
    assert str(dump[("solution", "01_toy")]["timestamp"]) == "2026-03-01 12:00:00.250000"
    assert dump[("blank", "01_toy")]["timestamp"] is None


@pytest.mark.slow
@pytest.mark.parametrize("student", HOSTILE)
def test_hostile_student_loses_only_its_own_part(jobs2, student):
    assert auto_points(jobs2["root"])[student] == (0.0, 3.0)


@pytest.mark.slow
def test_nothing_outside_the_sandboxes_changed(jobs2, world):
    root = jobs2["root"]
    after = tree_digest(root)
    grading_outputs = ("autograded", "gradebook.db", "grades.csv", "autograde-state.json", "autograde-logs",
                       SIMILARITY_HTML)
    changed = {p for p in set(after) | set(jobs2["before"])
               if after.get(p) != jobs2["before"].get(p) and p.split("/")[0] not in grading_outputs}
    assert changed == set()
    assert not (root / "pwned.txt").exists()
    assert b"pwned" not in (root / "gradebook.db").read_bytes()
    assert world["listener"].received == []
    assert (world["home"] / "secret.txt").read_text() == SECRET
    assert not [p for p in world["home"].rglob("*") if p.is_file() and b"pwned" in p.read_bytes()]


@pytest.mark.slow
def test_no_secret_reaches_a_hostile_students_notebook(jobs2):
    # snoop's secret file does not exist inside the sandbox; reader's notebook is refused by
    # the kernel guard first (the sandbox would hide it too: test_sandbox.py).
    for student, error in (("reader", "PermissionError"), ("snoop", "FileNotFoundError")):
        text = (jobs2["root"] / "autograded" / student / toy.ASSIGNMENT / "01_toy.ipynb").read_text()
        assert toy.SQUARE_SOLUTION_LINE not in text and SECRET not in text
        assert error in text


@pytest.mark.slow
def test_each_attack_failed_the_way_the_sandbox_makes_it_fail(jobs2):
    errors = {}
    for student in HOSTILE:
        nb = nbformat.read(jobs2["root"] / "autograded" / student / toy.ASSIGNMENT / "01_toy.ipynb", as_version=4)
        cell = next(c for c in nb.cells if toy.grade_id(c) == "01_square")
        errors[student] = [o.ename for o in cell.outputs if o.output_type == "error"]
    # reader opens a notebook file: the kernel guard refuses it before the sandbox is asked.
    assert errors == {"reader": ["PermissionError"], "db_writer": ["FileNotFoundError"],
                      "netcat": ["ConnectionRefusedError"], "hog": ["MemoryError"],
                      "forker": ["BlockingIOError"], "snoop": ["FileNotFoundError"]}
