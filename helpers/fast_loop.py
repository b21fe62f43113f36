"""The fast loop: SGNS on the full playlist collection in about a minute on two cores.

:func:`helpers.sgns.train` calls :func:`run` when ``config.loop == "fast"``. Compared with
the keras loop (every row materialised in NumPy and fed to ``model.fit``):

* only *positive* pairs leave NumPy. They are regenerated every epoch with vectorised code
  (:func:`epoch_positives`; word2vec's shrinking window and frequent-song subsampling are
  optional), shuffled and cut into large batches, the next epoch's in a background thread;
* the noise contexts are drawn inside the TensorFlow graph and only the touched rows are
  updated (:mod:`helpers.fast_model`, imported only here, when training starts);
* the train step runs inside a ``tf.function`` that loops over ``steps_per_execution``
  batches per Python call (XLA via ``jit_compile`` for the ``"sgd"`` and ``"adam"``
  optimizers).

Ranking next songs from these tables: :func:`helpers.noise.next_song_tables`.

Determinism: every random draw comes from ``config.seed`` (positives of epoch ``e`` from
``default_rng([seed, e])``, validation pairs from ``default_rng([seed, 10**6])``, negatives
from a stateless generator keyed by ``(seed, step)``, the initial tables from seeded Keras
initialisers), so on CPU two runs with the same inputs give the same vectors.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from helpers.noise import noise_distribution
from helpers.validate import Described, bad_argument, check_real
from helpers.windows import Windows

# The validation pairs' generators: far from the epochs' [seed, epoch] keys.
VAL_STREAM = 10**6
# The batch-size rule of ``auto_schedule`` (see :func:`fitted`): about this many steps per
# epoch, batches of at least MIN_BATCH rows, and on a corpus small enough to shrink the
# batch at least SMALL_CORPUS_EPOCHS epochs (the original assignment's for its 200 playlists).
STEPS_PER_EPOCH = 100
MIN_BATCH = 64
SMALL_CORPUS_EPOCHS = 20


def keep_probabilities(counts: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec's subsampling: probability of keeping each occurrence of a song.

    ``counts``: int (V+1,); ``threshold``: ``t > 0``. With ``f = count / total``,
    ``keep = min(1, (sqrt(f / t) + 1) * t / f)`` (the formula of word2vec.c and gensim).
    Returns float64 (V+1,); songs with count 0 get 1.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or np.any(c < 0):
        raise bad_argument("counts", "a 1-D array of non-negative numbers", Described(f"shape {c.shape}"))
    threshold = check_real("threshold", threshold, 0, low_open=True)
    limit = threshold * c.sum()
    keep = np.ones_like(c)
    seen = c > 0
    keep[seen] = (np.sqrt(c[seen] / limit) + 1.0) * limit / c[seen]
    return np.minimum(keep, 1.0)


def epoch_positives(flat: np.ndarray, lengths: np.ndarray, window: int,
                    rng: np.random.Generator, *, dynamic_window: bool = False,
                    keep_prob: np.ndarray | None = None, shuffle: bool = True) -> np.ndarray:
    """One epoch of positive pairs: int32 (P, 2), columns (target, context).

    ``flat``: int32 (N,), concatenated playlists; ``lengths``: int (n_playlists,).
    ``keep_prob`` (float (V+1,), optional) first drops each occurrence of song ``s`` with
    probability ``1 - keep_prob[s]`` and closes the gaps, as word2vec does. Then every pair
    of positions ``0 < |i - j| <= reach_i`` inside one playlist (:mod:`helpers.windows`)
    gives the pair ``(song_i, song_j)``, where ``reach_i = window``, or with
    ``dynamic_window`` an independent uniform draw from ``1..window`` per target position.
    Rows are shuffled with ``rng`` unless ``shuffle=False`` (then ordered by offset, then
    position).
    """
    flat = np.asarray(flat)
    lengths = np.asarray(lengths, dtype=np.int64)
    if keep_prob is not None:
        kept = rng.random(flat.size) < keep_prob[flat]
        owner = np.repeat(np.arange(lengths.size), lengths)
        flat = flat[kept]
        lengths = np.bincount(owner[kept], minlength=lengths.size).astype(np.int64)
    windows = Windows(lengths)
    reach = rng.integers(1, window + 1, size=flat.size, dtype=np.int32) if dynamic_window \
        else None
    targets, contexts = [], []
    # Offsets past the longest playlist pair nothing; stopping there keeps an absurd window cheap.
    for d in range(1, min(window, int(windows.after.max(initial=0))) + 1):
        i = windows.partners(d)
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


def _step_runner(model):
    """tf.function running ``model.train_step`` over a (S, B, C) block of batches."""
    import tensorflow as tf

    step = model.train_step
    if model.config.jit_compile:
        step = tf.function(step, jit_compile=True, reduce_retracing=True)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.int32)])
    def run_block(block):
        for s in tf.range(tf.shape(block)[0]):
            step(block[s])
        return model.step

    return run_block


def epoch_batches(rows: np.ndarray, batch: int) -> list[np.ndarray]:
    """The rows in order as blocks of shape (n, batch, C).

    ``rows``: int32 (N, C) (pairs: C = 2). A view of every full batch, then (if rows are
    left) one batch of the leftover rows topped up from the start. Every batch has the same
    shape, so the compiled step is traced once; the top-up repeats fewer than ``batch``
    rows of the epoch.
    """
    n, width = rows.shape
    full = n // batch
    blocks = [rows[: full * batch].reshape(full, batch, width)] if full else []
    if full * batch != n:
        rest = rows[np.arange(full * batch, full * batch + batch) % n]
        blocks.append(rest.reshape(1, batch, width))
    return blocks


def fitted(config, rows_per_epoch: int, min_epochs: int = SMALL_CORPUS_EPOCHS):
    """The settings one run actually trains with, given ``rows_per_epoch`` (positives or
    examples in its first epoch).

    The batch holds a whole number of noise groups, and a tiny input gets one (wrapped)
    batch. With ``config.auto_schedule`` the batch is sized to the data, so that an epoch
    has about :data:`STEPS_PER_EPOCH` steps: ``clamp(rows // STEPS_PER_EPOCH, MIN_BATCH,
    batch_size)``; when that shrinks the batch (a small corpus), the noise group shrinks with
    it if needed and the run lasts at least ``min_epochs`` epochs. A few large
    steps per epoch leave the tables near their start (the synthetic demo's 4 steps per
    epoch learned nothing visible; bench/README.md). Returns a re-checked SGNSConfig.
    """
    g, batch, epochs = config.negative_group, config.batch_size, config.epochs
    if config.auto_schedule:
        batch = min(config.batch_size, max(MIN_BATCH, rows_per_epoch // STEPS_PER_EPOCH))
        if batch < config.batch_size:
            g = min(g, batch)
            epochs = max(epochs, min_epochs)
    batch = max(g, min(batch, rows_per_epoch) // g * g)
    return dataclasses.replace(config, batch_size=batch, negative_group=g, epochs=epochs)


def validation_noise(n: int, negatives: int, noise: np.ndarray | None, vocab_size: int, seed: int) -> np.ndarray:
    """Fixed noise rows for validation: int32 (n, negatives), the same every epoch.

    Drawn with ``default_rng([seed, VAL_STREAM + 1])`` from ``noise`` (float (V+1,)) or
    uniformly over ``1..vocab_size`` when ``noise`` is None.
    """
    rng = np.random.default_rng([seed, VAL_STREAM + 1])
    if noise is None:
        out = rng.integers(1, vocab_size + 1, size=(n, negatives))
    else:
        out = rng.choice(vocab_size + 1, size=(n, negatives), p=noise)
    return out.astype(np.int32)


def train_epochs(model, first: np.ndarray, make: Callable[[int], np.ndarray], config, *,
                 validation: Callable[[Any], float] | None = None, progress: bool = False,
                 callbacks: Sequence[Callable] = (), updates_per_row: int = 1) -> dict:
    """The epochs of a row-based loop (this one and :mod:`helpers.session_loop`).

    ``model``: has ``train_step(rows int32 (B, C))``, the counters ``step``,
    ``total_steps``, ``loss_sum``, ``loss_count``, ``learning_rate_now()`` and ``config``;
    ``first``: int32 (N, C), epoch 0's rows; ``make(epoch)``: the rows of a later epoch
    (built in a background thread while the previous epoch trains: NumPy releases the GIL
    in the heavy parts); ``config``: the :func:`fitted` settings; ``validation(model)``: the
    validation loss after each epoch; ``callbacks``: ``f(epoch, model)`` after each epoch,
    outside the timed part; ``updates_per_row``: pair updates one row stands for.
    Returns ``history``, ``n_pairs``, ``seconds``, ``pairs_per_second``, ``epochs_run``,
    ``pairs_seconds`` (without the first epoch's rows: the caller adds them).
    """
    import tensorflow as tf

    run_block = _step_runner(model)
    batch = config.batch_size
    # Steps per epoch vary a little with the dynamic window; the first epoch's count sets
    # the length of the linear learning-rate decay.
    model.total_steps.assign(max(1, -(-len(first) // batch)) * config.epochs)
    history: dict[str, list[float]] = {"loss": [], "lr": []}
    if validation is not None:
        history["val_loss"] = []
    updates = 0
    seconds = pairs_seconds = 0.0
    current = first
    if progress:
        from helpers.progress import Steps

        clock = Steps(config.epochs)
    for epoch in range(config.epochs):
        nxt: dict[str, Any] = {}
        worker = None
        if epoch + 1 < config.epochs:
            def build(e=epoch + 1, into=nxt):
                s = time.perf_counter()
                into["rows"] = make(e)
                into["seconds"] = time.perf_counter() - s
            worker = threading.Thread(target=build, daemon=True)
            worker.start()
        history["lr"].append(float(model.learning_rate_now()))
        model.loss_sum.assign(0.0)
        model.loss_count.assign(0)
        start = time.perf_counter()
        steps = 0
        for blocks in epoch_batches(current, batch):
            for a in range(0, len(blocks), config.steps_per_execution):
                run_block(tf.constant(blocks[a:a + config.steps_per_execution]))
            steps += len(blocks)
        updates += steps * batch * updates_per_row
        history["loss"].append(float(model.loss_sum.numpy() / max(1, model.loss_count.numpy())))
        if worker is not None:
            worker.join()
            pairs_seconds += nxt["seconds"]
            current = nxt["rows"]
        seconds += time.perf_counter() - start
        if validation is not None:
            history["val_loss"].append(validation(model))
        for callback in callbacks:
            callback(epoch, model)
        if progress:
            clock.step()
            extra = f"  val_loss {history['val_loss'][-1]:.4f}" if validation is not None else ""
            print(f"epoch {epoch + 1}/{config.epochs}  loss {history['loss'][-1]:.4f}"
                  f"{extra}  {updates / seconds:,.0f} pair updates/s  ({clock.line()})", flush=True)
    return {
        "history": history,
        "n_pairs": int(round(updates / config.epochs)),
        "seconds": seconds,
        "pairs_per_second": updates / seconds if seconds > 0 else float("nan"),
        "epochs_run": config.epochs,
        "pairs_seconds": pairs_seconds,
        "schedule": {"batch_size": batch, "negative_group": config.negative_group, "epochs": config.epochs},
    }


def run(train_data, val_data, vocab_size: int, config, *, progress: bool = False, callbacks=()) -> dict:
    """Train with in-graph negatives; the contract of :func:`helpers.sgns.train`.

    ``train_data`` / ``val_data``: ``(flat int32 (N,), lengths int64 (n,))`` of checked
    playlists (``val_data`` may be None); ``callbacks``: ``f(epoch, model)`` after each
    epoch. Returns the fields of :class:`helpers.sgns.TrainResult` but ``config``:
    ``history`` has ``"loss"`` (mean over the epoch's steps), ``"lr"`` (at the epoch's
    start) and, with validation data, ``"val_loss"`` (the same noise rows every epoch);
    ``n_pairs`` = pair updates (positives times ``negatives + 1``) in an average epoch;
    ``seconds`` = time in the train steps plus waiting for pairs; ``pairs_seconds`` = time
    spent making positives (overlapped with training after the first epoch);
    ``schedule``: the batch, noise group and epochs trained with (:func:`fitted`).
    """
    import keras
    import tensorflow as tf

    from helpers.fast_model import build_fast_sgns
    from helpers.model import embeddings_of

    seed = config.seed
    flat, lengths = train_data
    counts = np.bincount(flat, minlength=vocab_size + 1).astype(np.int64)
    keep_prob = keep_probabilities(counts, config.subsample) if config.subsample > 0 else None
    noise = None if config.noise == "uniform" or config.power == 0 \
        else noise_distribution(counts, config.power)

    def make(epoch):
        rng = np.random.default_rng([seed, epoch])
        return epoch_positives(flat, lengths, config.window, rng,
                               dynamic_window=config.dynamic_window, keep_prob=keep_prob)

    t0 = time.perf_counter()
    first = make(0)
    pairs_seconds = time.perf_counter() - t0
    fit = fitted(config, len(first))
    keras.utils.set_random_seed(seed)
    model = build_fast_sgns(vocab_size, fit, noise)

    validation = None
    if val_data is not None:
        val_pairs = epoch_positives(*val_data, config.window, np.random.default_rng([seed, VAL_STREAM]),
                                    shuffle=False)
        val_negs = validation_noise(len(val_pairs), config.negatives, noise, vocab_size, seed)

        def validation(m):
            total = 0.0
            for a in range(0, len(val_pairs), fit.batch_size):
                b = min(len(val_pairs), a + fit.batch_size)
                loss = m.batch_loss(tf.constant(val_pairs[a:b, 0]), tf.constant(val_pairs[a:b, 1]),
                                    tf.constant(val_negs[a:b]))
                total += float(loss) * (b - a)
            return total / len(val_pairs)

    out = train_epochs(model, first, make, fit, validation=validation, progress=progress,
                       callbacks=callbacks, updates_per_row=config.negatives + 1)
    out["pairs_seconds"] += pairs_seconds
    return {
        **out,
        "target_vectors": embeddings_of(model, "target"),
        "context_vectors": None if config.shared else embeddings_of(model, "context"),
        "model": model,
    }
