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

from tools.instructor import cells, checks, cli, colab, docs, errors, paths, rules, tasks


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


def _hidden(visible):
    return visible + "\n### BEGIN HIDDEN TESTS\nassert mean([2, 4]) == 3\n### END HIDDEN TESTS"


_HIDDEN_PRINT = "assert mean([5]) == 5\n### BEGIN HIDDEN TESTS\nprint('graded')\n### END HIDDEN TESTS"


def _heading(gid, old, new):
    """Edit the task heading in the markdown before cell ``gid``."""
    def f(nb):
        i = next(i for i, c in enumerate(nb.cells) if toy.grade_id(c) == gid)
        before = next(c for c in reversed(nb.cells[:i]) if c.cell_type == "markdown")
        assert old in before.source
        before.source = before.source.replace(old, new)
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
    "test without a hidden part": (*_mut01(_set_source("01_mean_test", "assert mean([5]) == 5")),
                                   "01_mean_test", "hidden part"),
    "hidden part without a check": (*_mut01(_set_source("01_mean_test", _HIDDEN_PRINT)), "01_mean_test",
                                    "hidden part"),
    "test binds a public name": (*_mut01(_set_source("01_mean_test", _hidden("import math\nassert mean([4]) == 4"))),
                                 "01_mean_test", "binds math"),
    "test reads the notebook": (*_mut01(_set_source("01_mean_test", _hidden("assert mean(values) == 2"))),
                                "01_mean_test", "reads values"),
    "solution named apart from its function": (*_mut01(_set_source("01_mean", "def average(values):\n    pass")),
                                               "01_mean", "'01_average'"),
    "task heading with wrong points": (*_mut01(_heading("01_square", "(2 points)", "(3 points)")), "01_square",
                                       "expected"),
    "task heading naming another function": (*_mut01(_heading("01_mean", "`mean` (", "`average` (")), "01_mean",
                                             "write `mean`"),
    "answer without task heading": (toy.toy_notebook_02, "02_questions.ipynb",
                                    _heading("02_q1", "### Task `02_q1` — answer Q1 (2 points)", "Q1"), "02_q1",
                                    "none found"),
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


def _markdown_copy(gid):
    def f(nb):
        i = next(i for i, c in enumerate(nb.cells) if toy.grade_id(c) == gid)
        old = nb.cells[i]
        nb.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata)
    return f


def _move_before(gid, other):
    def f(nb):
        cell = _cell(nb, gid)
        nb.cells.remove(cell)
        nb.cells.insert(nb.cells.index(_cell(nb, other)), cell)
    return f


def _setup_line_dropped(name):
    def f(nb):
        cell = next(c for c in nb.cells if "setup" in c.metadata.get("tags", []))
        cell.source = "\n".join(line for line in cell.source.splitlines() if not line.startswith(name))
    return f


def _graded_setup(nb):
    _cell(nb, "01_setup").metadata.nbgrader.update(solution=True, locked=False)


def _extra_cell_key(nb):
    nb.cells[0]["bogus"] = 1


def _kernel_r(nb):
    nb.metadata["kernelspec"]["language"] = "R"


def _no_grade_id(nb):
    del _cell(nb, "01_mean_test").metadata.nbgrader["grade_id"]


# Rules no case above breaks: rule id -> (builder, file name, mutation).
RULE_CASES = {
    "file-name": (toy.toy_notebook_01, "Toy.ipynb", lambda nb: None),
    "nbformat": (*_mut01(_extra_cell_key),),
    "kernel-language": (*_mut01(_kernel_r),),
    "nbgrader-schema": (*_mut01(_set_meta("01_mean_test", points="many")),),
    "setup-not-graded": (*_mut01(_graded_setup),),
    "setup-pip-spec": (*_mut01(_setup_line_dropped("PIP_SPEC")),),
    "setup-data-url": (*_mut01(_setup_line_dropped("DATA_URL")),),
    "grade-id": (*_mut01(_no_grade_id),),
    "task-points": (toy.toy_notebook_02, "02_questions.ipynb", _set_meta("02_task", points=0)),
    "test-code": (*_mut01(_markdown_copy("01_mean_test")),),
    "test-after-solution": (*_mut01(_move_before("01_square_test", "01_square")),),
    "solution-name": (*_mut01(_rename("01_mean", "01_mean_test2")),),
    "solution-unlocked": (*_mut01(_set_meta("01_square", locked=True)),),
    "solution-code": (*_mut01(_markdown_copy("01_square")),),
}


