"""Offline evaluation of song recommenders without ratings.

The question asked of every method is the same: given the song a listener just heard on
a held-out playlist, where does the song that actually came next land in the method's
ranking of the whole catalogue?  Playlists are split *by playlist* (a held-out playlist
contributes nothing to training), consecutive pairs ``(a, b)`` of held-out playlists
become ``(query, answer)`` cases, and each method is scored with

* **HR@K** – share of cases whose answer is among the top ``K`` songs;
* **MRR@K** – mean of ``1/rank`` (rank 1-based), counting 0 when the rank exceeds ``K``;
* **coverage** – distinct songs appearing in any top-``K`` list, divided by ``V``:
  a method that always proposes the same hits scores low here.

A method is anything following the :class:`Scorer` protocol (see ``helpers.baselines``):
``scores(queries)`` returns one row of ``V + 1`` scores per query, column ``i`` being the
score of song index ``i``.  Column 0 (padding) and the query's own column are never
ranked.  **Ties** are broken by lower song index first, so every result is reproducible
and independent of the batch size.  Scores are compared as float32 (values that differ
only beyond float32 precision tie).  Queries are scored in batches sized so that one
block of scores stays near 64 MiB; at V = 75k ranking costs roughly 1-3 ms per query on two
CPU cores, so :func:`sample_pairs` is handy for quick comparisons.

A second, label-based lens (:func:`neighbour_label_agreement`) asks how often a song's
nearest neighbours share one of its Last.fm tags (or its genre on synthetic data),
compared with what random neighbours would give.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = [
    "Scorer",
    "EvalSplit",
    "split_by_playlist",
    "heldout_pairs",
    "sample_pairs",
    "check_queries",
    "auto_batch",
    "rank_of",
    "top_k",
    "hit_rate_mrr",
    "evaluate_methods",
    "split_and_encode",
    "neighbour_label_agreement",
    "tags_by_index",
    "SKIP_REASONS",
]

#: Reasons a held-out pair can be left out, in the order they are tested.
SKIP_REASONS = ("query_unknown", "answer_unknown", "repeat")

# One batch of scores holds at most this many float32 values (64 MiB); ranking adds a
# uint64 key per score (128 MiB) and small temporaries, so a batch needs ~250 MB at most.
_SCORE_BUDGET = 2**24
_MAX_BATCH = 1024


@runtime_checkable
class Scorer(Protocol):
    """What :func:`hit_rate_mrr` needs from a recommender.

    ``scores(queries)`` takes int32 song indices of shape ``(B,)`` (values ``1..V``) and
    returns float32 scores of shape ``(B, V + 1)``; higher means "more likely next".
    Scores must be finite.  Columns 0 and the query are ignored by the ranking.
    """

    name: str

    def scores(self, queries: np.ndarray) -> np.ndarray: ...


# --------------------------------------------------------------------------- splitting


def split_by_playlist(
    playlists: Sequence[Any], test_fraction: float = 0.1, seed: int = 0
) -> tuple[list, list]:
    """Split whole playlists into a training side and a held-out side.

    ``round(len(playlists) * test_fraction)`` playlists, drawn by a permutation from
    ``numpy.random.default_rng(seed)``, go to the held-out side; each side keeps the
    original playlist order.  The items are returned as they are (not copied), so any
    list works: raw-ID arrays, encoded arrays, or lists of names.

    Returns ``(train, test)``, two lists that together hold every playlist exactly once.
    Raises ``ValueError`` when ``test_fraction`` is not strictly between 0 and 1 or when
    either side would be empty.
    """
    if isinstance(playlists, (str, bytes)) or not hasattr(playlists, "__len__"):
        raise TypeError(
            f"playlists must be a list of arrays, got {type(playlists).__name__}"
        )
    try:
        fraction = float(test_fraction)
    except (TypeError, ValueError):
        raise TypeError(f"test_fraction must be a number, got {test_fraction!r}") from None
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}")
    n = len(playlists)
    n_test = int(round(n * fraction))
    if n_test == 0 or n_test == n:
        raise ValueError(
            f"test_fraction={test_fraction!r} of {n} playlists leaves "
            f"{n - n_test} for training and {n_test} held out; both sides must be non-empty"
        )
    order = np.random.default_rng(seed).permutation(n)
    is_test = np.zeros(n, dtype=bool)
    is_test[order[:n_test]] = True
    train = [playlists[i] for i in np.flatnonzero(~is_test)]
    test = [playlists[i] for i in np.flatnonzero(is_test)]
    return train, test


def _lookup_table(raw_to_idx: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted raw IDs and their indices, for vectorised lookups with searchsorted."""
    if not isinstance(raw_to_idx, Mapping):
        raise TypeError(
            f"raw_to_idx must be a mapping raw song ID -> index, got {type(raw_to_idx).__name__}"
        )
    keys = np.fromiter(raw_to_idx.keys(), dtype=np.int64, count=len(raw_to_idx))
    vals = np.fromiter(raw_to_idx.values(), dtype=np.int64, count=len(raw_to_idx))
    order = np.argsort(keys, kind="stable")
    return keys[order], vals[order]


