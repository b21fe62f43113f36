"""The noise distribution of negative sampling, and what follows from it.

One rule, used by both training loops:

* ``noise="uniform"`` (or ``power == 0``): every song ``1..V`` is equally likely, songs
  with a zero count included;
* ``noise="unigram"`` with ``power != 0``: ``p[s] ∝ counts[s] ** power`` over the songs
  with ``counts[s] > 0``; songs never seen get probability 0, also for negative powers
  (which favour rare songs), where ``0 ** power`` would be infinite.

Index 0 is the padding row and never drawn. :func:`alias_table` turns a distribution into
Walker's alias table (the fast loop draws from it in the TensorFlow graph), and
:func:`next_song_tables` adds the noise term back when ranking next songs.
"""

from __future__ import annotations

import numpy as np

from helpers.validate import Described, bad_argument, check_choice, check_real

NOISE_KINDS = ("uniform", "unigram")
# The defaults of every function and setting that takes a noise: declared here only.
DEFAULT_NOISE = "uniform"
DEFAULT_POWER = 0.75  # word2vec's exponent


def check_counts(counts, name: str = "counts") -> np.ndarray:
    """Song counts indexed by vocabulary index: float64 (V+1,), finite, >= 0, ``[0] == 0``.

    Raises ValueError naming the first entry at fault.
    """
    c = np.asarray(counts)
    if c.ndim != 1 or c.size < 2 or c.dtype.kind not in "iuf":
        raise bad_argument(name, "a 1-D array of numbers of shape (V+1,) with V >= 1",
                           Described(f"dtype {c.dtype} shape {c.shape}"))
    c = c.astype(np.float64)
    bad = ~np.isfinite(c) | (c < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise bad_argument(f"{name}[{k}]", "a finite count >= 0", float(c[k]))
    if c[0] != 0:
        raise bad_argument(f"{name}[0]", "0 (index 0 is padding; counts are indexed by song index 1..V)",
                           float(c[0]))
    return c


def noise_distribution(counts, power: float = DEFAULT_POWER, noise: str = "unigram") -> np.ndarray:
    """Negative-sampling distribution over songs ``1..V``, by the rule of this module.

    ``counts``: numbers (V+1,), occurrences per song index, ``counts[0] == 0``.
    ``power``: finite exponent (word2vec uses 0.75; 0 = uniform). ``noise``: ``"unigram"``
    (``counts ** power``) or ``"uniform"`` (``power`` and ``counts`` ignored but for V).
    Returns float64 (V+1,), summing to 1, ``p[0] == 0``.
    Raises ValueError for bad counts, a power that over- or underflows, or unigram noise
    over counts that are all zero.
    """
    check_choice("noise", noise, NOISE_KINDS)
    power = check_real("power", power)
    c = check_counts(counts)
    weights = np.zeros_like(c)
    if noise == "uniform" or power == 0:
        weights[1:] = 1.0
        return weights / weights.sum()
    seen = np.flatnonzero(c[1:] > 0) + 1
    if seen.size == 0:
        raise bad_argument("counts", f"at least one positive count over songs 1..{c.size - 1} "
                                     f"(unigram noise)", Described("all zeros"))
    with np.errstate(over="ignore", divide="ignore"):
        weights[seen] = c[seen] ** power
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        raise bad_argument("power", f"a power of a few units at most for counts up to {c.max():g} "
                                    f"(count ** power over- or underflows; word2vec uses 0.75)", power)
    return weights / total


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table of a distribution over ``0..n-1``.

    ``probs``: float (n,), non-negative, summing to 1. Returns ``(threshold float32 (n,),
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
    context table), so a dot-product ranking of the two tables ranks by it. With
    ``power == 0`` (uniform noise) the extra column is constant and changes no ranking.

    ``target_vectors``: float (V+1, d); ``context_vectors``: float (V+1, d) or ``None``
    (shared table: the target table plays both roles); ``counts``: int (V+1,) training
    counts; ``power``: the noise exponent of training (0 for uniform noise).
    Returns two float32 (V+1, d+1) arrays. Use the raw target vectors, not these, for
    cosine similarity.
    """
    t = np.asarray(target_vectors, dtype=np.float32)
    c = t if context_vectors is None else np.asarray(context_vectors, dtype=np.float32)
    n = np.asarray(counts, dtype=np.float64)
    if t.ndim != 2 or c.shape != t.shape:
        raise bad_argument("context_vectors", f"an array of the target table's shape {t.shape}",
                           Described(f"shape {c.shape}"))
    if n.shape != (t.shape[0],):
        raise bad_argument("counts", f"an array of shape ({t.shape[0]},)", Described(f"shape {n.shape}"))
    power = check_real("power", power)
    bias = (power * np.log(np.maximum(n, 1.0))).astype(np.float32)
    bias[0] = 0.0
    ones = np.ones((t.shape[0], 1), dtype=np.float32)
    return np.hstack([t, ones]), np.hstack([c, bias[:, None]])
