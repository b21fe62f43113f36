"""Loop-based skip-gram pipeline that behaves like the original assignment (benchmark only).

This module reproduces, with our own code, what the original course assignment did in
Part 2 so that ``helpers.skipgrams`` can be compared against it for speed and for the
pairs it emits. It is intentionally slow: a Python loop over every position of every
playlist, one ``np.random.randint`` call per negative from NumPy's *global* generator, then
a per-playlist subsample of the rows with ``default_rng(seed).choice(..., replace=False)``.

Behaviour mirrored from the original assignment:

* playlists shorter than 2 are skipped;
* for each target position ``i`` (left to right) and each context position ``j`` in
  ``max(0, i-window) .. min(L, i+window+1) - 1`` with ``j != i`` (left to right), the
  positive ``[seq[i], seq[j]]`` (label 1) is appended, then ``negatives`` rows
  ``[seq[i], randint(1, vocab_size + 1)]`` (label 0);
* negatives are uniform over ``1..vocab_size``, with no check against the target or its
  true contexts;
* if a playlist produced more than ``max_pairs`` rows, ``max_pairs`` of them are kept in
  the order returned by ``rng.choice`` (a random order).

Not imported by ``helpers``; only benchmarks and tests use it.
"""

from __future__ import annotations

import numpy as np


def _playlist_rows(seq, window, vocab_size, negatives):
    pairs = []
    labels = []
    n = len(seq)
    for i in range(n):
        target = seq[i]
        for j in range(max(0, i - window), min(n, i + window + 1)):
            if j == i:
                continue
            pairs.append([target, seq[j]])
            labels.append(1)
            for _ in range(negatives):
                pairs.append([target, np.random.randint(1, vocab_size + 1)])
                labels.append(0)
    return pairs, labels


def original_generate_pairs(encoded_playlists, window, vocab_size, negatives, max_pairs, seed=42):
    """Generate skip-gram rows the way the original assignment did.

    Parameters
    ----------
    encoded_playlists : iterable of 1-D int sequences, values in ``1..vocab_size``
    window, vocab_size, negatives : int
    max_pairs : int or None
        Per-playlist row cap (the original's ``MAX_PAIRS_PER_PLAYLIST``); ``None`` disables it.
    seed : int
        Seeds NumPy's global generator (negatives) and the ``default_rng`` used for the cap.
        The global generator's previous state is restored on return, so calling this does
        not disturb the caller's random stream.

    Returns
    -------
    pairs : int32 (N, 2), columns (target, context)
    labels : float32 (N,)
    """
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        rng = np.random.default_rng(seed)
        all_pairs = []
        all_labels = []
        for playlist in encoded_playlists:
            seq = [int(s) for s in playlist]
            if len(seq) < 2:
                continue
            pairs, labels = _playlist_rows(seq, window, vocab_size, negatives)
            if max_pairs is not None and len(pairs) > max_pairs:
                chosen = rng.choice(len(pairs), size=max_pairs, replace=False)
                pairs = [pairs[k] for k in chosen]
                labels = [labels[k] for k in chosen]
            all_pairs.extend(pairs)
            all_labels.extend(labels)
    finally:
        np.random.set_state(saved)
    pairs_arr = np.array(all_pairs, dtype=np.int32).reshape(-1, 2)
    return pairs_arr, np.array(all_labels, dtype=np.float32)