def heldout_pairs(
    test_playlists_raw: Sequence[np.ndarray], raw_to_idx: Mapping[int, int]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Next-song cases ``(query, answer)`` from held-out playlists.

    Every consecutive pair ``(a, b)`` of raw song IDs inside one playlist is a candidate
    (pairs never straddle two playlists; playlists shorter than 2 give none).  A pair is
    skipped, and counted under the first reason that applies, when

    * ``"query_unknown"``: ``a`` is not a key of ``raw_to_idx`` (no vector to ask with);
    * ``"answer_unknown"``: ``b`` is not a key (no method could ever rank it);
    * ``"repeat"``: ``a == b`` (the query itself is never ranked).

    Parameters
    ----------
    test_playlists_raw : list of int arrays (L,), raw song IDs.
    raw_to_idx : mapping raw ID -> index ``1..V`` of the *training* vocabulary.

    Returns
    -------
    queries, answers : int32 arrays (M,) of song indices, in playlist order.
    skipped : dict with every key of :data:`SKIP_REASONS` (counts, possibly 0).
    """
    keys, vals = _lookup_table(raw_to_idx)
    arrays = [np.asarray(p) for p in test_playlists_raw]
    for i, p in enumerate(arrays):
        if p.ndim != 1 or (p.size and not np.issubdtype(p.dtype, np.integer)):
            raise ValueError(
                f"held-out playlist {i} must be a 1-D array of integer song IDs, "
                f"got dtype {p.dtype} and shape {p.shape}"
            )
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    empty = np.zeros(0, dtype=np.int32)
    if not arrays:
        return empty, empty.copy(), skipped
    flat = np.concatenate([p.astype(np.int64, copy=False) for p in arrays])
    owner = np.repeat(np.arange(len(arrays)), [p.size for p in arrays])
    if flat.size < 2:
        return empty, empty.copy(), skipped

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
    return queries, answers, skipped


def sample_pairs(
    queries: np.ndarray, answers: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of ``n`` cases (all of them when ``n >= M``), in original order.

    Scoring every held-out pair of the full catalogue takes minutes per method; a few
    thousand cases give HR@10 to about +-0.01, enough to compare methods in a notebook.
    """
    q, a = np.asarray(queries), np.asarray(answers)
    if q.ndim != 1 or a.shape != q.shape:
        raise ValueError(
            f"queries and answers must be 1-D arrays of equal length, got {q.shape} and {a.shape}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n >= q.size:
        return q.copy(), a.copy()
    keep = np.sort(np.random.default_rng(seed).choice(q.size, size=int(n), replace=False))
    return q[keep], a[keep]


# --------------------------------------------------------------------------- ranking


def check_queries(queries: Any, vocab_size: int, what: str = "queries") -> np.ndarray:
    """Validate song indices: 1-D integers in ``1..vocab_size``; returns an int64 array."""
    q = np.asarray(queries)
    if q.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of song indices, got shape {q.shape}")
    if q.size and not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"{what} must hold integer song indices, got dtype {q.dtype}")
    q = q.astype(np.int64, copy=False)
    if q.size and (q.min() < 1 or q.max() > vocab_size):
        bad = q[(q < 1) | (q > vocab_size)][0]
        raise ValueError(
            f"{what} must be song indices in 1..{vocab_size} (0 is padding), found {bad}"
        )
    return q


def auto_batch(vocab_size: int, budget: int = _SCORE_BUDGET) -> int:
    """Queries per batch so that one ``(B, V+1)`` float32 block stays within ``budget`` values."""
    return int(max(1, min(_MAX_BATCH, budget // (int(vocab_size) + 1))))


def _masked(scores: Any, queries: Any) -> tuple[np.ndarray, np.ndarray]:
    """Float32 copy of ``scores`` with column 0 and each row's query set to -inf.

    Returns the copy and the validated int64 queries.
    """
    s = np.array(scores, dtype=np.float32, copy=True, order="C")
    q = np.asarray(queries)
    if s.ndim != 2 or q.ndim != 1 or s.shape[0] != q.shape[0] or s.shape[1] < 3:
        raise ValueError(
            f"scores must have shape (len(queries), V+1) with V >= 2, got scores {s.shape} "
            f"for queries of shape {q.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite; found NaN or infinity")
    q = check_queries(q, s.shape[1] - 1)
    s += 0.0  # turns -0.0 into +0.0, so the integer keys below tie them as floats do
    # Excluded entries go strictly below every finite score, so they never rank or tie.
    s[:, 0] = -np.inf
    s[np.arange(s.shape[0]), q] = -np.inf
    return s, q


def _check_answers(answers: Any, q: np.ndarray, vocab_size: int) -> np.ndarray:
    a = check_queries(answers, vocab_size, "answers")
    if a.shape != q.shape:
        raise ValueError(f"answers shape {a.shape} differs from queries shape {q.shape}")
    if np.any(a == q):
        raise ValueError(
            "an answer equals its query, but the query is never ranked; drop repeats "
            "(heldout_pairs does)"
        )
    return a


_LOW32 = np.uint64(0xFFFFFFFF)


def _keys(s: np.ndarray) -> np.ndarray:
    """uint64 (B, n) keys, all distinct within a row, ordered like (score, -index).

    The high 32 bits are the float32 score's bits remapped so that unsigned order equals
    numeric order; the low 32 bits hold ``n - index``.  A larger key therefore means a
    higher score, or an equal score at a lower index, which is the tie rule.  Distinct
    keys also keep ``partition`` fast on rows where most scores are equal (sparse rows),
    where partitioning the floats themselves degrades badly.
    """
    bits = s.view(np.uint32)
    # Negative floats: flip all bits; others: flip only the sign bit.
    flip = (s.view(np.int32) >> 31).view(np.uint32) | np.uint32(0x80000000)
    key = np.empty(s.shape, dtype=np.uint64)
    key[...] = bits ^ flip
    key <<= np.uint64(32)
    key |= (s.shape[1] - np.arange(s.shape[1], dtype=np.uint64))[None, :]
    return key


def _ranks_masked(s: np.ndarray, answers: np.ndarray) -> np.ndarray:
    key = _keys(s)
    ka = key[np.arange(s.shape[0]), answers][:, None]
    return (1 + np.count_nonzero(key > ka, axis=1)).astype(np.int64)


def _top_k_masked(s: np.ndarray, k: int) -> np.ndarray:
    n = s.shape[1]
    key = _keys(s)
    key.partition(n - k, axis=1)  # in place: the k largest keys end up last
    top = np.sort(key[:, n - k :], axis=1)[:, ::-1]
    return (n - (top & _LOW32)).astype(np.int64)


def _check_k(k: int, vocab_size: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {k!r}")
    if not 1 <= k <= vocab_size - 1:
        raise ValueError(
            f"k must be between 1 and V-1 = {vocab_size - 1} (the query is never ranked), got {k}"
        )
    return int(k)


def rank_of(scores: np.ndarray, queries: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """1-based rank of each answer in its row, ignoring column 0 and the row's query.

    Parameters
    ----------
    scores : float array (B, V+1), finite.
    queries, answers : int arrays (B,) of song indices in ``1..V``; ``answers != queries``.

    Returns int64 (B,).  Ties are broken by lower song index first.
    """
    s, q = _masked(scores, queries)
    a = _check_answers(answers, q, s.shape[1] - 1)
    return _ranks_masked(s, a)


def top_k(scores: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best songs per row, best first; never 0 nor the row's query.

    Parameters: ``scores`` float (B, V+1), ``queries`` int (B,).  Returns int64 (B, k).
    Ties are broken by lower song index first.
    """
    s, _ = _masked(scores, queries)
    k = _check_k(k, s.shape[1] - 1)
    return _top_k_masked(s, k)


def hit_rate_mrr(
    scorer: Scorer,
    queries: np.ndarray,
    answers: np.ndarray,
    k: int = 10,
    batch: int | None = None,
) -> dict[str, float]:
    """HR@K, MRR@K and catalogue coverage of one scorer on next-song cases.

    Parameters
    ----------
    scorer : object with ``scores(queries int32 (B,)) -> float32 (B, V+1)``.
    queries, answers : int arrays (M,), song indices ``1..V``, ``answers != queries``.
    k : cut-off K.
    batch : queries scored at once; default keeps each score block near 128 MiB.

    Returns ``{"hr", "mrr", "coverage", "n"}``: floats in [0, 1] and the number of cases.
    Ties are broken by lower song index first (see the module docstring).
    """
    q = np.asarray(queries)
    a = np.asarray(answers)
    if q.ndim != 1 or a.shape != q.shape:
        raise ValueError(
            f"queries and answers must be 1-D arrays of equal length, got {q.shape} and {a.shape}"
        )
    if q.size == 0:
        raise ValueError("no (query, answer) pairs to evaluate; got empty arrays")
    for arr, what in ((q, "queries"), (a, "answers")):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{what} must hold integer song indices, got dtype {arr.dtype}")
    if not hasattr(scorer, "scores"):
        raise TypeError(f"scorer must have a scores(queries) method, got {type(scorer).__name__}")
    if batch is not None and (isinstance(batch, bool) or int(batch) != batch or batch < 1):
        raise ValueError(f"batch must be a positive integer or None, got {batch!r}")
    q32 = q.astype(np.int32, copy=False)
    if batch is None:
        # One probe row tells V, which sizes the batches.
        batch = auto_batch(np.shape(scorer.scores(q32[:1]))[-1] - 1)
    hits = 0
    recip = 0.0
    seen: np.ndarray | None = None
    for start in range(0, q.size, int(batch)):
        qb = q32[start : start + int(batch)]
        s, qi = _masked(scorer.scores(qb), qb)
        v = s.shape[1] - 1
        kk = _check_k(k, v)
        ai = _check_answers(a[start : start + int(batch)], qi, v)
        top = _top_k_masked(s, kk)
        # The answer's position in the top-k list is its rank (same tie rule as rank_of).
        match = top == ai[:, None]
        found = match.any(axis=1)
        ranks = np.argmax(match, axis=1)[found] + 1
        hits += int(found.sum())
        recip += float((1.0 / ranks).sum())
        if seen is None:
            seen = np.zeros(v + 1, dtype=bool)
        elif seen.size != v + 1:
            raise ValueError(f"scorer changed V between batches: {seen.size - 1} then {v}")
        seen[top.ravel()] = True
    assert seen is not None
    v = seen.size - 1
    return {
        "hr": hits / q.size,
        "mrr": recip / q.size,
        "coverage": int(seen.sum()) / v,
        "n": int(q.size),
    }


def evaluate_methods(
    scorers: Iterable[Scorer],
    queries: np.ndarray,
    answers: np.ndarray,
    k: int = 10,
    batch: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """One row per scorer: ``method``, ``HR@k``, ``MRR@k``, ``coverage``, ``seconds``.

    ``seconds`` is the wall time spent scoring and ranking that method (for orientation
    only; it depends on the machine). ``progress=True`` prints a line after each method
    (see :mod:`helpers.progress`).
    """
    rows = []
    names: set[str] = set()
    if progress:
        from helpers.progress import report

        scorers = report(scorers, "evaluated", name=lambda s: getattr(s, "name", "?"))
    for scorer in scorers:
        name = getattr(scorer, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"every scorer needs a non-empty str name, got {name!r}")
        if name in names:
            raise ValueError(f"two scorers share the name {name!r}; names must be unique")
        names.add(name)
        t0 = time.perf_counter()
        res = hit_rate_mrr(scorer, queries, answers, k=k, batch=batch)
        rows.append(
            {
                "method": name,
                f"HR@{k}": res["hr"],
                f"MRR@{k}": res["mrr"],
                "coverage": res["coverage"],
                "seconds": time.perf_counter() - t0,
            }
        )
    if not rows:
        raise ValueError("scorers is empty; pass at least one scorer")
    return pd.DataFrame(rows, columns=["method", f"HR@{k}", f"MRR@{k}", "coverage", "seconds"])


# --------------------------------------------------------------------------- convenience


@dataclass(frozen=True)
class EvalSplit:
    """A playlist split ready for evaluation.

    ``vocab`` is built on ``train_raw`` only; ``train_encoded`` are int32 index arrays;
    ``queries``/``answers`` int32 (M,) come from ``test_raw`` (see :func:`heldout_pairs`),
    ``skipped`` counts the held-out pairs left out, per reason.
    """

    train_raw: list
    test_raw: list
    vocab: Any
    train_encoded: list
    queries: np.ndarray
    answers: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)


def split_and_encode(
    dataset_or_playlists: Any, test_fraction: float = 0.1, seed: int = 0
) -> EvalSplit:
    """Split raw playlists, build the training vocabulary and the held-out cases.

    Accepts a ``helpers.data.Dataset`` (its ``songs`` table names the songs) or a plain
    list of raw-ID int64 arrays.  Only songs that occur in the training playlists count
    as known, even if the song table lists more.
    """
    from helpers.vocab import build_vocab  # built by another stage; imported when needed

    songs = getattr(dataset_or_playlists, "songs", None)
    playlists = getattr(dataset_or_playlists, "playlists", dataset_or_playlists)
    train_raw, test_raw = split_by_playlist(playlists, test_fraction, seed)
    vocab = build_vocab(train_raw, songs) if songs is not None else build_vocab(train_raw)
    counts = np.asarray(vocab.counts)
    known = {raw: i for raw, i in vocab.raw_to_idx().items() if counts[i] > 0}
    queries, answers, skipped = heldout_pairs(test_raw, known)
    train_encoded = vocab.encode(train_raw)
    return EvalSplit(train_raw, test_raw, vocab, train_encoded, queries, answers, skipped)


# --------------------------------------------------------------------------- label lens


def _label_matrix(labels_per_idx: Sequence[Iterable]):
    from scipy import sparse

    vocab: dict[Any, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, labs in enumerate(labels_per_idx):
        if labs is None or i == 0:  # padding never carries labels
            continue
        if isinstance(labs, (str, bytes)) or not isinstance(labs, Iterable):
            raise TypeError(
                f"labels_per_idx[{i}] must be a set of labels (e.g. frozenset of tags), "
                f"got {labs!r}"
            )
        for lab in set(labs):
            rows.append(i)
            cols.append(vocab.setdefault(lab, len(vocab)))
    n = len(labels_per_idx)
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, max(1, len(vocab))))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # A zero vector has no direction: give it cosine 0 with everything instead of NaN.
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def neighbour_label_agreement(
    vectors: np.ndarray,
    labels_per_idx: Sequence[Iterable],
    k: int = 10,
    sample: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """How often a song's top-``k`` cosine neighbours share one of its labels.

    Parameters
    ----------
    vectors : float array (V+1, d); row 0 is padding and never a neighbour.
    labels_per_idx : sequence of length V+1; item ``i`` is a set of labels of song ``i``
        (Last.fm tags, or ``{genre}``); empty or None when unknown.
    k : neighbours per query (cosine, excluding 0 and the query; ties by lower index).
    sample : evaluate only this many labelled queries, drawn with ``default_rng(seed)``.

    Returns ``{"share", "chance", "lift", "n"}``:

    * ``share`` – mean over labelled queries of the fraction of their ``k`` neighbours
      that have at least one label in common with the query (an unlabelled neighbour
      counts as not sharing);
    * ``chance`` – the exact expectation of the same quantity when the ``k`` neighbours
      are drawn uniformly without replacement among the other ``V - 1`` songs: for each
      query, (songs sharing a label with it) / (V - 1), averaged over the same queries;
    * ``lift`` – ``share / chance`` (NaN when chance is 0);
    * ``n`` – number of queries evaluated.
    """
    vec = np.asarray(vectors, dtype=np.float32)
    if vec.ndim != 2 or vec.shape[0] < 3:
        raise ValueError(f"vectors must have shape (V+1, d) with V >= 2, got {vec.shape}")
    v = vec.shape[0] - 1
    if len(labels_per_idx) != v + 1:
        raise ValueError(
            f"labels_per_idx must have length V+1 = {v + 1} (index 0 is padding), "
            f"got {len(labels_per_idx)}"
        )
    k = _check_k(k, v)
    if not np.isfinite(vec).all():
        raise ValueError("vectors must be finite; found NaN or infinity")
    lab = _label_matrix(labels_per_idx)
    n_labels = np.diff(lab.indptr)
    candidates = np.flatnonzero(n_labels[1:] > 0) + 1
    if candidates.size == 0:
        raise ValueError("no song in labels_per_idx has a label; nothing to measure")
    if sample is not None:
        if int(sample) < 1:
            raise ValueError(f"sample must be a positive integer or None, got {sample!r}")
        if sample < candidates.size:
            rng = np.random.default_rng(seed)
            candidates = np.sort(rng.choice(candidates, size=int(sample), replace=False))
    unit = _unit_rows(vec)
    lab_t = lab.T.tocsr()
    # The label product below is sparse but can be dense-ish for common tags: small batches.
    step = auto_batch(v, budget=2**23)
    share_sum = 0.0
    chance_sum = 0.0
    for start in range(0, candidates.size, step):
        qb = candidates[start : start + step]
        sims = unit[qb] @ unit.T
        nbrs = top_k(sims, qb, k)
        common = (lab[qb] @ lab_t).toarray() > 0  # (B, V+1): shares >= 1 label
        common[:, 0] = False
        shared = np.take_along_axis(common, nbrs, axis=1)
        share_sum += float(shared.mean(axis=1).sum())
        # The query shares with itself; remove it from the pool of possible neighbours.
        others = common.sum(axis=1) - 1
        chance_sum += float((others / (v - 1)).sum())
    n = int(candidates.size)
    share = share_sum / n
    chance = chance_sum / n
    lift = share / chance if chance > 0 else float("nan")
    return {"share": share, "chance": chance, "lift": lift, "n": n}


def tags_by_index(vocab: Any, songs: pd.DataFrame, column: str = "tags") -> list[frozenset]:
    """Labels per song index from the song table, for :func:`neighbour_label_agreement`.

    ``vocab`` needs ``size`` and ``raw_ids`` (int64 (V,)); ``songs`` is indexed by raw
    song ID.  ``column="tags"`` turns each tuple of tag names into a frozenset;
    a scalar column such as ``"genre"`` gives one-element sets.  Missing songs or
    missing values give an empty set.  Returns a list of length ``V + 1`` (index 0 empty).
    """
    if not isinstance(songs, pd.DataFrame):
        raise TypeError(f"songs must be a pandas DataFrame, got {type(songs).__name__}")
    if column not in songs.columns:
        raise ValueError(
            f"songs has no column {column!r}; available columns: {list(songs.columns)}"
        )
    raw_ids = np.asarray(vocab.raw_ids, dtype=np.int64)
    if raw_ids.shape != (int(vocab.size),):
        raise ValueError(
            f"vocab.raw_ids must have shape (V,) = ({vocab.size},), got {raw_ids.shape}"
        )
    col = songs[column]
    if not col.index.is_unique:
        col = col[~col.index.duplicated(keep="first")]
    values = col.reindex(raw_ids).tolist()
    out: list[frozenset] = [frozenset()]
    for val in values:
        if isinstance(val, Iterable) and not isinstance(val, (str, bytes)):
            out.append(frozenset(val))
        elif val is None or pd.isna(val):
            out.append(frozenset())
        else:
            out.append(frozenset([val]))
    return out


# --------------------------------------------------------------------------- saved runs


def evaluate_run(
    run_dir: Any,
    data_dir: Any = None,
    k: int = 10,
    out_dir: Any = None,
    max_pairs: int | None = 20_000,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Score a saved ``songrec train`` run and the baselines on the run's own held-out playlists.

    The split is rebuilt from the settings stored in ``run.json`` (same playlists, same
    fraction, same seed), and the rebuilt training vocabulary must match the run's
    fingerprint, so the embeddings are never scored on playlists they were trained on.
    ``max_pairs`` caps the held-out cases with a seeded sample (ranking 75k songs per case
    is the slow part). Writes ``evaluation.csv`` and ``evaluation.png`` to ``out_dir``
    (default: the run folder), both or neither, under the rule of :mod:`helpers.outdir`
    (a new folder, or one songrec wrote), and returns the table (method, HR@k, MRR@k, coverage,
    seconds) with the number of cases and skipped pairs in ``table.attrs``. ``progress``:
    print a line after each method.
    """
    from types import SimpleNamespace

    from helpers.baselines import CooccurrenceScorer, EmbeddingScorer, PopularityScorer, RandomScorer
    from helpers.errors import RunMismatchError
    from helpers.plots import plot_method_comparison
    from helpers.runs import load_run

    from helpers import outdir

    # Refuse an unusable output folder before the slow part.
    out = outdir.check_target(out_dir if out_dir is not None else run_dir, kinds=("evaluation", "run"),
                              overwrite=True, what="--out")
    outdir.check_files(out, ("evaluation.csv", "evaluation.png"))
    run = load_run(run_dir)
    st = run.settings
    info = st.get("dataset") or {}
    if "val_fraction" not in st or "playlists" not in st or not info:
        raise RunMismatchError(f"{run.path}/run.json lacks the dataset/split settings needed to rebuild its split")
    if info.get("kind") == "synthetic":
        from helpers.synthetic import make_synthetic

        ds = make_synthetic(seed=info.get("synthetic_seed", 0))
    else:
        from helpers.data import find_data_dir, load_cornell

        where = find_data_dir(data_dir)
        if where is None:
            raise FileNotFoundError("this run was trained on the Cornell data: pass --data-dir or set SONGREC_DATA_DIR")
        ds = load_cornell(where, info.get("variant", "yes_complete"))
    playlists = [p for p in ds.playlists if len(p) >= 2][: st["playlists"]]
    split = split_and_encode(SimpleNamespace(playlists=playlists, songs=ds.songs),
                             st["val_fraction"], st.get("split_seed", st.get("seed", 0)))
    if split.vocab.fingerprint() != run.vocab.fingerprint():
        raise RunMismatchError(
            f"the rebuilt training vocabulary ({split.vocab.size} songs) differs from the run's "
            f"({run.vocab.size} songs): the data under {data_dir or 'SONGREC_DATA_DIR'} is not the data it was trained on"
        )
    queries, answers = split.queries, split.answers
    if max_pairs is not None and len(queries) > max_pairs:
        queries, answers = sample_pairs(queries, answers, max_pairs, seed=seed)
    v = run.vocab.size
    scorers = [EmbeddingScorer(run.target_vectors, mode="cosine", name="SGNS cosine (target·target)")]
    if run.context_vectors is not None:
        scorers.append(EmbeddingScorer(run.target_vectors, run.context_vectors, mode="dot",
                                       name="SGNS target·context"))
    scorers += [
        CooccurrenceScorer(split.train_encoded, v, window=1, directed=True, name="co-occurrence (next song)"),
        CooccurrenceScorer(split.train_encoded, v, window=st.get("window", 5), name="co-occurrence (same window)"),
        PopularityScorer(run.vocab.counts),
        RandomScorer(v, seed=seed),
    ]
    table = evaluate_methods(scorers, queries, answers, k=k, progress=progress)
    table.attrs.update({"cases": int(len(queries)), "skipped": dict(split.skipped)})
    # Both files or neither: each is written to a temporary name, then both are renamed.
    outdir.write_output_files(out, {
        "evaluation.csv": lambda path: table.to_csv(path, index=False),
        "evaluation.png": lambda path: plot_method_comparison(table, metric=f"HR@{k}", path=path),
    }, kinds=("evaluation", "run"), kind="evaluation", what="--out")
    return table
