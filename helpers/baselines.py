"""Recommenders to compare against the SGNS embeddings, all with one interface.

Every class here follows ``helpers.evaluate.Scorer``: a ``name`` and
``scores(queries int32 (B,)) -> float32 (B, V+1)`` where column ``i`` scores song index
``i`` (column 0 is padding and is ignored by the ranking, as is the query's own column).

* :class:`RandomScorer` – a fixed random ranking per query (the floor).
* :class:`PopularityScorer` – the same chart of most-played songs for every query.
* :class:`CooccurrenceScorer` – how often songs appear near each other in the training
  playlists, as raw counts or positive PMI: the count-based rival of learned embeddings.
* :class:`EmbeddingScorer` – SGNS vectors: cosine between target vectors (songs that
  appear in *similar contexts*, second-order) or target·context dot products (songs that
  appear *next to each other*, first-order; this is what the model's logit estimates).

Ties.  The ranking in ``helpers.evaluate`` puts equal scores in order of lower song index.
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

from helpers.evaluate import _unit_rows, check_queries

__all__ = [
    "RandomScorer",
    "PopularityScorer",
    "CooccurrenceScorer",
    "EmbeddingScorer",
    "cooccurrence_matrix",
    "ppmi",
]


def _check_vocab_size(vocab_size: int) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
        raise TypeError(f"vocab_size must be an integer, got {vocab_size!r}")
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2 songs, got {vocab_size}")
    return int(vocab_size)


def _check_encoded(encoded: Sequence[np.ndarray], vocab_size: int) -> list[np.ndarray]:
    if isinstance(encoded, np.ndarray) and encoded.ndim == 1 and encoded.dtype != object:
        raise TypeError("train_encoded must be a list of playlists (arrays), not one flat array")
    out = []
    for i, p in enumerate(encoded):
        arr = np.asarray(p)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                f"playlist {i} must be a 1-D array of integer song indices, "
                f"got dtype {arr.dtype} and shape {arr.shape}"
            )
        if arr.size and (arr.min() < 1 or arr.max() > vocab_size):
            bad = arr[(arr < 1) | (arr > vocab_size)][0]
            raise ValueError(
                f"playlist {i} holds index {bad}; encoded songs must be in 1..{vocab_size}"
            )
        out.append(arr.astype(np.int64, copy=False))
    return out


class RandomScorer:
    """Uniform random scores, fixed per ``(seed, query)`` so batching cannot change them.

    Expected HR@K is about ``K / (V - 1)``: the level any real method must clear.
    """

    def __init__(self, vocab_size: int, seed: int = 0, name: str = "random"):
        self.vocab_size = _check_vocab_size(vocab_size)
        self.seed = int(seed)
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
        if c.ndim != 1 or c.size < 3:
            raise ValueError(f"counts must have shape (V+1,) with V >= 2, got {c.shape}")
        if not np.issubdtype(c.dtype, np.number) or np.any(c < 0) or not np.isfinite(c).all():
            raise ValueError("counts must be finite non-negative numbers (play counts per index)")
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
) -> sparse.csr_matrix:
    """Counts of songs appearing within ``window`` positions of each other.

    For every playlist, position ``t`` and offset ``d`` in ``1..window`` with ``t + d``
    inside the playlist, with ``a = p[t]`` and ``b = p[t + d]``:

    * ``directed=True`` adds 1 to ``C[a, b]`` only ("b followed a within the window");
      with ``window=1`` this is the next-song transition count, the natural baseline for
      next-song prediction;
    * ``directed=False`` adds 1 to both ``C[a, b]`` and ``C[b, a]`` (symmetric; the
      neighbourhood a skip-gram window sees).

    A song repeated within the window counts on the diagonal as well; the ranking never
    looks at the diagonal (the query is excluded).  Returns float64 CSR (V+1, V+1) with
    row and column 0 empty.
    """
    v = _check_vocab_size(vocab_size)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    lists = _check_encoded(train_encoded, v)
    lengths = np.array([p.size for p in lists], dtype=np.int64)
    flat = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(lists)), lengths)
    rows, cols = [], []
    for d in range(1, int(window) + 1):
        if flat.size <= d:
            break
        same = owner[:-d] == owner[d:]
        rows.append(flat[:-d][same])
        cols.append(flat[d:][same])
    a = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    b = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    if not directed:
        a, b = np.concatenate([a, b]), np.concatenate([b, a])
    data = np.ones(a.size, dtype=np.float64)
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
        raise ValueError(f"counts must be square, got shape {c.shape}")
    if c.nnz and c.data.min() < 0:
        raise ValueError("counts must be non-negative")
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

    Parameters
    ----------
    train_encoded : list of int arrays (L,), song indices ``1..V``.
    vocab_size : V.
    window : neighbourhood size on each side (see :func:`cooccurrence_matrix`).
    weighting : ``"count"`` (raw counts) or ``"ppmi"`` (:func:`ppmi` of the counts).
    directed : count only songs *after* the query (``True``) or on both sides.
    tiebreak : ``None`` (zero-score songs tie and fall to lower index first) or
        ``"popularity"`` (zero-score songs ordered by training count, all below every
        positive score; see the module docstring).

    ``matrix`` holds the (V+1, V+1) float64 CSR matrix used for scoring.
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
    ):
        if weighting not in ("count", "ppmi"):
            raise ValueError(f"weighting must be 'count' or 'ppmi', got {weighting!r}")
        if tiebreak not in (None, "popularity"):
            raise ValueError(f"tiebreak must be None or 'popularity', got {tiebreak!r}")
        self.vocab_size = _check_vocab_size(vocab_size)
        counts = cooccurrence_matrix(train_encoded, self.vocab_size, window, directed)
        self.matrix = ppmi(counts) if weighting == "ppmi" else counts
        self.window, self.weighting, self.directed, self.tiebreak = (
            int(window), weighting, bool(directed), tiebreak,
        )
        self._fill = None
        if tiebreak == "popularity":
            flat = [np.asarray(p, dtype=np.int64) for p in train_encoded]
            pop = np.bincount(
                np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64),
                minlength=self.vocab_size + 1,
            )
            self._fill = _popularity_fill(pop)
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

    Parameters
    ----------
    target_vectors : float (V+1, d), row ``i`` the vector of song ``i`` (row 0 padding).
    context_vectors : float (V+1, d) or None; the model's second table when not shared.
    mode : ``"cosine"`` – cosine between target vectors (second-order similarity: songs
        with similar neighbourhoods); ``"dot"`` – ``target[q] · context[j]`` (first-order:
        the model's own logit for "j appears near q"; needs ``context_vectors``).
    """

    def __init__(
        self,
        target_vectors: np.ndarray,
        context_vectors: np.ndarray | None = None,
        mode: str = "cosine",
        name: str | None = None,
    ):
        t = np.asarray(target_vectors, dtype=np.float32)
        if t.ndim != 2 or t.shape[0] < 3:
            raise ValueError(f"target_vectors must have shape (V+1, d) with V >= 2, got {t.shape}")
        if not np.isfinite(t).all():
            raise ValueError("target_vectors must be finite; found NaN or infinity")
        if mode not in ("cosine", "dot"):
            raise ValueError(f"mode must be 'cosine' or 'dot', got {mode!r}")
        self.vocab_size = t.shape[0] - 1
        self.mode = mode
        if mode == "cosine":
            self._left = _unit_rows(t)
            self._right = self._left
        else:
            if context_vectors is None:
                raise ValueError(
                    "mode='dot' needs context_vectors (the second embedding table); "
                    "with one shared table use mode='cosine'"
                )
            c = np.asarray(context_vectors, dtype=np.float32)
            if c.shape != t.shape:
                raise ValueError(
                    f"context_vectors shape {c.shape} must equal target_vectors shape {t.shape}"
                )
            if not np.isfinite(c).all():
                raise ValueError("context_vectors must be finite; found NaN or infinity")
            self._left, self._right = t, c
        self.name = name if name is not None else f"sgns-{mode}"

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """float32 (B, V+1)."""
        q = check_queries(queries, self.vocab_size)
        return (self._left[q] @ self._right.T).astype(np.float32, copy=False)
