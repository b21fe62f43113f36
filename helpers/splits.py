"""Splitting playlists, and the next-song cases of the held-out side.

One splitter, :func:`split_playlists`, serves training (validation playlists), evaluation
(held-out playlists) and the benchmarks. Its rule: a seeded permutation of the playlists
puts ``round(fraction * n)`` of them on the held-out side; both sides keep the input order
and hold the same objects (nothing is copied, so any list works: raw-ID arrays, encoded
arrays, names); a fraction that would leave either side empty is an error (rather than
silently moving one playlist across).

:func:`heldout_pairs` turns held-out playlists into ``(query, answer)`` cases: consecutive
songs ``(a, b)`` of one playlist; :func:`heldout_cases` gives the same cases with the
songs played before each query (its session, :mod:`helpers.sessions`), for the methods that
read them. :func:`split_and_encode` does the whole preparation for an evaluation: split,
training vocabulary, encoded training side, cases with their sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers.sessions import SESSION_DEPTH, preceding_songs
from helpers.validate import Described, bad_argument, check_int, check_real
from helpers.vocab import build_vocab
from helpers.windows import Windows

__all__ = [
    "split_playlists",
    "heldout_pairs",
    "heldout_cases",
    "sample_pairs",
    "sample_index",
    "EvalSplit",
    "split_and_encode",
    "SKIP_REASONS",
]

#: Reasons a held-out pair can be left out, in the order they are tested.
SKIP_REASONS = ("query_unknown", "answer_unknown", "repeat")


def split_playlists(playlists: Sequence[Any], fraction: float, seed: int) -> tuple[list, list]:
    """Split whole playlists into a kept side and a held-out side.

    ``playlists``: a sequence (list of arrays, of names, ...); ``fraction``: share held out,
    strictly between 0 and 1; ``seed``: int >= 0 for ``numpy.random.default_rng``.
    ``round(len(playlists) * fraction)`` playlists, the first ones of a seeded permutation,
    are held out. Returns ``(kept, held_out)``, two lists that together hold every playlist
    exactly once, each in the input order. Raises ValueError for a bad argument or when
    either side would be empty.
    """
    if isinstance(playlists, (str, bytes, dict)) or not hasattr(playlists, "__len__"):
        raise bad_argument("playlists", "a list of playlists", Described(f"a {type(playlists).__name__}"))
    fraction = check_real("fraction", fraction, 0, 1, low_open=True, high_open=True)
    seed = check_int("seed", seed, 0)
    n = len(playlists)
    n_held = int(round(n * fraction))
    if n_held == 0 or n_held == n:
        raise bad_argument("fraction", f"a share of the {n} playlists that leaves both sides non-empty",
                           Described(f"{fraction!r} ({n - n_held} kept, {n_held} held out)"))
    order = np.random.default_rng(seed).permutation(n)
    held = np.zeros(n, dtype=bool)
    held[order[:n_held]] = True
    return [playlists[i] for i in np.flatnonzero(~held)], [playlists[i] for i in np.flatnonzero(held)]


def _lookup_table(raw_to_idx: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted raw IDs and their indices, for vectorised lookups with searchsorted."""
    if not isinstance(raw_to_idx, Mapping):
        raise bad_argument("raw_to_idx", "a mapping raw song ID -> index", Described(f"a {type(raw_to_idx).__name__}"))
    keys = np.fromiter(raw_to_idx.keys(), dtype=np.int64, count=len(raw_to_idx))
    vals = np.fromiter(raw_to_idx.values(), dtype=np.int64, count=len(raw_to_idx))
    order = np.argsort(keys, kind="stable")
    return keys[order], vals[order]


