"""Submissions that used to break grading as a whole, through the real autograde flow on
a course built from the real notebooks (only ``01_mapping`` handed in):

deaf    ``01_encode_playlists``'s answer cell ignores SIGINT and sleeps 600 s. The cell
        timeout interrupts it, the interrupt is ignored, so the kernel is killed and
        replaced and the cells above re-run: ``01_encode_playlists_test`` (1 point)
        scores 0, ``01_build_mapping_test`` and ``01_top_songs_test`` (2 + 2) keep theirs.
old     an "older release": ``01_build_mapping`` and its test renamed (the answer still
        defines ``build_mapping``, so it is matched by name), ``01_top_songs`` renamed and
        rewritten against an old API (``top_songs_v1``) next to an extra old answer cell:
        nothing to match it by, so 2 + 1 keep their points, ``01_top_songs_test`` scores 0
        and the unmatched cells are named in the table, grades.csv and the feedback.
broken  ``01_mapping.ipynb`` is not a notebook: nbgrader fails for the student, and the
        table and grades.csv say ERROR, not 0.

Expected points are written by hand from the notebook (2 + 1 + 2 = 5).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import nbformat
import nbgrader_toy as toy
import pytest
from nbformat.v4 import new_code_cell
from real_attacks import solved

from tools.instructor import class_autograde, grading
from tools.instructor.errors import CourseToolError
from tools.instructor.release import run_release
from tools.instructor.settings import GRADING_STATE_FILE

CELL_TIMEOUT = 15  # the deaf cell sleeps 600 s: the test must not wait for it
NOTEBOOK = "01_mapping"
DEAF_CODE = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)\n"
OLD_IDS = {"01_build_mapping": "01_map", "01_build_mapping_test": "01_map_test",
           "01_top_songs": "01_top", "01_top_songs_test": "01_top_test"}
OLD_TOP_SONGS = "def top_songs_v1(counts):\n    return sorted(counts, key=counts.get, reverse=True)\n"


def _with_id(nb, grade_id):
    return next(c for c in nb.cells if toy.grade_id(c) == grade_id)


def deaf_notebook(good):
    nb = nbformat.from_dict(json.loads(json.dumps(good)))
    cell = _with_id(nb, "01_encode_playlists")
    cell.source = DEAF_CODE + cell.source
    return nb


def old_release_notebook(good):
    nb = nbformat.from_dict(json.loads(json.dumps(good)))
    _with_id(nb, "01_top_songs").source = OLD_TOP_SONGS
    for cell in nb.cells:
        meta = toy.nbg(cell)
        if meta.get("grade_id") in OLD_IDS:
            meta["grade_id"] = OLD_IDS[meta["grade_id"]]
    extra = new_code_cell("def helper_v1():\n    return 1\n")
    extra.metadata["nbgrader"] = {"grade_id": "01_extra_v1", "solution": True, "grade": False, "locked": False,
                                  "schema_version": 3}
    nb.cells.append(extra)
    return nb


def scores_of(root, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(NOTEBOOK, toy.ASSIGNMENT, student)
        return {g.name: float(g.auto_score or 0) for g in nb.grades if g.name.endswith("_test")}



@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust_course")
    toy.copy_course_with_real_notebooks(root, toy.REAL_SOURCE)
    env = toy.course_env_for_tests(CELL_TIMEOUT)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    source = nbformat.read(root / "notebooks" / toy.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    release = nbformat.read(root / "release" / toy.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    good = solved(release, source)
    for student, nb in (("deaf", deaf_notebook(good)), ("old", old_release_notebook(good)), ("broken", None)):
        path = root / "submitted" / student / toy.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        if nb is None:
            path.write_text("{ this is not a notebook", encoding="utf-8")
        else:
            nbformat.write(nb, path)
    out = io.StringIO()
    with pytest.raises(CourseToolError, match=r"autograding failed for 1 student\(s\): \['broken'\]"):
        class_autograde.run_class_autograde(root, env=env, out=out, jobs=1, timeout=600)
    return {"root": root, "env": env, "out": out.getvalue()}


@pytest.mark.slow
def test_a_kernel_deaf_to_interrupts_costs_only_its_cell(graded):
    root = graded["root"]
    assert scores_of(root, "deaf") == {"01_build_mapping_test": 2.0, "01_encode_playlists_test": 0.0,
                                         "01_top_songs_test": 2.0}
    nb = nbformat.read(root / "autograded" / "deaf" / toy.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    errors = [o for o in _with_id(nb, "01_encode_playlists").outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "CellTimeoutError"
    assert f"after the {CELL_TIMEOUT} s limit and did not stop when interrupted" in errors[0].evalue
    assert nb.metadata.songrec.grading.killed == ["01_encode_playlists"]
    state = json.loads((root / GRADING_STATE_FILE).read_text())["students"]
    assert state["deaf"].get("submission") and "error" not in state["deaf"]
    assert "deaf/01_mapping: cells 01_encode_playlists ran past the cell timeout" in graded["out"]


@pytest.mark.slow
def test_an_older_release_is_graded_where_it_matches_and_says_where_not(graded):
    root = graded["root"]
    assert scores_of(root, "old") == {"01_build_mapping_test": 2.0, "01_encode_playlists_test": 1.0,
                                        "01_top_songs_test": 0.0}
    nb = nbformat.read(root / "autograded" / "old" / toy.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    release = nb.metadata.songrec.release
    assert release["renamed"] == {"01_map": "01_build_mapping"}
    assert release["unmatched"] == ["01_top", "01_extra_v1"] and release["missing"] == ["01_top_songs"]
    assert "older release" in nb.cells[0].source and "`01_top_songs`" in nb.cells[0].source

    line = next(x for x in graded["out"].splitlines() if x.startswith("old "))
    assert line.split()[1] == "3!", line
    assert ("! old/01_mapping: older release: cells 01_top, 01_extra_v1 match nothing; answers 01_top_songs "
            "not found") in graded["out"]
    rows = {r["student_id"]: r for r in csv.DictReader((root / "grades.csv").open())}
    assert rows["old"][NOTEBOOK] == "3" and "01_top_songs not found" in rows["old"]["notes"]


@pytest.mark.slow
def test_a_notebook_that_cannot_be_graded_shows_an_error_not_zero(graded):
    root = graded["root"]
    rows = {r["student_id"]: r for r in csv.DictReader((root / "grades.csv").open())}
    assert rows["broken"][NOTEBOOK] == "ERROR" and rows["broken"]["total"] == "ERROR"
    assert rows["broken"]["notes"].startswith("not graded: nbgrader autograde exited")
    line = next(x for x in graded["out"].splitlines() if x.startswith("broken "))
    assert "ERROR" in line and " 0 " not in f" {line} ", line
    assert "ERROR broken: not graded:" in graded["out"]


@pytest.mark.slow
def test_feedback_says_which_cells_of_an_older_release_did_not_match(graded):
    root = graded["root"]
    grading.run_feedback(root, env=graded["env"], out=io.StringIO())
    html = (root / "feedback" / "old" / toy.ASSIGNMENT / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "older release" in html and "01_top_songs" in html and "Download the current release" in html


@pytest.mark.slow
def test_a_rerun_grades_neither_again_and_exits_0(graded):
    root = graded["root"]
    proc = subprocess.run([sys.executable, "-m", "tools.instructor", "autograde", "--root", str(root), "--jobs", "1",
                           "--profile", "ci", "--student", "deaf", "--student", "old"], cwd=toy.REPO_ROOT,
                          env={**os.environ, **graded["env"]}, capture_output=True, text=True, timeout=300,
                          start_new_session=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to grade" in proc.stdout and "skipping 2 student(s)" in proc.stdout



@pytest.mark.slow
def test_after_the_last_allowed_kill_the_rest_of_the_notebook_is_not_run(tmp_path):
    # One kill allowed: the deaf answer of part A is killed, and nothing after it runs,
    # so a stuck notebook costs one cell timeout and still counts as graded.
    root = tmp_path / "course"
    src = toy.build_toy_course(root)
    config = root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.GuardedExecute.max_kernel_restarts = 1\n")
    env = toy.course_env_for_tests(5)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    release = nbformat.read(root / "release" / toy.ASSIGNMENT / "01_toy.ipynb", as_version=4)
    answers = {toy.grade_id(c): c.source for c in nbformat.read(src / "01_toy.ipynb", as_version=4).cells}
    for cell in release.cells:
        if toy.grade_id(cell) in ("01_square", "01_mean"):
            cell.source = answers[toy.grade_id(cell)]
    _with_id(release, "01_square").source = DEAF_CODE + answers["01_square"]
    path = root / "submitted" / "stuck" / toy.ASSIGNMENT / "01_toy.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(release, path)
    out = io.StringIO()
    class_autograde.run_class_autograde(root, env=env, out=out, jobs=1, timeout=300)
    nb = nbformat.read(root / "autograded" / "stuck" / toy.ASSIGNMENT / "01_toy.ipynb", as_version=4)
    for grade_id in ("01_square_test", "01_mean", "01_mean_test"):
        outputs = _with_id(nb, grade_id).outputs
        assert [o.ename for o in outputs] == ["CellTimeoutError"], (grade_id, outputs)
        assert "runs no more of this notebook" in outputs[0].evalue
    assert nb.metadata.songrec.grading.killed == ["01_square"]
    assert "stuck: 0/5 points" in out.getvalue()
    assert "submission" in json.loads((root / GRADING_STATE_FILE).read_text())["students"]["stuck"]
