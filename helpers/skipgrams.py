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
    one ``numpy.random.Generator``; draws happen in this order: the per-playlist cap's
    random keys, the negatives (only for rows the cap keeps), redraws for excluded
    negatives, the final shuffle.

Windows come from :mod:`helpers.windows` and the noise from :mod:`helpers.noise` (whose
:func:`noise_distribution` is re-exported here for the notebooks). Everything is vectorised
over positions and playlists; the only Python loops run over the ``2 * window`` offsets and
over redraw rounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.noise import DEFAULT_NOISE, DEFAULT_POWER, NOISE_KINDS, noise_distribution
from helpers.validate import (
    Described,
    bad_argument,
    check_bool,
    check_choice,
    check_encoded,
    check_int,
    check_vocab_size,
)
from helpers.windows import Windows, locate, positives_per_playlist

__all__ = [
    "positive_pairs",
    "noise_distribution",
    "skipgram_pairs",
    "pair_stats",
    "collision_rates",
]


# Exclusion is enforced by rejection sampling. Feasibility is checked before drawing, so
# each round removes a fixed fraction of the remaining collisions; the cap only guards
# against noise distributions that leave almost no probability outside the excluded set.
MAX_REDRAW_ROUNDS = 1000



# --------------------------------------------------------------------------- positives


def positive_pairs(encoded: Sequence, window: int):
    """All positive (target, context) pairs within ``window`` of each other.

    ``encoded``: list of 1-D integer arrays, the encoded playlists (values ``1..V``);
    playlists shorter than 2 contribute nothing. ``window``: int >= 1, the largest
    distance between target and context positions.
    Returns ``(targets int32 (P,), contexts int32 (P,), playlist_id int32 (P,))``, the last
    being the index into ``encoded`` of each pair's playlist; pairs are ordered by
    playlist, then target position, then context position.
    Raises ValueError for a bad argument.
    """
    window = check_int("window", window, 1)
    flat, lengths = check_encoded("encoded", encoded)
    tpos, cpos = Windows(lengths).positions(window)
    pid_flat = np.repeat(np.arange(lengths.size, dtype=np.int32), lengths)
    return flat[tpos], flat[cpos], pid_flat[tpos]


# --------------------------------------------------------------------------- noise


class _Sampler:
    """Draws song indices from a noise distribution over ``1..V`` (never 0)."""

    def __init__(self, rng: np.random.Generator, vocab_size: int, probs: np.ndarray | None):
        self.rng = rng
        self.vocab_size = vocab_size
        self.probs = probs
        if probs is not None:
            cdf = np.cumsum(probs)
            # Normalising by the last value makes u < 1 always land inside 1..V.
            self.cdf = cdf / cdf[-1]

    def draw(self, size: int) -> np.ndarray:
        """int32 (size,), independent draws."""
        if self.probs is None:
            return self.rng.integers(1, self.vocab_size + 1, size=size, dtype=np.int32)
        if size > self.probs.size:
            # Same law as independent draws, much cheaper than a binary search per draw:
            # how many times each song comes up, then those draws in a uniformly random
            # order.
            times = self.rng.multinomial(size, self.probs)
            out = np.repeat(np.arange(self.probs.size, dtype=np.int32), times)
            self.rng.shuffle(out)
            return out
        u = self.rng.random(size)
        # side="right" skips indices whose probability is zero (cdf does not increase
        # there), including the padding index 0 whose cdf is 0 <= u.
        return np.searchsorted(self.cdf, u, side="right").astype(np.int32)


# --------------------------------------------------------------------------- exclusion


