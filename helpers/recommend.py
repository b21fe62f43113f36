"""Cosine top-N recommendations from an embedding table (``songrec recommend``).

Rankings follow :mod:`helpers.ranking`, the rules ``songrec evaluate`` scores with: row 0
(padding: trained on nothing, and nameless) and the query itself are never returned, ties
go to the lower index, and a zero-norm row has cosine 0 with everything. A query whose own
vector is zero is refused: every answer would be arbitrary.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from helpers.ranking import check_table, cosine_scores, top_k, unit_rows
from helpers.validate import Described, bad_argument, check_int
from helpers.vocab import Vocab


def top_n(vectors: np.ndarray, query: int, n: int = 10, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` rows most cosine-similar to row ``query``, best first.

    ``vectors``: float (V+1, dim), row ``i`` the song with index ``i``; ``query``: a song
    index ``1..V``; ``n``: int in 1..(songs that can be recommended); ``exclude``: indices
    never returned (nor are 0 and the query). Returns ``(indices int64 (n,), cosines
    float32 (n,))``. Raises ValueError for a bad argument, NaN or inf in the table, or a
    query vector of norm 0.
    """
    table = check_table(vectors)
    query = check_int("query", query, 1, table.shape[0] - 1)
    if not np.any(table[query]):
        raise bad_argument(f"vectors[{query}] (the query's embedding)", "a non-zero vector (cosine similarity "
                                                                        "compares directions)", Described("zero norm"))
    blocked = {int(e) for e in exclude} - {0, query}
    available = table.shape[0] - 2 - len(blocked)
    n = check_int("n", n, 1, available)
    scores = cosine_scores(unit_rows(table), np.array([query]))
    indices = top_k(scores, np.array([query]), n, exclude=sorted(blocked))[0]
    return indices, scores[0, indices]


class Recommender:
    """Name-level recommendations from a vocabulary and its embedding table.

    ``vectors``: float32 (V+1, dim), row ``i`` is the song with vocabulary index ``i``.
    """

    def __init__(self, vocab: Vocab, vectors: np.ndarray):
        vectors = check_table(vectors)
        if vectors.shape[0] != vocab.size + 1:
            raise bad_argument("vectors", f"a table of V+1 = {vocab.size + 1} rows (V songs + padding) for "
                                          "this vocabulary; the run was trained on a different vocabulary",
                               vectors.shape[0])
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
