"""Broken and hostile submissions through the real nbgrader 0.9.6 autograde flow.

Built on the toy course of tests/nbgrader_toy.py (parts A = ``01_square``, 2 points, and
B = ``01_mean``, 3 points) plus one notebook added here, ``03_state``, whose two parts
start from ``helpers.course`` reference data read from a six-song Cornell folder
written below. Each student does one bad thing; the expected scores are written by hand
from the cells. Everything is graded twice, and both gradings must agree.

What each student hands in:

looper      part B's answer cell loops forever: the per-cell timeout stops it, B scores
            0, A (solved) still scores 2.
raiser      part A's answer cell raises before defining ``square``: A scores 0, the
            rest of the notebook still runs and B (solved) scores 3.
tamper      a wrong ``square`` with its test cell edited to ``pass`` and its points set
            to 100; B solved but B's test cell deleted. nbgrader restores both test
            cells (and the points) from the gradebook: 0 + 3.
moved       both parts solved, B's answer cell moved to the top: 5, as in Jupyter.
duplicated  A's answer cell copied (Jupyter's copy keeps the nbgrader metadata) and
            solved in the copy, the stub left above it: the last copy counts, 2.
loud        both parts solved, A prints 300,000 lines and B one 30-million-character
            line: graded (5), and the graded notebook stays small.
vandal      in ``03_state`` part 1 changes the reference data in place and empties
            the helpers' cached dataset: both parts still get fresh data, 2.

Points at stake in 01_toy are 5, in 03_state 2.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools.instructor import grading, paths
from tools.instructor.release import run_release

CELL_TIMEOUT = 6  # seconds; the honest cells here take well under one
EXPECTED = {  # student -> notebook -> autograded points, by hand from the cells
    "looper": {"01_toy": 2.0, "03_state": 0.0},
    "raiser": {"01_toy": 3.0, "03_state": 0.0},
    "tamper": {"01_toy": 3.0, "03_state": 0.0},
    "moved": {"01_toy": 5.0, "03_state": 0.0},
    "duplicated": {"01_toy": 2.0, "03_state": 0.0},
    "loud": {"01_toy": 5.0, "03_state": 0.0},
    "vandal": {"01_toy": 0.0, "03_state": 2.0},
}
GUARDS = "from tools.instructor.preprocessors import install\ninstall(c)\n"

# --------------------------------------------------------------------------- the 03 notebook

# Raw IDs 0..5; playlists [0 1 2], [3 4], a one-song and an empty one (both dropped).
SONG_HASH = "".join(f"{i}\tSong {i}\tBand\n" for i in range(6))
TRAIN = "0 1 2 3 4 5\n1 1 1 1 1 1\n0 1 2\n3 4\n5\n\n"


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def state_notebook() -> nbformat.NotebookNode:
    setup = new_code_cell(toy.SETUP_SOURCE, metadata=_meta("03_setup", locked=True))
    setup.metadata["tags"] = ["setup"]
    cells = [
        new_markdown_cell("# Toy 03\nTwo parts that start from the reference mapping."),
        setup,
        new_code_cell("from helpers import course\nmapping = course.reference_mapping()"),
        new_markdown_cell("### Task `03_first_playlist` — write `first_playlist` (1 point)"),
        new_code_cell(
            "def first_playlist(m):\n"
            "    ### BEGIN SOLUTION\n"
            "    return [int(x) for x in m.playlists[0]]\n"
            "    ### END SOLUTION",
            metadata=_meta("03_first_playlist", solution=True)),
        new_code_cell("from helpers import course as _course\n"
                      "assert first_playlist(_course.reference_mapping()) == [0, 1, 2], 'expected [0, 1, 2]'\n"
                      "### BEGIN HIDDEN TESTS\n"
                      "assert first_playlist(_course.reference_mapping())[::-1] == [2, 1, 0], 'expected [0, 1, 2]'\n"
                      "### END HIDDEN TESTS",
                      metadata=_meta("03_first_playlist_test", grade=True, locked=True, points=1)),
        new_markdown_cell("### Task `03_vocab_size` — write `vocab_size` (1 point)"),
        new_code_cell(
            "def vocab_size(m):\n"
            "    ### BEGIN SOLUTION\n"
            "    return m.vocab.size\n"
            "    ### END SOLUTION",
            metadata=_meta("03_vocab_size", solution=True)),
        new_code_cell(
            "from helpers import course as _course\n"
            "_m = _course.reference_mapping()\n"
            "assert vocab_size(_m) == 5, 'expected 5'\n"
            "assert [p.tolist() for p in _m.playlists] == [[0, 1, 2], [3, 4]], 'reference data changed'\n"
            "assert [e.tolist() for e in _m.encoded] == [[1, 2, 3], [4, 5]], 'reference data changed'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert vocab_size(_course.reference_mapping()) == 5, 'expected 5'\n"
            "### END HIDDEN TESTS",
            metadata=_meta("03_vocab_size_test", grade=True, locked=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


VANDAL_FIRST = (
    "def first_playlist(m):\n"
    "    return [int(x) for x in m.playlists[0]]\n"
    "\n"
    "for _p in mapping.playlists:\n"
    "    _p[:] = 5\n"
    "for _e in mapping.encoded:\n"
    "    _e[:] = 1\n"
    "course.load_dataset().playlists.clear()\n"
    "mapping.songs['title'] = 'vandalised'\n"
)

# --------------------------------------------------------------------------- submissions


def _cell(nb, grade_id):
    return next(c for c in nb.cells if toy.grade_id(c) == grade_id)


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if toy.grade_id(c) == grade_id)


def submissions(source: dict, release: dict) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """student -> notebook name -> notebook, built from the source and release versions."""
    rel01, src01 = release["01_toy"], source["01_toy"]
    solved = toy.with_cells_from(rel01, src01, {"01_square", "01_mean"})
    square_ok, mean_ok = _cell(src01, "01_square").source, _cell(src01, "01_mean").source
    out = {}

    nb = copy.deepcopy(solved)
    _cell(nb, "01_mean").source = "while True:\n    pass\n" + mean_ok
    out["looper"] = {"01_toy": nb}

    nb = copy.deepcopy(solved)
    _cell(nb, "01_square").source = "raise RuntimeError('I give up')\n" + square_ok
    out["raiser"] = {"01_toy": nb}

    nb = copy.deepcopy(solved)
    _cell(nb, "01_square").source = "def square(x):\n    return 0"
    test = _cell(nb, "01_square_test")
    test.source = "pass"
    test.metadata.nbgrader["points"] = 100
    del nb.cells[_index(nb, "01_mean_test")]
    out["tamper"] = {"01_toy": nb}

    nb = copy.deepcopy(solved)
    moved = nb.cells.pop(_index(nb, "01_mean"))
    nb.cells.insert(_index(nb, "01_setup") + 1, moved)
    out["moved"] = {"01_toy": nb}

    nb = copy.deepcopy(rel01)
    at = _index(nb, "01_square")
    twin = copy.deepcopy(nb.cells[at])
    twin.source = square_ok
    twin.id = "pasted-copy"  # Jupyter gives a pasted cell a new id, but keeps its metadata
    nb.cells.insert(at + 1, twin)
    out["duplicated"] = {"01_toy": nb}

    nb = copy.deepcopy(solved)
    _cell(nb, "01_square").source += "\nfor _ in range(300_000):\n    print('y' * 100)"
    _cell(nb, "01_mean").source += "\nprint('x' * 30_000_000)"
    out["loud"] = {"01_toy": nb}

    nb = copy.deepcopy(release["03_state"])
    _cell(nb, "03_first_playlist").source = VANDAL_FIRST
    _cell(nb, "03_vocab_size").source = _cell(source["03_state"], "03_vocab_size").source
    out["vandal"] = {"03_state": nb}
    return out


def grades(root: Path) -> dict[tuple[str, str, str], float | None]:
    """(student, notebook, grade cell) -> auto score, for every grade row in the gradebook."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(paths.db_url(root)) as gb:
        for sub in gb.find_assignment(toy.ASSIGNMENT).submissions:
            for nb in sub.notebooks:
                for grade in nb.grades:
                    out[(sub.student_id, nb.name, grade.name)] = grade.auto_score
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_course")
    src = toy.build_toy_course(root)
    nbformat.write(state_notebook(), src / "03_state.ipynb")
    config = root / "nbgrader_config.py"
    if "install(c)" not in config.read_text():
        config.write_text(config.read_text() + "\n" + GUARDS)  # see test_repo_config_installs_guards
    data = root / "data" / "yes_complete"
    data.mkdir(parents=True)
    for name, text in (("train.txt", TRAIN), ("song_hash.txt", SONG_HASH),
                       ("tags.txt", "#\n" * 6), ("tag_hash.txt", "0, rock\n")):
        (data / name).write_text(text)
    env = toy.course_env_for_tests(CELL_TIMEOUT)
    env.update(SONGREC_DATA_DIR=str(root / "data"), SONGREC_COURSE_PICKLE="")
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())

    names = ("01_toy", "03_state")
    source = {n: nbformat.read(src / f"{n}.ipynb", as_version=4) for n in names}
    rel = root / "release" / toy.ASSIGNMENT
    release = {n: nbformat.read(rel / f"{n}.ipynb", as_version=4) for n in names}
    for student, notebooks in submissions(source, release).items():
        for name, nb in notebooks.items():
            path = root / "submitted" / student / toy.ASSIGNMENT / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)

    first = grading.run_autograde(root, env=env, out=io.StringIO(), timeout=600)
    first_grades = grades(root)
    autograded = {s: nbformat.read(root / "autograded" / s / toy.ASSIGNMENT / f"{n}.ipynb", as_version=4)
                  for s, n in (("looper", "01_toy"), ("tamper", "01_toy"), ("loud", "01_toy"))}
    sizes = {s: (root / "autograded" / s / toy.ASSIGNMENT / "01_toy.ipynb").stat().st_size
             for s in ("loud", "moved")}
    second = grading.run_autograde(root, env=env, out=io.StringIO(), timeout=600, force=True)
    return {"root": root, "first": first, "second": second, "first_grades": first_grades,
            "second_grades": grades(root), "autograded": autograded, "sizes": sizes}


