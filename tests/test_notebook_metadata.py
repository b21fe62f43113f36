"""nbgrader metadata and course-convention checks (`python -m tools.instructor check`).

Fast: no notebook is executed and nbgrader is imported in-process only. Each
negative case breaks one rule in a copy of the toy notebook and expects the checker
to name the offending cell.
"""

from __future__ import annotations

import io

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import cells, checks, cli, colab, errors, paths


def _cell(nb, gid):
    return next(c for c in nb.cells if toy.grade_id(c) == gid)


def _problems(nb, name):
    problems, _points = checks.check_notebook(nb, name)
    return problems


def _assert_locked_or_solution(nb):
    # Independent of the checker: read the raw metadata.
    for cell in nb.cells:
        meta = toy.nbg(cell)
        if meta.get("task") or (meta.get("grade") and cell.cell_type == "markdown"):
            assert meta.get("locked") or meta.get("solution"), toy.grade_id(cell)
        if meta.get("grade") and not meta.get("solution"):
            assert meta.get("locked") and float(meta["points"]) > 0, toy.grade_id(cell)


# --------------------------------------------------------------------------- toy


@pytest.mark.parametrize("builder,name", [
    (toy.toy_notebook_01, "01_toy.ipynb"),
    (toy.toy_notebook_02, "02_questions.ipynb"),
])
def test_toy_source_passes_all_checks(builder, name):
    from nbgrader.nbgraderformat import MetadataValidator

    nb = builder()
    MetadataValidator().validate_nb(nb)
    _assert_locked_or_solution(nb)
    assert _problems(nb, name) == []


def test_toy_points_per_notebook():
    _, p1 = checks.check_notebook(toy.toy_notebook_01(), "01_toy.ipynb")
    _, p2 = checks.check_notebook(toy.toy_notebook_02(), "02_questions.ipynb")
    assert (p1.auto, p1.manual, p1.task) == (5.0, 0.0, 0.0)
    assert (p2.auto, p2.manual, p2.task) == (0.0, 2.0, 1.0)


def test_check_course_reports_points_and_passes(tmp_path):
    toy.build_toy_course(tmp_path)
    out = io.StringIO()
    report = checks.run_check(tmp_path, out=out)
    assert report.ok
    assert set(report.points) == {"01_toy", "02_questions"}
    assert "TOTAL" in out.getvalue() and "all checks passed" in out.getvalue()


def _unlock_task(nb):
    _cell(nb, "02_task").metadata.nbgrader["locked"] = False


def _task_mark_scheme(nb):
    _cell(nb, "02_task").source += "\n=== BEGIN MARK SCHEME ===\nx\n=== END MARK SCHEME ==="


def _solution_region_in_answer(nb):
    _cell(nb, "02_q1").source = "Intro\n### BEGIN SOLUTION\nmodel\n### END SOLUTION"


def _answer_without_locked_prompt(nb):
    _cell(nb, "02_q1_prompt").metadata.pop("nbgrader")


def _zero_points_answer(nb):
    _cell(nb, "02_q1").metadata.nbgrader["points"] = 0


def _no_setup_02(nb):
    nb.cells = [c for c in nb.cells if "setup" not in c.metadata.get("tags", [])]


# (notebook builder, file name, mutation, cell id the problem must name, words in message)
NEGATIVE_CASES = {
    "unlocked task cell": (toy.toy_notebook_02, "02_questions.ipynb", _unlock_task,
                           "02_task", "locked"),
    "mark scheme in task cell": (toy.toy_notebook_02, "02_questions.ipynb",
                                 _task_mark_scheme, "02_task", "MARK SCHEME"),
    "solution region in markdown answer": (toy.toy_notebook_02, "02_questions.ipynb",
                                           _solution_region_in_answer, "02_q1",
                                           "BEGIN SOLUTION"),
    "answer without locked prompt": (toy.toy_notebook_02, "02_questions.ipynb",
                                     _answer_without_locked_prompt, "02_q1", "prompt"),
    "answer with zero points": (toy.toy_notebook_02, "02_questions.ipynb",
                                _zero_points_answer, "02_q1", "points"),
    "no setup cell": (toy.toy_notebook_02, "02_questions.ipynb", _no_setup_02, "02_q1",
                      "setup"),
}


