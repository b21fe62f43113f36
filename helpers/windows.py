"""Context windows: which positions of a playlist see each other, written once.

Playlists are laid end to end (see :func:`helpers.validate.check_encoded`): ``flat`` holds
every song, ``lengths`` the length of each playlist. Position ``j`` is in the window of
position ``i`` when both lie in the same playlist and ``0 < |i - j| <= window``; the pair
``(flat[i], flat[j])`` is then a *positive* pair. A song repeated inside a window pairs
with itself (from the other position); a position never pairs with itself.

Everything here derives from one rule, :meth:`Windows.partners`: the positions ``i`` whose
position ``i + offset`` lies in the same playlist. The keras loop's pairs
(:mod:`helpers.skipgrams`), the fast loop's epoch positives (:mod:`helpers.fast_loop`),
the co-occurrence counts (:mod:`helpers.baselines`), the negative-exclusion table and the
memory estimate (:mod:`helpers.limits`) all use it.
"""

from __future__ import annotations

import numpy as np


def positives_per_playlist(lengths: np.ndarray, window: int) -> np.ndarray:
    """Positive pairs per playlist, in closed form.

    ``lengths``: int (n_playlists,); ``window``: int >= 1 (any size: offsets past the
    longest playlist add nothing). A playlist of length ``L`` has
    ``sum(2 * max(L - d, 0) for d in 1..window)`` positives. Returns int64 (n_playlists,).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    reach = min(int(window), int(lengths.max(initial=1)))
    m = np.minimum(reach, np.maximum(lengths - 1, 0))
    return m * (2 * lengths - m - 1)


def locate(position: int, lengths: np.ndarray) -> tuple[int, int]:
    """``(playlist index, position inside it)`` of a flat ``position``; ``lengths`` int (n,)."""
    ends = np.cumsum(lengths)
    playlist = int(np.searchsorted(ends, position, side="right"))
    return playlist, int(position) - int(ends[playlist] - lengths[playlist])


class Windows:
    """Where each position of some playlists sits: the basis of every window.

    ``lengths``: int (n_playlists,), the playlists' lengths. ``before``: int64 (N,), songs
    before each flat position in its playlist; ``after``: int64 (N,), songs after it.
    """

    def __init__(self, lengths: np.ndarray):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        n = int(self.lengths.sum())
        starts = np.cumsum(self.lengths) - self.lengths
        self.before = np.arange(n, dtype=np.int64) - np.repeat(starts, self.lengths)
        self.after = np.repeat(self.lengths, self.lengths) - self.before - 1

    @property
    def size(self) -> int:
        """N, the number of positions (songs) in all playlists."""
        return int(self.before.size)

    def partners(self, offset: int) -> np.ndarray:
        """Flat positions ``i`` whose position ``i + offset`` is in the same playlist.

        ``offset``: a non-zero int. Returns int64 (M,), ascending.
        """
        reach = self.after if offset > 0 else self.before
        return np.flatnonzero(reach >= abs(offset))

    def offsets(self, window: int) -> np.ndarray:
        """Context offsets ``-w..-1, 1..w``: int64 (2w,), ascending.

        ``w`` is ``window`` clipped to the longest playlist: a longer offset never pairs, so
        a huge window costs no more than the longest playlist.
        """
        w = min(int(window), max(int(self.lengths.max(initial=0)) - 1, 1))
        return np.concatenate([np.arange(-w, 0), np.arange(1, w + 1)])

    def positions(self, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat positions of every positive pair within ``window``.

        Returns ``(target_positions int64 (P,), context_positions int64 (P,))``, ordered by
        target position, then context position (the order of a plain double loop).
        """
        offsets = self.offsets(window)
        in_window = np.zeros((self.size, offsets.size), dtype=bool)
        for j, offset in enumerate(offsets):
            in_window[self.partners(int(offset)), j] = True
        targets, column = np.nonzero(in_window)
        return targets, targets + offsets[column]

    def neighbour_table(self, flat: np.ndarray, window: int) -> np.ndarray:
        """Songs in each position's window: int32 (2w, N).

        ``flat``: int (N,), the songs. Row ``j`` holds, for every position, the song at
        offset ``self.offsets(window)[j]``, or 0 outside the playlist; 0 is never a song, so
        it never matches one. One row per offset keeps each later gather contiguous.
        """
        offsets = self.offsets(window)
        table = np.zeros((offsets.size, self.size), dtype=np.int32)
        for j, offset in enumerate(offsets):
            src = self.partners(int(offset))
            table[j, src] = flat[src + offset]
        return table
