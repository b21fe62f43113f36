"""Training the SGNS model on encoded playlists.

The pipeline is: encoded playlists -> (target, context, label) pairs
(:func:`helpers.skipgrams.skipgram_pairs`) -> :func:`helpers.model.build_sgns` ->
``model.fit`` on NumPy arrays (:func:`fit_arrays`) -> embedding tables.

Two fixes over the original assignment live here:

* validation pairs come from held-out *playlists* (:func:`split_playlists`), never from
  ``validation_split``, which took the last slice of an unshuffled pair array;
* the ``ReduceLROnPlateau`` callback is really passed to ``fit``, and the learning rate
  of every epoch is recorded in the history under ``"lr"`` so that its effect is visible.

Everything random is seeded from ``TrainConfig.seed``: pair sampling (``seed``), the
validation pairs (``seed + 1``), the initial weights and Keras' per-epoch shuffling
(``keras.utils.set_random_seed(seed)``). On CPU two runs with the same config give
bit-identical vectors.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from helpers.model import build_sgns, compile_sgns, embeddings_of

NOISE_KINDS = ("uniform", "unigram")
LR_FACTOR = 0.5      # ReduceLROnPlateau: multiply the learning rate by this ...
LR_MIN_DELTA = 1e-4  # ... when the monitored loss has not dropped by more than this ...
MIN_LR = 1e-6        # ... but never below this.
VAL_SEED_OFFSET = 1  # validation pairs use seed + 1, so they are not the training draws


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Every setting of one training run. Defaults are the original assignment's.

    Pairs: ``window`` (songs on each side), ``negatives`` (noise pairs per real pair),
    ``noise`` (``"uniform"`` or ``"unigram"``, the latter with counts**``power``),
    ``exclude_target`` / ``exclude_context`` (do not draw the target / a true context as
    a negative), ``max_pairs_per_playlist`` (cap on the rows, real + noise, that one
    playlist contributes; ``None`` = no cap).
    Model: ``dim``, ``shared``, ``dense_head`` (see :func:`helpers.model.build_sgns`).
    Optimisation: ``learning_rate`` (Adam), ``batch_size``, ``epochs``, ``seed``,
    ``reduce_lr_patience`` (epochs without improvement before the learning rate is
    halved, down to 1e-6; ``None`` switches it off), ``early_stopping_patience``
    (``None`` = off; when on, the best epoch's weights are restored), ``verbose``
    (Keras ``fit`` verbosity 0/1/2).
    Invalid values raise ``ValueError`` naming the field and the value.
    """

    window: int = 10
    negatives: int = 5
    noise: str = "uniform"
    power: float = 0.75
    exclude_target: bool = False
    exclude_context: bool = False
    max_pairs_per_playlist: int | None = 10_000
    dim: int = 32
    shared: bool = True
    dense_head: bool = False
    learning_rate: float = 1e-3
    batch_size: int = 2048
    epochs: int = 20
    seed: int = 42
    reduce_lr_patience: int | None = 2
    early_stopping_patience: int | None = None
    verbose: int = 0

    def __post_init__(self):
        def bad(name, expected):
            value = getattr(self, name)
            raise ValueError(f"TrainConfig.{name} must be {expected}, got {value!r}")

        for name, low in (("window", 1), ("negatives", 0), ("dim", 1),
                          ("batch_size", 1), ("epochs", 1), ("seed", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                bad(name, f"an int >= {low}")
        for name in ("max_pairs_per_playlist",):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                bad(name, "None or an int >= 1")
        for name in ("reduce_lr_patience", "early_stopping_patience"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                bad(name, "None or an int >= 0")
        for name in ("exclude_target", "exclude_context", "shared", "dense_head"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                bad(name, "True or False")
        if self.noise not in NOISE_KINDS:
            bad("noise", f"one of {NOISE_KINDS}")
        if not isinstance(self.power, numbers.Real) or isinstance(self.power, bool) \
                or not math.isfinite(self.power):
            bad("power", "a finite number")
        if not isinstance(self.learning_rate, numbers.Real) \
                or isinstance(self.learning_rate, bool) \
                or not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            bad("learning_rate", "a finite number > 0")
        if self.verbose not in (0, 1, 2) or isinstance(self.verbose, bool):
            bad("verbose", "0, 1 or 2")

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; expected some of {sorted(known)}")
        return cls(**values)


@dataclass
class TrainResult:
    """What :func:`train_sgns` returns.

    ``history``: metric name -> one float per epoch run (``"loss"``, ``"accuracy"``,
    ``"val_loss"``/``"val_accuracy"`` with validation data, ``"lr"`` = the learning rate
    in force during that epoch). ``target_vectors``: ``float32 (V + 1, dim)``, the
    shared table or the target table, row 0 = padding. ``context_vectors``: the
    context table of the same shape, or ``None`` when the table is shared.
    ``n_pairs``: training pairs per epoch (real + noise). ``seconds``: wall time of
    ``model.fit`` (validation included); ``pairs_per_second`` = ``n_pairs *
    epochs_run / seconds``. ``pairs_seconds``: time spent generating training pairs.
    """

    history: dict[str, list[float]]
    target_vectors: np.ndarray = field(repr=False)
    context_vectors: np.ndarray | None = field(repr=False)
    model: Any = field(repr=False)
    n_pairs: int
    seconds: float
    pairs_per_second: float
    epochs_run: int = 0
    pairs_seconds: float = 0.0
    config: TrainConfig | None = None


def split_playlists(encoded: Sequence[np.ndarray], val_fraction: float,
                    seed: int | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split playlists (not pairs) into a training and a validation list.

    A seeded permutation picks ``round(val_fraction * n)`` playlists for validation (at
    least one when ``val_fraction > 0``, and at least one left for training). Both lists
    keep the input order and hold the same array objects, so no playlist is on both
    sides. ``val_fraction = 0`` returns all playlists for training and an empty list.
    """
    if not isinstance(val_fraction, numbers.Real) or isinstance(val_fraction, bool) \
            or not (0.0 <= val_fraction < 1.0):
        raise ValueError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"seed must be None or an int >= 0, got {seed!r}")
    playlists = list(encoded)
    n = len(playlists)
    if val_fraction == 0:
        return playlists, []
    if n < 2:
        raise ValueError(
            f"need at least 2 playlists to hold some out for validation, got {n}")
    n_val = min(max(1, int(round(val_fraction * n))), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    is_val = np.zeros(n, dtype=bool)
    is_val[order[:n_val]] = True
    train = [p for p, v in zip(playlists, is_val) if not v]
    val = [p for p, v in zip(playlists, is_val) if v]
    return train, val


def _check_encoded(name: str, encoded, vocab_size: int) -> list[np.ndarray]:
    if isinstance(encoded, np.ndarray) and encoded.dtype != object:
        raise ValueError(f"{name} must be a list of 1-D int arrays (one per playlist), "
                         f"got a single array of shape {encoded.shape}")
    playlists = [np.asarray(p) for p in encoded]
    if not playlists:
        raise ValueError(f"{name} is empty: expected at least one playlist")
    for i, p in enumerate(playlists):
        if p.ndim != 1 or (p.size and not np.issubdtype(p.dtype, np.integer)):
            raise ValueError(f"{name}[{i}] must be a 1-D integer array, got dtype "
                             f"{p.dtype} shape {p.shape}")
        if p.size and (p.min() < 1 or p.max() > vocab_size):
            raise ValueError(
                f"{name}[{i}] holds index {int(p.min()) if p.min() < 1 else int(p.max())}; "
                f"expected song indices 1..{vocab_size} (0 is padding)")
    return playlists


def song_counts(encoded: Sequence[np.ndarray], vocab_size: int) -> np.ndarray:
    """Occurrences of each index in ``encoded``: ``int64 (V + 1,)``, ``[0] == 0``."""
    flat = np.concatenate([np.asarray(p, dtype=np.int64) for p in encoded]) \
        if len(encoded) else np.zeros(0, np.int64)
    return np.bincount(flat, minlength=vocab_size + 1).astype(np.int64)


def make_pairs(encoded: Sequence[np.ndarray], vocab_size: int, config: TrainConfig,
               seed: int, counts: np.ndarray | None = None):
    """Pairs for ``encoded`` with the config's sampling settings.

    Returns ``(targets int32 (N,), contexts int32 (N,), labels float32 (N,))``.
    ``counts`` (``int64 (V + 1,)``) is required for unigram noise.
    """
    from helpers.skipgrams import skipgram_pairs

    return skipgram_pairs(
        list(encoded), config.window, config.negatives, vocab_size,
        noise=config.noise, counts=counts, power=config.power,
        exclude_target=config.exclude_target, exclude_context=config.exclude_context,
        max_pairs_per_playlist=config.max_pairs_per_playlist, seed=seed, shuffle=False,
    )


def current_learning_rate(optimizer) -> float:
    """The optimiser's learning rate now, as a Python float."""
    import keras

    lr = optimizer.learning_rate
    # Convert the backend value, not the Keras Variable wrapper: NumPy 2 warns about the
    # wrapper's __array__ (no ``copy`` keyword).
    return float(keras.ops.convert_to_numpy(getattr(lr, "value", lr)))


def _lr_recorder():
    import keras

    class LearningRateRecorder(keras.callbacks.Callback):
        """Stores the optimiser's learning rate at the start of every epoch."""

        def __init__(self):
            super().__init__()
            self.rates: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.rates.append(current_learning_rate(self.model.optimizer))

    return LearningRateRecorder()


def standard_callbacks(config: TrainConfig, has_validation: bool) -> list:
    """The plateau/early-stopping callbacks that ``config`` asks for.

    Both monitor ``"val_loss"`` when there is validation data, else ``"loss"``.
    """
    import keras

    monitor = "val_loss" if has_validation else "loss"
    out = []
    if config.reduce_lr_patience is not None:
        out.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode="min", factor=LR_FACTOR,
            patience=config.reduce_lr_patience, min_delta=LR_MIN_DELTA, min_lr=MIN_LR,
            verbose=0))
    if config.early_stopping_patience is not None:
        out.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode="min", patience=config.early_stopping_patience,
            restore_best_weights=True, verbose=0))
    return out


def fit_arrays(model, targets: np.ndarray, contexts: np.ndarray, labels: np.ndarray,
               config: TrainConfig, validation=None, callbacks=(), *,
               verbose: int | None = None) -> tuple[dict[str, list[float]], float]:
    """Fit a compiled SGNS model on pair arrays; return ``(history, seconds)``.

    ``targets``, ``contexts``: ``int32 (N,)``; ``labels``: ``float32 (N,)``;
    ``validation``: ``None`` or a ``(targets, contexts, labels)`` triple of the same
    kinds. Keras reshuffles the pairs every epoch. The callbacks from
    :func:`standard_callbacks` run first, then ``callbacks``. ``history`` maps each
    logged metric to one float per epoch and adds ``"lr"``.
    """
    recorder = _lr_recorder()
    all_callbacks = [recorder, *standard_callbacks(config, validation is not None),
                     *callbacks]
    validation_data = None
    if validation is not None:
        vt, vc, vl = validation
        validation_data = ({"target": np.asarray(vt, np.int32),
                            "context": np.asarray(vc, np.int32)},
                           np.asarray(vl, np.float32))
    start = time.perf_counter()
    fitted = model.fit(
        x={"target": np.asarray(targets, np.int32), "context": np.asarray(contexts, np.int32)},
        y=np.asarray(labels, np.float32),
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        validation_data=validation_data,
        callbacks=all_callbacks,
        verbose=config.verbose if verbose is None else verbose,
    )
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
    history["lr"] = recorder.rates[: len(history.get("loss", recorder.rates))]
    return history, seconds


def train_sgns(train_encoded: Sequence[np.ndarray], vocab_size: int,
               config: TrainConfig | None = None,
               val_encoded: Sequence[np.ndarray] | None = None, *,
               callbacks=(), progress: bool = False) -> TrainResult:
    """Generate pairs, build and compile the model, train it, return the vectors.

    ``train_encoded`` / ``val_encoded``: lists of ``int32`` arrays of song indices
    ``1..vocab_size`` (e.g. from :func:`split_playlists`). Unigram noise uses the song
    counts of the *training* playlists for both sides. ``callbacks`` are extra Keras
    callbacks; ``progress=True`` prints one line per epoch with the time left (see
    :func:`helpers.progress.epoch_progress`) unless ``config.verbose`` already asks for
    Keras' own output.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not _is_int(vocab_size) or vocab_size < 1:
        raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}")
    train_encoded = _check_encoded("train_encoded", train_encoded, vocab_size)
    if val_encoded is not None:
        val_encoded = _check_encoded("val_encoded", val_encoded, vocab_size)

    import keras

    keras.utils.set_random_seed(config.seed)
    counts = song_counts(train_encoded, vocab_size) if config.noise == "unigram" else None

    start = time.perf_counter()
    targets, contexts, labels = make_pairs(train_encoded, vocab_size, config,
                                           seed=config.seed, counts=counts)
    pairs_seconds = time.perf_counter() - start
    n_pairs = int(len(labels))
    if n_pairs == 0:
        raise ValueError("train_encoded produced no training pairs: every playlist "
                         "needs at least 2 songs")
    validation = None
    if val_encoded is not None:
        validation = make_pairs(val_encoded, vocab_size, config,
                                seed=config.seed + VAL_SEED_OFFSET, counts=counts)
        if len(validation[2]) == 0:
            raise ValueError("val_encoded produced no validation pairs: every playlist "
                             "needs at least 2 songs")

    model = build_sgns(vocab_size, config.dim, shared=config.shared,
                       dense_head=config.dense_head, seed=config.seed)
    compile_sgns(model, config.learning_rate)
    if progress and not config.verbose:
        from helpers.progress import epoch_progress

        callbacks = [*callbacks, epoch_progress()]
    history, seconds = fit_arrays(model, targets, contexts, labels, config, validation,
                                  callbacks)
    epochs_run = len(history.get("loss", []))
    return TrainResult(
        history=history,
        target_vectors=embeddings_of(model, "target"),
        context_vectors=None if config.shared else embeddings_of(model, "context"),
        model=model,
        n_pairs=n_pairs,
        seconds=seconds,
        pairs_per_second=n_pairs * epochs_run / seconds if seconds > 0 else float("nan"),
        epochs_run=epochs_run,
        pairs_seconds=pairs_seconds,
        config=config,
    )
