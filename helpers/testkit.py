"""What the notebooks' test cells use to check a student's function and to say what went wrong.

A test cell runs in the notebook's namespace, after the student's own cells, so it trusts
nothing found there but the functions it tests (docs/GRADING.md, "Tests that do not trust
the notebook"). With this module a test cell:

* calls the student's function inside :func:`own_work`. There the course's reference
  implementation of the same task (``REFERENCES``) is a tripwire: a call to it, however
  indirect, fails the test. ``swap`` puts reference functions in place of the student's
  earlier ones for the call, so a bug in an earlier task is not paid for twice. While the
  notebook is autograded, the autograder's kernel guard undoes whatever the call changed
  in the modules the tests use, and the test fails if it had to;
* turns the result into plain Python values (:func:`int_pairs`, :func:`int_dict`,
  :func:`array` ...) before comparing anything, so an object whose ``==`` always says yes
  compares as what it really holds;
* fails with :func:`expect_equal`, :func:`check` or :func:`expect_raises`, whose
  messages say what was expected and what came back. In hidden tests (``hidden=True``)
  the message shows the first difference rather than the whole expected answer.

It also builds the small data sets the checks of parts 4 and 5 use (:func:`tiny_data`,
:func:`tiny_model`, :func:`demo_vocab`, :func:`cosine_example`), so a test cell does not
have to take them from the notebook, and holds the task-rule versions of earlier tasks'
functions that ``swap`` puts in (:func:`positive_pairs_of`, :func:`cosine_top_n_of`).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Mapping

import numpy as np

# Code task (grade_id of the solution cell) -> the helpers function that is its reference
# implementation: the tripwire while the student's function runs, and the reference column
# of docs/GRADING.md (tools/instructor/tasks.py).
REFERENCES = {
    "01_build_mapping": "helpers.vocab.build_vocab",
    "01_encode_playlists": "helpers.vocab.Vocab.encode",
    "01_top_songs": "helpers.vocab.Vocab.most_common",
    "02_positive_pairs": "helpers.skipgrams.positive_pairs",
    "02_make_training_pairs": "helpers.skipgrams.skipgram_pairs",
    "02_unigram_noise": "helpers.noise.noise_distribution",
    "03_build_model": "helpers.model.build_sgns",
    "03_compile_model": "helpers.model.compile_sgns",
    "04_train": "helpers.keras_loop.fit_arrays",
    "04_get_embeddings": "helpers.model.embeddings_of",
    "05_cosine_top_n": "helpers.recommend.top_n",
    "05_recommend": "helpers.recommend.Recommender.recommend",
}
GUARD_MODULE = "_songrec_kernel_guard"  # present only while the autograder runs the notebook
REFERENCE_USED = "called the course's reference implementation"
SHORT = 160  # characters of a value shown in a message


class ReferenceUsed(BaseException):
    """Raised by the tripwire. A BaseException, so ``except Exception`` in a student's
    code does not swallow it (and a test fails even when something does)."""


# --------------------------------------------------------------------------- messages


def short(value, limit: int = SHORT) -> str:
    """``repr(value)`` cut to ``limit`` characters; arrays as NumPy prints them."""
    try:
        text = np.array2string(value, threshold=20) if isinstance(value, np.ndarray) else repr(value)
    except Exception:  # a student's object whose repr fails
        text = f"<{type(value).__name__} object>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(condition: bool, message: str) -> None:
    """Fail with ``message`` (it should say what was expected and what came back) unless
    ``condition`` is true."""
    if not condition:
        raise AssertionError(message)


def first_difference(expected, got) -> str:
    """Where two lists (or tuples, or 1-D arrays) first differ, in words."""
    expected, got = list(expected), list(got)
    for i, (a, b) in enumerate(zip(expected, got)):
        if not _equal(a, b):
            return f"first difference at position {i}: expected {short(a, 60)}, got {short(b, 60)}"
    if len(expected) != len(got):
        return f"expected {len(expected)} items, got {len(got)}"
    return "no difference found"


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and \
            bool(np.array_equal(a, b))
    return bool(a == b)


def expect_equal(got, expected, what: str, *, hidden: bool = False) -> None:
    """Fail unless ``got == expected``; both must already be plain values (lists, tuples,
    dicts, ints, strs, floats) made by the converters below, never a student's object.

    ``what``: the call, in words (``"positive_pairs([5, 7, 9], window=1)"``).
    ``hidden``: a hidden test; the message then shows sizes and the first difference
    instead of the whole expected value.
    """
    if _equal(got, expected):
        return
    if not hidden:
        raise AssertionError(f"{what}: expected {short(expected)}, got {short(got)}")
    if isinstance(expected, dict) and isinstance(got, dict):
        wrong = sorted((k for k in expected if k not in got or got[k] != expected[k]), key=repr)
        extra = sorted((k for k in got if k not in expected), key=repr)
        detail = (f"key {short(wrong[0], 40)}: expected {short(expected[wrong[0]], 40)}, got "
                  f"{short(got.get(wrong[0], 'nothing'), 40)}" if wrong else f"unexpected key {short(extra[0], 40)}")
        raise AssertionError(f"{what}: expected {len(expected)} entries, got {len(got)}; {detail}")
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        raise AssertionError(f"{what}: expected {len(expected)} items, got {len(got)}; "
                             f"{first_difference(expected, got)}")
    raise AssertionError(f"{what}: expected {short(expected, 60)}, got {short(got, 60)}")


def expect_close(got, expected, what: str, *, atol: float = 1e-5, hidden: bool = False) -> None:
    """Fail unless the float arrays ``got`` and ``expected`` have one shape and agree
    within ``atol``; the message names the largest difference."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise AssertionError(f"{what}: expected shape {expected.shape}, got {got.shape}")
    with np.errstate(invalid="ignore"):
        bad = ~np.isclose(got, expected, atol=atol, rtol=0, equal_nan=True)
    if not bad.any():
        return
    i = tuple(int(x) for x in np.argwhere(bad)[0])
    at = i[0] if len(i) == 1 else i
    if hidden:
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} values differ by more than {atol:g}; "
                             f"at {at}: expected {expected[i]:.6g}, got {got[i]:.6g}")
    raise AssertionError(f"{what}: expected {short(np.round(expected, 5))}, got {short(np.round(got, 5))} "
                         f"(first difference at {at})")


