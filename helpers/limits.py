"""Resource limits, stated in one place and checked before anything large is allocated.

=============================  ================================  ==========================
limit                          default                           raise it with
=============================  ================================  ==========================
training memory (estimate)     8 GiB                             ``--max-memory``, ``SONGREC_MAX_MEMORY``
one data text file             4 x the largest published file    ``SONGREC_MAX_DATA_BYTES``
download size                  see :mod:`helpers.fetch`          ``SONGREC_MAX_DOWNLOAD_BYTES``
download time, all included    900 s                             ``SONGREC_DOWNLOAD_DEADLINE``
=============================  ================================  ==========================

The training estimates (:func:`keras_memory`, :func:`fast_memory`, :func:`session_memory`;
each loop's entry in :data:`helpers.sgns.LOOPS` names its own) count what grows with the settings: the
embedding tables and their Adam state, one epoch of pairs (two while the next epoch is
built), the validation pairs with their noise, and one step's gathered vectors. It is a
rough upper bound meant to stop absurd settings (``--dim 10**6``, ``--negatives 10**6``)
in a second instead of after minutes of swapping; TensorFlow's own overhead is not in it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

import numpy as np

from helpers import environment
from helpers.errors import ResourceLimitError
from helpers.windows import positives_per_playlist

GiB = 1 << 30
MEMORY_ENV = environment.MAX_MEMORY
DEFAULT_MEMORY = 8 * GiB
DATA_BYTES_ENV = environment.MAX_DATA_BYTES
DOWNLOAD_BYTES_ENV = environment.MAX_DOWNLOAD_BYTES
DEADLINE_ENV = environment.DOWNLOAD_DEADLINE
DEFAULT_DEADLINE = 900.0



_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | int, what: str) -> int:
    """``"8G"``, ``"512M"``, ``"1048576"`` -> bytes (binary units, case-insensitive)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
        if not m:
            raise ValueError(f"{what} must be a size such as 8G, 512M or 1048576, got {text!r}")
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
        if not math.isfinite(value) or value > 2**62:
            raise ValueError(f"{what} must be at most 4 EiB, got {text!r}")
        value = int(value)
    if value < 1:
        raise ValueError(f"{what} must be at least 1 byte, got {text!r}")
    return value


def size_limit(env: str, default: int, flag_value: str | None = None, flag: str | None = None) -> int:
    """A byte limit: the flag if given, else the environment variable, else ``default``."""
    if flag_value is not None:
        return parse_size(flag_value, flag or env)
    value = os.environ.get(env)
    return parse_size(value, f"environment variable {env}") if value else default


def seconds_limit(env: str, default: float) -> float:
    """A time limit in seconds: the environment variable ``env`` if set (a number > 0), else ``default``."""
    value = os.environ.get(env)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"environment variable {env} must be a number of seconds > 0, got {value!r}")
    return seconds


