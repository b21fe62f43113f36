"""Cosine top-N recommendations from an embedding table.

Row 0 of every table is padding: it is trained on nothing, so its cosine with a real
song is noise, and it has no name. It is therefore excluded from every ranking, as is
the query itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from helpers.vocab import Vocab


def _check_vectors(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] < 2:
        raise ValueError(
            f"embedding table must have shape (V+1, dim) with V >= 1; got {vectors.shape}"
        )
    if not np.issubdtype(vectors.dtype, np.floating):
        raise TypeError(f"embedding table must hold floats, got dtype {vectors.dtype}")
    return vectors


def _check_query(vectors: np.ndarray, query: int) -> int:
    if isinstance(query, (bool, np.bool_)) or not isinstance(query, (int, np.integer)):
        raise TypeError(f"query must be a song index (int), got {type(query).__name__} {query!r}")
    query = int(query)
    v = vectors.shape[0] - 1
    if not 1 <= query <= v:
        raise ValueError(f"query index {query} is out of range: expected 1..{v} (0 is padding)")
    return query


def cosine_scores(vectors: np.ndarray, query: int) -> np.ndarray:
    """Cosine similarity of row ``query`` with every row.

    vectors: float (V+1, dim). Returns float32 (V+1,); entry 0 (padding) is -inf and rows
    with zero norm score -inf (they have no direction). A query row that is zero, or any
    NaN/inf in the query or table, raises ValueError naming the row.
    """
    vectors = _check_vectors(vectors)
    query = _check_query(vectors, query)
    q = vectors[query].astype(np.float64)
    if not np.all(np.isfinite(q)):
        raise ValueError(f"embedding of index {query} contains NaN or inf; the model diverged")
    qn = np.linalg.norm(q)
    if qn == 0:
        raise ValueError(
            f"embedding of index {query} has zero norm; expected a non-zero vector "
            "(cosine similarity has no direction to compare)"
        )
    norms = np.linalg.norm(vectors, axis=1)
    bad = ~np.isfinite(norms)
    bad[0] = False
    if bad.any():
        raise ValueError(f"embedding table has NaN or inf in row {int(np.flatnonzero(bad)[0])}")
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (vectors @ q) / (norms * qn)
    scores = np.where(norms > 0, scores, -np.inf).astype(np.float32)
    scores[0] = -np.inf
    return scores


def top_n(vectors: np.ndarray, query: int, n: int = 10, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` rows most cosine-similar to ``query``, best first.

    Never returns 0 (padding), the query, or any index in ``exclude``. Ties are broken by
    the lower index. Returns (indices int64 (n,), scores float32 (n,)). ``n`` must be in
    1..(number of rankable songs).
    """
    scores = cosine_scores(vectors, query)
    blocked = {0, int(query), *(int(e) for e in exclude)}
    available = vectors.shape[0] - len({b for b in blocked if 0 <= b < vectors.shape[0]})
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or not 1 <= n <= available:
        raise ValueError(f"n must be an int in 1..{available} (songs that can be recommended), got {n!r}")
    # Blocked rows are removed, not just scored -inf: zero-norm rows also score -inf and
    # must never lose a tie to the padding row.
    keep = np.ones(len(scores), dtype=bool)
    keep[[b for b in blocked if 0 <= b < len(scores)]] = False
    candidates = np.flatnonzero(keep)
    # Stable sort on -score keeps the lower index first among equal scores.
    order = candidates[np.argsort(-scores[candidates], kind="stable")[:n]]
    return order.astype(np.int64), scores[order]


class Recommender:
    """Name-level recommendations from a vocabulary and its embedding table.

    vectors: float32 (V+1, dim), row i is the song with vocabulary index i.
    """

    def __init__(self, vocab: Vocab, vectors: np.ndarray):
        vectors = _check_vectors(vectors)
        if vectors.shape[0] != vocab.size + 1:
            raise ValueError(
                f"embedding table has {vectors.shape[0]} rows but the vocabulary needs {vocab.size + 1} "
                "(V songs + padding); the run was trained on a different vocabulary"
            )
        self.vocab = vocab
        self.vectors = vectors

    def recommend(self, song: str | int, n: int = 10) -> pd.DataFrame:
        """Top-n similar songs to a display name or an index.

        Returns a DataFrame with columns rank, index, raw_id, name, similarity.
        Unknown or ambiguous names raise ``UnknownSongError`` / ``AmbiguousSongError``.
        """
        idx = self.vocab.index_of(song) if isinstance(song, str) else song
        try:
            indices, scores = top_n(self.vectors, idx, n)
        except ValueError as exc:
            if not isinstance(song, str):
                raise
            # A bare row index means nothing to whoever typed a song name.
            raise ValueError(f"cannot recommend songs like {song!r}: {exc}") from exc
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(indices) + 1),
                "index": indices,
                "raw_id": self.vocab.raw_ids[indices - 1],
                "name": [self.vocab.names[i] for i in indices],
                "similarity": scores.astype(float),
            }
        )
