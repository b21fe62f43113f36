"""Listening sessions: the songs played before a position, as training examples and as the
history of a held-out case.

A *session* of depth ``K`` at position ``t`` of a playlist is the row
``(song_t, song_{t-1}, ..., song_{t-K+1})``: slot 0 holds the song just heard (the query),
slot ``j`` the song ``j`` places earlier, and 0 (never a song) where the playlist has not
started yet. Positions come from :class:`helpers.windows.Windows`, so a session never
reaches into another playlist.

* :func:`session_examples`: one training row per position with a next song, the session
  followed by the next song: int32 (N, K+1), what :mod:`helpers.session_loop` trains on;
* :func:`preceding_songs`: the sessions of given positions (held-out cases carry them,
  :func:`helpers.splits.heldout_cases`);
* :class:`SessionTables`: a trained session model's tables (:mod:`helpers.session_model`
  trains them, :mod:`helpers.session_scorers` ranks with them, :mod:`helpers.runs` saves
  them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.validate import Described, bad_argument, check_int, check_real
from helpers.windows import Windows

#: Songs of history each held-out case carries (slot 0 = the query); enough for every
#: session method songrec ships (the session kNNs read 10).
SESSION_DEPTH = 10


def preceding_songs(flat: np.ndarray, windows: Windows, positions: np.ndarray, depth: int) -> np.ndarray:
    """The sessions ending at ``positions``: int32 (n, depth).

    ``flat``: int (N,), the songs of the playlists laid end to end (0 may stand for an
    unknown song); ``windows``: :class:`helpers.windows.Windows` of the same playlists;
    ``positions``: int (n,) flat positions; ``depth``: int >= 1. Column ``j`` holds the
    song ``j`` places before each position, or 0 before the start of its playlist.
    """
    depth = check_int("depth", depth, 1)
    positions = np.asarray(positions, dtype=np.int64)
    out = np.zeros((positions.size, depth), dtype=np.int32)
    for j in range(depth):
        inside = windows.before[positions] >= j
        out[inside, j] = flat[positions[inside] - j]
    return out


def session_examples(flat: np.ndarray, lengths: np.ndarray, depth: int, rng: np.random.Generator | None = None,
                     *, slot_dropout: float = 0.0) -> np.ndarray:
    """One epoch of training examples: int32 (N, depth + 1).

    ``flat``: int (N_songs,), playlists laid end to end; ``lengths``: int (n_playlists,);
    ``depth``: songs read before the next song (K). Every position ``t`` whose playlist
    continues at ``t + 1`` gives the row ``(session of depth K at t, song_{t+1})``
    (:func:`preceding_songs`). ``slot_dropout``: each song of slots ``1..K-1`` is set to 0
    with this probability (the query in slot 0 never is), so the model cannot lean on one
    earlier song alone; needs ``rng``. With ``rng`` the rows are shuffled; without it they
    are in playlist order. Raises ValueError for a bad argument.
    """
    slot_dropout = check_real("slot_dropout", slot_dropout, 0, 1, high_open=True)
    if slot_dropout > 0 and rng is None:
        raise bad_argument("rng", "a numpy Generator when slot_dropout > 0", None)
    flat = np.asarray(flat)
    windows = Windows(lengths)
    if windows.size != flat.size:
        raise bad_argument("lengths", f"lengths summing to the {flat.size} songs of flat",
                           Described(f"a sum of {windows.size}"))
    t = windows.partners(1)
    rows = np.empty((t.size, depth + 1), dtype=np.int32)
    rows[:, :depth] = preceding_songs(flat, windows, t, depth)
    rows[:, depth] = flat[t + 1]
    if slot_dropout > 0 and depth > 1:
        rows[:, 1:depth][rng.random((t.size, depth - 1)) < slot_dropout] = 0
    if rng is not None and len(rows):
        rows = rows[rng.permutation(len(rows))]
    return rows


@dataclass(frozen=True)
class SessionTables:
    """A trained session model.

    ``inputs``: float32 (K, V+1, d), one input table per slot (slot 0 = the query; row 0 of
    each is padding and 0); ``output``: float32 (V+1, d), the next song's table; ``bias``:
    float32 (V+1,) learned per-song bias, or None. The model's logit for song ``x`` after a
    session ``s`` is ``sum_j inputs[j, s_j] . output[x] (+ bias[x])``.
    """

    inputs: np.ndarray
    output: np.ndarray
    bias: np.ndarray | None = None

    def __post_init__(self):
        i, o = np.asarray(self.inputs), np.asarray(self.output)
        if i.ndim != 3 or o.ndim != 2 or i.shape[1:] != o.shape or o.shape[0] < 2:
            raise bad_argument("SessionTables", "inputs (K, V+1, d) and output (V+1, d) of matching shapes",
                               Described(f"shapes {i.shape} and {o.shape}"))
        if self.bias is not None and np.shape(self.bias) != (o.shape[0],):
            raise bad_argument("SessionTables.bias", f"an array of shape ({o.shape[0]},) or None",
                               Described(f"shape {np.shape(self.bias)}"))

    @property
    def depth(self) -> int:
        """K, the songs a session holds."""
        return int(np.shape(self.inputs)[0])

    @property
    def vocab_size(self) -> int:
        """V."""
        return int(np.shape(self.output)[0]) - 1
