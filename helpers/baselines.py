"""Recommenders to compare against the SGNS embeddings, all with one interface.

Every class here follows :class:`helpers.metrics.Scorer`: a ``name`` and
``scores(queries int32 (B,)) -> float32 (B, V+1)`` where column ``i`` scores song index
``i`` (column 0 is padding and is ignored by the ranking, as is the query's own column).

* :class:`RandomScorer` – a fixed random ranking per query (the floor).
* :class:`PopularityScorer` – the same chart of most-played songs for every query.
* :class:`CooccurrenceScorer` – how often songs appear near each other in the training
  playlists, as raw counts or positive PMI: the count-based rival of learned embeddings.
* :class:`EmbeddingScorer` – SGNS vectors: cosine between target vectors (songs that
  appear in *similar contexts*, second-order) or target·context dot products (songs that
  appear *next to each other*, first-order; this is what the model's logit estimates).

Ties.  The ranking (:mod:`helpers.ranking`) puts equal scores in order of lower song index.
Co-occurrence rows are mostly zeros, so when a query has fewer than ``K`` co-occurring
songs the rest of its top-``K`` is filled with the lowest-index zero-score songs – an
arbitrary choice that can, rarely, score a lucky hit.  ``tiebreak="popularity"`` fills
those places with the most popular songs instead (a back-off every zero-score song ranks
below every song with a positive score); the default ``None`` keeps the pure method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from helpers.ranking import check_queries, check_table, cosine_scores, unit_rows
from helpers.validate import Described, bad_argument, check_choice, check_encoded, check_int, check_vocab_size
from helpers.windows import Windows

__all__ = [
    "RandomScorer",
    "PopularityScorer",
    "CooccurrenceScorer",
    "EmbeddingScorer",
    "cooccurrence_matrix",
    "ppmi",
]


class RandomScorer:
    """Uniform random scores, fixed per ``(seed, query)`` so batching cannot change them.

    Expected HR@K is about ``K / (V - 1)``: the level any real method must clear.
    """

    def __init__(self, vocab_size: int, seed: int = 0, name: str = "random"):
        self.vocab_size = check_vocab_size(vocab_size, 2)
        self.seed = check_int("seed", seed, 0)
        self.name = name

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """float32 (B, V+1) uniform in [0, 1)."""
        q = check_queries(queries, self.vocab_size)
        out = np.empty((q.size, self.vocab_size + 1), dtype=np.float32)
        for r, qi in enumerate(q):
            out[r] = np.random.default_rng([self.seed, int(qi)]).random(
                self.vocab_size + 1, dtype=np.float32
            )
        return out


class PopularityScorer:
    """Score = training play count of the candidate, the same for every query.

    ``counts`` is int (V+1,), indexed by song index (``Vocab.counts``; entry 0 ignored).
    """

    def __init__(self, counts: np.ndarray, name: str = "popularity"):
        c = np.asarray(counts)
        if c.ndim != 1 or c.size < 3 or not np.issubdtype(c.dtype, np.number):
            raise bad_argument("counts", "play counts per song index of shape (V+1,) with V >= 2",
                               Described(f"dtype {c.dtype} shape {c.shape}"))
        if np.any(c < 0) or not np.isfinite(c).all():
            raise bad_argument("counts", "finite non-negative numbers (play counts per index)",
                               Described("a negative or non-finite count"))
        self.vocab_size = c.size - 1
        self._row = c.astype(np.float32)
        self.name = name

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """float32 (B, V+1): the count row repeated for each query."""
        q = check_queries(queries, self.vocab_size)
        return np.repeat(self._row[None, :], q.size, axis=0)


def cooccurrence_matrix(
    train_encoded: Sequence[np.ndarray],
    vocab_size: int,
    window: int = 1,
    directed: bool = False,
    inverse_gap: bool = False,
) -> sparse.csr_matrix:
    """Counts of songs appearing within ``window`` positions of each other.

    For every playlist, position ``t`` and offset ``d`` in ``1..window`` with ``t + d``
    inside the playlist, with ``a = p[t]`` and ``b = p[t + d]``:

    * ``directed=True`` adds 1 to ``C[a, b]`` only ("b followed a within the window");
      with ``window=1`` this is the next-song transition count, the natural baseline for
      next-song prediction;
    * ``directed=False`` adds 1 to both ``C[a, b]`` and ``C[b, a]`` (symmetric; the
      neighbourhood a skip-gram window sees);
    * ``inverse_gap=True`` adds ``1 / d`` instead of 1. Directed, these are the
      *sequential rules* of Ludewig & Jannach (2018): "b followed a, the closer the more".

    A song repeated within the window counts on the diagonal as well; the ranking never
    looks at the diagonal (the query is excluded).  Returns float64 CSR (V+1, V+1) with
    row and column 0 empty.
    """
    v = check_vocab_size(vocab_size, 2)
    window = check_int("window", window, 1)
    flat, lengths = check_encoded("train_encoded", train_encoded, v)
    flat = flat.astype(np.int64)
    windows = Windows(lengths)
    rows, cols, weights = [], [], []
    for d in range(1, window + 1):
        i = windows.partners(d)
        if i.size == 0:
            break
        rows.append(flat[i])
        cols.append(flat[i + d])
        weights.append(np.full(i.size, 1.0 / d if inverse_gap else 1.0))
    a = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    b = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    data = np.concatenate(weights) if weights else np.zeros(0, dtype=np.float64)
    if not directed:
        a, b, data = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([data, data])
    # coo -> csr sums duplicate (a, b) entries, which is exactly the count.
    mat = sparse.coo_matrix((data, (a, b)), shape=(v + 1, v + 1)).tocsr()
    mat.sum_duplicates()
    return mat


def ppmi(counts: sparse.spmatrix) -> sparse.csr_matrix:
    """Positive pointwise mutual information of a co-occurrence count matrix.

    With ``N = sum(C)``, ``p(i, j) = C[i, j] / N``, ``p(i) = sum_j C[i, j] / N`` (row
    marginal) and ``p(j) = sum_i C[i, j] / N`` (column marginal):
    ``PPMI[i, j] = max(log(p(i, j) / (p(i) p(j))), 0)``; zero counts stay 0.
    Returns float64 CSR of the same shape.
    """
    c = sparse.csr_matrix(counts, dtype=np.float64)
    if c.shape[0] != c.shape[1]:
        raise bad_argument("counts", "a square matrix", Described(f"shape {c.shape}"))
    if c.nnz and c.data.min() < 0:
        raise bad_argument("counts", "non-negative", Described(f"a minimum of {c.data.min():g}"))
    c.eliminate_zeros()
    total = c.sum()
    out = c.tocoo(copy=True)
    if total == 0:
        return out.tocsr()
    row = np.asarray(c.sum(axis=1)).ravel()
    col = np.asarray(c.sum(axis=0)).ravel()
    pmi = np.log(out.data * total / (row[out.row] * col[out.col]))
    out.data = np.maximum(pmi, 0.0)
    res = out.tocsr()
    res.eliminate_zeros()
    return res


def _popularity_fill(pop: np.ndarray) -> np.ndarray:
    """Distinct values in (-1, 0) that order songs by popularity (then lower index)."""
    v = pop.size - 1
    order = np.lexsort((np.arange(v + 1), -pop))  # most popular first, ties by index
    rank = np.empty(v + 1, dtype=np.int64)
    rank[order] = np.arange(v + 1)
    # Ranks rather than raw counts keep neighbouring values apart in float32.
    return (-(rank + 1) / (v + 2)).astype(np.float32)


class CooccurrenceScorer:
    """Scores = the query's row of a co-occurrence matrix built from training playlists.

    ``train_encoded``: list of int arrays (L,), song indices ``1..V``; ``vocab_size``: V;
    ``window``: neighbourhood size on each side (see :func:`cooccurrence_matrix`);
    ``weighting``: ``"count"`` (raw counts) or ``"ppmi"`` (:func:`ppmi` of the counts);
    ``directed``: count only songs *after* the query (``True``) or on both sides;
    ``inverse_gap``: weight a pair ``d`` songs apart ``1 / d`` (with ``directed``: the
    sequential rules of Ludewig & Jannach 2018); ``tiebreak``: ``None`` (zero-score songs tie
    and fall to lower index first) or
    ``"popularity"`` (zero-score songs ordered by training count, all below every positive
    score; see the module docstring). ``matrix`` holds the (V+1, V+1) float64 CSR matrix
    used for scoring. Raises ValueError for a bad argument.
    """

    def __init__(
        self,
        train_encoded: Sequence[np.ndarray],
        vocab_size: int,
        window: int = 1,
        weighting: str = "count",
        directed: bool = False,
        tiebreak: str | None = None,
        name: str | None = None,
        inverse_gap: bool = False,
    ):
        check_choice("weighting", weighting, ("count", "ppmi"))
        check_choice("tiebreak", tiebreak, (None, "popularity"))
        self.vocab_size = check_vocab_size(vocab_size, 2)
        counts = cooccurrence_matrix(train_encoded, self.vocab_size, window, directed, inverse_gap)
        self.matrix = ppmi(counts) if weighting == "ppmi" else counts
        self.window, self.weighting, self.directed, self.tiebreak = (
            int(window), weighting, bool(directed), tiebreak,
        )
        self._fill = None
        if tiebreak == "popularity":
            flat, _ = check_encoded("train_encoded", train_encoded, self.vocab_size)
            self._fill = _popularity_fill(np.bincount(flat, minlength=self.vocab_size + 1))
        if name is None:
            name = f"cooc-{weighting}-w{window}" + ("-directed" if directed else "")
            name += "+pop" if tiebreak == "popularity" else ""
        self.name = name

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """float32 (B, V+1): the matrix rows of the queries, densified."""
        q = check_queries(queries, self.vocab_size)
        out = self.matrix[q].toarray().astype(np.float32)
        if self._fill is not None:
            out = np.where(out > 0, out, self._fill[None, :])
        return out


class EmbeddingScorer:
    """Scores from SGNS embedding tables.

    ``target_vectors``: float (V+1, d), row ``i`` the vector of song ``i`` (row 0 padding);
    ``context_vectors``: float (V+1, d) or None, the model's second table when not shared;
    ``mode``: ``"cosine"``, cosine between target vectors as :mod:`helpers.ranking` defines
    it (second-order similarity: songs with similar neighbourhoods), or ``"dot"``,
    ``target[q] · context[j]`` (first-order: the model's own logit for "j appears near q";
    needs ``context_vectors``). Raises ValueError for a bad argument.
    """

    def __init__(
        self,
        target_vectors: np.ndarray,
        context_vectors: np.ndarray | None = None,
        mode: str = "cosine",
        name: str | None = None,
    ):
        t = check_table(target_vectors, "target_vectors")
        check_choice("mode", mode, ("cosine", "dot"))
        self.vocab_size = t.shape[0] - 1
        self.mode = mode
        self._unit = None
        if mode == "cosine":
            self._unit = unit_rows(t)
        else:
            if context_vectors is None:
                raise bad_argument("context_vectors", "the second embedding table for mode='dot' (with one "
                                                      "shared table use mode='cosine')", None)
            c = check_table(context_vectors, "context_vectors")
            if c.shape != t.shape:
                raise bad_argument("context_vectors", f"a table of target_vectors' shape {t.shape}",
                                   Described(f"shape {c.shape}"))
            self._left, self._right = t, c
        self.name = name if name is not None else f"sgns-{mode}"

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """float32 (B, V+1)."""
        q = check_queries(queries, self.vocab_size)
        if self._unit is not None:
            return cosine_scores(self._unit, q)
        return (self._left[q] @ self._right.T).astype(np.float32, copy=False)
