"""Every test cell of the course says what was expected when it fails, hidden parts included,
and every scored test cell has a hidden part that an answer hard-coded for the visible
examples cannot pass.

The slow tests execute notebooks 01-05 (SONGREC_PROFILE=ci) in the instructor's form (the
hidden tests in place, as when grading), through the course's ``GuardedExecute``, twice:

* with a **wrong answer** in every solution cell (a plausible mistake that returns a value,
  never ``NotImplementedError``): every test cell must fail with an AssertionError whose
  message says what was expected;
* with **hard-coded answers**: each function gives the instructor's answer when a test
  calls it from the visible part of the cell, and the wrong answer when it is called from
  the hidden part (found from the calling cell's line, as a student who copied the visible
  examples' answers would behave). Every test cell must still fail, and from its hidden part.

And notebooks 01, 02 and 04 once more with **plausible bugs** (``PLAUSIBLE_BUGS``, issue
18): indices kept in int16 and widened afterwards, noise computed in float32 and returned
as float64 (both right on small examples), a ``train`` that drops ``batch_size`` and one
without ``min_lr``. Only their own tasks' test cells may fail, each saying what was
expected. (tests/real_attacks.py's ``BUGS`` grade the plainer int16 and float32 bugs, and
a wrong ``cosine_top_n`` under a right ``recommend``, through nbgrader.)
"""

from __future__ import annotations

import ast
import copy
import os
import re

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor.tasks import HIDDEN_REGION_RE, graded_tasks

NOTEBOOKS = [n for n in toy.real_notebook_names() if not n.startswith("06_")]

# A wrong answer per task: source of the whole solution cell, or a function of the
# instructor's solution cell text.
WRONG = {
    "01_build_mapping": lambda s: s.replace("enumerate(raw_ids, start=1)", "enumerate(raw_ids, start=0)"),
    "01_encode_playlists": "def encode_playlists(playlists, raw_to_idx):\n"
                           "    return [[int(x) for x in p if int(x) in raw_to_idx] for p in playlists]",
    "01_top_songs": lambda s: s.replace("names_by_idx[idx]", "names_by_idx[raw] if raw < len(names_by_idx) else '?'"),
    "02_positive_pairs": lambda s: s.replace("min(len(songs), i + window + 1)", "min(len(songs), i + window + 2)"),
    "02_make_training_pairs": lambda s: s.replace(
        "rng.integers(1, vocab_size + 1, size=(len(pos), negatives))",
        "np.random.randint(0, vocab_size, size=(len(pos), negatives))"),
    "02_unigram_noise": lambda s: s.replace("weights = c ** power", "weights = c ** 1.0"),
    "03_build_model": lambda s: s.replace('prob = layers.Activation("sigmoid", name="sigmoid")(score)', "prob = score"),
    "03_compile_model": "def compile_model(model, learning_rate=1e-3):\n"
                        "    model.compile(optimizer='adam', loss=keras.losses.BinaryCrossentropy(from_logits=True))\n"
                        "    return model",
    "04_train": "def train(model, train_pairs, val_pairs, epochs, batch_size, seed):\n    return None",
    "04_get_embeddings": "def get_embeddings(model):\n"
                         "    return np.asarray(model.get_layer('song_embedding').get_weights()[0], dtype=np.float64)",
    "05_cosine_top_n": lambda s: s.replace("(np.arange(len(scores)) != 0) & ", ""),
    "05_recommend": "def recommend(name, vocab, vectors, n=10):\n"
                    "    try:\n"
                    "        index = vocab.index_of(name)\n"
                    "    except KeyError:\n"
                    "        return f'Song {name} not found'\n"
                    "    indices, scores = top_n(vectors, index, n)\n"
                    "    return [(vocab.names[i], float(s)) for i, s in zip(indices[::-1], scores[::-1])]",
}

