"""Fast SGNS training for the full playlist collection (the reference path of ``songrec train``).

The seed pipeline materialises every (target, context, label) row in Python, noise rows
included, and feeds them to ``model.fit`` one small batch at a time. This module keeps the
model (a target table, a context table, a sigmoid of their dot product, binary
cross-entropy) and changes how it is fed and updated:

* only *positive* pairs leave NumPy. They are regenerated every epoch with vectorised code
  (:func:`epoch_positives`; word2vec's shrinking window and frequent-song subsampling are
  optional), shuffled and cut into large batches, the next epoch's in a background thread;
* the ``negatives`` noise contexts of every positive are drawn inside the TensorFlow graph,
  fresh for every step, from ``counts ** power`` (an alias table, so one draw costs two
  gathers whatever the vocabulary size) or uniformly when ``power == 0``. Groups of
  ``negative_group`` positives share their noise contexts, so far fewer context rows are
  gathered and updated per step; every positive still meets ``negatives`` of them;
* gradients are written out by hand and ``optimizer="lazy_adam"`` updates only the rows a
  batch touches (Adam moments included), instead of Keras' dense Adam, which rewrites both
  tables and their moments at every step;
* the train step runs inside a ``tf.function`` that loops over ``steps_per_execution``
  batches per Python call (XLA via ``jit_compile`` for the ``"sgd"`` and ``"adam"``
  optimizers).

Ranking next songs: :func:`next_song_tables` turns the tables into ones whose dot product
is the model's estimate of ``log P(next | query)`` (it adds back the noise term).

Determinism: every random draw comes from the ``seed`` given to :func:`train_fast`
(positives of epoch ``e`` from ``default_rng([seed, e])``, negatives from a stateless
generator keyed by ``(seed, step)``, the initial tables from Keras initialisers seeded with
``seed``), so on CPU two runs with the same inputs give the same vectors.

:func:`fast_skipgram_rows` is the vectorised twin of the seed's loop (all rows, uniform
negatives, per-playlist row cap); the benchmark compares the two.

TensorFlow/Keras are imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from helpers.training import TrainResult, _is_int

__all__ = [
    "REFERENCE_SETTINGS",
    "FastConfig",
    "fast_skipgram_rows",
    "epoch_positives",
    "noise_weights",
    "alias_table",
    "next_song_tables",
    "keep_probabilities",
    "build_fast_sgns",
    "sgns_batch_loss",
    "train_fast",
]

OPTIMIZERS = ("lazy_adam", "sgd", "adam")

# Chosen on held-out playlists of the full yes_complete (bench/bench_quality.py measures
# them; the settings tried are listed in bench/README.md). Next-song prediction wants near
# neighbours, so a short fixed window; noise count ** 0.75 trains better than uniform
# noise at this vocabulary size, and next_song_tables adds 0.75 * log count back when
# ranking. Larger dims (128, 256), more negatives (25), more epochs (8, 20), shrinking
# windows of 3..10 and other learning rates scored the same or lower.
REFERENCE_SETTINGS: dict[str, Any] = {
    "window": 2,
    "dynamic_window": False,
    "negatives": 5,
    "negative_group": 8,
    "power": 0.75,
    "subsample": 0.0,
    "dim": 64,
    "shared": False,
    "optimizer": "lazy_adam",
    "learning_rate": 0.01,
    "lr_decay": True,
    "batch_size": 8192,
    "epochs": 5,
    "steps_per_execution": 32,
    "jit_compile": False,
}


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


@dataclass(frozen=True)
class FastConfig:
    """Settings of :func:`train_fast`; the defaults are :data:`REFERENCE_SETTINGS`.

    Pairs: ``window`` (songs on each side), ``dynamic_window`` (word2vec's shrinking window:
    each target position draws its reach uniformly from ``1..window`` every epoch, so near
    songs count more than far ones), ``negatives`` (noise contexts per positive),
    ``power`` (noise ``∝ count ** power`` over songs seen in training; ``0`` = uniform over
    ``1..V``; negative values favour rare songs), ``subsample`` (word2vec's threshold ``t``:
    a song with frequency ``f > t`` is dropped from an epoch's playlists with probability
    ``1 - (sqrt(f/t) + 1) t/f`` before windows are formed; ``0`` = off).
    Model: ``dim``, ``shared`` (one table for both roles, else target and context tables).
    Optimisation: ``optimizer`` (``"lazy_adam"``: Adam on the touched rows only;
    ``"sgd"``: word2vec's plain SGD on the touched rows; ``"adam"``: Keras' dense Adam,
    which rewrites both tables every step), ``learning_rate``, ``lr_decay`` (linear decay to 1e-4 of
    the start over all steps), ``batch_size`` (positive pairs per step; each brings
    ``negatives`` noise pairs), ``epochs``, ``steps_per_execution`` (steps per Python call),
    ``jit_compile`` (XLA for the train step; not with ``optimizer="lazy_adam"``).
    Invalid values raise ``ValueError`` naming the field.
    """

    window: int = REFERENCE_SETTINGS["window"]
    dynamic_window: bool = REFERENCE_SETTINGS["dynamic_window"]
    negatives: int = REFERENCE_SETTINGS["negatives"]
    negative_group: int = REFERENCE_SETTINGS["negative_group"]
    power: float = REFERENCE_SETTINGS["power"]
    subsample: float = REFERENCE_SETTINGS["subsample"]
    dim: int = REFERENCE_SETTINGS["dim"]
    shared: bool = REFERENCE_SETTINGS["shared"]
    optimizer: str = REFERENCE_SETTINGS["optimizer"]
    learning_rate: float = REFERENCE_SETTINGS["learning_rate"]
    lr_decay: bool = REFERENCE_SETTINGS["lr_decay"]
    batch_size: int = REFERENCE_SETTINGS["batch_size"]
    epochs: int = REFERENCE_SETTINGS["epochs"]
    steps_per_execution: int = REFERENCE_SETTINGS["steps_per_execution"]
    jit_compile: bool = REFERENCE_SETTINGS["jit_compile"]

    def __post_init__(self):
        def bad(name, expected):
            raise ValueError(
                f"FastConfig.{name} must be {expected}, got {getattr(self, name)!r}")

        for name, low in (("window", 1), ("negatives", 1), ("negative_group", 1),
                          ("dim", 1), ("batch_size", 1),
                          ("epochs", 1), ("steps_per_execution", 1)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                bad(name, f"an int >= {low}")
        for name in ("dynamic_window", "shared", "lr_decay", "jit_compile"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                bad(name, "True or False")
        if not _is_real(self.power):
            bad("power", "a finite number")
        if not _is_real(self.subsample) or self.subsample < 0:
            bad("subsample", "a finite number >= 0 (0 = off)")
        if not _is_real(self.learning_rate) or self.learning_rate <= 0:
            bad("learning_rate", "a finite number > 0")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"one of {OPTIMIZERS}")
        if self.jit_compile and self.optimizer == "lazy_adam":
            # tf.unique (merging duplicate rows) has a data-dependent shape XLA cannot compile.
            bad("jit_compile", 'False with optimizer="lazy_adam"')

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FastConfig":
        """Build from a dict such as :data:`REFERENCE_SETTINGS`; unknown keys raise."""
        if isinstance(values, FastConfig):
            return values
        if not isinstance(values, dict):
            raise ValueError(f"settings must be a dict or FastConfig, got "
                             f"{type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown FastConfig fields {unknown}; expected some of "
                             f"{sorted(known)}")
        return cls(**values)


# --------------------------------------------------------------------------- inputs


def _flatten(encoded: Sequence, vocab_size: int, what: str = "encoded"):
    """Concatenate playlists: ``(flat int32 (N,), lengths int64 (n_playlists,))``.

    Raises ``ValueError`` naming the playlist that is not 1-D integers in ``1..vocab_size``.
    """
    if isinstance(encoded, np.ndarray) and encoded.dtype != object:
        raise ValueError(f"{what} must be a list of 1-D int arrays (one per playlist), "
                         f"got a single array of shape {encoded.shape}")
    if isinstance(encoded, (str, bytes)) or not hasattr(encoded, "__len__"):
        raise ValueError(f"{what} must be a list of 1-D int arrays, got "
                         f"{type(encoded).__name__}")
    arrays = []
    for i, p in enumerate(encoded):
        a = np.asarray(p)
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise ValueError(f"{what}[{i}] must be a 1-D integer array, got dtype "
                             f"{a.dtype} shape {a.shape}")
        if a.size and (a.min() < 1 or a.max() > vocab_size):
            bad = int(a.min()) if a.min() < 1 else int(a.max())
            raise ValueError(f"{what}[{i}] holds song index {bad}; expected indices "
                             f"1..vocab_size={vocab_size} (0 is padding)")
        arrays.append(a)
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    flat = np.concatenate(arrays).astype(np.int32) if lengths.sum() else \
        np.zeros(0, np.int32)
    return flat, lengths


def _check_vocab_size(vocab_size) -> int:
    if not _is_int(vocab_size) or vocab_size < 1:
        raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}")
    return int(vocab_size)


# --------------------------------------------------------------------------- seed rows


# Blocks of playlists processed independently by fast_skipgram_rows (two cores here),
# and playlists handled per vectorised step inside a block.
_ROW_BLOCKS = 2
_PLAYLISTS_PER_STEP = 16


def fast_skipgram_rows(encoded: Sequence, window: int, negatives: int, vocab_size: int, *,
                       max_pairs_per_playlist: int | None = None, seed=None,
                       workers: int = 2):
    """The seed pipeline's rows, vectorised: every positive, ``negatives`` uniform noise
    rows per positive, and at most ``max_pairs_per_playlist`` rows per playlist.

    Same row multiset law as ``bench.seed_pipeline.seed_generate_pairs``: positives are
    the pairs of positions ``0 < |i - j| <= window`` inside a playlist (playlists shorter
    than 2 give none); each positive brings ``negatives`` rows whose context is uniform on
    ``1..vocab_size`` (no exclusion); a playlist with more rows than the cap keeps a
    uniformly random subset of exactly ``cap`` of them (``Generator.choice`` without
    replacement, as in the seed, but without shuffling the subset). Randomness comes from
    ``numpy.random.default_rng(seed)`` and generators spawned from it (the seed loop uses
    NumPy's global generator for the noise, so the two agree in law, not draw for draw).
    ``workers`` threads share the capped case; the rows do not depend on it.

    Returns ``(targets int32 (N,), contexts int32 (N,), labels float32 (N,))``, grouped by
    playlist; each row keeps no particular order inside a capped playlist.
    """
    if not _is_int(window) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    if not _is_int(negatives) or negatives < 0:
        raise ValueError(f"negatives must be an int >= 0, got {negatives!r}")
    vocab_size = _check_vocab_size(vocab_size)
    if max_pairs_per_playlist is not None and (not _is_int(max_pairs_per_playlist)
                                               or max_pairs_per_playlist < 1):
        raise ValueError(f"max_pairs_per_playlist must be None or an int >= 1, got "
                         f"{max_pairs_per_playlist!r}")
    if not _is_int(workers) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    flat, lengths = _flatten(encoded, vocab_size)
    rng = np.random.default_rng(seed)
    k1 = negatives + 1
    m = np.minimum(window, np.maximum(lengths - 1, 0))
    per_playlist = m * (2 * lengths - m - 1)  # positives, closed form
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

    Within a playlist the order is by target position, then by context position. Built
    from a (positions, 2 * window) table of neighbour songs (0 where the offset leaves the
    playlist; 0 is never a song), so no pair of positions is ever materialised.
    """
    n = flat.size
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    owner = np.repeat(np.arange(lengths.size, dtype=np.int32), lengths)
    table = np.zeros((n, offsets.size), dtype=np.int32)
    for j, off in enumerate(offsets):
        lo, hi = max(0, -off), min(n, n - off)   # rows whose neighbour index is in range
        if lo >= hi:
            continue
        same = owner[lo:hi] == owner[lo + off:hi + off]
        table[lo:hi, j] = np.where(same, flat[lo + off:hi + off], 0)
    valid = table != 0
    return np.repeat(flat, valid.sum(axis=1)), table[valid]


# --------------------------------------------------------------------------- positives


def keep_probabilities(counts: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec's subsampling: probability of keeping each occurrence of a song.

    ``counts`` int (V+1,), ``threshold`` ``t > 0``: with ``f = count / total``,
    ``keep = min(1, (sqrt(f / t) + 1) * t / f)`` (the formula of word2vec.c and gensim).
    Returns float64 (V+1,); songs with count 0 get 1.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or np.any(c < 0):
        raise ValueError(f"counts must be a 1-D array of non-negative numbers, got shape "
                         f"{c.shape}")
    if not _is_real(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a finite number > 0, got {threshold!r}")
    limit = threshold * c.sum()
    keep = np.ones_like(c)
    seen = c > 0
    keep[seen] = (np.sqrt(c[seen] / limit) + 1.0) * limit / c[seen]
    return np.minimum(keep, 1.0)


def epoch_positives(flat: np.ndarray, lengths: np.ndarray, window: int,
                    rng: np.random.Generator, *, dynamic_window: bool = False,
                    keep_prob: np.ndarray | None = None, shuffle: bool = True) -> np.ndarray:
    """One epoch of positive pairs, int32 (P, 2) with columns (target, context).

    ``flat`` int32 (N,) concatenated playlists and ``lengths`` int (n_playlists,) their
    lengths. ``keep_prob`` (float (V+1,), optional) first drops each occurrence of song
    ``s`` with probability ``1 - keep_prob[s]`` and closes the gaps, as word2vec does.
    Then every pair of positions ``0 < |i - j| <= reach_i`` inside one playlist gives the
    pair ``(song_i, song_j)``, where ``reach_i = window``, or with ``dynamic_window`` an
    independent uniform draw from ``1..window`` per target position. Rows are shuffled
    with ``rng`` unless ``shuffle=False`` (then ordered by offset, then position).
    """
    flat = np.asarray(flat)
    lengths = np.asarray(lengths, dtype=np.int64)
    if keep_prob is not None:
        kept = rng.random(flat.size) < keep_prob[flat]
        owner = np.repeat(np.arange(lengths.size), lengths)
        flat = flat[kept]
        lengths = np.bincount(owner[kept], minlength=lengths.size).astype(np.int64)
    n = flat.size
    ends = np.cumsum(lengths)
    # Songs after each position in its own playlist.
    right = np.repeat(ends, lengths) - np.arange(n) - 1
    reach = rng.integers(1, window + 1, size=n, dtype=np.int32) if dynamic_window \
        else None
    targets, contexts = [], []
    # Offsets past the longest playlist pair nothing; stopping there keeps an absurd window cheap.
    for d in range(1, min(window, int(right.max(initial=0))) + 1):
        i = np.flatnonzero(right >= d)
        j = i + d
        if reach is None:
            ti, tj = i, j
        else:
            ti = i[reach[i] >= d]
            tj = j[reach[j] >= d]
        # (song_i -> song_{i+d}) uses the reach of i; (song_{i+d} -> song_i) that of i+d.
        targets += [flat[ti], flat[tj]]
        contexts += [flat[ti + d], flat[tj - d]]
    if targets:
        pairs = np.stack([np.concatenate(targets), np.concatenate(contexts)], axis=1)
    else:
        pairs = np.zeros((0, 2), dtype=np.int32)
    pairs = np.ascontiguousarray(pairs, dtype=np.int32)
    if shuffle and len(pairs):
        # A row of two int32 is one int64: shuffling that 1-D view in place moves whole
        # rows, about 3x faster than a permutation plus a copy and with no extra memory.
        rng.shuffle(pairs.view(np.int64).reshape(-1))
    return pairs


# --------------------------------------------------------------------------- noise


def noise_weights(counts: np.ndarray, power: float) -> np.ndarray:
    """Noise distribution over songs: float64 (V+1,), sums to 1, entry 0 is 0.

    ``power == 0``: uniform over ``1..V`` (every song, seen or not). Otherwise
    ``p[s] ∝ counts[s] ** power`` over songs with ``counts[s] > 0`` (unseen songs get 0,
    also for negative powers, where ``0 ** power`` would be infinite).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or c.size < 2:
        raise ValueError(f"counts must have shape (V+1,) with V >= 1, got {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError("counts must be finite and non-negative")
    if not _is_real(power):
        raise ValueError(f"power must be a finite number, got {power!r}")
    w = np.zeros_like(c)
    if power == 0:
        w[1:] = 1.0
    else:
        seen = np.flatnonzero(c[1:] > 0) + 1
        if seen.size == 0:
            raise ValueError("counts are all zero over songs 1..V; need at least one > 0")
        with np.errstate(over="ignore", divide="ignore"):
            w[seen] = c[seen] ** float(power)
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"power {power:g} is out of range for these counts: count ** power over- or "
                         f"underflows (counts up to {c.max():g}); expected a power of a few units at most "
                         f"(word2vec uses 0.75)")
    return w / total


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table of a distribution over ``0..n-1``.

    ``probs`` float (n,), non-negative, summing to 1. Returns ``(threshold float32 (n,),
    alias int32 (n,))``: draw a column ``j`` uniformly and ``u ~ U[0, 1)``; the sample is
    ``j`` if ``u < threshold[j]`` else ``alias[j]``. Each entry ``j`` then has probability
    ``(threshold[j] + sum_{i: alias[i] = j} (1 - threshold[i])) / n``, which equals
    ``probs[j]`` up to float rounding.
    """
    p = np.asarray(probs, dtype=np.float64)
    n = p.size
    scaled = p * n
    threshold = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int64)
    small = list(np.flatnonzero(scaled < 1.0))
    large = list(np.flatnonzero(scaled >= 1.0))
    while small and large:
        s = small.pop()
        g = large[-1]
        threshold[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        if scaled[g] < 1.0:
            large.pop()
            small.append(g)
    # Leftovers are 1 up to rounding; they keep threshold 1 (never use their alias).
    return threshold.astype(np.float32), alias.astype(np.int32)


def next_song_tables(target_vectors: np.ndarray, context_vectors: np.ndarray | None,
                     counts: np.ndarray, power: float) -> tuple[np.ndarray, np.ndarray]:
    """Tables whose dot product ranks songs by the model's estimate of P(next | query).

    At its optimum the SGNS logit of (t, c) is ``log P(c | t) - log(k * noise(c))``: the
    noise distribution ``∝ count ** power`` is divided out. Adding ``power * log
    count(c)`` back gives ``log P(c | t)`` up to a constant per query. The term is folded
    into one extra column (1 in the target table, ``power * log max(count, 1)`` in the
    context table), so ``EmbeddingScorer(*next_song_tables(...), mode="dot")`` ranks by
    it. With ``power == 0`` the extra column is constant and changes no ranking.

    ``target_vectors`` float (V+1, d); ``context_vectors`` float (V+1, d) or ``None``
    (shared table: the target table plays both roles); ``counts`` int (V+1,) training
    counts. Returns two float32 (V+1, d+1) arrays. Use the raw target vectors, not these,
    for cosine similarity.
    """
    t = np.asarray(target_vectors, dtype=np.float32)
    c = t if context_vectors is None else np.asarray(context_vectors, dtype=np.float32)
    n = np.asarray(counts, dtype=np.float64)
    if t.ndim != 2 or c.shape != t.shape:
        raise ValueError(f"target and context tables must both be (V+1, d), got {t.shape} "
                         f"and {c.shape}")
    if n.shape != (t.shape[0],):
        raise ValueError(f"counts must have shape ({t.shape[0]},), got {n.shape}")
    if not _is_real(power):
        raise ValueError(f"power must be a finite number, got {power!r}")
    bias = (float(power) * np.log(np.maximum(n, 1.0))).astype(np.float32)
    bias[0] = 0.0
    ones = np.ones((t.shape[0], 1), dtype=np.float32)
    return np.hstack([t, ones]), np.hstack([c, bias[:, None]])


# --------------------------------------------------------------------------- model


def build_fast_sgns(vocab_size: int, config: FastConfig | dict | None = None,
                    noise: np.ndarray | None = None, seed: int = 0):
    """Build and compile the in-graph negative-sampling SGNS model.

    ``noise``: float (V+1,) noise distribution (``noise[0] == 0``); ``None`` = uniform over
    ``1..V``. The model's ``train_step`` takes a batch of positive pairs int32 (B, 2) and
    draws ``config.negatives`` noise contexts per row itself; ``model(pairs)`` returns the
    sigmoid scores float32 (B,). Embedding layers are named like
    :func:`helpers.model.build_sgns`'s, so :func:`helpers.model.embeddings_of` works.
    """
    config = FastConfig() if config is None else FastConfig.from_dict(config)
    vocab_size = _check_vocab_size(vocab_size)
    cls = _model_class()
    model = cls(vocab_size, config, noise, seed)
    model.build_tables()
    return model


_MODEL_CLASS = None


def _model_class():
    """The Keras model class, defined on first use so that importing is cheap."""
    global _MODEL_CLASS
    if _MODEL_CLASS is not None:
        return _MODEL_CLASS
    import keras
    import tensorflow as tf

    from helpers.model import CONTEXT_NAME, SHARED_NAME, TARGET_NAME

    class FastSGNS(keras.Model):
        """SGNS with negatives drawn in the graph; see :func:`build_fast_sgns`."""

        def __init__(self, vocab_size, config, noise, seed):
            super().__init__(name="fast_sgns")
            self.vocab_size = int(vocab_size)
            self.config = config
            self.seed_value = int(seed)
            k = config.negatives
            d = config.dim
            # word2vec's start: small random target rows, zero context rows.
            t_init = keras.initializers.RandomUniform(-0.5 / d, 0.5 / d, seed=seed)
            if config.shared:
                self.t_table = keras.layers.Embedding(vocab_size + 1, d, name=SHARED_NAME,
                                                      embeddings_initializer=t_init)
                self.c_table = self.t_table
            else:
                self.t_table = keras.layers.Embedding(vocab_size + 1, d, name=TARGET_NAME,
                                                      embeddings_initializer=t_init)
                self.c_table = keras.layers.Embedding(vocab_size + 1, d, name=CONTEXT_NAME,
                                                      embeddings_initializer="zeros")
            self.k = k
            if noise is None:
                self.uniform = True
                self.noise_threshold = None
                self.noise_alias = None
            else:
                noise = np.asarray(noise, dtype=np.float64)
                if noise.shape != (vocab_size + 1,) or noise[0] != 0:
                    raise ValueError(f"noise must have shape ({vocab_size + 1},) with "
                                     f"noise[0] == 0, got shape {noise.shape}")
                self.uniform = False
                thr, ali = alias_table(noise[1:] / noise[1:].sum())
                self.noise_threshold = tf.constant(thr)
                self.noise_alias = tf.constant(ali)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
            self.loss_count = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.total_steps = tf.Variable(1, dtype=tf.int64, trainable=False)

        def build_tables(self):
            self.t_table.build((None,))
            if not self.config.shared:
                self.c_table.build((None,))
            tables = [self.t_table.embeddings] if self.config.shared else \
                [self.t_table.embeddings, self.c_table.embeddings]
            self.tables = tables
            # The tf.Variables behind the Keras ones: gathers on them differentiate to
            # IndexedSlices and they have the scatter_* methods the lazy update needs.
            self.tf_tables = [v.value for v in tables]
            if self.config.optimizer == "adam":
                self.compile(optimizer=keras.optimizers.Adam(self.config.learning_rate),
                             jit_compile=self.config.jit_compile)
                self.optimizer.build(tables)
            else:
                self.compile(jit_compile=False)
                self.moments = [(tf.Variable(tf.zeros(v.shape), trainable=False),
                                 tf.Variable(tf.zeros(v.shape), trainable=False))
                                for v in tables]
            self.built = True

        def call(self, inputs):
            pairs = tf.convert_to_tensor(inputs)
            t = self.t_table(pairs[:, 0])
            c = self.c_table(pairs[:, 1])
            return tf.sigmoid(tf.reduce_sum(t * c, axis=-1))

        # -- sampling ---------------------------------------------------------------
        def sample_negatives(self, n, step):
            """int32 (n, k) noise contexts in 1..V, a function of (seed, step) only."""
            seed = tf.stack([tf.constant(self.seed_value, tf.int64), step])
            shape = tf.stack([n, self.k])
            if self.uniform:
                return tf.random.stateless_uniform(shape, seed, minval=1,
                                                   maxval=self.vocab_size + 1,
                                                   dtype=tf.int32)
            cols = tf.random.stateless_uniform(shape, seed, minval=0,
                                               maxval=self.vocab_size, dtype=tf.int32)
            u = tf.random.stateless_uniform(shape, seed + 1, dtype=tf.float32)
            pick = tf.where(u < tf.gather(self.noise_threshold, cols), cols,
                            tf.gather(self.noise_alias, cols))
            return pick + 1

        # -- loss --------------------------------------------------------------------
        def batch_loss(self, targets, contexts, negatives):
            """Mean binary cross-entropy over the B * (k + 1) rows of a batch.

            ``targets``, ``contexts`` int32 (B,), ``negatives`` int32 (B, k). Computed as
            ``softplus(-z)`` for real rows and ``softplus(z)`` for noise rows, which is
            the cross-entropy without clipping.
            """
            tv = self.tf_tables[0]
            cv = self.tf_tables[-1]
            t = tf.gather(tv, targets)                                   # (B, d)
            ctx = tf.concat([contexts[:, None], negatives], axis=1)      # (B, k+1)
            c = tf.gather(cv, ctx)                                       # (B, k+1, d)
            z = tf.einsum("bd,bjd->bj", t, c)
            sign = tf.concat([-tf.ones_like(z[:, :1]), tf.ones_like(z[:, 1:])], axis=1)
            return tf.reduce_mean(tf.nn.softplus(sign * z))

        def learning_rate_now(self):
            lr = tf.constant(self.config.learning_rate, tf.float32)
            if not self.config.lr_decay:
                return lr
            done = tf.cast(self.step, tf.float32) / tf.cast(self.total_steps, tf.float32)
            return lr * tf.maximum(1.0 - done, 1e-4)

        def row_gradients(self, targets, contexts, negatives):
            """Loss and per-row gradients of one batch, without autodiff.

            ``targets``, ``contexts`` int32 (B,); ``negatives`` int32 (B / g, k): group
            ``i`` of ``g = config.negative_group`` consecutive positives shares row ``i``
            of noise contexts (``g = 1``: every positive has its own). Each positive
            still meets ``k`` noise contexts, so the loss is the SGNS loss of the B
            positives with ``repeat(negatives, g, axis=0)`` as their noise rows; sharing
            only means the noise vectors are gathered and updated once per group.

            With ``z`` the logit of a row and ``y`` its label, the row's cross-entropy has
            derivative ``sigmoid(z) - y``; the target row gets that times the context
            vector and vice versa. Gradients are of the *summed* loss (one unit per row,
            as in word2vec), so a learning rate means the same at any batch size.
            Returns ``(mean loss, [(indices int32 (n,), grads float32 (n, d)) per
            table])``; indices may repeat.
            """
            d = self.config.dim
            g = self.config.negative_group
            tv = self.tf_tables[0]
            cv = self.tf_tables[-1]
            t = tf.gather(tv, targets)                                   # (B, d)
            c = tf.gather(cv, contexts)                                  # (B, d)
            nv = tf.gather(cv, negatives)                                # (G, k, d)
            t_grouped = tf.reshape(t, [-1, g, d])                        # (G, g, d)
            z_pos = tf.reduce_sum(t * c, axis=1)                         # (B,)
            z_neg = tf.einsum("Gid,Gkd->Gik", t_grouped, nv)             # (G, g, k)
            rows = tf.cast(tf.size(z_pos) + tf.size(z_neg), tf.float32)
            loss = (tf.reduce_sum(tf.nn.softplus(-z_pos))
                    + tf.reduce_sum(tf.nn.softplus(z_neg))) / rows
            d_pos = tf.sigmoid(z_pos) - 1.0
            d_neg = tf.sigmoid(z_neg)
            g_t = d_pos[:, None] * c + tf.reshape(
                tf.einsum("Gik,Gkd->Gid", d_neg, nv), [-1, d])
            g_c = d_pos[:, None] * t
            g_n = tf.reshape(tf.einsum("Gik,Gid->Gkd", d_neg, t_grouped), [-1, d])
            ctx = tf.concat([contexts, tf.reshape(negatives, [-1])], 0)
            g_ctx = tf.concat([g_c, g_n], 0)
            if self.config.shared:
                return loss, [(tf.concat([targets, ctx], 0), tf.concat([g_t, g_ctx], 0))]
            return loss, [(targets, g_t), (ctx, g_ctx)]

        def train_step(self, data):
            pairs = data[0] if isinstance(data, (tuple, list)) else data
            pairs = tf.cast(pairs, tf.int32)
            targets, contexts = pairs[:, 0], pairs[:, 1]
            groups = tf.shape(pairs)[0] // self.config.negative_group
            negatives = self.sample_negatives(groups, self.step)
            lr = self.learning_rate_now()
            if self.config.optimizer == "adam":
                with tf.GradientTape() as tape:
                    loss = self.batch_loss(
                        targets, contexts,
                        tf.repeat(negatives, self.config.negative_group, axis=0))
                grads = tape.gradient(loss, self.tf_tables)
                self.optimizer.learning_rate.assign(lr)
                self.optimizer.apply(grads, self.tables)
            else:
                loss, grads = self.row_gradients(targets, contexts, negatives)
                if self.config.optimizer == "sgd":
                    for var, (idx, g) in zip(self.tf_tables, grads):
                        var.scatter_sub(tf.IndexedSlices(lr * g, idx))
                else:
                    self._lazy_adam(grads, lr)
            self.step.assign_add(1)
            self.loss_sum.assign_add(tf.cast(loss, tf.float64))
            self.loss_count.assign_add(1)
            return {"loss": loss}

        def _lazy_adam(self, grads, lr, beta1=0.9, beta2=0.999, eps=1e-7):
            # Adam restricted to the rows in the batch: moments of untouched rows are
            # left as they are (TF1's LazyAdam), which keeps a step O(batch) instead of
            # O(V * dim). Duplicate rows are summed first, as a dense gradient would.
            t = tf.cast(self.step + 1, tf.float32)
            alpha = lr * tf.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
            for var, (m, v), (idx, g) in zip(self.tf_tables, self.moments, grads):
                rows, pos = tf.unique(idx)
                gsum = tf.math.unsorted_segment_sum(g, pos, tf.shape(rows)[0])
                m_new = beta1 * tf.gather(m, rows) + (1.0 - beta1) * gsum
                v_new = beta2 * tf.gather(v, rows) + (1.0 - beta2) * tf.square(gsum)
                m.scatter_update(tf.IndexedSlices(m_new, rows))
                v.scatter_update(tf.IndexedSlices(v_new, rows))
                # Rows are distinct here, so an update (cheaper than scatter_sub on CPU)
                # is exact.
                step = alpha * m_new / (tf.sqrt(v_new) + eps)
                var.scatter_update(tf.IndexedSlices(tf.gather(var, rows) - step, rows))

    _MODEL_CLASS = FastSGNS
    return FastSGNS


def sgns_batch_loss(model, targets, contexts, negatives) -> float:
    """The model's mean SGNS loss for explicit rows (no sampling): ``targets``,
    ``contexts`` int (B,), ``negatives`` int (B, k). Returns a Python float."""
    import tensorflow as tf

    return float(model.batch_loss(tf.constant(np.asarray(targets, np.int32)),
                                  tf.constant(np.asarray(contexts, np.int32)),
                                  tf.constant(np.asarray(negatives, np.int32))))


# --------------------------------------------------------------------------- training


def _step_runner(model):
    """tf.function running ``model.train_step`` over a (S, B, 2) block of batches."""
    import tensorflow as tf

    step = model.train_step
    if model.config.jit_compile:
        step = tf.function(step, jit_compile=True, reduce_retracing=True)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 2], tf.int32)])
    def run(block):
        for s in tf.range(tf.shape(block)[0]):
            step(block[s])
        return model.step

    return run


