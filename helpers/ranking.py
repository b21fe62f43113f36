"""Ranking songs by score: the one set of rules every recommendation and metric uses.

A *score table* is float (B, V+1): row ``r`` scores every song index for query ``r``,
column ``i`` being song index ``i``. The rules:

* **never ranked**: column 0 (padding) and the row's own query, plus any ``exclude``d
  index; they fall below every other song, whatever their score;
* **ties**: equal scores (compared as float32; ``-0.0 == 0.0``) rank the lower song index
  first, so results never depend on the batch size or the sort algorithm;
* **zero-norm vectors**: a vector of norm 0 has no direction, so its cosine with every
  vector is 0 (:func:`unit_rows` leaves it at zero). :func:`helpers.recommend.top_n`
  refuses such a vector as a *query* (every answer would be arbitrary); as a candidate it
  simply scores 0.

:mod:`helpers.recommend` (``songrec recommend``), :mod:`helpers.baselines` and
:mod:`helpers.metrics` (``songrec evaluate``) all rank through :func:`top_k` and
:func:`rank_of`, and compute cosines with :func:`cosine_scores`, so the two commands agree
on the same vectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from helpers.validate import Described, bad_argument, check_int

# One batch of scores holds at most this many float32 values (64 MiB); ranking adds a
# uint64 key per score (128 MiB) and small temporaries, so a batch needs ~250 MB at most.
SCORE_BUDGET = 2**24
MAX_BATCH = 1024

_LOW32 = np.uint64(0xFFFFFFFF)


def check_queries(queries: Any, vocab_size: int, name: str = "queries") -> np.ndarray:
    """Song indices: a 1-D integer array of values in ``1..vocab_size``; returned as int64.

    Raises ValueError naming the first value at fault.
    """
    q = np.asarray(queries)
    if q.ndim != 1 or (q.size and not np.issubdtype(q.dtype, np.integer)):
        raise bad_argument(name, "a 1-D array of integer song indices", Described(f"dtype {q.dtype} shape {q.shape}"))
    q = q.astype(np.int64, copy=False)
    if q.size and (q.min() < 1 or q.max() > vocab_size):
        bad = int(q[(q < 1) | (q > vocab_size)][0])
        raise bad_argument(name, f"song indices in 1..{vocab_size} (0 is padding)", bad)
    return q


def check_table(vectors: Any, name: str = "vectors") -> np.ndarray:
    """An embedding table: float (V+1, d) with V >= 2 and finite song rows (row 0, the
    padding row, is never ranked and may hold anything). Returns it as float32."""
    t = np.asarray(vectors)
    if t.ndim != 2 or t.shape[0] < 3 or t.shape[1] < 1 or not np.issubdtype(t.dtype, np.number):
        raise bad_argument(name, "a float table of shape (V+1, dim) with V >= 2",
                           Described(f"dtype {t.dtype} shape {t.shape}"))
    t = t.astype(np.float32, copy=False)
    bad = ~np.isfinite(t[1:]).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise bad_argument(name, "finite (the model diverged?)", Described(f"NaN or inf in row {row}"))
    return t


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to norm 1, in float64; a zero row stays zero (cosine 0 with everything).

    ``vectors``: float (n, d). Returns float64 (n, d).
    """
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def cosine_scores(unit: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Cosine of each query's vector with every row: float32 (B, V+1).

    ``unit``: float64 (V+1, d) from :func:`unit_rows`; ``queries``: int (B,). Computed in
    float64 and rounded once, so a query scores the same alone or in any batch.
    """
    return (unit[np.asarray(queries)] @ unit.T).astype(np.float32)


def auto_batch(vocab_size: int, budget: int = SCORE_BUDGET) -> int:
    """Queries per batch so that one ``(B, V+1)`` float32 block stays within ``budget`` values."""
    return int(max(1, min(MAX_BATCH, budget // (int(vocab_size) + 1))))


def check_k(k: Any, vocab_size: int, name: str = "k") -> int:
    """A list length: an int in ``1..V-1`` (the query itself is never ranked)."""
    return check_int(name, k, 1, vocab_size - 1)


def _keys(scores: Any, queries: Any, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """uint64 (B, V+1) keys, distinct within a row, ordered like (score, -index); the
    never-ranked entries get key 0, below every other.

    The high 32 bits are the float32 score's bits remapped so that unsigned order equals
    numeric order; the low 32 bits hold ``V + 1 - index`` (never 0). A larger key therefore
    means a higher score, or an equal score at a lower index: the tie rule. Distinct keys
    also keep ``partition`` fast on rows where most scores are equal (sparse rows), where
    partitioning the floats themselves degrades badly. Returns the keys and the validated
    int64 queries.
    """
    s = np.array(scores, dtype=np.float32, copy=True, order="C")
    q = np.asarray(queries)
    if s.ndim != 2 or q.ndim != 1 or s.shape[0] != q.shape[0] or s.shape[1] < 3:
        raise bad_argument("scores", "an array of shape (len(queries), V+1) with V >= 2",
                           Described(f"shape {s.shape} for queries of shape {q.shape}"))
    if np.isnan(s).any():
        raise bad_argument("scores", "free of NaN", Described("NaN"))
    q = check_queries(q, s.shape[1] - 1)
    s += 0.0  # turns -0.0 into +0.0, so the integer keys below tie them as floats do
    bits = s.view(np.uint32)
    # Negative floats: flip all bits; others: flip only the sign bit.
    flip = (s.view(np.int32) >> 31).view(np.uint32) | np.uint32(0x80000000)
    key = np.empty(s.shape, dtype=np.uint64)
    key[...] = bits ^ flip
    key <<= np.uint64(32)
    key |= (s.shape[1] - np.arange(s.shape[1], dtype=np.uint64))[None, :]
    key[:, 0] = 0
    key[np.arange(s.shape[0]), q] = 0
    blocked = check_queries(np.unique(np.asarray(list(exclude), dtype=np.int64)), s.shape[1] - 1, "exclude")
    if blocked.size:
        key[:, blocked] = 0
    return key, q


def _top_of_keys(key: np.ndarray, k: int) -> np.ndarray:
    n = key.shape[1]
    part = np.partition(key, n - k, axis=1)  # the k largest keys end up last
    top = np.sort(part[:, n - k:], axis=1)[:, ::-1]
    return (n - (top & _LOW32)).astype(np.int64)


def top_k(scores: Any, queries: Any, k: int, exclude: Iterable[int] = ()) -> np.ndarray:
    """Indices of the ``k`` best songs per row, best first: int64 (B, k).

    ``scores``: float (B, V+1), no NaN; ``queries``: int (B,) song indices, never ranked in
    their row; ``exclude``: song indices never ranked in any row. Ties: lower index first.
    Raises ValueError when ``k`` exceeds the songs that can be ranked in some row.
    """
    blocked = np.unique(np.asarray(list(exclude), dtype=np.int64))
    key, q = _keys(scores, queries, blocked.tolist())
    v = key.shape[1] - 1
    rankable = v - blocked.size - (~np.isin(q, blocked)).astype(np.int64)
    k = check_int("k", k, 1, int(rankable.min(initial=v - 1)))
    return _top_of_keys(key, k)


def rank_of(scores: Any, queries: Any, answers: Any) -> np.ndarray:
    """1-based rank of each answer in its row: int64 (B,).

    ``scores``: float (B, V+1); ``queries``, ``answers``: int (B,) song indices with
    ``answers != queries`` (the query is never ranked). Ties: lower index first.
    """
    key, q = _keys(scores, queries)
    a = check_answers(answers, q, key.shape[1] - 1)
    ka = key[np.arange(key.shape[0]), a][:, None]
    return (1 + np.count_nonzero(key > ka, axis=1)).astype(np.int64)


def check_answers(answers: Any, queries: np.ndarray, vocab_size: int) -> np.ndarray:
    """The songs that came next: int64 (B,) in ``1..V``, one per query and never equal to it."""
    a = check_queries(answers, vocab_size, "answers")
    if a.shape != queries.shape:
        raise bad_argument("answers", f"an array of the queries' shape {queries.shape}", Described(f"shape {a.shape}"))
    if np.any(a == queries):
        raise bad_argument("answers", "different from their queries (the query is never ranked; drop "
                                      "repeats, as helpers.splits.heldout_pairs does)",
                           Described(f"answer {int(a[a == queries][0])} equal to its query"))
    return a


def ranked_lists(scores: Any, queries: Any, answers: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` lists of a batch and each answer's 1-based rank in them (0 when the
    answer is not among the ``k``): ``(int64 (B, k), int64 (B,))``, by the rules above."""
    key, q = _keys(scores, queries)
    v = key.shape[1] - 1
    k = check_k(k, v)
    a = check_answers(answers, q, v)
    top = _top_of_keys(key, k)
    match = top == a[:, None]
    ranks = np.where(match.any(axis=1), np.argmax(match, axis=1) + 1, 0)
    return top, ranks
