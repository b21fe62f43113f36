"""One kernel per student (``GuardedExecute.share_kernel``), through the real autograde flow
on a two-notebook toy course.

``01_a`` leaves everything behind that a new kernel would not have: a variable, another
working folder, an environment variable, an open figure-free module patch (``math.sqrt``)
and a patch of ``fractions`` (imported only by ``02_b``'s test cell, so only a guard that
recorded the whole assignment's test imports before ``01_a`` ran sees it). ``02_b``'s test
cell checks that none of it reached it. Each notebook's first cell prints the kernel's
process's token and working folder.

Students:

``honest``   both notebooks as released with the answers filled in: one kernel for both
             (the same process), full points, nothing in the tamper record;
``messy``    ``01_a`` leaves all of the above behind: ``02_b`` still scores full points,
             and ``01_a``'s record names the two patches it undid;
``crasher``  ``01_a``'s last cell kills its own kernel: ``02_b`` gets a new kernel.
``unhooker`` ``01_a``'s last cell takes the guard out of ``sys.modules``: the kernel is
             alive but cannot be reset, so ``02_b`` gets a new one, and says why.

With ``c.GuardedExecute.share_kernel = False`` every notebook gets its own kernel.
Expected points are written by hand from the cells below.
"""

from __future__ import annotations

import io
import json

import nbformat
import nbgrader_toy as toy
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools.instructor import class_autograde
from tools.instructor.release import run_release

# The sandbox gives every kernel its own process namespace (the same process id each time):
# a token kept in the process tells kernels apart.
PROBE = ("import os, secrets, sys, types\n"
         "probe = sys.modules.setdefault('_probe_of_this_process', types.ModuleType('_probe_of_this_process'))\n"
         "probe.token = getattr(probe, 'token', None) or secrets.token_hex(8)\n"
         "print('PROBE', probe.token, os.getcwd())\n")
A_POINTS, B_POINTS = 1.0, 2.0
MESS = (
    "leftover = 41\n"
    "import os, math, fractions\n"
    "os.environ['LEFTOVER_OF_01_A'] = '1'\n"
    "os.chdir('/')\n"
    "import sys\n"
    "sys.path.insert(0, '/tmp/from_01_a')\n"
    "math.sqrt = lambda x: -1.0\n"
    "fractions.Fraction.limit_denominator = lambda self, m=0: 'patched'\n"
)
CRASH = "import os\nos._exit(3)\n"
# Takes the guard's module out of sys.modules (the guard does not record its own entry):
# the kernel stays alive and its last restore works, but it cannot be reset for 02_b.
UNHOOK = "import sys\nsys.modules.pop('_songrec_kernel_guard', None)\n"
B_TEST = (
    "import math as _math\n"
    "import os as _os\n"
    "from fractions import Fraction as _Fraction\n"
    "assert 'leftover' not in globals(), 'a name of 01_a reached 02_b'\n"
    "assert 'LEFTOVER_OF_01_A' not in _os.environ, 'an environment variable of 01_a reached 02_b'\n"
    "assert _os.getcwd() != '/', 'the working folder of 01_a reached 02_b'\n"
    "assert '/tmp/from_01_a' not in __import__('sys').path, 'a sys.path entry of 01_a reached 02_b'\n"
    "assert double(4) == 8\n"
    "### BEGIN HIDDEN TESTS\n"
    "assert _math.sqrt(4) == 2\n"
    "assert _Fraction(1, 3).limit_denominator(10) == _Fraction(1, 3)\n"
    "assert double(-1) == -2\n"
    "### END HIDDEN TESTS\n"
)


def _answer(grade_id: str, body: str):
    return new_code_cell(body, metadata=toy._meta(grade_id, solution=True))


def _test(grade_id: str, body: str, points: float):
    return new_code_cell(body, metadata=toy._meta(grade_id, grade=True, locked=True, points=points))


def notebook_a():
    return toy._finish(new_notebook(cells=[
        new_markdown_cell("# A"), toy._setup_cell("01"), new_code_cell(PROBE),
        new_markdown_cell("### Task `01_one` — write `one` (1 point)"),
        _answer("01_one", "def one():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        _test("01_one_test", "assert one() == 1\n### BEGIN HIDDEN TESTS\nassert one() + one() == 2\n"
                                             "### END HIDDEN TESTS", A_POINTS),
        new_code_cell("# the end of part A\n"),
    ]))


