"""Metrics of recommenders without ratings: next-song hit rate and a label lens.

The question asked of every method is the same: given the song a listener just heard on
a held-out playlist, where does the song that actually came next land in the method's
ranking of the whole catalogue? Cases come from :func:`helpers.splits.heldout_pairs`;
rankings follow the rules of :mod:`helpers.ranking`. Each method is scored with

* **HR@K** – share of cases whose answer is among the top ``K`` songs;
* **MRR@K** – mean of ``1/rank`` (rank 1-based), counting 0 when the rank exceeds ``K``;
* **coverage** – distinct songs appearing in any top-``K`` list, divided by ``V``:
  a method that always proposes the same hits scores low here.

A method is anything following the :class:`Scorer` protocol (:mod:`helpers.baselines`
and :mod:`helpers.session_scorers` hold the ones songrec ships, :mod:`helpers.scorers` their
registry). A scorer that also has ``session_scores(sessions)`` reads each case's session,
the query and the songs before it (:func:`helpers.splits.heldout_cases`), which the caller
passes as ``sessions``. Queries are scored
in batches sized so that one block of scores stays near 64 MiB; at V = 75k ranking costs
roughly 1-3 ms per query on two CPU cores, so :func:`helpers.splits.sample_pairs` is handy
for quick comparisons.

A second, label-based lens (:func:`neighbour_label_agreement`) asks how often a song's
nearest neighbours share one of its Last.fm tags (or its genre on synthetic data),
compared with what random neighbours would give.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from helpers.ranking import (
    auto_batch,
    check_k,
    check_table,
    cosine_scores,
    ranked_lists,
    top_k,
    unit_rows,
)
from helpers.validate import Described, bad_argument, check_int

__all__ = [
    "Scorer",
    "check_case_sessions",
    "hit_rate_mrr",
    "evaluate_methods",
    "neighbour_label_agreement",
    "tags_by_index",
]


@runtime_checkable
class Scorer(Protocol):
    """What :func:`hit_rate_mrr` needs from a recommender.

    ``scores(queries)`` takes int32 song indices of shape ``(B,)`` (values ``1..V``) and
    returns float32 scores of shape ``(B, V + 1)``; higher means "more likely next".
    Scores must be finite.  Columns 0 and the query are ignored by the ranking. A
    session scorer adds ``session_scores(sessions int (B, H)) -> float32 (B, V + 1)``
    (column 0 of ``sessions`` = the queries).
    """

    name: str

    def scores(self, queries: np.ndarray) -> np.ndarray: ...


def _score_block(scorer: Scorer, queries: np.ndarray, sessions: np.ndarray | None) -> np.ndarray:
    if hasattr(scorer, "session_scores"):
        return scorer.session_scores(sessions)
    return scorer.scores(queries)


def check_case_sessions(sessions: Any, queries: np.ndarray, scorers: Sequence[Any]) -> np.ndarray | None:
    """The cases' sessions, checked against their queries: None when no scorer reads them,
    else an int array (M, H) whose column 0 equals ``queries``. Raises ValueError when a
    session scorer is given no sessions or sessions that do not belong to the queries."""
    readers = [getattr(s, "name", "?") for s in scorers if hasattr(s, "session_scores")]
    if not readers:
        return None
    if sessions is None:
        raise bad_argument("sessions", f"each case's session (helpers.splits.heldout_cases) for {readers[0]!r}, "
                                       f"which reads it", None)
    s = np.asarray(sessions)
    if s.ndim != 2 or s.shape[0] != np.shape(queries)[0] or s.shape[1] < 1 or not np.array_equal(s[:, 0], queries):
        raise bad_argument("sessions", "an array (cases, songs) whose column 0 is the queries",
                           Described(f"shape {s.shape} for {np.shape(queries)[0]} queries"))
    return s


def hit_rate_mrr(
    scorer: Scorer,
    queries: np.ndarray,
    answers: np.ndarray,
    k: int = 10,
    batch: int | None = None,
    sessions: np.ndarray | None = None,
    per_case: bool = False,
) -> dict[str, Any]:
    """HR@K, MRR@K and catalogue coverage of one scorer on next-song cases.

    ``scorer``: an object with ``scores(queries int32 (B,)) -> float32 (B, V+1)``;
    ``queries``, ``answers``: int arrays (M,) of song indices ``1..V``, ``answers !=
    queries``; ``k``: the cut-off K; ``batch``: queries scored at once (default: each score
    block near 64 MiB); ``sessions``: int (M, H), each case's session (column 0 = its
    query), needed by a session scorer and ignored by others. Ties go to the lower song
    index (:mod:`helpers.ranking`).
    Returns ``{"hr", "mrr", "coverage", "n"}``: floats in [0, 1] and the number of cases;
    with ``per_case`` also ``"ranks"``: int64 (M,), each answer's rank (0 beyond K), for
    paired comparisons of methods. Raises ValueError for a bad argument.
    """
    q = np.asarray(queries)
    a = np.asarray(answers)
    if q.ndim != 1 or a.shape != q.shape:
        raise bad_argument("answers", f"a 1-D array of the queries' length {q.shape}",
                           Described(f"shapes {q.shape} and {a.shape}"))
    if q.size == 0:
        raise bad_argument("queries", "at least one (query, answer) case", Described("empty arrays"))
    for arr, what in ((q, "queries"), (a, "answers")):
        if not np.issubdtype(arr.dtype, np.integer):
            raise bad_argument(what, "an array of integer song indices", Described(f"dtype {arr.dtype}"))
    if not hasattr(scorer, "scores"):
        raise bad_argument("scorer", "an object with a scores(queries) method", Described(f"a {type(scorer).__name__}"))
    batch = check_int("batch", batch, 1, allow_none=True)
    q32 = q.astype(np.int32, copy=False)
    sess = check_case_sessions(sessions, q, [scorer])
    if batch is None:
        # One probe row tells V, which sizes the batches.
        batch = auto_batch(np.shape(_score_block(scorer, q32[:1], None if sess is None else sess[:1]))[-1] - 1)
    hits = 0
    recip = 0.0
    seen: np.ndarray | None = None
    all_ranks = np.zeros(q.size, dtype=np.int64)
    for start in range(0, q.size, int(batch)):
        qb = q32[start : start + int(batch)]
        scores = _score_block(scorer, qb, None if sess is None else sess[start : start + int(batch)])
        top, ranks = ranked_lists(scores, qb, a[start : start + int(batch)], k)
        all_ranks[start : start + int(batch)] = ranks
        v = np.shape(scores)[1] - 1
        found = ranks[ranks > 0]
        hits += int(found.size)
        recip += float((1.0 / found).sum())
        if seen is None:
            seen = np.zeros(v + 1, dtype=bool)
        elif seen.size != v + 1:
            raise bad_argument("scorer", f"scores of one width V+1 = {seen.size} in every batch",
                               Described(f"width {v + 1}"))
        seen[top.ravel()] = True
    assert seen is not None
    v = seen.size - 1
    out: dict[str, Any] = {
        "hr": hits / q.size,
        "mrr": recip / q.size,
        "coverage": int(seen.sum()) / v,
        "n": int(q.size),
    }
    if per_case:
        out["ranks"] = all_ranks
    return out


def evaluate_methods(
    scorers: Iterable[Scorer],
    queries: np.ndarray,
    answers: np.ndarray,
    k: int = 10,
    batch: int | None = None,
    progress: bool = False,
    sessions: np.ndarray | None = None,
    ranks: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per scorer: ``method``, ``HR@k``, ``MRR@k``, ``coverage``, ``seconds``.

    ``seconds`` is the wall time spent scoring and ranking that method (for orientation
    only; it depends on the machine). ``progress=True`` prints a line after each method
    (see :mod:`helpers.progress`). ``sessions``: the cases' sessions, for the session
    scorers (see :func:`hit_rate_mrr`). ``ranks``: a dict to fill with each method's
    per-case ranks (int64 (M,), 0 beyond K), for paired comparisons.
    """
    rows = []
    names: set[str] = set()
    if progress:
        from helpers.progress import report

        scorers = report(scorers, "evaluated", name=lambda s: getattr(s, "name", "?"))
    for scorer in scorers:
        name = getattr(scorer, "name", None)
        if not isinstance(name, str) or not name:
            raise bad_argument("scorer.name", "a non-empty str", name)
        if name in names:
            raise bad_argument("scorers", "scorers with distinct names", Described(f"two named {name!r}"))
        names.add(name)
        t0 = time.perf_counter()
        res = hit_rate_mrr(scorer, queries, answers, k=k, batch=batch, sessions=sessions,
                           per_case=ranks is not None)
        if ranks is not None:
            ranks[name] = res["ranks"]
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
        raise bad_argument("scorers", "at least one scorer", Described("none"))
    return pd.DataFrame(rows, columns=["method", f"HR@{k}", f"MRR@{k}", "coverage", "seconds"])


