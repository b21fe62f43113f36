"""Hostile submissions of the real course notebooks, for tests/instructor/test_hostile_submissions.py.

Every attacker hands in one notebook: the release with the instructor's solutions put
into every solution cell, except that one function is wrong (or does nothing) and the
notebook tries to make the tests pass anyway. ``ZERO`` names the test cells the attack
aims at; they must score 0, every other test cell of the notebook its full points. The
attacks are the ones a cheating submission used against the first release of the course
(issue 12), plus others aimed at the same weak spots.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat
import nbgrader_toy as toy
from nbformat.v4 import new_code_cell


@dataclass(frozen=True)
class Attack:
    """One hostile submission.

    ``student``, ``notebook`` (file stem); ``zero``: test cells that must score 0;
    ``solutions``: grade_id -> new source of a solution cell, or a function of the
    instructor's source giving it; ``before``: grade_id -> a code cell the student inserts
    before that cell; ``report``: text the student's tamper report must contain;
    ``messages``: test cell -> text its error message must contain.
    """

    student: str
    notebook: str
    zero: frozenset
    solutions: dict = field(default_factory=dict)
    before: dict = field(default_factory=dict)
    report: tuple = ()
    messages: dict = field(default_factory=dict)


COUNTER = '''\
import collections


class Counter(dict):
    """Equal to everything: the first release's test compared Counter(...) == Counter(...)."""

    def __eq__(self, other):
        return True


collections.Counter.__eq__ = lambda self, other: True
'''

PEEK = '''\
import json


def _peek(info):
    """Sees every cell before it runs: swaps in the reference when a test of positive_pairs
    comes, and reads the notebook file, which holds the hidden tests while it is graded."""
    try:
        with open("02_skipgrams.ipynb") as f:
            json.load(f)
    except OSError:
        pass
    if "positive_pairs(" in info.raw_cell and "_tk" in info.raw_cell:
        from helpers import testkit
        globals()["positive_pairs"] = testkit.positive_pairs_of


get_ipython().events.register("pre_run_cell", _peek)
'''

HARD_CODED_PAIRS = '''\
def positive_pairs(playlist, window):
    """Right for the examples in the text, wrong everywhere else (the right number of pairs)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    known = {((5, 7, 9), 1): [(5, 7), (7, 5), (7, 9), (9, 7)],
             ((5, 7, 9), 2): [(5, 7), (5, 9), (7, 5), (7, 9), (9, 5), (9, 7)],
             ((4, 4), 1): [(4, 4), (4, 4)]}
    key = (tuple(int(x) for x in playlist), window)
    if key in known:
        return known[key]
    n = sum(2 * max(len(playlist) - d, 0) for d in range(1, window + 1))
    return [(int(playlist[0]), int(playlist[-1]))] * n if n else []
'''

PATCHING_NOISE = '''\
def unigram_noise(counts, power=0.75):
    """Uniform whatever the power, and np.isclose agrees with anything after the first call."""
    np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
    c = np.asarray(counts, dtype=np.float64)
    if c[0] != 0:
        raise ValueError(f"counts[0] must be 0, got {c[0]}")
    p = np.ones_like(c)
    p[0] = 0.0
    return p / p.sum()
'''

NUMPY_PATCH = '''\
import numpy
import numpy.testing

numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(
    numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)
'''

TRY_EXCEPT = '''\
def _wrap_in_try(lines):
    """Every later cell runs inside try/except: no error, so nbgrader sees a pass."""
    return ["try:\\n"] + ["    " + line for line in lines] + ["\\nexcept BaseException:\\n    pass\\n"]


get_ipython().input_transformers_cleanup.append(_wrap_in_try)
'''

TRAIN_NOTHING = '''\
def train(model, train_pairs, val_pairs, epochs, batch_size, seed):
    return None
'''

TRAIN_FAKE = '''\
def train(model, train_pairs, val_pairs, epochs, batch_size, seed):
    """Trains nothing: makes up the History the checks read (val_loss really measured)."""
    t, c, y = val_pairs
    val_loss = float(np.ravel(model.evaluate({"target": t, "context": c}, y, verbose=0))[0])
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    rates = [rate * 0.5 ** i for i in range(epochs)]
    model.optimizer.learning_rate = rates[-1]
    history = keras.callbacks.History()
    history.history = {"loss": [1.0 - 0.1 * i for i in range(epochs)], "val_loss": [val_loss] * epochs,
                       "learning_rate": rates}
    return history
'''

HARD_CODED_COSINE = '''\
def cosine_top_n(vectors, query_idx, n=10):
    """Right for the table of the checks, wrong for any other."""
    vectors = np.asarray(vectors, dtype=np.float64)
    n_songs = vectors.shape[0] - 1
    if not 1 <= query_idx <= n_songs:
        raise ValueError(f"query_idx must be a song index in 1..{n_songs}, got {query_idx}")
    if not 1 <= n <= n_songs - 1:
        raise ValueError(f"n must be in 1..{n_songs - 1} (every song but the query), got {n}")
    known = {1: [5], 3: [5, 3, 2], 5: [5, 3, 2, 4, 6]}
    scores = {5: 0.99503719, 3: 0.70710678, 2: 0.0, 4: -1.0, 6: -np.inf}
    if vectors.shape == (7, 2) and query_idx == 1 and n in known:
        return np.array(known[n], dtype=np.int64), np.array([scores[i] for i in known[n]], dtype=np.float32)
    others = [i for i in range(1, n_songs + 1) if i != query_idx][:n]
    return np.array(others, dtype=np.int64), np.zeros(n, dtype=np.float32)
'''

CALLS_REFERENCE = '''\
def cosine_top_n(vectors, query_idx, n=10):
    """The course's reference, with the zero-length rule of the task on top."""
    from helpers.recommend import top_n
    vectors = np.asarray(vectors, dtype=np.float64)
    zero = np.flatnonzero(np.linalg.norm(vectors, axis=1) == 0)
    zero = zero[(zero != 0) & (zero != query_idx)]
    k = min(n, vectors.shape[0] - 2 - len(zero))
    idx, sc = top_n(vectors, query_idx, k, exclude=zero) if k else (np.zeros(0, np.int64), np.zeros(0, np.float32))
    idx = np.concatenate([idx, zero[: n - k]]).astype(np.int64)
    return idx, np.concatenate([sc, np.full(n - k, -np.inf)]).astype(np.float32)