class _Exclusion:
    """The exclusion rules of :func:`skipgram_pairs` for one set of playlists.

    A negative drawn for the target at flat position ``t`` collides when it equals
    ``flat[t]`` (``exclude_target``) or any song in ``t``'s window (``exclude_context``).
    """

    def __init__(self, flat, lengths, window, exclude_target, exclude_context):
        self.flat = flat
        self.lengths = lengths
        self.window = window
        self.exclude_target = exclude_target
        self.exclude_context = exclude_context
        self.table = Windows(lengths).neighbour_table(flat, window) if exclude_context else None

    @property
    def rules(self) -> str:
        on = [n for n, f in (("exclude_target", self.exclude_target),
                             ("exclude_context", self.exclude_context)) if f]
        return " and ".join(on)

    def collides(self, neg: np.ndarray, trow: np.ndarray) -> np.ndarray:
        """bool (m,): whether ``neg`` (m,) breaks a rule for targets at positions ``trow``."""
        bad = np.zeros(neg.shape, dtype=bool)
        if self.exclude_target:
            bad |= neg == self.flat[trow]
        if self.exclude_context:
            for row in self.table:
                bad |= neg == row[trow]
        return bad

    def check_feasible(self, support: np.ndarray, vocab_size: int) -> None:
        """Raise ValueError if some target occurrence rules out every drawable song.

        ``support`` is bool (V+1,): the songs the noise gives positive probability.
        """
        n_support = int(support.sum())
        width = int(self.exclude_target) + (len(self.table) if self.exclude_context else 0)
        if width < n_support:
            return  # fewer excluded values than drawable songs: always satisfiable
        # Only positions in playlists of length >= 2 are ever targets.
        targets_at = np.flatnonzero(np.repeat(self.lengths >= 2, self.lengths))
        cols = []
        if self.exclude_target:
            cols.append(self.flat[targets_at][:, None])
        if self.exclude_context:
            cols.append(self.table[:, targets_at].T)
        excl = np.concatenate(cols, axis=1)
        excl = np.where(support[excl], excl, 0)
        excl.sort(axis=1)
        first_seen = np.ones(excl.shape, dtype=bool)
        first_seen[:, 1:] = excl[:, 1:] != excl[:, :-1]
        n_distinct = ((excl != 0) & first_seen).sum(axis=1)
        stuck = np.flatnonzero(n_distinct >= n_support)
        if stuck.size:
            pos = int(targets_at[stuck[0]])
            playlist, position = locate(pos, self.lengths)
            raise ValueError(
                f"cannot draw negatives for song {int(self.flat[pos])} at playlist "
                f"{playlist}, position {position}: {self.rules} rule out all {n_support} "
                f"songs the noise can draw (vocab_size={vocab_size}, window={self.window}); "
                "use a larger vocabulary, a smaller window, or turn exclusion off"
            )


def _draw_negatives(sampler, trow: np.ndarray, exclusion: _Exclusion | None, vocab_size):
    """One negative per entry of ``trow`` (flat target positions), int32 (m,), redrawn in
    vectorised rounds until no exclusion rule is broken."""
    neg = sampler.draw(trow.size)
    if exclusion is None:
        return neg
    todo = np.flatnonzero(exclusion.collides(neg, trow))
    for _ in range(MAX_REDRAW_ROUNDS):
        if todo.size == 0:
            return neg
        fresh = sampler.draw(todo.size)
        still = exclusion.collides(fresh, trow[todo])
        neg[todo[~still]] = fresh[~still]
        todo = todo[still]
    if todo.size == 0:
        return neg
    raise ValueError(
        f"{todo.size} negatives still break {exclusion.rules} after {MAX_REDRAW_ROUNDS} "
        f"redraw rounds (vocab_size={vocab_size}, window={exclusion.window}): the noise "
        "puts almost no probability outside the excluded songs; use uniform noise, a "
        "smaller window or no exclusion"
    )


# --------------------------------------------------------------------------- cap

# Random bits per row in the cap's sort keys; the playlist's group number fills the rest
# of a uint64. Ties (two rows of one playlist with the same bits at the cut: a few calls
# in a million at the original assignment's sizes) are detected and resolved by an exact, slower sort.
_CAP_KEY_BITS = 40


