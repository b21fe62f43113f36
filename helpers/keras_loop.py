"""The keras loop: materialised pairs and ``model.fit``, as the notebooks teach it.

Encoded playlists -> (target, context, label) rows (:func:`helpers.skipgrams.skipgram_pairs`)
-> :func:`helpers.model.build_sgns` -> ``model.fit`` on NumPy arrays (:func:`fit_arrays`)
-> embedding tables. :func:`helpers.sgns.train` calls :func:`run` when
``config.loop == "keras"``.

Two fixes over the original assignment live here:

* validation pairs come from held-out *playlists* (see
  :func:`helpers.splits.split_playlists`), never from ``validation_split``, which took the
  last slice of an unshuffled pair array;
* the ``ReduceLROnPlateau`` callback is really passed to ``fit``, and the learning rate of
  every epoch is recorded in the history under ``"lr"`` so that its effect is visible.

Every random draw comes from ``config.seed``: pair sampling (``seed``), the validation
pairs (``seed + 1``), the initial weights and Keras' per-epoch shuffling
(``keras.utils.set_random_seed(seed)``). On CPU two runs with the same config give
bit-identical vectors.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from helpers.model import build_sgns, compile_sgns, embeddings_of
from helpers.skipgrams import skipgram_pairs

LR_FACTOR = 0.5      # ReduceLROnPlateau: multiply the learning rate by this ...
LR_MIN_DELTA = 1e-4  # ... when the monitored loss has not dropped by more than this ...
MIN_LR = 1e-6        # ... but never below this.
VAL_SEED_OFFSET = 1  # validation pairs use seed + 1, so they are not the training draws


def make_pairs(playlists: list[np.ndarray], vocab_size: int, config, seed: int,
               counts: np.ndarray | None = None):
    """The rows of ``playlists`` under the config's pair settings.

    ``playlists``: list of int arrays (song indices); ``config``: a
    :class:`helpers.sgns.SGNSConfig`; ``counts``: int64 (V+1,), required for unigram noise.
    Returns ``(targets int32 (N,), contexts int32 (N,), labels float32 (N,))``, unshuffled.
    """
    return skipgram_pairs(
        playlists, config.window, config.negatives, vocab_size,
        noise=config.noise, counts=counts, power=config.power,
        exclude_target=config.exclude_target, exclude_context=config.exclude_context,
        max_pairs_per_playlist=config.max_pairs_per_playlist, seed=seed, shuffle=False,
    )


def current_learning_rate(optimizer) -> float:
    """The optimiser's learning rate now, as a Python float."""
    lr = optimizer.learning_rate
    # Convert the backend value, not the Keras Variable wrapper: NumPy 2 warns about the
    # wrapper's __array__ (no ``copy`` keyword).
    return float(keras.ops.convert_to_numpy(getattr(lr, "value", lr)))


class LearningRateRecorder(keras.callbacks.Callback):
    """Stores the optimiser's learning rate at the start of every epoch in ``rates``."""

    def __init__(self):
        super().__init__()
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.append(current_learning_rate(self.model.optimizer))


def standard_callbacks(config, has_validation: bool) -> list:
    """The plateau and early-stopping callbacks that ``config`` asks for.

    Both monitor ``"val_loss"`` when there is validation data, else ``"loss"``.
    """
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
               config, validation=None, callbacks=()) -> tuple[dict[str, list[float]], float]:
    """Fit a compiled SGNS model on pair arrays.

    ``targets``, ``contexts``: int32 (N,); ``labels``: float32 (N,); ``validation``:
    ``None`` or a ``(targets, contexts, labels)`` triple of the same kinds. Keras reshuffles
    the pairs every epoch. The callbacks from :func:`standard_callbacks` run first, then
    ``callbacks``.
    Returns ``(history, seconds)``: each logged metric -> one float per epoch, plus ``"lr"``;
    the wall time of ``fit``.
    """
    recorder = LearningRateRecorder()
    all_callbacks = [recorder, *standard_callbacks(config, validation is not None), *callbacks]
    validation_data = None
    if validation is not None:
        vt, vc, vl = validation
        validation_data = ({"target": np.asarray(vt, np.int32), "context": np.asarray(vc, np.int32)},
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
        verbose=config.verbose,
    )
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
    history["lr"] = recorder.rates[: len(history.get("loss", recorder.rates))]
    return history, seconds


def _split(flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(flat, np.cumsum(lengths)[:-1]) if lengths.size else []


def run(train_data, val_data, vocab_size: int, config, *, progress: bool = False, callbacks=()) -> dict:
    """Train with ``model.fit``; the contract of :func:`helpers.sgns.train`.

    ``train_data`` / ``val_data``: ``(flat int32 (N,), lengths int64 (n,))`` of checked
    playlists (``val_data`` may be None). Returns the fields of
    :class:`helpers.sgns.TrainResult` but ``config``.
    """
    keras.utils.set_random_seed(config.seed)
    playlists = _split(*train_data)
    counts = np.bincount(train_data[0], minlength=vocab_size + 1).astype(np.int64) \
        if config.noise == "unigram" else None

    start = time.perf_counter()
    targets, contexts, labels = make_pairs(playlists, vocab_size, config, seed=config.seed, counts=counts)
    pairs_seconds = time.perf_counter() - start
    validation = None
    if val_data is not None:
        validation = make_pairs(_split(*val_data), vocab_size, config, seed=config.seed + VAL_SEED_OFFSET,
                                counts=counts)

    model = build_sgns(vocab_size, config.dim, shared=config.shared, dense_head=config.dense_head,
                       seed=config.seed)
    compile_sgns(model, config.learning_rate, jit_compile=config.jit_compile,
                 steps_per_execution=config.steps_per_execution)
    if progress and not config.verbose:
        from helpers.progress import epoch_progress

        callbacks = [*callbacks, epoch_progress()]
    history, seconds = fit_arrays(model, targets, contexts, labels, config, validation, callbacks)
    epochs_run = len(history.get("loss", []))
    n_pairs = int(len(labels))
    return {
        "history": history,
        "target_vectors": embeddings_of(model, "target"),
        "context_vectors": None if config.shared else embeddings_of(model, "context"),
        "model": model,
        "n_pairs": n_pairs,
        "seconds": seconds,
        "pairs_per_second": n_pairs * epochs_run / seconds if seconds > 0 else float("nan"),
        "epochs_run": epochs_run,
        "pairs_seconds": pairs_seconds,
    }