def _auto(table, student: str) -> dict[str, float]:
    row = next(r for r in table.rows if r.student == student)
    return {n: row.auto.get(n, 0.0) for n in ("01_toy", "03_state")}


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_hostile_submission_gets_exactly_its_points(graded, student):
    assert _auto(graded["first"], student) == EXPECTED[student]


@pytest.mark.slow
def test_grading_twice_gives_identical_scores(graded):
    assert graded["first_grades"] == graded["second_grades"]
    assert len(graded["first_grades"]) == 7 * (2 + 2 + 2)  # students x graded cells (incl. 02)
    for student in EXPECTED:
        assert _auto(graded["second"], student) == _auto(graded["first"], student)


@pytest.mark.slow
def test_infinite_loop_is_stopped_by_the_cell_timeout(graded):
    nb = graded["autograded"]["looper"]
    loop_errors = [o.get("ename") for o in _cell(nb, "01_mean").outputs if o.output_type == "error"]
    assert loop_errors, "the looping answer cell should end with the timeout's error"
    test_errors = [o.get("ename") for o in _cell(nb, "01_mean_test").outputs if o.output_type == "error"]
    assert test_errors == ["NameError"]  # mean was never defined
    assert not [o for o in _cell(nb, "01_square_test").outputs if o.output_type == "error"]