def expect_raises(errors, call: Callable, what: str, why: str) -> BaseException:
    """Fail unless ``call()`` raises one of ``errors``; returns the exception.

    ``why``: what the student should know (``"a window must be at least 1"``).
    NotImplementedError always passes through: a function not written yet is reported as
    such, not as a wrong answer.
    """
    try:
        result = call()
    except errors as exc:
        return exc
    except NotImplementedError:
        raise
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"{what}: expected {_names(errors)} ({why}), got {type(exc).__name__}: "
                             f"{short(str(exc), 100)}") from exc
    raise AssertionError(f"{what}: expected {_names(errors)} ({why}), but it returned {short(result)}")


def _names(errors) -> str:
    errors = errors if isinstance(errors, tuple) else (errors,)
    return " or ".join(e.__name__ for e in errors)


# --------------------------------------------------------------------------- plain values


def _fail_type(what: str, expected: str, value):
    raise AssertionError(f"{what}: expected {expected}, got {type(value).__name__} {short(value)}")


def as_int(value, what: str) -> int:
    """``value`` as a plain ``int`` (NumPy integers included); fails for anything else."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        _fail_type(what, "an integer", value)
    return int(value)


def text(value, what: str) -> str:
    """``value`` as a plain ``str`` (a copy of a str subclass's characters)."""
    if not isinstance(value, str):
        _fail_type(what, "a str", value)
    return "".join([value])


def int_list(value, what: str) -> list[int]:
    """A 1-D sequence of integers (list, tuple or integer array) as a list of ``int``."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or not np.issubdtype(value.dtype, np.integer):
            _fail_type(what, "a 1-D sequence of integers", value)
        return [int(x) for x in np.asarray(value).tolist()]
    if not isinstance(value, (list, tuple)):
        _fail_type(what, "a list (or 1-D array) of integers", value)
    return [as_int(x, f"each item of {what}") for x in value]


def int_pairs(value, what: str) -> list[tuple[int, int]]:
    """A list of (int, int) pairs from a list of 2-tuples (or an (N, 2) integer array)."""
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == 2:
        return [(int(a), int(b)) for a, b in np.asarray(value).tolist()]
    if not isinstance(value, (list, tuple)):
        _fail_type(what, "a list of (target, context) tuples", value)
    out = []
    for item in value:
        if not isinstance(item, (tuple, list, np.ndarray)) or len(item) != 2:
            _fail_type(f"each item of {what}", "a (target, context) pair", item)
        out.append((as_int(item[0], f"each target of {what}"), as_int(item[1], f"each context of {what}")))
    return out


def int_dict(value, what: str) -> dict[int, int]:
    """A dict of int -> int from a dict whose keys and values are integers."""
    if not isinstance(value, Mapping):
        _fail_type(what, "a dict", value)
    return {as_int(k, f"the keys of {what}"): as_int(v, f"the values of {what}") for k, v in dict(value).items()}


def array(value, what: str, *, dtype=None, shape=None) -> np.ndarray:
    """``value`` as a plain NumPy array (a copy, never a subclass), after checking that it is
    an ndarray of ``dtype`` and ``shape`` (either None: not checked)."""
    if not isinstance(value, np.ndarray):
        _fail_type(what, f"a NumPy array{_dtype_shape(dtype, shape)}", value)
    plain = np.array(value, subok=False, copy=True)
    if dtype is not None and plain.dtype != np.dtype(dtype):
        raise AssertionError(f"{what}: expected dtype {np.dtype(dtype).name}, got {plain.dtype.name}")
    if shape is not None and plain.shape != tuple(shape):
        raise AssertionError(f"{what}: expected shape {tuple(shape)}, got {plain.shape}")
    return plain


def _dtype_shape(dtype, shape) -> str:
    parts = ([np.dtype(dtype).name] if dtype is not None else []) + ([f"shape {tuple(shape)}"] if shape else [])
    return f" ({', '.join(parts)})" if parts else ""


# --------------------------------------------------------------------------- the graded call


def _reference_function(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ValueError(f"reference must name a helpers function, got {dotted!r}")


def _tripwire_code(function, dotted: str):
    """A code object that can replace ``function.__code__`` (same free variables) and
    calls ``__songrec_tripwire__(dotted)`` from the function's module instead."""
    free = function.__code__.co_freevars
    lines = ["def _outer():"] + [f"    {v} = None" for v in free]
    lines += [f"    def {function.__name__}(*args, **kwargs):"]
    lines += [f"        {', '.join(free)}"] if free else []
    lines += [f"        __songrec_tripwire__({dotted!r})", f"    return {function.__name__}"]
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    return namespace["_outer"]().__code__


@contextlib.contextmanager
def own_work(task: str, *, swap: Mapping[str, Callable] | None = None, namespace: dict | None = None):
    """The block calls the student's function of ``task``; fails the test if it used the
    task's reference implementation, or (while autograding) changed what tests rely on.

    ``swap``: ``{name: function}`` set in ``namespace`` (the notebook's globals) for the
    block and put back after it, e.g. the reference ``positive_pairs`` while
    ``make_training_pairs`` runs. Exceptions from the block pass through unchanged.
    """
    dotted = REFERENCES.get(task)
    if dotted is None:
        raise ValueError(f"task must be one of {sorted(REFERENCES)}, got {task!r}")
    reference = _reference_function(dotted)
    module_globals = reference.__globals__
    hits: list[str] = []

    def tripwire(name):
        hits.append(name)
        raise ReferenceUsed(f"{name} is the reference implementation of {task}")

    guard = sys.modules.get(GUARD_MODULE)
    names = guard.checkpoint() if guard is not None else None
    saved = {}
    if swap:
        for name, function in swap.items():
            saved[name] = namespace.get(name, _ABSENT)
            namespace[name] = function
    original = reference.__code__
    module_globals["__songrec_tripwire__"] = tripwire
    reference.__code__ = _tripwire_code(reference, dotted)
    undone: list[str] = []
    try:
        try:
            yield
        except ReferenceUsed:
            pass
    finally:
        reference.__code__ = original
        module_globals.pop("__songrec_tripwire__", None)
        for name, value in saved.items():
            if value is _ABSENT:
                namespace.pop(name, None)
            else:
                namespace[name] = value
        if guard is not None:
            undone = guard.restore_after_call(names, task)
    if hits:
        raise AssertionError(f"your code for {task} {REFERENCE_USED}, {dotted}. Write your own: a "
                             "solution that calls the reference gets no points")
    if undone:
        raise AssertionError(f"while your code for {task} ran, it changed what the tests rely on: "
                             f"{'; '.join(undone[:3])}{' ...' if len(undone) > 3 else ''}")


class _Absent:
    pass


_ABSENT = _Absent()


# --------------------------------------------------------------------------- the checks' data


def positive_pairs_of(playlist, window: int) -> list[tuple[int, int]]:
    """The reference positive pairs of one playlist, in the form part 2's ``positive_pairs``
    returns them: (target, context) tuples by target position, then context position."""
    from helpers import skipgrams

    targets, contexts, _ = skipgrams.positive_pairs([np.asarray(playlist, dtype=np.int64)], window)
    return list(zip(targets.tolist(), contexts.tolist()))


def cosine_top_n_of(vectors, query_idx, n=10):
    """Part 5's ``cosine_top_n`` as its task states it, for ``recommend``'s checks to swap in
    (a bug in the student's ``cosine_top_n`` then costs only that task's points).

    Returns ``(indices int64 (n,), cosines float32 (n,))``, best first, never 0 nor
    ``query_idx``; a zero-length row scores -inf (last); ties go to the lower index.
    Unlike :func:`helpers.recommend.top_n` (a zero row scores 0 there), this is the rule
    the notebook's task gives. Raises ValueError for a query or ``n`` out of range.
    """
    table = np.asarray(vectors, dtype=np.float64)
    songs = table.shape[0] - 1
    if not 1 <= query_idx <= songs:
        raise ValueError(f"query_idx must be a song index in 1..{songs}, got {query_idx}")
    if not 1 <= n <= songs - 1:
        raise ValueError(f"n must be in 1..{songs - 1} (every song but the query), got {n}")
    from helpers.ranking import unit_rows  # the one place vectors are normalised

    unit = unit_rows(table)
    scores = unit @ unit[query_idx]
    scores[~unit.any(axis=1)] = -np.inf  # the task's rule for a zero-length row
    candidates = np.setdiff1d(np.arange(1, len(table)), [query_idx])
    best = candidates[np.argsort(-scores[candidates], kind="stable")[:n]]
    return best.astype(np.int64), scores[best].astype(np.float32)


def check_sgns_output(model, target_table: str, context_table: str, targets, contexts, what: str) -> None:
    """Part 3's check of a built model: with random values in its tables, its output must be
    ``sigmoid(dot(target_table[target], context_table[context]))``, shape (batch, 1).

    ``targets``, ``contexts``: int32 (batch,), indices up to V. The model is called inside
    :func:`own_work` for ``03_build_model``, since a student's layer code runs there.
    """
    rng = np.random.default_rng(0)
    for name in dict.fromkeys((target_table, context_table)):
        layer = model.get_layer(name)
        rows, dim = layer.get_weights()[0].shape
        layer.set_weights([rng.normal(0, 0.7, size=(rows, dim)).astype("float32")])
    try:
        with own_work("03_build_model"):
            out = model({"target": targets, "context": contexts})
    except (AssertionError, NotImplementedError):
        raise
    except Exception as err:
        raise AssertionError(f"{what}: expected an output for indices up to V, but calling the model failed "
                             f"({type(err).__name__}); each table needs vocab_size + 1 rows so that index V "
                             "has a row") from err
    out = np.array(out, dtype=np.float64)
    check(out.shape == (len(targets), 1), f"{what}: expected output shape (batch, 1) = ({len(targets)}, 1); "
                                          f"got {out.shape}")
    wt = model.get_layer(target_table).get_weights()[0].astype(np.float64)
    wc = model.get_layer(context_table).get_weights()[0].astype(np.float64)
    want = 1.0 / (1.0 + np.exp(-np.sum(wt[targets] * wc[contexts], axis=1)))
    expect_close(out[:, 0], want, f"{what}: sigmoid(dot({target_table}[target], {context_table}[context]))")


def tiny_data():
    """Part 4's check data: 3 genres of 12 synthetic songs, 40 playlists of 6 to 12 songs.

    Returns ``(vocab, encoded, train_pairs, val_pairs)``: the vocabulary (V = 36), the
    encoded playlists, and (targets, contexts, labels) pairs with window 2 and 2
    negatives from the first 34 playlists (seed 1) and the last 6 (seed 2).
    """
    from helpers.skipgrams import skipgram_pairs
    from helpers.synthetic import make_synthetic
    from helpers.vocab import build_vocab

    tiny = make_synthetic(n_genres=3, songs_per_genre=12, n_playlists=40, length_range=(6, 12), seed=11)
    vocab = build_vocab(tiny.playlists, tiny.songs)
    encoded = vocab.encode(tiny.playlists)
    return (vocab, encoded, skipgram_pairs(encoded[:34], 2, 2, vocab.size, seed=1),
            skipgram_pairs(encoded[34:], 2, 2, vocab.size, seed=2))


# Part 4's checks train a dozen tiny models. Keras traces a new model's training and
# validation steps on its first fit (about 0.4 s of a tiny fit's 0.8 s on two CPU cores:
# most of part 4's grading time), so tiny_model hands out one model per shape, put back
# to the state a new one would have. (vocab_size, dim, seed) -> (model, optimizer, weights).
_TINY_MODELS: dict = {}
# Model methods a call of the student's code could replace on the instance; a model that
# has any of them in its own __dict__ is not handed out again.
_FIT_METHODS = frozenset({"fit", "evaluate", "predict", "train_step", "test_step", "make_train_function",
                          "make_test_function", "get_weights", "set_weights", "get_layer"})


def tiny_model(vocab_size: int = 36, learning_rate: float = 0.01, seed: int = 0, dim: int = 8):
    """A compiled reference SGNS model (shared table of ``dim``) in the state of a new one:
    the initial weights of ``seed`` and an Adam optimizer at ``learning_rate`` that has
    taken no step.

    The same model object comes back for the same ``(vocab_size, dim, seed)`` while it is
    still as compile_sgns left it (its optimizer, loss and methods), with its weights and
    optimizer variables put back, so Keras reuses the training steps it traced: a fit then
    gives bit-identical weights to a fit of a new model (tests/helpers/test_testkit.py).
    Anything else gets a new model. Do not keep a model across calls.
    """
    from helpers.model import build_sgns, compile_sgns

    key = (int(vocab_size), int(dim), int(seed))
    kept = _TINY_MODELS.get(key)
    if kept is not None:
        model, optimizer, weights = kept
        if (model.optimizer is optimizer and model.compiled and not (_FIT_METHODS & vars(model).keys())
                and all(layer.trainable for layer in model.layers)):
            try:
                model.set_weights(weights)
                for variable in optimizer.variables:
                    variable.assign(np.zeros(variable.shape, variable.dtype))
                optimizer.learning_rate = learning_rate
                return model
            except Exception:  # whatever the student's code did to it: a new model instead
                pass
    model = compile_sgns(build_sgns(vocab_size, dim, seed=seed), learning_rate, jit_compile=False)
    _TINY_MODELS[key] = (model, model.optimizer, [w.copy() for w in model.get_weights()])
    return model


def demo_vocab():
    """Part 5's check vocabulary: five songs, two of them both called "Hurt by Johnny Cash"
    (raw IDs 11 and 12). Returns ``(vocab, vectors float32 (6, 4))``."""
    import pandas as pd

    from helpers.vocab import build_vocab

    songs = pd.DataFrame(
        {"title": ["Fade To Black", "Hurt", "Hurt", "Gucci Time (w/ Swizz Beatz)", "One"],
         "artist": ["Metallica", "Johnny Cash", "Johnny Cash", "Gucci Mane", "Metallica"]},
        index=pd.Index([10, 11, 12, 13, 14], name="song_id"))
    vocab = build_vocab([[10, 11, 12], [13, 14, 10]], songs)
    return vocab, np.random.default_rng(7).normal(size=(vocab.size + 1, 4)).astype(np.float32)


def cosine_example() -> np.ndarray:
    """Part 5's hand-built table, float32 (7, 2). Cosine of each row with row 1 (the query):
    row 0 padding, 1 (and must never be returned); 2: 0; 3: 0.7071; 4: -1; 5: 0.9950;
    6: a zero-length row, which ranks last."""
    return np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 0.0], [2.0, 0.2], [0.0, 0.0]],
                    dtype=np.float32)