def _label_matrix(labels_per_idx: Sequence[Iterable]):
    from scipy import sparse

    vocab: dict[Any, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, labs in enumerate(labels_per_idx):
        if labs is None or i == 0:  # padding never carries labels
            continue
        if isinstance(labs, (str, bytes)) or not isinstance(labs, Iterable):
            raise bad_argument(f"labels_per_idx[{i}]", "a set of labels (e.g. a frozenset of tags)", labs)
        for lab in set(labs):
            rows.append(i)
            cols.append(vocab.setdefault(lab, len(vocab)))
    n = len(labels_per_idx)
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, max(1, len(vocab))))


def neighbour_label_agreement(
    vectors: np.ndarray,
    labels_per_idx: Sequence[Iterable],
    k: int = 10,
    sample: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """How often a song's top-``k`` cosine neighbours share one of its labels.

    ``vectors``: float (V+1, d), row 0 is padding and never a neighbour;
    ``labels_per_idx``: sequence of length V+1, item ``i`` a set of labels of song ``i``
    (Last.fm tags, or ``{genre}``), empty or None when unknown; ``k``: neighbours per query
    (cosine, ranked by :mod:`helpers.ranking`); ``sample``: evaluate only this many labelled
    queries, drawn with ``default_rng(seed)``.

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
    vec = check_table(vectors)
    v = vec.shape[0] - 1
    if len(labels_per_idx) != v + 1:
        raise bad_argument("labels_per_idx", f"a sequence of length V+1 = {v + 1} (index 0 is padding)",
                           Described(f"length {len(labels_per_idx)}"))
    k = check_k(k, v)
    sample = check_int("sample", sample, 1, allow_none=True)
    lab = _label_matrix(labels_per_idx)
    n_labels = np.diff(lab.indptr)
    candidates = np.flatnonzero(n_labels[1:] > 0) + 1
    if candidates.size == 0:
        raise bad_argument("labels_per_idx", "at least one song with a label", Described("no labels"))
    if sample is not None and sample < candidates.size:
        rng = np.random.default_rng(seed)
        candidates = np.sort(rng.choice(candidates, size=sample, replace=False))
    unit = unit_rows(vec)
    lab_t = lab.T.tocsr()
    # The label product below is sparse but can be dense-ish for common tags: small batches.
    step = auto_batch(v, budget=2**23)
    share_sum = 0.0
    chance_sum = 0.0
    for start in range(0, candidates.size, step):
        qb = candidates[start : start + step]
        nbrs = top_k(cosine_scores(unit, qb), qb, k)
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
        raise bad_argument("songs", "a pandas DataFrame", Described(f"a {type(songs).__name__}"))
    if column not in songs.columns:
        raise bad_argument("column", f"a column of songs ({', '.join(map(repr, songs.columns))})", column)
    raw_ids = np.asarray(vocab.raw_ids, dtype=np.int64)
    if raw_ids.shape != (int(vocab.size),):
        raise bad_argument("vocab.raw_ids", f"an array of shape (V,) = ({vocab.size},)",
                           Described(f"shape {raw_ids.shape}"))
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
