"""The original assignment's rows, vectorised (benchmark only).

:func:`fast_skipgram_rows` produces what the original assignment's loop
(:mod:`bench.original_pipeline`) produces, with the same laws, in a few vectorised passes;
``bench/bench_pairs.py`` compares the two. The package's own pairs for the keras loop come
from :func:`helpers.skipgrams.skipgram_pairs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.validate import check_encoded, check_int, check_vocab_size
from helpers.windows import Windows, positives_per_playlist

# Blocks of playlists processed independently by fast_skipgram_rows (two cores here),
# and playlists handled per vectorised step inside a block.
_ROW_BLOCKS = 2
_PLAYLISTS_PER_STEP = 16


def fast_skipgram_rows(encoded: Sequence, window: int, negatives: int, vocab_size: int, *,
                       max_pairs_per_playlist: int | None = None, seed=None,
                       workers: int = 2):
    """The original assignment's rows, vectorised: every positive, ``negatives`` uniform noise
    rows per positive, and at most ``max_pairs_per_playlist`` rows per playlist.

    Same row multiset law as :func:`bench.original_pipeline.original_generate_pairs`: positives are
    the pairs of positions ``0 < |i - j| <= window`` inside a playlist (playlists shorter
    than 2 give none); each positive brings ``negatives`` rows whose context is uniform on
    ``1..vocab_size`` (no exclusion); a playlist with more rows than the cap keeps a
    uniformly random subset of exactly ``cap`` of them (``Generator.choice`` without
    replacement, as in the original, but without shuffling the subset). Randomness comes from
    ``numpy.random.default_rng(seed)`` and generators spawned from it (the original loop uses
    NumPy's global generator for the noise, so the two agree in law, not draw for draw).
    ``workers`` threads share the capped case; the rows do not depend on it.

    Returns ``(targets int32 (N,), contexts int32 (N,), labels float32 (N,))``, grouped by
    playlist; each row keeps no particular order inside a capped playlist.
    """
    window = check_int("window", window, 1)
    negatives = check_int("negatives", negatives, 0)
    vocab_size = check_vocab_size(vocab_size)
    max_pairs_per_playlist = check_int("max_pairs_per_playlist", max_pairs_per_playlist, 1, allow_none=True)
    workers = check_int("workers", workers, 1)
    flat, lengths = check_encoded("encoded", encoded, vocab_size)
    rng = np.random.default_rng(seed)
    k1 = negatives + 1
    per_playlist = positives_per_playlist(lengths, window)
    rows_per = per_playlist * k1
    cap = max_pairs_per_playlist
    if cap is None or not (rows_per > cap).any():
        tsong, csong = _grouped_songs(flat, lengths, window)
        n_pos = tsong.size
        targets = np.repeat(tsong, k1)
        contexts = np.empty((n_pos, k1), dtype=np.int32)
        contexts[:, 0] = csong
        contexts[:, 1:] = rng.integers(1, vocab_size + 1, size=(n_pos, negatives),
                                       dtype=np.int32)
        labels = np.zeros((n_pos, k1), dtype=np.float32)
        labels[:, 0] = 1.0
        return targets, contexts.ravel(), labels.ravel()

    # The playlists are cut into _ROW_BLOCKS blocks of about equal rows, each with its own
    # child generator, run in threads (NumPy releases the GIL in choice's shuffle and in
    # the array passes); the rows do not depend on how many threads ran.
    kept = np.minimum(rows_per, cap)
    out_end = np.cumsum(kept)
    total = int(out_end[-1])
    targets = np.empty(total, dtype=np.int32)
    contexts = np.empty(total, dtype=np.int32)
    labels = np.empty(total, dtype=np.float32)
    cuts = np.searchsorted(out_end, np.arange(1, _ROW_BLOCKS) * total / _ROW_BLOCKS)
    bounds = [0, *cuts.tolist(), lengths.size]
    song_start = np.cumsum(lengths) - lengths
    gens = rng.spawn(_ROW_BLOCKS)

    def block(i):
        gen, lo, hi = gens[i], bounds[i], bounds[i + 1]
        if lo == hi:
            return
        s0 = int(song_start[lo])
        s1 = int(song_start[hi - 1] + lengths[hi - 1])
        tsong, csong = _grouped_songs(flat[s0:s1], lengths[lo:hi], window)
        # Row r of a playlist is slot r % k1 of positive r // k1 (slot 0 = the positive);
        # rows are numbered across the block, so one division finds each row's positive.
        first_row = (np.cumsum(per_playlist[lo:hi]) - per_playlist[lo:hi]) * k1
        a0 = int(out_end[lo - 1]) if lo else 0
        b0 = int(out_end[hi - 1])
        # Every row starts as a noise row; positives are written over their rows.
        contexts[a0:b0] = gen.integers(1, vocab_size + 1, size=b0 - a0, dtype=np.int32)
        labels[a0:b0] = 0.0
        # A few playlists at a time: arrays small enough to stay in cache, few enough
        # NumPy calls that the GIL is mostly free for the other block.
        for c0 in range(lo, hi, _PLAYLISTS_PER_STEP):
            c1 = min(hi, c0 + _PLAYLISTS_PER_STEP)
            parts = []
            for p in range(c0, c1):
                n_rows = int(rows_per[p])
                if n_rows > cap:
                    # shuffle=False: the same uniform subset, without shuffling its order.
                    local = gen.choice(n_rows, size=cap, replace=False, shuffle=False)
                    local += first_row[p - lo]
                else:
                    local = np.arange(first_row[p - lo], first_row[p - lo] + n_rows)
                parts.append(local)
            rows = np.concatenate(parts)
            slot_of = rows // k1
            pos = np.flatnonzero(rows == slot_of * k1)
            a = int(out_end[c0 - 1]) if c0 else 0
            targets[a:a + rows.size] = tsong[slot_of]
            contexts[a + pos] = csong[slot_of[pos]]
            labels[a + pos] = 1.0

    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, _ROW_BLOCKS)) as pool:
            list(pool.map(block, range(_ROW_BLOCKS)))
    else:
        for i in range(_ROW_BLOCKS):
            block(i)
    return targets, contexts, labels


def _grouped_songs(flat: np.ndarray, lengths: np.ndarray, window: int):
    """Songs of every positive pair, grouped by playlist: ``(targets, contexts)`` int32 (P,).

    Within a playlist the order is by target position, then by context position: the
    neighbour table of :mod:`helpers.windows`, read position by position.
    """
    table = Windows(lengths).neighbour_table(flat, window).T
    valid = table != 0
    return np.repeat(flat, valid.sum(axis=1)), table[valid]
