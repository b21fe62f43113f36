"""The session loop: trains the next-song model of :mod:`helpers.session_model`.

:func:`helpers.sgns.train` calls :func:`run` when ``config.loop == "session"``. Every epoch
gets fresh examples (:func:`helpers.sessions.session_examples`: the last ``window`` songs
and the song after them, shuffled, with ``slot_dropout`` drawn afresh) from
``default_rng([seed, epoch])``; batching, the background thread that builds the next
epoch, validation and progress lines are the fast loop's (:func:`helpers.fast_loop.train_epochs`).

The model's tables come back as :class:`helpers.sessions.SessionTables` (``session``), and,
so that every single-song tool keeps working, the query slot's input table as
``target_vectors`` and the output table as ``context_vectors``: their dot product is the
model asked with one song. For "songs like X" (cosine), the skip-gram tables of the fast
loop remain the better choice (bench/experiments/RESULTS.md).

With ``config.blend_holdout > 0`` (``PRESETS["next_song"]``: 0.1) that share of the
training playlists is held out (:func:`helpers.blend.split_for_blend`, seeded by
``config.seed``): the model trains on the rest, then :func:`helpers.blend.fit_weights`
fits the blend's weights on the held-out playlists (``blend`` in the result).
"""

from __future__ import annotations

import time

import numpy as np

from helpers.fast_loop import fitted, train_epochs, validation_noise
from helpers.noise import noise_distribution
from helpers.sessions import session_examples


def run(train_data, val_data, vocab_size: int, config, *, progress: bool = False, callbacks=()) -> dict:
    """Train the session model; the contract of :func:`helpers.sgns.train`.

    ``train_data`` / ``val_data``: ``(flat int32 (N,), lengths int64 (n,))`` of checked
    playlists (``val_data`` may be None); ``callbacks``: ``f(epoch, model)`` after each
    epoch. Returns the fields of :class:`helpers.sgns.TrainResult` but ``config``
    (``n_pairs``: examples times ``negatives + 1`` per epoch; ``val_loss``: mean loss per
    validation example, each group of ``negative_group`` examples against fixed noise songs;
    ``blend``: with ``config.blend_holdout > 0`` the model trains on all but that share of the
    playlists and :func:`helpers.blend.fit_weights` fits the blend on them, else None).
    """
    from helpers.session_model import SessionModel

    seed = config.seed
    kept = held = None
    if config.blend_holdout > 0:
        from helpers.blend import split_for_blend

        # The blend's weights must be fitted on playlists the model never saw: train on the rest.
        playlists = np.split(train_data[0], np.cumsum(train_data[1])[:-1])
        kept, held = split_for_blend(playlists, config.blend_holdout, seed)
        train_data = (np.concatenate(kept), np.array([p.size for p in kept], dtype=np.int64))
    flat, lengths = train_data
    counts = np.bincount(flat, minlength=vocab_size + 1).astype(np.int64)
    noise = None if config.noise == "uniform" or config.power == 0 else noise_distribution(counts, config.power)

    def make(epoch):
        return session_examples(flat, lengths, config.window, np.random.default_rng([seed, epoch]),
                                slot_dropout=config.slot_dropout)

    t0 = time.perf_counter()
    first = make(0)
    seconds = time.perf_counter() - t0
    # The batch rule, without the skip-gram's 20-epoch floor: the session model overfits a
    # small corpus within a few epochs of ~100 steps (200 playlists: validation loss lowest
    # after 3, bench/README.md), so it keeps its own epochs.
    fit = fitted(config, len(first), min_epochs=1)
    model = SessionModel(vocab_size, fit, noise)

    validation = None
    if val_data is not None:
        val_rows = session_examples(*val_data, config.window)
        g = fit.negative_group
        val_negs = validation_noise(-(-len(val_rows) // g), config.negatives, noise, vocab_size, seed)

        def validation(m):
            total = sum(m.rows_loss(val_rows[a:a + g], val_negs[a // g][None, :]) for a in range(0, len(val_rows), g))
            return total / max(1, len(val_rows))

    out = train_epochs(model, first, make, fit, validation=validation, progress=progress, callbacks=callbacks,
                       updates_per_row=config.negatives + 1)
    out["pairs_seconds"] += seconds
    tables = model.tables()
    blend = None
    if held is not None:
        from helpers.blend import fit_weights

        power = config.power if config.loss == "sgns" and noise is not None else 0.0
        blend = fit_weights(tables, kept, held, vocab_size, power=power, seed=seed, progress=progress)
    return {**out, "target_vectors": tables.inputs[0].copy(), "context_vectors": tables.output, "model": model,
            "session": tables, "blend": blend}