@pytest.mark.slow
def test_edited_and_deleted_test_cells_are_restored(graded):
    nb = graded["autograded"]["tamper"]
    square_test = _cell(nb, "01_square_test")
    assert "assert square(3) == 9" in square_test.source
    assert toy.HIDDEN_TEST_LINE in square_test.source
    assert "mean([1, 2, 3, 6])" in _cell(nb, "01_mean_test").source
    assert float(graded["first"].max_scores["01_toy"]) == 5.0


@pytest.mark.slow
def test_huge_output_is_truncated(graded):
    nb = graded["autograded"]["loud"]
    many = "".join(o.get("text", "") for o in _cell(nb, "01_square").outputs)
    one = "".join(o.get("text", "") for o in _cell(nb, "01_mean").outputs)
    # nbgrader's LimitOutput keeps 1000 lines; the size guard may then cut its note off.
    assert "truncated" in many.lower() and many.count("\n") <= 1001 and len(many) < 110_000
    assert len(one) < 200_000 and "truncated by the autograder" in one
    # A clean notebook is a few kB; the loud one keeps about two cells' worth of output.
    assert graded["sizes"]["loud"] < graded["sizes"]["moved"] + 400_000


def test_repo_config_installs_guards():
    """The course's nbgrader_config.py must install tools.instructor.preprocessors (see
    docs/GRADING.md); the round trip above adds them to its copy when they are missing."""
    from tools.instructor.preprocessors import DeduplicateIdsSafely, LimitOutputSize

    cfg = paths.load_course_config(toy.REPO_ROOT)
    assert DeduplicateIdsSafely in cfg.Autograde.get("sanitize_preprocessors", []) and \
        LimitOutputSize in cfg.Autograde.get("autograde_preprocessors", []), (
        "nbgrader_config.py does not install the course's preprocessors (the two lines\n" + GUARDS
        + "do); without them a copied answer cell stops that student's autograding (KeyError: "
          "'grade_id') and one huge print() is kept whole")