# Notebook -> (grade_id -> change of the instructor's solution, test cell -> texts its
# message must contain). Every other test cell of the notebook must pass. The two bugs of
# train share a run: each fails its own cell (04_train_test counts the optimizer's steps,
# 04_train_test_lr's hidden part goes below min_lr), and notebook 04 runs for minutes.
PLAUSIBLE_BUGS = {
    "01_mapping.ipynb": (
        {"01_build_mapping": lambda s: s.replace(
            "raw_to_idx = {raw: i for i, raw in enumerate(raw_ids, start=1)}",
            "raw_to_idx = {raw: int(i) for raw, i in zip(raw_ids, np.arange(1, len(raw_ids) + 1).astype(np.int16))}"),
         "01_encode_playlists": lambda s: s.replace("dtype=np.int32)", "dtype=np.int16).astype(np.int64)")},
        {"01_build_mapping_test": ("75,262 distinct songs", "hidden test"),
         "01_encode_playlists_test": ("the 75,262 songs", "hidden test")}),
    "02_skipgrams.ipynb": (
        {"02_unigram_noise": lambda s: s.replace("dtype=np.float64)", "dtype=np.float32)").replace(
            "return weights / weights.sum()", "return (weights / weights.sum()).astype(np.float64)")},
        {"02_unigram_noise_test": ("expected float64 precision", "hidden test")}),
    "04_training.ipynb": (
        {"04_train": lambda s: s.replace("        batch_size=batch_size,\n", "").replace(", min_lr=1e-6)", ")")},
        {"04_train_test": ("expected 3 x 12 = 36 training steps", "got 288", "batch_size=batch_size"),
         "04_train_test_lr": ("learning rate 4e-06 (hidden test)", "never below min_lr=1e-6", "got 5e-07")}),
}

# Chooses between two versions of a function by where the test calling it stands: the
# line of the test cell's top level that runs, inside or outside its hidden region.
HARD_CODING = '''
import linecache as _hc_linecache
import sys as _hc_sys


def _hc_called_from_hidden():
    frame, line, lines = _hc_sys._getframe(2), None, None
    while frame is not None:
        text = _hc_linecache.getlines(frame.f_code.co_filename)
        if frame.f_code.co_name == "<module>" and any("BEGIN HIDDEN TESTS" in t for t in text):
            line, lines = frame.f_lineno, text
        frame = frame.f_back
    if lines is None:
        return False
    begin = next(i for i, t in enumerate(lines, 1) if "BEGIN HIDDEN TESTS" in t)
    end = next(i for i, t in enumerate(lines, 1) if "END HIDDEN TESTS" in t)
    return begin < line < end
'''


def _solutions(nb) -> dict[str, str]:
    return {toy.grade_id(c): c.source for c in nb.cells
            if toy.nbg(c).get("solution") and not toy.nbg(c).get("grade") and c.cell_type == "code"}


def _wrong(gid: str, source: str) -> str:
    change = WRONG[gid]
    wrong = change(source) if callable(change) else change
    assert wrong != source, f"the wrong answer of {gid} changed nothing"
    return wrong


def _function(source: str) -> str:
    return next(n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))


def _hard_coded(gid: str, source: str) -> str:
    name = _function(source)
    return (f"{HARD_CODING}\n{source}\n\n_hc_right_{name} = {name}\n\n{_wrong(gid, source)}\n\n"
            f"_hc_wrong_{name} = {name}\n\n\n"
            f"def {name}(*args, **kwargs):\n"
            f"    chosen = _hc_wrong_{name} if _hc_called_from_hidden() else _hc_right_{name}\n"
            f"    return chosen(*args, **kwargs)\n")


def _with(nb, make):
    out = copy.deepcopy(nb)
    for cell in out.cells:
        gid = toy.grade_id(cell)
        if gid in WRONG and toy.nbg(cell).get("solution"):
            cell.source = make(gid, cell.source)
    return out


def _test_cells(nb):
    return [c for c in nb.cells if toy.nbg(c).get("grade") and not toy.nbg(c).get("solution")
            and c.cell_type == "code"]


# --------------------------------------------------------------------------- without running


def test_every_task_has_a_wrong_answer():
    tasks = {t.grade_id for t in graded_tasks(toy.REAL_SOURCE) if t.kind == "solution"}
    assert tasks == set(WRONG)