def _cap_mask(rows_per_playlist: np.ndarray, cap: int, rng: np.random.Generator):
    """Boolean mask over all rows (grouped by playlist, in order) keeping at most ``cap``
    rows of each playlist, chosen uniformly without replacement; ``None`` when no
    playlist exceeds the cap. Playlists at or under the cap keep every row."""
    over = rows_per_playlist > cap
    if not over.any():
        return None
    in_over = np.repeat(over, rows_per_playlist)
    sizes = rows_per_playlist[over]
    n_groups = sizes.size
    first = np.cumsum(sizes) - sizes
    bits = _CAP_KEY_BITS
    if n_groups >= 1 << (64 - bits):  # group numbers would not fit above the random bits
        bits = 64 - int(n_groups).bit_length()
    group = np.repeat(np.arange(n_groups, dtype=np.uint64), sizes)
    keys = (group << np.uint64(bits)) | rng.integers(
        0, 1 << bits, size=group.size, dtype=np.uint64
    )
    # Each row keeps iff its random key is among the `cap` smallest of its playlist: one
    # sort of the keys gives every playlist's cut-off value.
    cut = np.sort(keys)[first + cap - 1]
    chosen = keys <= np.repeat(cut, sizes)
    if int(chosen.sum()) != n_groups * cap:
        # A tie at some cut-off. Rank exactly instead, breaking ties in a random order
        # (a stable sort of randomly permuted rows) so the subset stays uniform.
        perm = rng.permutation(keys.size)
        order = perm[np.argsort(keys[perm], kind="stable")]
        rank = np.empty(keys.size, dtype=np.int64)
        rank[order] = np.arange(keys.size) - np.repeat(first, sizes)
        chosen = rank < cap
    keep = ~in_over
    keep[in_over] = chosen
    return keep


# --------------------------------------------------------------------------- main API