# --------------------------------------------------------------------------- the guards alone


def _graded_test_cell(outputs):
    from nbformat.v4 import new_output

    cell = new_code_cell("assert True", metadata=_meta("01_x_test", grade=True, locked=True, points=2))
    cell.outputs = [new_output(**o) for o in outputs]
    return cell


@pytest.mark.parametrize(("outputs", "score"), [
    ([{"output_type": "stream", "name": "stdout", "text": "y" * 300_000},
      {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []}], 0.0),
    ([{"output_type": "stream", "name": "stderr", "text": "w" * 300_000}], 0.0),
    ([{"output_type": "stream", "name": "stdout", "text": "y" * 300_000},
      {"output_type": "execute_result", "data": {"text/plain": "1.5", "text/html": "<b>" * 50_000},
       "execution_count": 1}], 1.5),
    ([{"output_type": "stream", "name": "stdout", "text": "y" * 300_000}], 2.0),
], ids=["error_after_flood", "stderr_flood", "partial_credit_after_flood", "stdout_flood"])
def test_size_guard_shortens_outputs_but_never_changes_a_score(outputs, score):
    from nbgrader.utils import determine_grade

    from tools.instructor.preprocessors import LimitOutputSize

    cell = _graded_test_cell(outputs)
    assert determine_grade(cell) == (score, 2.0)
    cell, _ = LimitOutputSize(max_chars=1000).preprocess_cell(cell, {}, 0)
    assert determine_grade(cell) == (score, 2.0)
    assert len(nbformat.writes(new_notebook(cells=[cell]))) < 5_000


def test_dedup_guard_leaves_one_graded_copy_and_plain_cells():
    from nbgrader.utils import is_solution

    from tools.instructor.preprocessors import DeduplicateIdsSafely

    first = new_code_cell("def f(): pass", metadata=_meta("01_f", solution=True))
    second = copy.deepcopy(first)
    second.source = "def f(): return 1"
    second.id = "pasted-copy"
    nb = new_notebook(cells=[first, second])
    nb, _ = DeduplicateIdsSafely().preprocess(nb, {})
    assert "nbgrader" not in nb.cells[0].metadata  # stock nbgrader leaves {} here and crashes later
    assert is_solution(nb.cells[1]) and nb.cells[1].source == "def f(): return 1"


