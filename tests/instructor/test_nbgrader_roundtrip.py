"""Release -> submit -> autograde -> feedback round trips through real nbgrader 0.9.6.

The toy course (tests/nbgrader_toy.py) runs in a few tens of seconds and pins exact,
hand-derived scores. The same checks then run on the real notebooks in
notebooks/song2vec/ (marked slow, SONGREC_PROFILE=ci), skipped until they exist.
Scores are always read back from the gradebook, never from nbgrader's exit code.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import zipfile
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import cells, errors, grading
from tools.instructor.release import run_release

TOY_REPO = "test-org/songrec"
TOY_CELL_TIMEOUT = 6  # seconds: the toy's cells are instant; the looping student is not


# --------------------------------------------------------------------------- toy


def _write(nb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def toy_course(tmp_path_factory):
    """Release the toy, submit as four students, autograde and generate feedback once."""
    root = tmp_path_factory.mktemp("toy_course")
    src = toy.build_toy_course(root)
    env = toy.course_env_for_tests(TOY_CELL_TIMEOUT)
    log = io.StringIO()
    zip_path = run_release(root, env=env, repo=TOY_REPO, out=log)
    rel = root / "release" / toy.ASSIGNMENT

    source = {n: nbformat.read(src / f"{n}.ipynb", as_version=4) for n in toy.NOTEBOOKS}
    release = {n: nbformat.read(rel / f"{n}.ipynb", as_version=4) for n in toy.NOTEBOOKS}

    def submit(student, notebooks):
        for name, nb in notebooks.items():
            _write(nb, root / "submitted" / student / toy.ASSIGNMENT / f"{name}.ipynb")

    # 1. the instructor's source, as is
    submit("solution", source)
    # 2. the release, untouched (it carries the inserted Colab badge)
    submit("blank", release)
    # 3. part A solved inside the released notebook, part B left as the stub; this
    #    student also never handed in the questions notebook
    submit("part_a", {
        "01_toy": toy.with_cells_from(release["01_toy"], source["01_toy"], {"01_square"}),
    })
    # A student who solves part A, makes part B loop forever, edits B's locked test
    # to `pass` and deletes A's test cell: nbgrader must restore both tests and the
    # SONGREC_CELL_TIMEOUT must stop the loop, leaving exactly part A's points.
    tamper = toy.with_cells_from(release["01_toy"], source["01_toy"], {"01_square"})
    for cell in tamper.cells:
        if toy.grade_id(cell) == "01_mean":
            cell.source = "def mean(values):\n    while True:\n        pass"
        elif toy.grade_id(cell) == "01_mean_test":
            cell.source = "pass"
    tamper.cells = [c for c in tamper.cells if toy.grade_id(c) != "01_square_test"]
    submit("tamper", {"01_toy": tamper, "02_questions": release["02_questions"]})

    table = grading.run_autograde(root, env=env, out=log, timeout=300)
    feedback = grading.run_feedback(root, env=env, out=log)
    return {
        "root": root, "src": src, "rel": rel, "zip": zip_path, "source": source,
        "release": release, "table": table, "feedback": feedback, "log": log.getvalue(),
    }


def _auto_total(scores) -> float:
    return sum(code for code, _max, _rows in scores.values())


def test_toy_solution_gets_full_automatic_points(toy_course):
    scores = toy.gradebook_scores(toy_course["root"], "solution")
    assert scores["01_toy"][0] == 5.0
    assert scores["02_questions"][0] == 0.0  # no autograded cells there
    assert _auto_total(scores) == toy.AUTO_TOTAL


def test_toy_untouched_release_scores_zero_and_has_gradebook_rows(toy_course):
    scores = toy.gradebook_scores(toy_course["root"], "blank")
    assert _auto_total(scores) == 0.0
    # one Grade row per graded cell: 2 tests | 1 answer + 1 task
    assert scores["01_toy"][2] == 2
    assert scores["02_questions"][2] == 2
    for name in toy.NOTEBOOKS:
        assert (toy_course["root"] / "autograded" / "blank" / toy.ASSIGNMENT
                / f"{name}.ipynb").is_file()


def test_toy_part_a_only_gets_part_a_points(toy_course):
    scores = toy.gradebook_scores(toy_course["root"], "part_a")
    assert _auto_total(scores) == toy.PART_A_POINTS == 2.0


def test_toy_tampering_and_infinite_loop_cannot_gain_points(toy_course):
    scores = toy.gradebook_scores(toy_course["root"], "tamper")
    assert scores["01_toy"][0] == 2.0
    graded = nbformat.read(toy_course["root"] / "autograded" / "tamper" / toy.ASSIGNMENT
                           / "01_toy.ipynb", as_version=4)
    by_id = {toy.grade_id(c): c for c in graded.cells if toy.grade_id(c)}
    assert "01_square_test" in by_id  # restored
    assert "mean([1, 2, 3, 6])" in by_id["01_mean_test"].source  # edit undone
    errors = [o.get("ename") for o in by_id["01_mean_test"].outputs
              if o.get("output_type") == "error"]
    assert errors, "the looping test cell should have been stopped with an error"


def test_toy_missing_notebook_scores_zero_without_manual_work(toy_course):
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(toy_course["root"] / "gradebook.db")) as gb:
        nb = gb.find_submission_notebook("02_questions", toy.ASSIGNMENT, "part_a")
        assert float(nb.score) == 0.0 and not nb.needs_manual_grade


def test_toy_grades_csv_and_score_table(toy_course):
    rows = list(csv.DictReader((toy_course["root"] / "grades.csv").open()))
    by_student = {r["student_id"]: r for r in rows}
    assert set(by_student) == {"blank", "part_a", "solution", "tamper"}
    expected_01 = {"blank": "0", "part_a": "2", "solution": "5", "tamper": "2"}
    for student, value in expected_01.items():
        assert by_student[student]["01_toy"] == value
        assert by_student[student]["max_total"] == "8"
    # the questions notebook still awaits manual grading for those who submitted it
    assert by_student["solution"]["needs_manual_grade"] == "1"
    assert by_student["part_a"]["needs_manual_grade"] == "0"
    assert by_student["solution"]["total"] == "5" and by_student["tamper"]["total"] == "2"
    assert "solution" in toy_course["log"] and "01_toy" in toy_course["log"]


def test_toy_release_has_badge_setup_and_zip(toy_course):
    from nbgrader.nbgraderformat import MetadataValidator

    for name in toy.NOTEBOOKS:
        nb = toy_course["release"][name]
        MetadataValidator().validate_nb(nb)
        first = nb.cells[0]
        assert first.cell_type == "markdown"
        assert "nbgrader" not in first.metadata
        assert first.metadata["editable"] is False and first.metadata["deletable"] is False
        url = ("https://colab.research.google.com/github/test-org/songrec/blob/student/"
               f"song2vec/{name}.ipynb")
        assert f"]({url})" in first.source
        assert sum("setup" in c.metadata.get("tags", []) for c in nb.cells) == 1
    with zipfile.ZipFile(toy_course["zip"]) as zf:
        assert sorted(zf.namelist()) == [f"song2vec/{n}.ipynb" for n in toy.NOTEBOOKS]
        for name in toy.NOTEBOOKS:
            assert zf.read(f"song2vec/{name}.ipynb") == (
                toy_course["rel"] / f"{name}.ipynb").read_bytes()


def test_toy_release_leaks_no_solution_test_or_rubric(toy_course):
    for name in toy.NOTEBOOKS:
        text = (toy_course["rel"] / f"{name}.ipynb").read_text()
        for marker in toy.LEAK_MARKERS:
            assert marker not in text, f"{marker!r} leaked into released {name}"
        for line in toy.distinctive_secret_lines(toy_course["source"][name]):
            assert line not in text, f"{line!r} leaked into released {name}"
    rel01 = toy_course["release"]["01_toy"]
    stubs = [c.source for c in rel01.cells if toy.grade_id(c) in ("01_square", "01_mean")]
    assert all("raise NotImplementedError()" in s for s in stubs)
    answer = [c for c in toy_course["release"]["02_questions"].cells
              if toy.grade_id(c) == "02_q1"]
    assert answer[0].source == "YOUR ANSWER HERE"


def test_toy_secret_line_finder_sees_the_solution(toy_course):
    # guards the leak test above against a finder that silently finds nothing
    found = toy.distinctive_secret_lines(toy_course["source"]["01_toy"])
    assert toy.SQUARE_SOLUTION_LINE in found and toy.HIDDEN_TEST_LINE in found
    found = toy.distinctive_secret_lines(toy_course["source"]["02_questions"])
    assert toy.MODEL_ANSWER in found and toy.RUBRIC_LINE in found


def test_toy_feedback_has_no_model_answer_or_rubric(toy_course):
    blank = [p for p in toy_course["feedback"] if p.parts[-3] == "blank"]
    assert sorted(p.name for p in blank) == [f"{n}.html" for n in toy.NOTEBOOKS]
    for path in blank:
        text = path.read_text()
        for marker in ("zx41", "rb77", "BEGIN MARK SCHEME", "toy-solution-square-k7f3"):
            assert marker not in text


def test_mark_scheme_in_restored_task_cell_is_refused(tmp_path):
    # nbgrader restores locked task cells from the gradebook, rubric included; the
    # feedback step must notice that before writing any HTML.
    nb = toy.toy_notebook_02()
    for cell in nb.cells:
        if toy.grade_id(cell) == "02_task":
            cell.source += "\n=== BEGIN MARK SCHEME ===\nsecret\n=== END MARK SCHEME ==="
    (tmp_path / "nbgrader_config.py").write_text("")
    _write(nb, tmp_path / "autograded" / "eve" / toy.ASSIGNMENT / "02_questions.ipynb")
    assert grading.mark_scheme_leaks(tmp_path) == [
        f"{tmp_path / 'autograded' / 'eve' / toy.ASSIGNMENT / '02_questions.ipynb'}: 02_task"]
    with pytest.raises(errors.CourseToolError, match="02_task"):
        grading.run_feedback(tmp_path, out=io.StringIO())
    assert not (tmp_path / "feedback").exists()


def test_validator_in_process_fails_release_and_passes_solution(toy_course, monkeypatch):
    from nbgrader.validator import Validator
    from traitlets.config import Config

    for key, value in toy.course_env_for_tests(60).items():
        monkeypatch.setenv(key, value)
    cfg = Config()
    cfg.Execute.timeout = 60
    released = Validator(config=cfg).validate(str(toy_course["rel"] / "01_toy.ipynb"))
    assert len(released.get("failed", [])) == 2  # both test cells
    assert "NotImplementedError" in released["failed"][0]["raw_error"]
    for name in toy.NOTEBOOKS:
        assert Validator(config=cfg).validate(str(toy_course["src"] / f"{name}.ipynb")) == {}


def test_autograde_without_release_gives_advice(tmp_path):
    toy.build_toy_course(tmp_path)
    _write(toy.toy_notebook_01(), tmp_path / "submitted" / "x" / toy.ASSIGNMENT / "01_toy.ipynb")
    with pytest.raises(errors.CourseToolError, match="release"):
        grading.run_autograde(tmp_path, out=io.StringIO())


def test_release_refuses_unlocked_task_cell_before_touching_release(tmp_path):
    src = toy.build_toy_course(tmp_path)
    nb = toy.toy_notebook_02()
    for cell in nb.cells:
        if toy.grade_id(cell) == "02_task":
            cell.metadata.nbgrader["locked"] = False
    nbformat.write(nb, src / "02_questions.ipynb")
    with pytest.raises(errors.CourseToolError, match="problem"):
        run_release(tmp_path, repo=TOY_REPO, out=io.StringIO())
    assert not (tmp_path / "release").exists()


# --------------------------------------------------------------------------- real

REAL_NAMES = toy.real_notebook_names()
NO_REAL = pytest.mark.skipif(
    not REAL_NAMES,
    reason=f"no notebooks in {toy.REAL_SOURCE} yet (the course notebooks are written later)")
REAL_PARAMS = REAL_NAMES or ["<none>"]
REAL_CELL_TIMEOUT = 300


def _is_test_of(test_id: str, solution_id: str) -> bool:
    # docs/GRADING.md: <id>_test, <id>_test<N>, <id>_test_<suffix>
    return re.fullmatch(re.escape(solution_id) + r"_test\d*(_[a-z0-9]+)*", test_id) is not None


def _first_autograded_solution(nb) -> str:
    """First code solution cell of ``nb`` that has a test cell named after it."""
    ids = [toy.grade_id(c) for c in nb.cells if toy.grade_id(c)]
    for cell in nb.cells:
        meta = toy.nbg(cell)
        if meta.get("solution") and not meta.get("grade") and cell.cell_type == "code":
            gid = toy.grade_id(cell)
            if any(_is_test_of(i, gid) for i in ids):
                return gid
    raise AssertionError("notebook 01 has no autograded solution cell")


@pytest.fixture(scope="module")
def real_release(tmp_path_factory):
    """Copy of the real course, released (no notebook is executed)."""
    root = tmp_path_factory.mktemp("real_course")
    toy.copy_course_with_real_notebooks(root, toy.REAL_SOURCE)
    run_release(root, env=toy.course_env_for_tests(REAL_CELL_TIMEOUT),
                       repo=TOY_REPO, out=io.StringIO())
    return root


@pytest.fixture(scope="module")
def real_graded(real_release):
    """Autograde solution / blank / one-stub submissions of the real notebooks."""
    root = real_release
    src, rel = root / "notebooks" / toy.ASSIGNMENT, root / "release" / toy.ASSIGNMENT
    first = next(n for n in REAL_NAMES if n.startswith("01_"))
    stubbed = None
    for name in REAL_NAMES:
        source = nbformat.read(src / name, as_version=4)
        release = nbformat.read(rel / name, as_version=4)
        _write(source, root / "submitted" / "solution" / toy.ASSIGNMENT / name)
        _write(release, root / "submitted" / "blank" / toy.ASSIGNMENT / name)
        partial = copy.deepcopy(source)
        if name == first:
            stubbed = _first_autograded_solution(source)
            partial = toy.with_cells_from(source, release, {stubbed})
        _write(partial, root / "submitted" / "partial" / toy.ASSIGNMENT / name)
    grading.run_autograde(root, env=toy.course_env_for_tests(REAL_CELL_TIMEOUT),
                         out=io.StringIO(), timeout=3000)
    return {"root": root, "first": first, "stubbed": stubbed}


def _expected_auto(name: str) -> dict[str, float]:
    return toy.autograded_points(nbformat.read(toy.REAL_SOURCE / name, as_version=4))


@NO_REAL
@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_PARAMS)
def test_real_solution_gets_full_automatic_points(real_graded, name):
    scores = toy.gradebook_scores(real_graded["root"], "solution")
    nb_id = Path(name).stem
    assert scores[nb_id][0] == pytest.approx(sum(_expected_auto(name).values()))


@NO_REAL
@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_PARAMS)
def test_real_untouched_release_scores_zero(real_graded, name):
    scores = toy.gradebook_scores(real_graded["root"], "blank")
    nb_id = Path(name).stem
    assert scores[nb_id][0] == 0.0
    assert scores[nb_id][2] >= len(_expected_auto(name))


@NO_REAL
@pytest.mark.slow
def test_real_one_stubbed_solution_loses_only_its_tests(real_graded):
    # Contract for notebook authors: every later part starts from the helpers'
    # reference output, so only the stubbed cell's own tests may fail.
    stubbed, first = real_graded["stubbed"], real_graded["first"]
    points = _expected_auto(first)
    own = sum(p for gid, p in points.items() if _is_test_of(gid, stubbed))
    assert own > 0
    scores = toy.gradebook_scores(real_graded["root"], "partial")
    assert scores[Path(first).stem][0] == pytest.approx(sum(points.values()) - own)
    for name in REAL_NAMES:
        if name != first:
            assert scores[Path(name).stem][0] == pytest.approx(sum(_expected_auto(name).values()))


@NO_REAL
@pytest.mark.parametrize("name", REAL_PARAMS)
def test_real_release_leaks_nothing(real_release, name):
    from nbgrader.nbgraderformat import MetadataValidator

    path = real_release / "release" / toy.ASSIGNMENT / name
    released = nbformat.read(path, as_version=4)
    MetadataValidator().validate_nb(released)
    assert "colab.research.google.com/github/test-org/songrec" in released.cells[0].source
    text = path.read_text()
    for delim in cells.SECRET_DELIMITERS:
        assert delim not in text
    source = nbformat.read(toy.REAL_SOURCE / name, as_version=4)
    for line in toy.distinctive_secret_lines(source):
        assert line not in text, f"{line!r} from the instructor version leaked into {name}"