def _mut01(fn):
    return (toy.toy_notebook_01, "01_toy.ipynb", fn)


def _drop(gid):
    def f(nb):
        nb.cells = [c for c in nb.cells if toy.grade_id(c) != gid]
    return f


def _set_meta(gid, **kv):
    def f(nb):
        _cell(nb, gid).metadata.nbgrader.update(kv)
    return f


def _rename(gid, new):
    return _set_meta(gid, grade_id=new)


def _set_source(gid, source):
    def f(nb):
        _cell(nb, gid).source = source
    return f


def _untracked_hidden_tests(nb):
    nb.cells.append(nbformat.v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"))


NEGATIVE_CASES.update({
    "solution without test (last)": (*_mut01(_drop("01_mean_test")), "01_mean", "test cell"),
    "solution without test (middle)": (*_mut01(_drop("01_square_test")), "01_square",
                                       "test cell"),
    "test cell unlocked": (*_mut01(_set_meta("01_square_test", locked=False)),
                           "01_square_test", "locked"),
    "test cell without points": (*_mut01(_set_meta("01_mean_test", points=0)),
                                 "01_mean_test", "points"),
    "test named for other solution": (*_mut01(_rename("01_mean_test", "01_square_test_b")),
                                      "01_square_test_b", "01_mean"),
    "test id without _test": (*_mut01(_rename("01_mean_test", "01_mean_check")),
                              "01_mean_check", "_test"),
    "wrong notebook prefix": (*_mut01(_rename("01_mean", "02_mean")), "02_mean", "'01_'"),
    "id not lowercase words": (*_mut01(_rename("01_mean", "01-Mean")), "01-Mean", "NN_name"),
    "duplicate id": (*_mut01(_rename("01_mean", "01_square")), "01_square", "uplicate"),
    "test ends with bare expression": (*_mut01(_set_source("01_mean_test", "mean([2]) == 2")),
                                       "01_mean_test", "expression"),
    "hidden tests in untracked cell": (*_mut01(_untracked_hidden_tests), "cell 8",
                                       "HIDDEN TESTS"),
})


@pytest.mark.parametrize("case", sorted(NEGATIVE_CASES))
def test_checker_detects_broken_convention(case):
    builder, name, mutate, cell_id, words = NEGATIVE_CASES[case]
    nb = builder()
    assert _problems(nb, name) == []  # the unbroken notebook is clean
    mutate(nb)
    problems = _problems(nb, name)
    hits = [p for p in problems if p.cell == cell_id and words in p.message]
    assert hits, f"{case}: no problem on {cell_id!r} mentioning {words!r}; got {problems}"


def test_checker_reports_nbgrader_schema_errors():
    nb = toy.toy_notebook_01()
    del _cell(nb, "01_mean_test").metadata.nbgrader["points"]
    messages = [p.message for p in _problems(nb, "01_toy.ipynb")]
    assert any("MetadataValidator" in m for m in messages)


def test_bad_notebook_file_name_is_reported():
    problems = _problems(toy.toy_notebook_01(), "Toy.ipynb")
    assert any(p.cell is None and "file name" in p.message for p in problems)


def test_run_check_raises_on_problems(tmp_path):
    src = toy.build_toy_course(tmp_path)
    nb = toy.toy_notebook_02()
    _unlock_task(nb)
    nbformat.write(nb, src / "02_questions.ipynb")
    out = io.StringIO()
    with pytest.raises(errors.CourseToolError, match="1 notebook problem"):
        checks.run_check(tmp_path, out=out)
    assert "02_task" in out.getvalue()


def test_check_course_without_notebooks_is_a_problem(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    report = checks.check_course(tmp_path)
    assert not report.ok and "no notebooks" in report.problems[0].message


def test_cli_check_exit_codes(tmp_path):
    toy.build_toy_course(tmp_path)
    assert cli.main(["check", "--root", str(tmp_path)]) == 0
    nb = toy.toy_notebook_02()
    _unlock_task(nb)
    nbformat.write(nb, tmp_path / "notebooks" / "song2vec" / "02_questions.ipynb")
    assert cli.main(["check", "--root", str(tmp_path)]) == 2


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("test_id,owner", [
    ("02_pairs_test", "02_pairs"),
    ("02_pairs_test_hidden", "02_pairs"),
    ("02_pairs_test2", "02_pairs"),
    ("02_pairs_test12_extra", "02_pairs"),
    ("02_pairs_window_test", "02_pairs_window"),
    ("02_pairs", None),
    ("02_testing", None),
    ("02_pairs_test_", None),
])
def test_owning_solution(test_id, owner):
    assert cells.owning_solution(test_id) == owner


def test_colab_url_and_repo_validation(monkeypatch):
    monkeypatch.delenv("SONGREC_COURSE_REPO", raising=False)
    monkeypatch.delenv("SONGREC_RELEASE_BRANCH", raising=False)
    assert colab.colab_url("01_mapping.ipynb") == (
        "https://colab.research.google.com/github/YOUR-ORG/songrec/blob/student/"
        "song2vec/01_mapping.ipynb")
    monkeypatch.setenv("SONGREC_COURSE_REPO", "uni-x/ml-course")
    monkeypatch.setenv("SONGREC_RELEASE_BRANCH", "colab-2026")
    assert "/github/uni-x/ml-course/blob/colab-2026/song2vec/a.ipynb" in colab.colab_url("a.ipynb")
    with pytest.raises(ValueError, match="'not a repo'"):
        colab.course_repo("not a repo")
    for bad in ("a..b", "-x", "x y", "x.lock"):
        with pytest.raises(ValueError, match="branch"):
            colab.release_branch(bad)


def test_badge_insertion_is_idempotent_and_untracked():
    nb = toy.toy_notebook_01()
    n = len(nb.cells)
    assert colab.add_colab_badge(nb, "01_toy.ipynb", "a/b") is True
    assert colab.add_colab_badge(nb, "01_toy.ipynb", "a/b") is False
    assert len(nb.cells) == n + 1
    assert "nbgrader" not in nb.cells[0].metadata
    nbformat.validate(nb)
    assert _problems(nb, "01_toy.ipynb") == []


def test_config_cell_timeout_override(monkeypatch, tmp_path):
    toy.build_toy_course(tmp_path)
    monkeypatch.setenv("SONGREC_CELL_TIMEOUT", "42")
    cfg = paths.load_course_config(tmp_path)
    assert cfg.Execute.timeout == 42 and cfg.ExecutePreprocessor.timeout == 42
    assert cfg.ClearSolutions.code_stub == {
        "python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    assert paths.db_url(tmp_path) == "sqlite:///" + str(tmp_path.resolve() / "gradebook.db")
    monkeypatch.delenv("SONGREC_CELL_TIMEOUT")
    assert paths.load_course_config(tmp_path).Execute.timeout == 1800
    monkeypatch.setenv("SONGREC_CELL_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="'soon'"):
        paths.load_course_config(tmp_path)


# --------------------------------------------------------------------------- real

REAL_NAMES = toy.real_notebook_names()


@pytest.mark.skipif(not REAL_NAMES, reason=f"no notebooks in {toy.REAL_SOURCE} yet")
@pytest.mark.parametrize("name", REAL_NAMES or ["<none>"])
def test_real_notebook_metadata(name):
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(toy.REAL_SOURCE / name, as_version=4)
    MetadataValidator().validate_nb(nb)
    _assert_locked_or_solution(nb)
    problems = _problems(nb, name)
    assert problems == [], "\n".join(map(str, problems))