# --------------------------------------------------------------------------- the real notebooks
# Each attacker of tests/real_attacks.py, and each student with one honest bug there (BUGS),
# hands in one notebook; "honest" hands in all six, solved and with the essays written.
# Graded twice (SONGREC_PROFILE=ci), feedback once.

REAL_CELL_TIMEOUT = 300


def _test_points(nb) -> dict[str, float]:
    return {toy.grade_id(c): float(toy.nbg(c)["points"]) for c in nb.cells
            if toy.nbg(c).get("grade") and not toy.nbg(c).get("solution") and c.cell_type == "code"}


@pytest.fixture(scope="module")
def real_class(tmp_path_factory):
    from real_attacks import ATTACKS, BUGS, attacked, solved

    from tools.instructor.tamper import tamper_report

    root = tmp_path_factory.mktemp("real_class")
    toy.copy_course_with_real_notebooks(root, toy.REAL_SOURCE)
    env = toy.course_env_for_tests(REAL_CELL_TIMEOUT)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    src, rel = root / "notebooks" / toy.ASSIGNMENT, root / "release" / toy.ASSIGNMENT
    names = [p.stem for p in sorted(src.glob("*.ipynb"))]
    source = {n: nbformat.read(src / f"{n}.ipynb", as_version=4) for n in names}
    release = {n: nbformat.read(rel / f"{n}.ipynb", as_version=4) for n in names}

    def submit(student, name, nb):
        path = root / "submitted" / student / toy.ASSIGNMENT / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)

    for name in names:
        submit("honest", name, solved(release[name], source[name]))
    for attack in ATTACKS + BUGS:
        submit(attack.student, attack.notebook, attacked(attack, release[attack.notebook], source[attack.notebook]))
    log = io.StringIO()
    grading.run_autograde(root, env=env, out=log, timeout=3000)
    first = grades(root)
    students = ["honest", *(a.student for a in ATTACKS + BUGS)]
    reports = {s: tamper_report(root, s) for s in students}
    honest_graded = root / "autograded" / "honest" / toy.ASSIGNMENT / "04_training.ipynb"
    first_done = honest_graded.stat().st_mtime_ns
    # Regrading everyone would double the fixture's time; the honest student's six notebooks
    # (every training cell included) are regraded from scratch: force=True, else resume skips them.
    grading.run_autograde(root, env=env, out=io.StringIO(), timeout=3000, students=["honest"], force=True)
    feedback_log = io.StringIO()
    grading.run_feedback(root, env=env, out=feedback_log)
    return {"root": root, "first": first, "second": grades(root), "reports": reports, "log": log.getvalue(),
            "first_done": first_done, "regraded_after": honest_graded.stat().st_mtime_ns,
            "points": {n: _test_points(source[n]) for n in names}, "feedback_log": feedback_log.getvalue()}


def _cell_scores(graded, student, notebook):
    return {cell: score for (s, nb, cell), score in graded["first"].items()
            if s == student and nb == notebook and cell in graded["points"][notebook]}


@pytest.mark.slow
def test_honest_class_member_gets_every_point_and_an_empty_report(real_class):
    for notebook, points in real_class["points"].items():
        assert _cell_scores(real_class, "honest", notebook) == points
    assert sum(sum(p.values()) for p in real_class["points"].values()) == 32
    assert real_class["reports"]["honest"] == []


def _attack_ids(kind="ATTACKS"):
    import real_attacks

    return [a.student for a in getattr(real_attacks, kind)]