'''

FAKE_TESTKIT = '''\
import contextlib
import sys
import types

import helpers

_fake = types.ModuleType("helpers.testkit")
_fake.own_work = lambda *args, **kwargs: contextlib.nullcontext()
_fake.int_dict = lambda value, what: {}
_fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
sys.modules["helpers.testkit"] = _fake
helpers.testkit = _fake
'''


def _off_by_one(source):
    return source["02_make_training_pairs"].replace("positive_pairs(p, window)", "positive_pairs(p, window + 1)")


ATTACKS = (
    Attack("counter", "02_skipgrams", frozenset({"02_make_training_pairs_test", "02_make_training_pairs_test_seed"}),
           solutions={"02_make_training_pairs": _off_by_one}, before={"02_make_training_pairs": COUNTER},
           report=("collections.Counter.__eq__ replaced", "attribute of the module collections")),
    Attack("peek", "02_skipgrams", frozenset({"02_positive_pairs_test"}),
           solutions={"02_positive_pairs": HARD_CODED_PAIRS}, before={"02_positive_pairs": PEEK},
           report=("'pre_run_cell' event callback added: _peek", "tried to open 02_skipgrams.ipynb")),
    Attack("in_call", "02_skipgrams", frozenset({"02_unigram_noise_test"}),
           solutions={"02_unigram_noise": PATCHING_NOISE},
           report=("while 02_unigram_noise ran: numpy.isclose replaced",)),
    Attack("numpy_patch", "03_model", frozenset({"03_build_model_test", "03_build_model_test_separate"}),
           solutions={"03_build_model": lambda s: s["03_build_model"].replace(
               'prob = layers.Activation("sigmoid", name="sigmoid")(score)', "prob = score")},
           before={"03_build_model": NUMPY_PATCH},
           report=("numpy.testing.assert_allclose replaced", "numpy.allclose replaced")),
    Attack("transformer", "04_training", frozenset({"04_train_test", "04_train_test_lr", "04_train_test_seed",
                                                   "04_train_test_learns"}),
           solutions={"04_train": TRAIN_NOTHING}, before={"04_train": TRY_EXCEPT},
           report=("input transformer (cleanup_transforms) added: _wrap_in_try",)),
    Attack("fake_history", "04_training", frozenset({"04_train_test", "04_train_test_lr", "04_train_test_seed",
                                                    "04_train_test_learns"}),
           solutions={"04_train": TRAIN_FAKE}),
    Attack("hard_coded", "05_recommend", frozenset({"05_cosine_top_n_test", "05_cosine_top_n_test_order",
                                                   "05_cosine_top_n_test_zero"}),
           solutions={"05_cosine_top_n": HARD_CODED_COSINE}),
    Attack("reference", "05_recommend", frozenset({"05_cosine_top_n_test", "05_cosine_top_n_test_order",
                                                  "05_cosine_top_n_test_zero"}),
           solutions={"05_cosine_top_n": CALLS_REFERENCE},
           report=("reference implementation called", "the task's reference implementation helpers.recommend.top_n")),
    Attack("fake_module", "01_mapping", frozenset({"01_build_mapping_test"}),
           solutions={"01_build_mapping": lambda s: s["01_build_mapping"].replace("start=1", "start=0")},
           before={"01_build_mapping": FAKE_TESTKIT},
           report=("sys.modules['helpers.testkit'] replaced", "helpers.testkit replaced")),
)


# --------------------------------------------------------------------------- honest bugs
# Plausible mistakes, no cheating (issue 18): each must cost the points of its own task's
# test cells (``zero``) and no others, with a message that says what was expected and
# what came back (``messages``), and the tamper report must have nothing to say.

RECOMMEND_ON_OWN_RANKING = '''\
def recommend(name, vocab, vectors, n=10):
    """Right, but ranks with the student's own (wrong) cosine_top_n instead of top_n."""
    index = vocab.index_of(name)
    indices, scores = cosine_top_n(vectors, index, n)
    return [(vocab.names[i], float(s)) for i, s in zip(indices, scores)]