def notebook_b():
    return toy._finish(new_notebook(cells=[
        new_markdown_cell("# B"), toy._setup_cell("02"), new_code_cell(PROBE),
        new_markdown_cell("### Task `02_double` — write `double` (2 points)"),
        _answer("02_double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        _test("02_double_test", B_TEST, B_POINTS),
    ]))


def _solved(release_nb, source_nb, last_cell: str = ""):
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    answers = {toy.grade_id(c): c.source for c in source_nb.cells if toy.nbg(c).get("solution")}
    for cell in nb.cells:
        if toy.grade_id(cell) in answers:
            cell.source = answers[toy.grade_id(cell)]
    if last_cell:
        nb.cells[-1].source = last_cell
    return nb


def _grade(tmp_path_factory, name: str, share: bool):
    root = tmp_path_factory.mktemp(name)
    src = root / "notebooks" / toy.ASSIGNMENT
    src.mkdir(parents=True)
    toy.copy_course_config(root)
    if not share:
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as f:
            f.write("\nc.GuardedExecute.share_kernel = False\n")
    nbformat.write(notebook_a(), src / "01_a.ipynb")
    nbformat.write(notebook_b(), src / "02_b.ipynb")
    env = toy.course_env_for_tests(60)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    release = root / "release" / toy.ASSIGNMENT
    students = ({"honest": ("", ""), "messy": (MESS, ""), "crasher": (CRASH, ""), "unhooker": (UNHOOK, "")}
                if share else {"honest": ("", "")})
    for student, (last_a, last_b) in students.items():
        folder = root / "submitted" / student / toy.ASSIGNMENT
        folder.mkdir(parents=True)
        for nb_name, last in (("01_a", last_a), ("02_b", last_b)):
            nb = _solved(nbformat.read(release / f"{nb_name}.ipynb", as_version=4),
                         nbformat.read(src / f"{nb_name}.ipynb", as_version=4), last)
            nbformat.write(nb, folder / f"{nb_name}.ipynb")
    class_autograde.run_class_autograde(root, env=env, out=io.StringIO(), jobs=1, timeout=600)
    return root


def _probe(root, student: str, nb_name: str) -> tuple[str, str]:
    nb = nbformat.read(root / "autograded" / student / toy.ASSIGNMENT / f"{nb_name}.ipynb", as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and out.get("text", "").startswith("PROBE "):
                _, token, cwd = out["text"].split(maxsplit=2)
                return token, cwd.strip()
    raise AssertionError(f"no PROBE line in {student}/{nb_name}")


def _record(root, student: str, nb_name: str) -> dict:
    nb = nbformat.read(root / "autograded" / student / toy.ASSIGNMENT / f"{nb_name}.ipynb", as_version=4)
    return nb.metadata["songrec"]["grading"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return _grade(tmp_path_factory, "shared_kernel", share=True)


@pytest.mark.slow
def test_a_student_s_notebooks_share_one_kernel_that_starts_each_notebook_clean(shared):
    scores = toy.gradebook_scores(shared, "honest")
    assert scores["01_a"][0] == A_POINTS and scores["02_b"][0] == B_POINTS
    (kernel_a, cwd_a), (kernel_b, cwd_b) = _probe(shared, "honest", "01_a"), _probe(shared, "honest", "02_b")
    assert kernel_a == kernel_b and cwd_a == cwd_b
    for nb_name in ("01_a", "02_b"):
        assert _record(shared, "honest", nb_name)["events"] == []
    assert _record(shared, "honest", "02_b").get("shared_kernel") is True
    b = nbformat.read(shared / "autograded" / "honest" / toy.ASSIGNMENT / "02_b.ipynb", as_version=4)
    counts = [c.execution_count for c in b.cells if c.cell_type == "code" and c.execution_count]
    assert counts[0] == 1, f"02_b's execution count continued from 01_a's: {counts}"


@pytest.mark.slow
def test_what_one_notebook_leaves_behind_does_not_reach_the_next(shared):
    scores = toy.gradebook_scores(shared, "messy")
    assert scores["02_b"][0] == B_POINTS, scores
    assert _probe(shared, "messy", "01_a")[0] == _probe(shared, "messy", "02_b")[0]
    events = " | ".join(_record(shared, "messy", "01_a")["events"])
    assert "math.sqrt replaced" in events and "Fraction.limit_denominator replaced" in events, events


@pytest.mark.slow
def test_a_kernel_that_died_is_not_passed_on(shared):
    scores = toy.gradebook_scores(shared, "crasher")
    assert scores["01_a"][0] == A_POINTS and scores["02_b"][0] == B_POINTS, scores
    assert _probe(shared, "crasher", "01_a")[0] != _probe(shared, "crasher", "02_b")[0]
    assert _record(shared, "crasher", "01_a")["killed"], "the dead kernel was not noticed"
    assert not _record(shared, "crasher", "02_b").get("shared_kernel")


@pytest.mark.slow
def test_a_kernel_that_cannot_be_reset_is_replaced_before_the_next_notebook(shared):
    scores = toy.gradebook_scores(shared, "unhooker")
    assert scores["01_a"][0] == A_POINTS and scores["02_b"][0] == B_POINTS, scores
    assert _probe(shared, "unhooker", "01_a")[0] != _probe(shared, "unhooker", "02_b")[0]
    record = _record(shared, "unhooker", "02_b")
    assert any("could not be reset" in event for event in record["events"]), record["events"]
    assert record["guard_ready"] and not record.get("shared_kernel")


@pytest.mark.slow
def test_share_kernel_false_gives_every_notebook_its_own_kernel(tmp_path_factory):
    root = _grade(tmp_path_factory, "own_kernels", share=False)
    scores = toy.gradebook_scores(root, "honest")
    assert scores["01_a"][0] == A_POINTS and scores["02_b"][0] == B_POINTS
    assert _probe(root, "honest", "01_a")[0] != _probe(root, "honest", "02_b")[0]


@pytest.mark.slow
def test_no_kernel_outlives_the_last_notebook_when_nbgrader_runs_in_process(shared, monkeypatch):
    """The formgrader autogrades in the Jupyter server's own process (``NbGraderAPI``): the
    kernel is not kept after the assignment's last notebook, so nothing is left running."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from tools.instructor.paths import load_course_config
    from tools.instructor.preprocessors import kernel_sharing

    monkeypatch.chdir(shared)
    for key, value in toy.course_env_for_tests(60).items():
        monkeypatch.setenv(key, value)
    config = load_course_config(shared)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.autograde(toy.ASSIGNMENT, "honest", force=True)
    assert result["success"], result.get("log", "")[-3000:]
    assert kernel_sharing.shared.get("km") is None, "a kernel was kept after the last notebook"
    assert toy.gradebook_scores(shared, "honest")["02_b"][0] == B_POINTS