def _rules_broken_by(builder, name, mutate) -> set[str]:
    nb = builder()
    mutate(nb)
    return {p.rule for p in _problems(nb, name)}


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_rule_fires_on_its_broken_example(rule_id):
    builder, name, _mutate = RULE_CASES[rule_id]
    assert _problems(builder(), "01_toy.ipynb" if name == "Toy.ipynb" else name) == []
    assert rule_id in _rules_broken_by(*RULE_CASES[rule_id])


def test_every_rule_has_a_broken_example():
    table = [r.id for r in (*rules.NOTEBOOK_RULES, *rules.CELL_RULES)]
    assert len(table) == len(set(table)), "rule ids must be unique"
    shown = set(RULE_CASES)
    for builder, name, mutate, _cell_id, _words in NEGATIVE_CASES.values():
        shown |= _rules_broken_by(builder, name, mutate)
    assert set(table) <= shown, f"rules with no broken example: {sorted(set(table) - shown)}"


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


def test_cli_failure_is_the_log_then_one_line(monkeypatch, capsys):
    def fail(root):
        raise errors.CourseToolError("nbgrader said no", log="line 1\nline 2\n")

    monkeypatch.setattr(cli, "run_check", fail)
    assert cli.main(["check"]) == 2
    assert capsys.readouterr().err.splitlines() == ["line 1", "line 2",
                                                   "tools.instructor check: error: nbgrader said no"]
    monkeypatch.setenv("SONGREC_RELEASE_BRANCH", "a..b")
    assert cli.main(["publish"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["tools.instructor publish: error: release branch must be a valid git branch name, got 'a..b'"]


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



def test_badge_says_what_the_notebook_costs_before_it_runs():
    from tools.instructor.settings import STUDENT_COST

    assert sorted(STUDENT_COST) == sorted(p.stem for p in toy.REAL_SOURCE.glob("[0-9][0-9]_*.ipynb"))
    for name, cost in STUDENT_COST.items():
        text = colab.badge_cell(f"{name}.ipynb", "a/b").source
        assert f"Running this notebook takes {cost}" in text and "2 CPU cores" in text
    assert "Running this notebook" not in colab.badge_cell("01_toy.ipynb", "a/b").source


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


def test_db_url_reads_the_config_once_until_it_changes(monkeypatch, tmp_path):
    """A class autograde asks for the gradebook URL once per student: nbgrader_config.py
    is executed once per course root and text, and an edited config is read again."""
    toy.build_toy_course(tmp_path)
    loads = []
    real = paths.load_course_config
    monkeypatch.setattr(paths, "load_course_config", lambda root: loads.append(root) or real(root))
    first = paths.db_url(tmp_path)
    assert first == "sqlite:///" + str(tmp_path.resolve() / "gradebook.db")
    assert [paths.db_url(tmp_path) for _ in range(3)] == [first] * 3
    assert len(loads) == 1
    cfg = tmp_path / "nbgrader_config.py"
    cfg.write_text(cfg.read_text() + '\nc.CourseDirectory.db_url = "sqlite:///other.db"\n')
    assert paths.db_url(tmp_path) == "sqlite:///" + str(tmp_path.resolve() / "other.db")
    assert len(loads) == 2
    other = tmp_path / "copy"
    toy.build_toy_course(other)
    assert paths.db_url(other) == "sqlite:///" + str(other.resolve() / "gradebook.db")
    cfg.unlink()
    with pytest.raises(errors.CourseToolError, match="nbgrader_config.py"):
        paths.db_url(tmp_path)


# --------------------------------------------------------------------------- docs/GRADING.md


def test_grading_doc_tables_are_current():
    text = docs.GRADING_MD.read_text(encoding="utf-8")
    assert docs.regenerate(text) == text, "docs/GRADING.md is stale: run `python -m tools.instructor docs`"
    for rule in (*rules.NOTEBOOK_RULES, *rules.CELL_RULES):
        assert f"| `{rule.id}` |" in text


def test_every_graded_task_has_a_defined_reference_and_tests():
    found = tasks.graded_tasks(toy.REAL_SOURCE)
    assert tasks.task_problems(found) == []
    # Independent of the table: every code solution cell of the notebooks is in it.
    solution_ids = {toy.grade_id(c) for name in toy.real_notebook_names()
                    for c in nbformat.read(toy.REAL_SOURCE / name, as_version=4).cells
                    if toy.nbg(c).get("solution") and not toy.nbg(c).get("grade") and c.cell_type == "code"}
    assert {t.grade_id for t in found if t.kind == "solution"} == solution_ids == set(tasks.REFERENCE_HELPERS)


def test_task_table_notices_a_missing_or_wrong_reference(monkeypatch):
    found = tasks.graded_tasks(toy.REAL_SOURCE)
    refs = dict(tasks.REFERENCE_HELPERS)
    del refs["01_build_mapping"]
    refs["01_encode_playlists"] = "helpers.vocab.Vocab.no_such_method"
    refs["09_gone"] = "helpers.vocab.build_vocab"
    monkeypatch.setattr(tasks, "REFERENCE_HELPERS", refs)
    problems = "\n".join(tasks.task_problems(found))
    assert "01_build_mapping: no entry" in problems and "'helpers.vocab.Vocab.no_such_method'" in problems
    assert "09_gone" in problems
    with pytest.raises(errors.CourseToolError, match="01_build_mapping"):
        docs.task_table()


@pytest.mark.parametrize("dotted,defined", [
    ("helpers.vocab.build_vocab", True),
    ("helpers.vocab.Vocab.encode", True),
    ("helpers.vocab.Vocab", True),
    ("helpers.vocab.nothing_here", False),
    ("helpers.no_module.build_vocab", False),
    ("numpy.linalg.norm", False),
])
def test_helper_defined_reads_the_source(dotted, defined):
    assert tasks.helper_defined(dotted) is defined


def test_toy_tasks_and_visible_hidden_tests(tmp_path):
    src = toy.build_toy_course(tmp_path)
    nb = toy.toy_notebook_01()
    # 01_mean_test: only hidden tests, with a print outside the region.
    _cell(nb, "01_mean_test").source = ("### BEGIN HIDDEN TESTS\nassert mean([5]) == 5\n"
                                        "### END HIDDEN TESTS\nprint('runs when grading')")
    nbformat.write(nb, src / "01_toy.ipynb")
    found = {t.grade_id: t for t in tasks.graded_tasks(src)}
    assert set(found) == {"01_square", "01_mean", "02_task", "02_q1"}
    assert found["01_square"].function == "square" and found["01_mean"].function == "mean"
    assert found["01_square"].tests == [tasks.GradedTest("01_square_test", 2.0, True, True)]
    assert found["01_mean"].tests == [tasks.GradedTest("01_mean_test", 3.0, False, True)]
    assert (found["02_q1"].kind, found["02_q1"].points) == ("answer", 2.0)
    assert (found["02_task"].kind, found["02_task"].points) == ("task", 1.0)


def test_docs_check_mode_reports_a_stale_file(tmp_path):
    stale = tmp_path / "GRADING.md"
    text = docs.GRADING_MD.read_text(encoding="utf-8")
    stale.write_text(text.replace("| `task-locked` |", "| `task-was-locked` |"), encoding="utf-8")
    with pytest.raises(errors.CourseToolError, match="out of date"):
        docs.run_docs(path=stale, check=True, out=io.StringIO())
    assert docs.run_docs(path=stale, out=io.StringIO()) is True
    assert stale.read_text(encoding="utf-8") == text


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


def test_source_cell_ids_mark_the_course_cells():
    # Autograde tells a student's added code cells from the course's by id
    # (tools/instructor/preprocessors/guarded_execute.py, added_code); a course cell with
    # another id would make its notebook look like one with student code.
    from tools.instructor.preprocessors.guarded_execute import COURSE_CELL_ID, added_code

    for path in sorted(toy.REAL_SOURCE.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        bad = [c.id for c in nb.cells if not (m := COURSE_CELL_ID.match(c.id)) or m["part"] != path.name[:2]]
        assert not bad, f"{path.name}: cell ids not of the form nb{path.name[:2]}-NN: {bad}"
        assert not added_code(nb)
        nb.cells.append(nbformat.v4.new_code_cell("print('mine')"))   # nbformat's random 8-hex-digit id
        assert added_code(nb)
        nb.cells[-1].id = "0123abcd-4e5f-4a6b-8c7d-9e0f1a2b3c4d"                # JupyterLab's UUID ids
        assert added_code(nb)