def human(n: float) -> str:
    """A byte count for people: ``1.5 GiB``, ``512 bytes``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} bytes"


def _positives(lengths: np.ndarray, window: int) -> int:
    return int(positives_per_playlist(lengths, window).sum()) if len(lengths) else 0


def _sizes(train_lengths: Sequence[int], val_lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(train_lengths, dtype=np.int64), np.asarray(val_lengths, dtype=np.int64)


def _total(tables: int, pairs: int, validation: int, step: int) -> dict[str, int]:
    parts = {"tables": tables, "pairs": pairs, "validation": validation, "step": step}
    parts["total"] = sum(parts.values())
    return parts


# The three estimates below are named by the loops' entries in helpers.sgns.LOOPS (their
# ``memory``); each takes the lengths of the training and held-out playlists, the vocabulary
# size and the keyword settings, and returns ``{"tables", "pairs", "validation", "step",
# "total"}`` in bytes (Python ints, so absurd settings give large numbers rather than overflow).

def keras_memory(train_lengths: Sequence[int], val_lengths: Sequence[int], vocab_size: int, *, window: int,
                 negatives: int, dim: int, batch_size: int, shared: bool, max_pairs_per_playlist: int | None = None,
                 **_ignored) -> dict[str, int]:
    """The keras loop: every row (target, context, label) is materialised: 12 bytes, about
    three copies alive while Keras builds its dataset."""
    train_len, val = _sizes(train_lengths, val_lengths)
    k1 = negatives + 1
    # Weights plus Adam's two moments, float32.
    tables = 3 * (1 if shared else 2) * (vocab_size + 1) * dim * 4
    per = [_positives(np.array([n]), window) * k1 for n in train_len.tolist()]
    rows = sum(per if max_pairs_per_playlist is None else (min(r, max_pairs_per_playlist) for r in per))
    batch = min(batch_size, max(rows, 1))
    return _total(tables, 3 * rows * 12, 3 * _positives(val, window) * k1 * 12, 4 * batch * dim * 4 * 2)


def fast_memory(train_lengths: Sequence[int], val_lengths: Sequence[int], vocab_size: int, *, window: int,
                negatives: int, dim: int, batch_size: int, shared: bool, steps_per_execution: int = 1,
                **_ignored) -> dict[str, int]:
    """The fast loop: int32 (P, 2) pairs per epoch; the current and the next epoch, plus the
    pieces the next one is built from."""
    train_len, val = _sizes(train_lengths, val_lengths)
    tables = 3 * (1 if shared else 2) * (vocab_size + 1) * dim * 4
    positives = _positives(train_len, window)
    val_positives = _positives(val, window)
    batch = min(batch_size, max(positives, 1))
    # Gathered target, context and noise rows, their gradients and Adam's scatter.
    step = 4 * batch * (negatives + 1) * dim * 4 + steps_per_execution * batch * 8
    return _total(tables, 4 * positives * 8, val_positives * 8 + val_positives * negatives * 4, step)


def session_memory(train_lengths: Sequence[int], val_lengths: Sequence[int], vocab_size: int, *, window: int,
                   negatives: int, dim: int, batch_size: int, negative_group: int = 1,
                   blend_holdout: float = 0.0, **_ignored) -> dict[str, int]:
    """The session loop: ``window`` input tables, the output table and the bias, with Adam's
    moments; int32 (N, window + 1) examples per epoch (current, next, and the pieces of the
    next); per step the gathered rows (window + 1 per example, ``negatives`` per group of
    ``negative_group`` examples) and the (batch, negatives) logits, their softmax and gradient.
    With ``blend_holdout > 0`` also ``"blend"``: fitting the blend after training
    (:mod:`helpers.blend`): the kNN indexes (about 136 bytes per training song), a block of
    256 cases' scores (32 bytes per song of the vocabulary each) and the fit's candidates."""
    train_len, val = _sizes(train_lengths, val_lengths)
    examples = int(np.maximum(train_len - 1, 0).sum())
    tables = 3 * ((window + 1) * (vocab_size + 1) * dim + (vocab_size + 1)) * 4
    validation = int(np.maximum(val - 1, 0).sum()) * (window + 1) * 4
    batch = min(batch_size, max(examples, 1))
    groups = -(-batch // max(1, min(negative_group, batch)))
    step = 4 * (batch * (window + 1) + groups * negatives) * dim * 4 + 4 * batch * negatives * 4
    parts = _total(tables, 4 * examples * (window + 1) * 4, validation, step)
    if blend_holdout > 0:
        from helpers.blend import FIT_CASES

        parts["blend"] = 136 * int(train_len.sum()) + 256 * 32 * (vocab_size + 1) + FIT_CASES * 3000 * 24
        parts["total"] += parts["blend"]
    return parts


def check_training_memory(parts: dict[str, int], limit: int, *, flags: str) -> None:
    """Raise :class:`ResourceLimitError` when ``parts["total"]`` exceeds ``limit``.

    ``flags`` lists the settings to lower, as the user would type them.
    """
    if parts["total"] <= limit:
        return
    detail = ", ".join(f"{k} {human(v)}" for k, v in parts.items() if k != "total" and v)
    raise ResourceLimitError(
        f"training would need about {human(parts['total'])} of memory ({detail}), over the limit of "
        f"{human(limit)}; lower {flags}, or raise the limit with --max-memory or {MEMORY_ENV}")