def _epoch_batches(pairs: np.ndarray, batch: int) -> list[np.ndarray]:
    """The rows in order as blocks of shape (n, batch, 2): a view of every full batch,
    then (if rows are left) one batch of the leftover rows topped up from the start.

    Every batch has the same shape, so the compiled step is traced once; the top-up
    repeats fewer than ``batch`` rows of the epoch.
    """
    n = len(pairs)
    full = n // batch
    blocks = [pairs[: full * batch].reshape(full, batch, 2)] if full else []
    if full * batch != n:
        rest = pairs[np.arange(full * batch, full * batch + batch) % n]
        blocks.append(rest.reshape(1, batch, 2))
    return blocks


def _validation_loss(model, val_pairs: np.ndarray, val_negs: np.ndarray,
                     batch: int) -> float:
    import tensorflow as tf

    total = 0.0
    for a in range(0, len(val_pairs), batch):
        b = min(len(val_pairs), a + batch)
        loss = model.batch_loss(tf.constant(val_pairs[a:b, 0]), tf.constant(val_pairs[a:b, 1]),
                                tf.constant(val_negs[a:b]))
        total += float(loss) * (b - a)
    return total / len(val_pairs)


def train_fast(train_encoded: Sequence[np.ndarray], vocab_size: int,
               settings: FastConfig | dict | None = None,
               val: Sequence[np.ndarray] | None = None, *, seed: int = 0,
               counts: np.ndarray | None = None, progress: bool = False) -> TrainResult:
    """Train SGNS with in-graph negatives; return a :class:`helpers.training.TrainResult`.

    ``train_encoded`` / ``val``: lists of int arrays of song indices ``1..vocab_size``.
    ``settings``: a :class:`FastConfig` or a dict of its fields (missing fields take the
    defaults, i.e. :data:`REFERENCE_SETTINGS`). ``counts`` int (V+1,): song counts for the
    noise and the subsampling; default = counts in ``train_encoded``.

    Result: ``target_vectors`` float32 (V+1, dim) (the shared table when ``shared``),
    ``context_vectors`` float32 (V+1, dim) or ``None``; ``history`` has ``"loss"`` (mean
    over the epoch's steps), ``"lr"`` (at the epoch's start) and, with ``val``,
    ``"val_loss"`` (same noise rows every epoch); ``n_pairs`` = pair updates (positives
    times ``negatives + 1``) in an average epoch; ``seconds`` = time in the train steps
    plus waiting for pairs; ``pairs_seconds`` = time spent making positives (overlapped
    with training after the first epoch); ``config`` = the :class:`FastConfig`.
    """
    if settings is None:
        config = FastConfig()
    elif isinstance(settings, FastConfig):
        config = settings
    else:
        config = FastConfig.from_dict(dict(settings))
    vocab_size = _check_vocab_size(vocab_size)
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    flat, lengths = _flatten(train_encoded, vocab_size, "train_encoded")
    if counts is None:
        counts = np.bincount(flat, minlength=vocab_size + 1).astype(np.int64)
    counts = np.asarray(counts)
    if counts.shape != (vocab_size + 1,):
        raise ValueError(f"counts must have shape ({vocab_size + 1},), got {counts.shape}")
    keep_prob = keep_probabilities(counts, config.subsample) if config.subsample > 0 \
        else None
    noise = None if config.power == 0 else noise_weights(counts, config.power)

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = build_fast_sgns(vocab_size, config, noise, seed)
    run = _step_runner(model)

    def make(epoch):
        rng = np.random.default_rng([seed, epoch])
        pairs = epoch_positives(flat, lengths, config.window, rng,
                                dynamic_window=config.dynamic_window, keep_prob=keep_prob)
        return pairs

    t0 = time.perf_counter()
    first = make(0)
    pairs_seconds = time.perf_counter() - t0
    if len(first) == 0:
        raise ValueError("train_encoded produced no positive pairs: every playlist needs "
                         "at least 2 songs")
    # A whole number of noise groups per batch; tiny inputs get one batch (wrapped).
    g = config.negative_group
    batch = max(g, min(config.batch_size, len(first)) // g * g)
    # Steps per epoch vary a little with the dynamic window; the first epoch's count sets
    # the length of the linear learning-rate decay.
    model.total_steps.assign(max(1, -(-len(first) // batch)) * config.epochs)

    val_pairs = val_negs = None
    if val is not None:
        vflat, vlengths = _flatten(val, vocab_size, "val")
        val_pairs = epoch_positives(vflat, vlengths, config.window,
                                    np.random.default_rng([seed, 10**6]), shuffle=False)
        if len(val_pairs) == 0:
            raise ValueError("val produced no positive pairs: every playlist needs at "
                             "least 2 songs")
        vrng = np.random.default_rng([seed, 10**6 + 1])
        if noise is None:
            val_negs = vrng.integers(1, vocab_size + 1, size=(len(val_pairs),
                                                               config.negatives))
        else:
            val_negs = vrng.choice(vocab_size + 1, size=(len(val_pairs), config.negatives),
                                   p=noise)
        val_negs = val_negs.astype(np.int32)

    history: dict[str, list[float]] = {"loss": [], "lr": []}
    if val is not None:
        history["val_loss"] = []
    updates = 0
    seconds = 0.0
    current = first
    if progress:
        from helpers.progress import Steps

        clock = Steps(config.epochs)
    for epoch in range(config.epochs):
        # Next epoch's positives are built in a thread while this one trains (NumPy
        # releases the GIL in the heavy parts).
        nxt: dict[str, Any] = {}
        worker = None
        if epoch + 1 < config.epochs:
            def build(e=epoch + 1):
                s = time.perf_counter()
                nxt["pairs"] = make(e)
                nxt["seconds"] = time.perf_counter() - s
            worker = threading.Thread(target=build, daemon=True)
            worker.start()
        history["lr"].append(float(model.learning_rate_now()))
        model.loss_sum.assign(0.0)
        model.loss_count.assign(0)
        start = time.perf_counter()
        steps = 0
        for blocks in _epoch_batches(current, batch):
            for a in range(0, len(blocks), config.steps_per_execution):
                run(tf.constant(blocks[a:a + config.steps_per_execution]))
            steps += len(blocks)
        updates += steps * batch * (config.negatives + 1)
        history["loss"].append(float(model.loss_sum.numpy() / max(1, model.loss_count.numpy())))
        if worker is not None:
            worker.join()
            pairs_seconds += nxt["seconds"]
            current = nxt["pairs"]
        seconds += time.perf_counter() - start
        if val_pairs is not None:
            history["val_loss"].append(_validation_loss(model, val_pairs, val_negs, batch))
        if progress:
            clock.step()
            extra = f"  val_loss {history['val_loss'][-1]:.4f}" if val is not None else ""
            print(f"epoch {epoch + 1}/{config.epochs}  loss {history['loss'][-1]:.4f}"
                  f"{extra}  {updates / seconds:,.0f} pair updates/s  ({clock.line()})", flush=True)

    from helpers.model import embeddings_of

    return TrainResult(
        history=history,
        target_vectors=embeddings_of(model, "target"),
        context_vectors=None if config.shared else embeddings_of(model, "context"),
        model=model,
        n_pairs=int(round(updates / config.epochs)),
        seconds=seconds,
        pairs_per_second=updates / seconds if seconds > 0 else float("nan"),
        epochs_run=config.epochs,
        pairs_seconds=pairs_seconds,
        config=config,
    )