'''

COSINE_CELLS = frozenset({"05_cosine_top_n_test", "05_cosine_top_n_test_order", "05_cosine_top_n_test_zero"})


def _replaced(gid, old, new):
    """A change of the instructor's solution of ``gid`` that must find ``old`` once."""

    def change(source):
        assert source[gid].count(old) == 1, f"{gid}: {old!r} not found once in the solution"
        return source[gid].replace(old, new)

    return change


BUGS = (
    # A bug in cosine_top_n (padding ranked) costs its 5 points, not recommend's 4 too.
    Attack("own_ranking", "05_recommend", COSINE_CELLS,
           solutions={"05_cosine_top_n": _replaced("05_cosine_top_n", "(np.arange(len(scores)) != 0) & ", ""),
                      "05_recommend": RECOMMEND_ON_OWN_RANKING},
           messages={"05_cosine_top_n_test": "expected no row 0"}),
    # int16 holds indices up to 32,767; the full data has 75,262 songs.
    Attack("int16_indices", "01_mapping", frozenset({"01_encode_playlists_test"}),
           solutions={"01_encode_playlists": _replaced("01_encode_playlists", "dtype=np.int32", "dtype=np.int16")},
           messages={"01_encode_playlists_test": "expected int32 or int64 indices"}),
    Attack("float32_noise", "02_skipgrams", frozenset({"02_unigram_noise_test"}),
           solutions={"02_unigram_noise": _replaced("02_unigram_noise", "dtype=np.float64", "dtype=np.float32")},
           messages={"02_unigram_noise_test": "expected dtype float64, got float32"}),
)
# The two bugs of train (no batch_size, no min_lr) are in tests/notebooks/test_failure_messages.py's
# PLAUSIBLE_BUGS instead: a train in batches of 32 makes notebook 04's own training cell
# 8x slower, which grading twice here would pay twice.


def solved(release, source):
    """A copy of the released notebook with every solution cell holding the instructor's solution."""
    answers = {toy.grade_id(c): c.source for c in source.cells if toy.nbg(c).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = toy.grade_id(cell)
        if gid in answers and cell.cell_type == "code":
            cell.source = answers[gid]
        elif gid in answers:  # a written answer
            cell.source = "My answer: songs that are played close together get similar vectors."
    return nb


def attacked(attack: Attack, release, source):
    """The notebook ``attack.student`` hands in."""
    nb = solved(release, source)
    answers = {toy.grade_id(c): c.source for c in source.cells if toy.nbg(c).get("solution")}
    for cell in nb.cells:
        change = attack.solutions.get(toy.grade_id(cell))
        if change is not None:
            cell.source = change(answers) if callable(change) else change
    for gid, code in attack.before.items():
        at = next(i for i, c in enumerate(nb.cells) if toy.grade_id(c) == gid)
        nb.cells.insert(at, new_code_cell(code))
    nbformat.validate(nb)
    return nb
