"""Skip-gram training pairs for SGNS on playlists (NumPy only).

A playlist plays the part of a sentence and a song the part of a word. Input playlists are
*encoded*: each one is a 1-D integer array of vocabulary indices in ``1..V`` (``0`` is the
padding row and is never a song).

Positive pairs
    For every position ``i`` of a playlist and every other position ``j`` of the same
    playlist with ``0 < |i - j| <= window``, the pair ``(seq[i], seq[j])`` is a positive.
    A song repeated inside a window therefore pairs with itself (from another position);
    a position never pairs with itself. A playlist of length ``L`` yields
    ``sum(2 * max(L - d, 0) for d in 1..window)`` positives.

    Order (deterministic): by playlist, then by target position, then by context position,
    left to right. This is the order of a plain double loop over positions.

Rows of :func:`skipgram_pairs`
    Each positive row (label 1) is followed by ``negatives`` rows (label 0) that keep the
    same target and draw the context from a noise distribution. All randomness comes from
    one ``numpy.random.Generator``; draws happen in this order: negatives, redraws for
    excluded negatives, the per-playlist cap, the final shuffle.

Everything is vectorised over positions and playlists; the only Python loops run over the
``2 * window`` offsets, over fixed-size chunks of positions, and over redraw rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "positive_pairs",
    "noise_distribution",
    "skipgram_pairs",
    "pair_stats",
    "collision_rates",
]

NOISE_KINDS = ("uniform", "unigram")

# Exclusion is enforced by rejection sampling. Feasibility is checked before drawing, so
# each round removes a fixed fraction of the remaining collisions; the cap only guards
# against noise distributions that leave almost no probability outside the excluded set.
MAX_REDRAW_ROUNDS = 1000

# Rows of the (positions x 2*window) neighbour matrix handled at once, to bound the memory
# of temporaries on the full dataset (about 2**22 cells per chunk).
_CHUNK_CELLS = 1 << 22


# --------------------------------------------------------------------------- validation


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _flatten(encoded: Sequence, vocab_size: int | None = None):
    """Concatenate the playlists and check their values.

    Returns ``(flat int32 (N,), lengths int64 (n_playlists,))``.
    """
    if isinstance(encoded, np.ndarray) and encoded.ndim == 1 and encoded.dtype != object:
        raise TypeError(
            "encoded must be a list of playlists (1-D integer arrays), got a single 1-D "
            f"array of dtype {encoded.dtype}; wrap one playlist as [playlist]"
        )
    if isinstance(encoded, (str, bytes)) or not hasattr(encoded, "__len__"):
        raise TypeError(
            f"encoded must be a list of 1-D integer arrays, got {type(encoded).__name__}"
        )
    arrays = []
    for k, pl in enumerate(encoded):
        a = np.asarray(pl)
        if a.ndim != 1:
            raise ValueError(
                f"playlist {k} must be a 1-D array of song indices, got shape {a.shape}"
            )
        if a.size and (a.dtype.kind not in "iu"):
            raise TypeError(
                f"playlist {k} must hold integer song indices, got dtype {a.dtype}"
            )
        arrays.append(a)
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int32), lengths
    flat = np.concatenate([a for a in arrays if a.size]).astype(np.int64, copy=False)
    hi = np.iinfo(np.int32).max - 1 if vocab_size is None else vocab_size
    bad = (flat < 1) | (flat > hi)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        playlist = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        position = first - int(lengths[:playlist].sum())
        expected = (
            "a positive song index (0 is padding)"
            if vocab_size is None
            else f"song indices in 1..vocab_size={vocab_size} (0 is padding)"
        )
        raise ValueError(
            f"playlist {playlist} holds song index {int(flat[first])} at position "
            f"{position}; expected {expected}"
        )
    return flat.astype(np.int32), lengths


def _positives_per_playlist(lengths: np.ndarray, window: int) -> np.ndarray:
    """Closed form of sum_{d=1..w} 2*max(L-d, 0), int64 (n_playlists,)."""
    m = np.minimum(window, np.maximum(lengths - 1, 0))
    return m * (2 * lengths - m - 1)


# --------------------------------------------------------------------------- positives


def _offsets(window: int) -> np.ndarray:
    return np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])


def _window_positions(lengths: np.ndarray, window: int):
    """Flat positions of every positive pair.

    Returns ``(tpos int64 (P,), cpos int64 (P,))``, ordered by target position then
    context position.
    """
    n_total = int(lengths.sum())
    offsets = _offsets(window)
    starts = np.cumsum(lengths) - lengths
    pos_in = np.arange(n_total) - np.repeat(starts, lengths)
    length_of = np.repeat(lengths, lengths)
    step = max(1, _CHUNK_CELLS // offsets.size)
    tpos_parts, cpos_parts = [], []
    for a in range(0, n_total, step):
        b = min(n_total, a + step)
        rel = pos_in[a:b, None] + offsets
        valid = (rel >= 0) & (rel < length_of[a:b, None])
        rows, cols = np.nonzero(valid)
        tpos = rows + a
        tpos_parts.append(tpos)
        cpos_parts.append(tpos + offsets[cols])
    if not tpos_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    return np.concatenate(tpos_parts), np.concatenate(cpos_parts)


def _neighbour_matrix(flat: np.ndarray, lengths: np.ndarray, window: int) -> np.ndarray:
    """Songs in each position's window, int32 (N, 2*window); 0 where outside the playlist.

    Zero is a safe filler: it is never a song, so it never matches a drawn negative.
    """
    n_total = flat.size
    offsets = _offsets(window)
    starts = np.cumsum(lengths) - lengths
    pos_in = np.arange(n_total) - np.repeat(starts, lengths)
    length_of = np.repeat(lengths, lengths)
    rel = pos_in[:, None] + offsets
    valid = (rel >= 0) & (rel < length_of[:, None])
    gpos = np.clip(np.arange(n_total)[:, None] + offsets, 0, max(n_total - 1, 0))
    if n_total == 0:
        return np.zeros((0, offsets.size), dtype=np.int32)
    return np.where(valid, flat[gpos], 0).astype(np.int32)


def positive_pairs(encoded: Sequence, window: int):
    """All positive (target, context) pairs within ``window`` of each other.

    Parameters
    ----------
    encoded : list of 1-D integer arrays
        Encoded playlists, values in ``1..V``. Playlists shorter than 2 contribute nothing.
    window : int >= 1
        Maximum distance between target and context positions.

    Returns
    -------
    targets : int32 (P,)
    contexts : int32 (P,)
    playlist_id : int32 (P,)
        Index into ``encoded`` of the playlist each pair comes from.

    Pairs are ordered by playlist, then target position, then context position.
    """
    window = _check_int("window", window, 1)
    flat, lengths = _flatten(encoded)
    tpos, cpos = _window_positions(lengths, window)
    pid_flat = np.repeat(np.arange(lengths.size, dtype=np.int32), lengths)
    return flat[tpos], flat[cpos], pid_flat[tpos]


# --------------------------------------------------------------------------- noise


def noise_distribution(counts, power: float = 0.75) -> np.ndarray:
    """Negative-sampling distribution ``p[v] ∝ counts[v] ** power`` over songs ``1..V``.

    Parameters
    ----------
    counts : array-like of non-negative numbers, shape (V+1,)
        Occurrence counts indexed by vocabulary index; ``counts[0]`` (padding) must be 0.
    power : float >= 0
        Smoothing exponent. ``0`` gives the uniform distribution over ``1..V`` (songs with
        a zero count included); with ``power > 0`` zero-count songs get probability 0.

    Returns
    -------
    float64 (V+1,), sums to 1, ``p[0] == 0``.
    """
    c = np.asarray(counts)
    if c.ndim != 1 or c.size < 2:
        raise ValueError(
            f"counts must be a 1-D array of shape (V+1,) with V >= 1, got shape {c.shape}"
        )
    if c.dtype.kind not in "iuf":
        raise TypeError(f"counts must be numeric, got dtype {c.dtype}")
    c = c.astype(np.float64)
    if not np.all(np.isfinite(c)):
        k = int(np.flatnonzero(~np.isfinite(c))[0])
        raise ValueError(f"counts[{k}] = {c[k]} is not finite")
    if np.any(c < 0):
        k = int(np.flatnonzero(c < 0)[0])
        raise ValueError(f"counts[{k}] = {c[k]:g} is negative; counts must be >= 0")
    if c[0] != 0:
        raise ValueError(
            f"counts[0] = {c[0]:g} but index 0 is padding and must have count 0; "
            "counts are indexed by vocabulary index 1..V"
        )
    if not np.any(c[1:] > 0):
        raise ValueError(
            f"counts are all zero over songs 1..{c.size - 1}; at least one song needs a "
            "positive count"
        )
    if isinstance(power, bool) or not isinstance(power, (int, float, np.integer, np.floating)):
        raise TypeError(f"power must be a number >= 0, got {power!r}")
    if not np.isfinite(power) or power < 0:
        raise ValueError(f"power must be a finite number >= 0, got {power}")
    weights = np.zeros_like(c)
    # 0 ** 0 == 1 in NumPy, so power 0 makes every song (even unseen ones) equally likely.
    weights[1:] = c[1:] ** float(power)
    return weights / weights.sum()


def _uniform_noise(vocab_size: int) -> np.ndarray:
    p = np.full(vocab_size + 1, 1.0 / vocab_size)
    p[0] = 0.0
    return p


class _Sampler:
    """Draws song indices from a noise distribution over ``1..V`` (never 0)."""

    def __init__(self, rng: np.random.Generator, vocab_size: int, probs: np.ndarray | None):
        self.rng = rng
        self.vocab_size = vocab_size
        if probs is None:
            self.cdf = None
        else:
            cdf = np.cumsum(probs)
            # Normalising by the last value makes u < 1 always land inside 1..V.
            self.cdf = cdf / cdf[-1]

    def draw(self, size) -> np.ndarray:
        if self.cdf is None:
            return self.rng.integers(1, self.vocab_size + 1, size=size, dtype=np.int32)
        u = self.rng.random(size)
        # side="right" skips indices whose probability is zero (cdf does not increase there),
        # including the padding index 0 whose cdf is 0 <= u.
        return np.searchsorted(self.cdf, u, side="right").astype(np.int32)


# --------------------------------------------------------------------------- exclusion


def _check_exclusion_feasible(
    flat, tpos_unique, nbmat, support, exclude_target, exclude_context, lengths, vocab_size,
    window,
):
    """Raise if some target occurrence excludes every song the noise can draw."""
    n_support = int(support.sum())
    width = int(exclude_target) + (2 * window if exclude_context else 0)
    if width < n_support:
        return  # fewer excluded values than drawable songs: always satisfiable
    cols = []
    if exclude_target:
        cols.append(flat[tpos_unique][:, None])
    if exclude_context:
        cols.append(nbmat[tpos_unique])
    excl = np.concatenate(cols, axis=1)
    excl = np.where(support[excl], excl, 0)
    excl.sort(axis=1)
    fresh = np.ones(excl.shape, dtype=bool)
    fresh[:, 1:] = excl[:, 1:] != excl[:, :-1]
    n_distinct = ((excl != 0) & fresh).sum(axis=1)
    stuck = np.flatnonzero(n_distinct >= n_support)
    if stuck.size:
        pos = int(tpos_unique[stuck[0]])
        ends = np.cumsum(lengths)
        playlist = int(np.searchsorted(ends, pos, side="right"))
        position = pos - int(ends[playlist] - lengths[playlist])
        what = " and ".join(
            n for n, on in (("exclude_target", exclude_target),
                            ("exclude_context", exclude_context)) if on
        )
        raise ValueError(
            f"cannot draw negatives for song {int(flat[pos])} at playlist {playlist}, "
            f"position {position}: {what} rule out all {n_support} songs the noise can draw "
            f"(vocab_size={vocab_size}, window={window}); use a larger vocabulary, a smaller "
            "window, or turn exclusion off"
        )


def _collides(neg, rows, targets, tpos, nbmat, exclude_target, exclude_context):
    """Which negatives break the exclusion rules. ``neg`` is (m, k); ``rows`` (m,) indexes
    positives."""
    bad = np.zeros(neg.shape, dtype=bool)
    if exclude_target:
        bad |= neg == targets[rows][:, None]
    if exclude_context:
        nb = nbmat[tpos[rows]]
        for j in range(nb.shape[1]):
            bad |= neg == nb[:, j : j + 1]
    return bad


# --------------------------------------------------------------------------- main API


def skipgram_pairs(
    encoded: Sequence,
    window: int,
    negatives: int,
    vocab_size: int,
    *,
    noise: str = "uniform",
    counts=None,
    power: float = 0.75,
    exclude_target: bool = False,
    exclude_context: bool = False,
    max_pairs_per_playlist: int | None = None,
    seed=None,
    shuffle: bool = False,
):
    """Skip-gram rows with negative sampling: each positive followed by its negatives.

    Parameters
    ----------
    encoded : list of 1-D integer arrays
        Encoded playlists, values in ``1..vocab_size``. Playlists shorter than 2 produce
        no rows (see :func:`pair_stats` for how many were skipped).
    window : int >= 1
        Context window on each side of the target.
    negatives : int >= 0
        Negative rows emitted after each positive row.
    vocab_size : int >= 1
        ``V``; negatives are drawn from ``1..V``.
    noise : {"uniform", "unigram"}
        ``"uniform"``: every song in ``1..V`` equally likely (``counts``/``power`` ignored).
        ``"unigram"``: ``p ∝ counts ** power`` (see :func:`noise_distribution`).
    counts : int array (V+1,), required for ``"unigram"``
        Song counts indexed by vocabulary index, ``counts[0] == 0``.
    power : float
        Exponent of the unigram noise.
    exclude_target : bool
        Redraw any negative equal to its row's target song.
    exclude_context : bool
        Redraw any negative equal to a song that sits within ``window`` positions of this
        target *occurrence* (the ``2*window`` neighbours of that position in the same
        playlist). The same song elsewhere in the data, or near another occurrence of the
        target, is not excluded. The target's own song is excluded only if it repeats
        inside the window (use ``exclude_target`` for that).
    max_pairs_per_playlist : int >= 1 or None
        If a playlist yields more rows (positives + negatives) than this, keep a uniformly
        random subset of exactly this many of its rows, without replacement. Kept rows stay
        in their original relative order, so a negative may survive without its positive.
    seed : int, None or numpy.random.Generator
        Source of all randomness, via ``numpy.random.default_rng(seed)``.
    shuffle : bool
        Shuffle the final rows (otherwise ordered by playlist, target position, context
        position, with each positive before its negatives).

    Returns
    -------
    targets : int32 (N,)
    contexts : int32 (N,)
    labels : float32 (N,), 1.0 for positives and 0.0 for negatives.

    Raises
    ------
    ValueError
        Bad sizes, song indices outside ``1..vocab_size`` (naming the playlist), an unknown
        noise, missing or mis-sized counts, or a vocabulary too small for the exclusion.
    """
    window = _check_int("window", window, 1)
    negatives = _check_int("negatives", negatives, 0)
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    if max_pairs_per_playlist is not None:
        max_pairs_per_playlist = _check_int("max_pairs_per_playlist", max_pairs_per_playlist, 1)
    if noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {NOISE_KINDS}, got {noise!r}")
    if noise == "unigram":
        if counts is None:
            raise ValueError('noise="unigram" needs counts (shape (vocab_size+1,)), got None')
        c = np.asarray(counts)
        if c.ndim != 1 or c.size != vocab_size + 1:
            raise ValueError(
                f"counts has shape {c.shape} but vocab_size={vocab_size} needs shape "
                f"({vocab_size + 1},) (index 0 is padding)"
            )
        probs = noise_distribution(c, power)
    else:
        probs = None
    rng = np.random.default_rng(seed)

    flat, lengths = _flatten(encoded, vocab_size)
    pid_flat = np.repeat(np.arange(lengths.size, dtype=np.int32), lengths)
    tpos, cpos = _window_positions(lengths, window)
    targets = flat[tpos]
    n_pos = targets.size
    k1 = negatives + 1

    contexts = np.empty((n_pos, k1), dtype=np.int32)
    contexts[:, 0] = flat[cpos]
    if negatives and n_pos:
        sampler = _Sampler(rng, vocab_size, probs)
        neg = sampler.draw((n_pos, negatives))
        if exclude_target or exclude_context:
            support = (probs if probs is not None else _uniform_noise(vocab_size)) > 0
            nbmat = _neighbour_matrix(flat, lengths, window) if exclude_context else None
            _check_exclusion_feasible(
                flat, np.unique(tpos), nbmat, support, exclude_target, exclude_context,
                lengths, vocab_size, window,
            )
            bad = _collides(neg, np.arange(n_pos), targets, tpos, nbmat,
                            exclude_target, exclude_context)
            rows, cols = np.nonzero(bad)
            for _ in range(MAX_REDRAW_ROUNDS):
                if rows.size == 0:
                    break
                fresh = sampler.draw((rows.size, 1))
                still = _collides(fresh, rows, targets, tpos, nbmat,
                                  exclude_target, exclude_context)[:, 0]
                ok = ~still
                neg[rows[ok], cols[ok]] = fresh[ok, 0]
                rows, cols = rows[still], cols[still]
            if rows.size:
                raise ValueError(
                    f"{rows.size} negatives still collide with excluded songs after "
                    f"{MAX_REDRAW_ROUNDS} redraw rounds (vocab_size={vocab_size}, "
                    f"window={window}): the noise puts almost no probability outside the "
                    "excluded songs; use uniform noise, a smaller window or no exclusion"
                )
        contexts[:, 1:] = neg

    targets_out = np.repeat(targets, k1)
    contexts_out = contexts.ravel()
    labels_out = np.tile(np.r_[np.float32(1), np.zeros(negatives, np.float32)], n_pos)

    if max_pairs_per_playlist is not None and n_pos:
        keep = _cap_mask(
            _positives_per_playlist(lengths, window) * k1, max_pairs_per_playlist, rng
        )
        if keep is not None:
            targets_out = targets_out[keep]
            contexts_out = contexts_out[keep]
            labels_out = labels_out[keep]

    if shuffle:
        order = rng.permutation(targets_out.size)
        targets_out, contexts_out, labels_out = (
            targets_out[order], contexts_out[order], labels_out[order]
        )
    return (
        np.ascontiguousarray(targets_out, dtype=np.int32),
        np.ascontiguousarray(contexts_out, dtype=np.int32),
        np.ascontiguousarray(labels_out, dtype=np.float32),
    )


def _cap_mask(rows_per_playlist: np.ndarray, cap: int, rng: np.random.Generator):
    """Boolean mask over all rows (grouped by playlist, in order) keeping at most ``cap``
    uniformly chosen rows per playlist; ``None`` when no playlist exceeds the cap."""
    over = rows_per_playlist > cap
    if not over.any():
        return None
    n_rows = int(rows_per_playlist.sum())
    row_pl = np.repeat(np.arange(rows_per_playlist.size), rows_per_playlist)
    keep = ~over[row_pl]
    idx_over = np.flatnonzero(~keep)
    sizes = rows_per_playlist[over]
    group = np.repeat(np.arange(sizes.size), sizes)
    # A random permutation followed by a stable sort on the group label leaves every group
    # in random internal order; its first `cap` rows are a uniform subset without
    # replacement. Small integer labels let NumPy use radix sort, so this stays O(rows).
    gdtype = np.uint16 if sizes.size <= np.iinfo(np.uint16).max else np.int64
    perm = rng.permutation(idx_over.size)
    order = perm[np.argsort(group[perm].astype(gdtype), kind="stable")]
    first = np.cumsum(sizes) - sizes
    rank = np.arange(idx_over.size) - np.repeat(first, sizes)
    keep[idx_over[order[rank < cap]]] = True
    assert keep.size == n_rows
    return keep


def pair_stats(
    encoded: Sequence,
    window: int,
    negatives: int = 0,
    max_pairs_per_playlist: int | None = None,
) -> dict:
    """Row counts :func:`skipgram_pairs` will produce, by closed form (no sampling).

    Returns a dict of ints: ``playlists`` (given), ``skipped`` (shorter than 2, so no pairs),
    ``positives``, ``rows_before_cap`` (= positives * (negatives + 1)), ``capped_playlists``
    (playlists over ``max_pairs_per_playlist``) and ``rows`` (after the cap).
    """
    window = _check_int("window", window, 1)
    negatives = _check_int("negatives", negatives, 0)
    if max_pairs_per_playlist is not None:
        max_pairs_per_playlist = _check_int("max_pairs_per_playlist", max_pairs_per_playlist, 1)
    _, lengths = _flatten(encoded)
    per = _positives_per_playlist(lengths, window) * (negatives + 1)
    capped = per if max_pairs_per_playlist is None else np.minimum(per, max_pairs_per_playlist)
    return {
        "playlists": int(lengths.size),
        "skipped": int((lengths < 2).sum()),
        "positives": int(_positives_per_playlist(lengths, window).sum()),
        "rows_before_cap": int(per.sum()),
        "capped_playlists": int((capped < per).sum()),
        "rows": int(capped.sum()),
    }


def collision_rates(targets, contexts, labels, encoded: Sequence, window: int) -> dict:
    """How often negative rows are not really negative.

    Parameters
    ----------
    targets, contexts : int arrays (N,)
    labels : float or int array (N,), 1 for positives and 0 for negatives
    encoded, window : the playlists and window the true positives come from.

    Returns
    -------
    dict with ``negatives`` (int, number of rows with label 0), ``same_as_target`` and
    ``positive_pair`` (counts, int) and ``same_as_target_rate`` and ``positive_pair_rate``
    (float fractions of the negatives; NaN when there are no negatives).
    ``positive_pair`` counts negatives whose (target, context) occurs anywhere in
    ``positive_pairs(encoded, window)``.
    """
    t = np.asarray(targets)
    c = np.asarray(contexts)
    y = np.asarray(labels)
    if not (t.ndim == c.ndim == y.ndim == 1 and t.shape == c.shape == y.shape):
        raise ValueError(
            "targets, contexts and labels must be 1-D of equal length, got shapes "
            f"{t.shape}, {c.shape}, {y.shape}"
        )
    for name, a in (("targets", t), ("contexts", c)):
        if a.size and a.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integers, got dtype {a.dtype}")
    if y.size and not np.all((y == 0) | (y == 1)):
        bad = y[(y != 0) & (y != 1)][0]
        raise ValueError(f"labels must be 0 or 1, got {bad}")
    is_neg = y == 0
    nt = t[is_neg].astype(np.int64)
    nc = c[is_neg].astype(np.int64)
    pt, pc, _ = positive_pairs(encoded, window)
    base = int(max(nt.max(initial=0), nc.max(initial=0), pt.max(initial=0), pc.max(initial=0))) + 1
    pos_keys = np.unique(pt.astype(np.int64) * base + pc)
    in_pos = np.isin(nt * base + nc, pos_keys)
    n_neg = int(nt.size)
    n_self = int((nt == nc).sum())
    n_pos = int(in_pos.sum())
    return {
        "negatives": n_neg,
        "same_as_target": n_self,
        "positive_pair": n_pos,
        "same_as_target_rate": n_self / n_neg if n_neg else float("nan"),
        "positive_pair_rate": n_pos / n_neg if n_neg else float("nan"),
    }
