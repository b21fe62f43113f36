"""Plain double loops over playlists, the yardstick of the vectorised pair code in tests."""

from collections import Counter

import numpy as np


def brute_positives(playlists, window, reach=None):
    """(target, context) pairs by a plain double loop; ``reach[p][i]`` limits position i."""
    out = []
    for p, pl in enumerate(playlists):
        for i in range(len(pl)):
            r = window if reach is None else reach[p][i]
            for j in range(len(pl)):
                if i != j and abs(i - j) <= r:
                    out.append((int(pl[i]), int(pl[j])))
    return Counter(out)


def random_playlists(rng, n, vocab, lo=0, hi=30):
    """``n`` int32 playlists of ``lo..hi-1`` songs drawn from ``1..vocab``."""
    return [rng.integers(1, vocab + 1, size=rng.integers(lo, hi)).astype(np.int32)
            for _ in range(n)]