def heldout_pairs(
    test_playlists_raw: Sequence[np.ndarray], raw_to_idx: Mapping[int, int]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Next-song cases ``(query, answer)`` from held-out playlists.

    The cases of :func:`heldout_cases` without their sessions: ``(queries, answers,
    skipped)``.
    """
    queries, answers, _, skipped = heldout_cases(test_playlists_raw, raw_to_idx, depth=1)
    return queries, answers, skipped


def heldout_cases(
    test_playlists_raw: Sequence[np.ndarray], raw_to_idx: Mapping[int, int], depth: int = SESSION_DEPTH
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Next-song cases ``(query, answer)`` from held-out playlists, with their sessions.

    Every consecutive pair ``(a, b)`` of raw song IDs inside one playlist is a candidate
    (pairs never straddle two playlists; playlists shorter than 2 give none).  A pair is
    skipped, and counted under the first reason that applies, when

    * ``"query_unknown"``: ``a`` is not a key of ``raw_to_idx`` (no vector to ask with);
    * ``"answer_unknown"``: ``b`` is not a key (no method could ever rank it);
    * ``"repeat"``: ``a == b`` (the query itself is never ranked).

    ``test_playlists_raw``: list of int arrays (L,) of raw song IDs; ``raw_to_idx``:
    mapping raw ID -> index ``1..V`` of the *training* vocabulary; ``depth``: songs of
    each session. Returns ``(queries, answers, sessions, skipped)``: int32 (M,) song
    indices in playlist order; int32 (M, depth), the query and the songs before it in its
    playlist (:func:`helpers.sessions.preceding_songs`: column 0 = the query, column ``j``
    the song ``j`` places earlier, 0 before the playlist's start or for a song unknown to
    the training vocabulary); and a dict with every key of :data:`SKIP_REASONS` (counts,
    possibly 0).
    """
    depth = check_int("depth", depth, 1)
    keys, vals = _lookup_table(raw_to_idx)
    arrays = [np.asarray(p) for p in test_playlists_raw]
    for i, p in enumerate(arrays):
        if p.ndim != 1 or (p.size and not np.issubdtype(p.dtype, np.integer)):
            raise bad_argument(f"test_playlists_raw[{i}]", "a 1-D array of integer song IDs",
                               Described(f"dtype {p.dtype} shape {p.shape}"))
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    empty = np.zeros(0, dtype=np.int32)
    if sum(p.size for p in arrays) < 2:
        return empty, empty.copy(), np.zeros((0, depth), dtype=np.int32), skipped
    flat = np.concatenate([p.astype(np.int64, copy=False) for p in arrays])
    owner = np.repeat(np.arange(len(arrays)), [p.size for p in arrays])

    if keys.size:
        pos = np.minimum(np.searchsorted(keys, flat), keys.size - 1)
        known = keys[pos] == flat
        idx = np.where(known, vals[pos], 0)
    else:
        known = np.zeros(flat.size, dtype=bool)
        idx = np.zeros(flat.size, dtype=np.int64)

    same_list = owner[:-1] == owner[1:]
    a_known, b_known = known[:-1], known[1:]
    q_unknown = same_list & ~a_known
    a_unknown = same_list & a_known & ~b_known
    both = same_list & a_known & b_known
    repeat = both & (flat[:-1] == flat[1:])
    keep = both & ~repeat
    skipped["query_unknown"] = int(q_unknown.sum())
    skipped["answer_unknown"] = int(a_unknown.sum())
    skipped["repeat"] = int(repeat.sum())
    queries = idx[:-1][keep].astype(np.int32)
    answers = idx[1:][keep].astype(np.int32)
    sessions = preceding_songs(idx, Windows([p.size for p in arrays]), np.flatnonzero(keep), depth)
    return queries, answers, sessions, skipped


def sample_pairs(
    queries: np.ndarray, answers: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of ``n`` cases (all of them when ``n >= M``), in original order.

    ``queries``, ``answers``: int (M,); ``n``: int >= 1; ``seed``: for
    ``numpy.random.default_rng``. Scoring every held-out pair of the full catalogue takes
    minutes per method; a few thousand cases give HR@10 to about +-0.01, enough to compare
    methods in a notebook. Returns two arrays (n,) of the input dtypes.
    """
    q, a = np.asarray(queries), np.asarray(answers)
    if q.ndim != 1 or a.shape != q.shape:
        raise bad_argument("answers", f"a 1-D array of the queries' length {q.shape}",
                           Described(f"shapes {q.shape} and {a.shape}"))
    keep = sample_index(q.size, n, seed)
    return q[keep], a[keep]


def sample_index(m: int, n: int, seed: int = 0) -> np.ndarray:
    """Which of ``m`` cases :func:`sample_pairs` keeps: int64 (min(n, m),), ascending.

    ``n``: int >= 1; ``seed``: for ``numpy.random.default_rng``. Index the cases' sessions
    with it to keep them with their cases.
    """
    n = check_int("n", n, 1)
    if n >= m:
        return np.arange(m)
    return np.sort(np.random.default_rng(seed).choice(m, size=int(n), replace=False))


@dataclass(frozen=True)
class EvalSplit:
    """A playlist split ready for evaluation.

    ``vocab`` is built on ``train_raw`` only; ``train_encoded`` are int32 index arrays;
    ``queries``/``answers`` int32 (M,) come from ``test_raw`` (see :func:`heldout_cases`),
    ``skipped`` counts the held-out pairs left out, per reason, ``sessions`` int32
    (M, SESSION_DEPTH) holds each query and the songs before it.
    """

    train_raw: list
    test_raw: list
    vocab: Any
    train_encoded: list
    queries: np.ndarray
    answers: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)
    sessions: np.ndarray | None = None


def split_and_encode(dataset_or_playlists: Any, test_fraction: float, seed: int) -> EvalSplit:
    """Split raw playlists, build the training vocabulary and the held-out cases.

    Accepts a ``helpers.data.Dataset`` (its ``songs`` table names the songs) or a plain
    list of raw-ID int64 arrays; ``test_fraction`` and ``seed`` go to
    :func:`split_playlists`. Only songs that occur in the training playlists count as
    known, even if the song table lists more.
    """
    songs = getattr(dataset_or_playlists, "songs", None)
    playlists = getattr(dataset_or_playlists, "playlists", dataset_or_playlists)
    train_raw, test_raw = split_playlists(playlists, test_fraction, seed)
    vocab = build_vocab(train_raw, songs) if songs is not None else build_vocab(train_raw)
    counts = np.asarray(vocab.counts)
    known = {raw: i for raw, i in vocab.raw_to_idx().items() if counts[i] > 0}
    queries, answers, sessions, skipped = heldout_cases(test_raw, known)
    train_encoded = vocab.encode(train_raw)
    return EvalSplit(train_raw, test_raw, vocab, train_encoded, queries, answers, skipped, sessions)