@pytest.mark.slow
@pytest.mark.parametrize("student", _attack_ids() + _attack_ids("BUGS"))
def test_attack_scores_zero_where_it_cheats_and_full_points_elsewhere(real_class, student):
    from real_attacks import ATTACKS, BUGS

    attack = next(a for a in ATTACKS + BUGS if a.student == student)
    points = real_class["points"][attack.notebook]
    assert attack.zero <= set(points)
    expected = {cell: 0.0 if cell in attack.zero else p for cell, p in points.items()}
    assert _cell_scores(real_class, student, attack.notebook) == expected
    report = "\n".join(str(a) for a in real_class["reports"][student])
    for text in attack.report:
        assert text in report, f"{text!r} missing from the tamper report of {student}:\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("student", _attack_ids("BUGS"))
def test_an_honest_bug_says_what_was_expected_and_is_no_tampering(real_class, student):
    from real_attacks import BUGS

    bug = next(b for b in BUGS if b.student == student)
    nb = nbformat.read(real_class["root"] / "autograded" / student / toy.ASSIGNMENT / f"{bug.notebook}.ipynb",
                       as_version=4)
    errors = {toy.grade_id(c): o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"}
    assert bug.zero <= set(errors), f"{student}: test cells that should have failed passed: {bug.zero - set(errors)}"
    for cell in bug.zero:
        assert errors[cell].ename == "AssertionError" and "expected" in errors[cell].evalue, (cell, errors[cell])
        assert " got " in errors[cell].evalue, (cell, errors[cell].evalue)
    for cell, text in bug.messages.items():
        assert text in errors[cell].evalue, f"{text!r} missing from the message of {cell}: {errors[cell].evalue}"
    assert real_class["reports"][student] == []


@pytest.mark.slow
def test_real_class_graded_twice_gives_identical_scores(real_class):
    honest = {key: score for key, score in real_class["first"].items() if key[0] == "honest"}
    assert honest and real_class["second"] == real_class["first"]
    # The second run really regraded (resume would have skipped an unchanged submission).
    assert real_class["regraded_after"] > real_class["first_done"]


@pytest.mark.slow
def test_autograde_prints_the_tamper_report_without_checksum_noise(real_class):
    log = real_class["log"]
    assert "tamper report" in log and "peek: " in log and "_wrap_in_try" in log
    # Every student here hands in the instructor's solutions outside the attacked cells, so
    # the similarity report (printed after the tamper report) lists shared answers.
    assert "similarity report" in log.split("tamper report", 1)[1]
    assert "Attribute 'checksum'" not in log


@pytest.mark.slow
def test_feedback_names_tests_and_says_not_graded_yet(real_class):
    folder = real_class["root"] / "feedback" / "honest" / toy.ASSIGNMENT
    questions = (folder / "06_questions.html").read_text()
    assert "not graded yet" in questions and "15.0 points not graded yet" in questions
    assert "Score: 0.0 / 2.0" not in questions
    # Part 6 has no autograded cells and the honest student added no code: not run (issue 19).
    assert "this notebook was not run when it was graded" in questions
    autograded = real_class["root"] / "autograded" / "honest" / toy.ASSIGNMENT / "06_questions.ipynb"
    assert not any(c.get("outputs") for c in nbformat.read(autograded, as_version=4).cells if c.cell_type == "code")
    training = (folder / "04_training.html").read_text()
    assert "04_train_test_lr — tests train()" in training and ">Test cell<" not in training
    assert "graded in the <code>ci</code> profile" in training and "epochs 2 instead of 20" in training
    assert "still need manual grading" in real_class["feedback_log"] and "honest" in real_class["feedback_log"]


@pytest.mark.slow
def test_part_5_reads_the_graders_reference_run_instead_of_training_it(real_class):
    # tools.instructor.grading_runs: trained once per grading process, verified by sha256 in
    # the kernel, never retrained there (issue 19).
    autograded = real_class["root"] / "autograded" / "honest" / toy.ASSIGNMENT / "05_recommend.ipynb"
    setup = next(c for c in nbformat.read(autograded, as_version=4).cells if c.get("id") == "nb05-03")
    printed = "".join(o.get("text", "") for o in setup.outputs if o.get("output_type") == "stream")
    assert "Using the course's published reference run" in printed and "sha256 verified" in printed
    assert "Training the reference model" not in printed