def skipgram_pairs(
    encoded: Sequence,
    window: int,
    negatives: int,
    vocab_size: int,
    *,
    noise: str = DEFAULT_NOISE,
    counts=None,
    power: float = DEFAULT_POWER,
    exclude_target: bool = False,
    exclude_context: bool = False,
    max_pairs_per_playlist: int | None = None,
    seed=None,
    shuffle: bool = False,
):
    """Skip-gram rows with negative sampling: each positive followed by its negatives.

    ``encoded``: list of 1-D integer arrays, the encoded playlists (values
    ``1..vocab_size``); playlists shorter than 2 produce no rows (see :func:`pair_stats` for
    how many were skipped).

    ``window``: int >= 1, context window on each side of the target. ``negatives``: int
    >= 0, negative rows emitted after each positive row. ``vocab_size``: ``V``, negatives
    are drawn from ``1..V``.

    ``noise``: ``"uniform"`` (every song in ``1..V`` equally likely; ``counts``/``power``
    ignored) or ``"unigram"`` (``p ∝ counts ** power``, see :mod:`helpers.noise`);
    ``counts``: int (V+1,), song counts by index with ``counts[0] == 0``, required for
    ``"unigram"``; ``power``: float, the exponent of the unigram noise.

    ``exclude_target``: redraw any negative equal to its row's target song.
    ``exclude_context``: redraw any negative equal to a song within ``window`` positions of
    this target *occurrence* (its up to ``2*window`` neighbours in the same playlist). The
    same pair seen elsewhere in the data, e.g. near another occurrence of the target, is
    not excluded; :func:`collision_rates` measures how often that happens. The target's own
    song is excluded by this rule only if it repeats inside the window.

    ``max_pairs_per_playlist``: int >= 1 or None. If a playlist yields more rows (positives
    + negatives) than this, keep a uniformly random subset of exactly this many of its
    rows, without replacement. Kept rows stay in their original relative order, so a
    negative may survive without its positive. Negatives are only drawn for kept rows.

    ``seed``: int, None or ``numpy.random.Generator``, the source of all randomness via
    ``numpy.random.default_rng(seed)`` (a Generator is used, and advanced, as is).
    ``shuffle``: shuffle the final rows; otherwise rows are ordered by playlist, target
    position and context position, each positive followed by its negatives.

    Returns ``(targets int32 (N,), contexts int32 (N,), labels float32 (N,))``, labels 1.0
    for positives and 0.0 for negatives.
    Raises ValueError for bad sizes, song indices outside ``1..vocab_size`` (naming the
    playlist), an unknown noise, missing or mis-sized counts, or a vocabulary too small
    for the exclusion.
    """
    window = check_int("window", window, 1)
    negatives = check_int("negatives", negatives, 0)
    vocab_size = check_vocab_size(vocab_size)
    max_pairs_per_playlist = check_int("max_pairs_per_playlist", max_pairs_per_playlist, 1, allow_none=True)
    check_choice("noise", noise, NOISE_KINDS)
    check_bool("exclude_target", exclude_target)
    check_bool("exclude_context", exclude_context)
    probs = None
    if noise == "unigram":
        c = np.asarray(counts) if counts is not None else None
        if c is None or c.shape != (vocab_size + 1,):
            raise bad_argument("counts", f'an array of shape (vocab_size+1,) = ({vocab_size + 1},) for '
                                         f'noise="unigram" (index 0 is padding)',
                               None if c is None else Described(f"shape {c.shape}"))
        probs = noise_distribution(c, power)
    rng = np.random.default_rng(seed)

    flat, lengths = check_encoded("encoded", encoded, vocab_size)
    tpos, cpos = Windows(lengths).positions(window)
    n_pos = tpos.size
    k1 = negatives + 1

    exclusion = None
    if negatives and n_pos and (exclude_target or exclude_context):
        exclusion = _Exclusion(flat, lengths, window, bool(exclude_target),
                               bool(exclude_context))
        support = probs > 0 if probs is not None else np.arange(vocab_size + 1) > 0
        exclusion.check_feasible(support, vocab_size)
    sampler = _Sampler(rng, vocab_size, probs)

    keep = None
    if max_pairs_per_playlist is not None and n_pos:
        keep = _cap_mask(positives_per_playlist(lengths, window) * k1,
                         max_pairs_per_playlist, rng)

    if keep is None:
        contexts = np.empty((n_pos, k1), dtype=np.int32)
        contexts[:, 0] = flat[cpos]
        if negatives:
            trow = np.repeat(tpos, negatives)
            contexts[:, 1:] = _draw_negatives(sampler, trow, exclusion, vocab_size).reshape(
                n_pos, negatives
            )
        targets_out = np.repeat(flat[tpos], k1)
        contexts_out = contexts.ravel()
        labels_out = np.zeros((n_pos, k1), dtype=np.float32)
        labels_out[:, 0] = 1.0
        labels_out = labels_out.ravel()
    else:
        # Materialise only the kept rows: row r is slot r % k1 of positive r // k1
        # (slot 0 is the positive itself).
        rows = np.flatnonzero(keep)
        pos = rows // k1
        is_pos = rows - pos * k1 == 0
        targets_out = flat[tpos[pos]]
        contexts_out = np.empty(rows.size, dtype=np.int32)
        contexts_out[is_pos] = flat[cpos[pos[is_pos]]]
        is_neg = ~is_pos
        contexts_out[is_neg] = _draw_negatives(sampler, tpos[pos[is_neg]], exclusion,
                                               vocab_size)
        labels_out = is_pos.astype(np.float32)

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
    window = check_int("window", window, 1)
    negatives = check_int("negatives", negatives, 0)
    max_pairs_per_playlist = check_int("max_pairs_per_playlist", max_pairs_per_playlist, 1, allow_none=True)
    _, lengths = check_encoded("encoded", encoded)
    positives = positives_per_playlist(lengths, window)
    per = positives * (negatives + 1)
    capped = per if max_pairs_per_playlist is None else np.minimum(per, max_pairs_per_playlist)
    return {
        "playlists": int(lengths.size),
        "skipped": int((lengths < 2).sum()),
        "positives": int(positives.sum()),
        "rows_before_cap": int(per.sum()),
        "capped_playlists": int((capped < per).sum()),
        "rows": int(capped.sum()),
    }


def collision_rates(targets, contexts, labels, encoded: Sequence, window: int) -> dict:
    """How often negative rows are not really negative.

    ``targets``, ``contexts``: int arrays (N,); ``labels``: float or int array (N,), 1 for
    positives and 0 for negatives; ``encoded``, ``window``: the playlists and window the
    true positives come from.
    Returns a dict with ``negatives`` (int, rows with label 0), ``same_as_target`` and
    ``positive_pair`` (int counts) and ``same_as_target_rate`` and ``positive_pair_rate``
    (float fractions of the negatives; NaN when there are no negatives).
    ``positive_pair`` counts negatives whose (target, context) occurs anywhere in
    ``positive_pairs(encoded, window)``. Raises ValueError for a bad argument.
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
            raise bad_argument(name, "an array of integers", Described(f"dtype {a.dtype}"))
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