def test_every_scored_test_cell_has_a_hidden_part_with_a_check():
    cells = [c for name in toy.real_notebook_names()
             for c in _test_cells(nbformat.read(toy.REAL_SOURCE / name, as_version=4))]
    assert len(cells) == 21  # 3 + 4 + 3 + 5 + 6 in notebooks 01-05
    for cell in cells:
        regions = HIDDEN_REGION_RE.findall(cell.source)
        assert len(regions) == 1, toy.grade_id(cell)
        body = ast.parse("\n".join(line for line in regions[0].splitlines() if "HIDDEN TESTS" not in line))
        calls = {n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id for n in ast.walk(body)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute | ast.Name)}
        assert calls & {"check", "expect_equal", "expect_close", "expect_raises"} or \
            any(c.startswith("_check") for c in calls), f"{toy.grade_id(cell)}: no check in its hidden part"
        assert float(toy.nbg(cell)["points"]) > 0


def test_no_test_cell_uses_a_bare_assert():
    # A bare `assert x == y` fails with an empty AssertionError: every check goes through
    # helpers.testkit (or states its own "expected ..., got ..." message).
    for name in toy.real_notebook_names():
        for cell in _test_cells(nbformat.read(toy.REAL_SOURCE / name, as_version=4)):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Assert):
                    assert isinstance(node.msg, ast.JoinedStr | ast.Constant), toy.grade_id(cell)
            for match in re.finditer(r'raise AssertionError\((f?"[^"]*)', cell.source):
                assert "expected" in match.group(1), toy.grade_id(cell)


# --------------------------------------------------------------------------- running them


def _execute(nb, folder):
    from tools.instructor.preprocessors.guarded_execute import GuardedExecute

    folder.mkdir(parents=True, exist_ok=True)
    nb, _ = GuardedExecute(timeout=300).preprocess(nb, {"metadata": {"path": str(folder)}})
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    if not NOTEBOOKS:
        pytest.skip("no course notebooks")
    for key, value in toy.course_env_for_tests(300).items():
        os.environ.setdefault(key, value)
    root = tmp_path_factory.mktemp("messages")
    out = {}
    for name in NOTEBOOKS:
        source = nbformat.read(toy.REAL_SOURCE / name, as_version=4)
        out[name] = {"wrong": _execute(_with(source, _wrong), root / "wrong"),
                     "hard": _execute(_with(source, _hard_coded), root / "hard")}
    return out


def _failure(cell) -> tuple[str, str]:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors, f"{toy.grade_id(cell)} passed"
    return errors[0].ename, errors[0].evalue


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_failing_test_says_what_was_expected(executed, name):
    for cell in _test_cells(executed[name]["wrong"]):
        ename, evalue = _failure(cell)
        assert ename == "AssertionError" and "expected" in evalue, (toy.grade_id(cell), ename, evalue)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PLAUSIBLE_BUGS))
def test_plausible_bugs_fail_their_own_tests_only(tmp_path, name):
    changes, failing = PLAUSIBLE_BUGS[name]
    source = nbformat.read(toy.REAL_SOURCE / name, as_version=4)
    buggy = copy.deepcopy(source)
    for cell in buggy.cells:
        if toy.grade_id(cell) in changes and toy.nbg(cell).get("solution"):
            new = changes[toy.grade_id(cell)](cell.source)
            assert new != cell.source, f"the bug of {toy.grade_id(cell)} changed nothing"
            cell.source = new
    for key, value in toy.course_env_for_tests(300).items():
        os.environ.setdefault(key, value)
    for cell in _test_cells(_execute(buggy, tmp_path)):
        gid = toy.grade_id(cell)
        if gid not in failing:
            assert not [o for o in cell.outputs if o.output_type == "error"], f"{gid} failed"
            continue
        ename, evalue = _failure(cell)
        assert ename == "AssertionError" and "expected" in evalue and " got " in evalue, (gid, ename, evalue)
        assert all(text in evalue for text in failing[gid]), (gid, evalue)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_answers_hard_coded_for_the_visible_examples_fail_every_test_cell(executed, name):
    for cell in _test_cells(executed[name]["hard"]):
        ename, evalue = _failure(cell)
        assert ename == "AssertionError" and "expected" in evalue, (toy.grade_id(cell), ename, evalue)
        assert "hidden test" in evalue, f"{toy.grade_id(cell)} failed in its visible part: {evalue}"
