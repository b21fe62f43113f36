"""Tests for helpers.sgns (config, presets, loops) and the keras loop (helpers.keras_loop).

The training runs use a tiny corpus with a known answer: songs 1..12 (group A) and
13..24 (group B); every training playlist draws its songs from one group only. A working
SGNS must then place songs of the same group closer together than songs of different
groups.
"""

import dataclasses
import importlib
import json
import math
import re

import numpy as np
import pytest

from helpers.sgns import LOOPS, PRESETS, SGNSConfig, TrainResult, describe, honours, train
from helpers.skipgrams import skipgram_pairs

keras = pytest.importorskip("keras")

V = 24
GROUP = np.repeat([0, 1], 12)  # GROUP[i - 1] is the group of song i
LENGTH = 8
WINDOW = 3
# Real pairs in one playlist of 8 distinct songs with window 3, counted by target
# position 0..7: 3 + 4 + 5 + 6 + 6 + 5 + 4 + 3.
POSITIVES_PER_PLAYLIST = 36


def grouped_playlists(n, seed, mixed=False):
    """``n`` playlists of 8 distinct songs; each from one group, or 4 + 4 if ``mixed``."""
    rng = np.random.default_rng(seed)
    group_a, group_b = np.arange(1, 13), np.arange(13, 25)
    out = []
    for k in range(n):
        if mixed:
            p = np.concatenate([rng.choice(group_a, 4, replace=False),
                                rng.choice(group_b, 4, replace=False)])
            rng.shuffle(p)
        else:
            p = rng.choice(group_a if k % 2 == 0 else group_b, LENGTH, replace=False)
        out.append(p.astype(np.int32))
    return out


TRAIN = grouped_playlists(60, seed=0)
VAL_SAME = grouped_playlists(10, seed=1)
VAL_MIXED = grouped_playlists(10, seed=2, mixed=True)


def small_config(**overrides):
    base = dict(window=WINDOW, negatives=3, dim=8, batch_size=256, epochs=8,
                learning_rate=0.05, seed=3, reduce_lr_patience=None)
    base.update(overrides)
    return dataclasses.replace(PRESETS["assignment"], **base)


def train_sgns(train_encoded, vocab_size, config, val_encoded=None, **kw):
    return train(train_encoded, vocab_size, config, val_encoded, **kw)


def cosine_matrix(vectors):
    x = np.asarray(vectors[1:], dtype=np.float64)  # drop the padding row
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


# --------------------------------------------------------------------------- config


ORIGINAL = dict(loop="keras", window=10, negatives=5, noise="uniform", power=0.75,
                exclude_target=False, exclude_context=False,
                max_pairs_per_playlist=10_000, dim=32, shared=True, dense_head=False,
                learning_rate=1e-3, batch_size=2048, epochs=20, seed=42,
                reduce_lr_patience=2, early_stopping_patience=None, verbose=0)
# How fast model.fit runs, not what it computes (test_xla_and_steps_per_call_keep_the_vectors).
EXECUTION = dict(jit_compile=True, steps_per_execution=16)
FAST = dict(loop="fast", window=2, dynamic_window=False, negatives=5, negative_group=8, noise="unigram",
            power=0.75, subsample=0.0, dim=64, shared=False, optimizer="lazy_adam", learning_rate=0.01,
            lr_decay=True, batch_size=8192, epochs=5, steps_per_execution=32, jit_compile=False, seed=42)


def test_presets_hold_the_original_assignments_and_the_fast_settings():
    assignment, fast = PRESETS["assignment"].to_dict(), PRESETS["fast"].to_dict()
    assert {k: assignment[k] for k in ORIGINAL} == ORIGINAL
    assert {k: assignment[k] for k in EXECUTION} == EXECUTION
    assert {k: fast[k] for k in FAST} == FAST
    # Every other setting is off: the defaults, which are the assignment's sizes.
    defaults = SGNSConfig().to_dict()
    assert {k: v for k, v in assignment.items() if k not in {**ORIGINAL, **EXECUTION}} == \
        {k: v for k, v in defaults.items() if k not in {**ORIGINAL, **EXECUTION}}
    assert {k: defaults[k] for k in ("window", "negatives", "dim", "epochs")} == {"window": 10, "negatives": 5,
                                                                                   "dim": 32, "epochs": 20}


def test_every_setting_is_documented_and_every_loop_registered_once():
    docs = describe()
    assert list(docs) == [f.name for f in dataclasses.fields(SGNSConfig)]
    assert all(isinstance(d, str) and len(d) > 10 for d in docs.values())
    specific = [name for name in docs if not honours("keras", name) or not honours("fast", name)]
    for name in specific:  # each loop-specific setting belongs to some loop
        assert any(name in loop.honours for loop in LOOPS.values()), name
    for loop in LOOPS.values():
        assert loop.honours <= set(docs)
        assert callable(importlib.import_module(loop.module).run)


@pytest.mark.parametrize("loop, field, value", [
    ("fast", "max_pairs_per_playlist", 100), ("fast", "exclude_target", True), ("fast", "dense_head", True),
    ("fast", "reduce_lr_patience", 2), ("fast", "verbose", 1), ("keras", "optimizer", "lazy_adam"),
    ("keras", "negative_group", 4), ("keras", "subsample", 1e-3), ("keras", "lr_decay", True),
    ("keras", "dynamic_window", True), ("keras", "auto_schedule", True), ("session", "jit_compile", True),
])
def test_a_loop_refuses_settings_it_cannot_honour(loop, field, value):
    with pytest.raises(ValueError) as err:
        SGNSConfig(loop=loop, **{field: value})
    message = str(err.value)
    assert f"SGNSConfig.{field} must be" in message and f"loop={loop!r}" in message and repr(value) in message


def test_fast_loop_needs_negatives_and_lazy_adam_has_no_xla():
    with pytest.raises(ValueError, match="negatives must be an int >= 1 with loop='fast', got 0"):
        SGNSConfig(loop="fast", negatives=0)
    with pytest.raises(ValueError, match="jit_compile must be False with optimizer='lazy_adam'"):
        dataclasses.replace(PRESETS["fast"], jit_compile=True)


@pytest.mark.parametrize("field, value", [
    ("window", 0), ("window", 2.0), ("negatives", -1), ("dim", 0), ("epochs", 0),
    ("batch_size", 0), ("learning_rate", 0.0), ("learning_rate", -0.1),
    ("learning_rate", float("inf")), ("noise", "zipf"), ("seed", -5), ("seed", None),
    ("max_pairs_per_playlist", 0), ("reduce_lr_patience", -1),
    ("early_stopping_patience", 1.5), ("shared", "yes"), ("verbose", 3),
    ("power", float("nan")), ("loop", "reference"), ("seed", 2**32),
])
def test_config_rejects_bad_values_naming_field_and_value(field, value):
    with pytest.raises(ValueError) as err:
        SGNSConfig(**{field: value})
    message = str(err.value)
    assert field in message
    assert repr(value) in message


def test_config_round_trips_through_json():
    cfg = SGNSConfig(window=3, noise="unigram", max_pairs_per_playlist=None,
                     early_stopping_patience=4, shared=False)
    assert SGNSConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert SGNSConfig.from_dict(PRESETS["fast"].to_dict()) == PRESETS["fast"]


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="embedding_size"):
        SGNSConfig.from_dict({"embedding_size": 16})


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def grouped_run():
    return train_sgns(TRAIN, V, small_config(), VAL_SAME)


def test_result_shapes_and_bookkeeping(grouped_run):
    r = grouped_run
    assert isinstance(r, TrainResult)
    assert r.target_vectors.shape == (V + 1, 8)
    assert r.target_vectors.dtype == np.float32
    assert r.context_vectors is None  # shared table
    np.testing.assert_array_equal(r.target_vectors,
                                  r.model.get_layer("song_embedding").get_weights()[0])
    # no cap is reached: every real pair plus 3 noise pairs each
    assert r.n_pairs == 60 * POSITIVES_PER_PLAYLIST * 4
    assert r.epochs_run == 8
    assert r.seconds > 0 and r.pairs_per_second > 0
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert len(r.history[key]) == 8, key
        assert all(isinstance(v, float) for v in r.history[key])


def test_loss_decreases(grouped_run):
    loss = grouped_run.history["loss"]
    assert loss[-1] < loss[0]
    # Every score starts near sigmoid(0) = 1/2, i.e. a loss near ln 2.
    assert loss[-1] < math.log(2) - 0.02


def test_songs_of_one_group_end_up_closer(grouped_run):
    sims = cosine_matrix(grouped_run.target_vectors)
    same = GROUP[:, None] == GROUP[None, :]
    off_diagonal = ~np.eye(V, dtype=bool)
    within = sims[same & off_diagonal].mean()
    across = sims[~same].mean()
    assert within > across + 0.5, (within, across)


def test_learning_rate_constant_when_plateau_callback_off(grouped_run):
    assert grouped_run.history["lr"] == pytest.approx([0.05] * 8)


def test_validation_pairs_come_from_held_out_playlists(grouped_run):
    # The reported val_loss must be the final model's loss on pairs drawn from the
    # held-out playlists with seed + 1 (not a slice of the training pairs).
    cfg = grouped_run.config
    vt, vc, vl = skipgram_pairs(VAL_SAME, cfg.window, cfg.negatives, V, seed=cfg.seed + 1)
    loss = grouped_run.model.evaluate({"target": vt, "context": vc}, vl, batch_size=4096,
                                      verbose=0, return_dict=True)["loss"]
    assert grouped_run.history["val_loss"][-1] == pytest.approx(loss, rel=1e-4)


def test_no_validation_means_no_val_metrics():
    r = train_sgns(TRAIN, V, small_config(epochs=1))
    assert "val_loss" not in r.history
    assert len(r.history["loss"]) == 1


@pytest.fixture(scope="module")
def plateau_run():
    # Validation playlists mix the two groups, so their real pairs are exactly what the
    # model learns to score low: validation loss must stall or rise, and with patience 0
    # every epoch without improvement halves the learning rate.
    return train_sgns(TRAIN, V, small_config(epochs=6, reduce_lr_patience=0), VAL_MIXED)


def test_plateau_callback_reduces_learning_rate(plateau_run):
    lr = plateau_run.history["lr"]
    assert lr[0] == pytest.approx(0.05)
    assert min(lr) < 0.05 / 2 + 1e-9


def test_learning_rate_follows_plateau_rule_on_val_loss(plateau_run):
    # Re-derive the schedule by hand: patience 0, factor 1/2, min_delta 1e-4 on val_loss.
    val_loss, lr = plateau_run.history["val_loss"], plateau_run.history["lr"]
    best, expected = math.inf, 0.05
    for epoch in range(len(lr) - 1):
        if val_loss[epoch] < best - 1e-4:
            best = val_loss[epoch]
        else:
            expected = max(expected * 0.5, 1e-6)
        assert lr[epoch + 1] == pytest.approx(expected, rel=1e-6), epoch


def test_early_stopping_and_user_callbacks_are_passed_to_fit():
    class CountEpochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

    counter = CountEpochs()
    cfg = small_config(epochs=10, early_stopping_patience=0)
    r = train_sgns(TRAIN, V, cfg, VAL_MIXED, callbacks=[counter])
    assert 1 <= len(r.history["loss"]) < 10
    assert counter.epochs == len(r.history["loss"]) == r.epochs_run


@pytest.fixture(scope="module")
def tiny_runs():
    cfg = small_config(epochs=2, batch_size=64, shared=False, reduce_lr_patience=1)
    return (train_sgns(TRAIN, V, cfg, VAL_SAME),
            train_sgns(TRAIN, V, cfg, VAL_SAME),
            train_sgns(TRAIN, V, dataclasses.replace(cfg, seed=4), VAL_SAME))


def test_same_seed_gives_bit_identical_vectors(tiny_runs):
    a, b, _ = tiny_runs
    assert np.array_equal(a.target_vectors, b.target_vectors)
    assert np.array_equal(a.context_vectors, b.context_vectors)
    assert a.history == b.history


def test_different_seed_gives_different_vectors(tiny_runs):
    a, _, c = tiny_runs
    assert not np.array_equal(a.target_vectors, c.target_vectors)


def test_separate_tables_are_both_returned(tiny_runs):
    a = tiny_runs[0]
    assert a.context_vectors is not None
    assert a.context_vectors.shape == a.target_vectors.shape == (V + 1, 8)
    assert not np.array_equal(a.context_vectors, a.target_vectors)


def test_unigram_noise_with_exclusion_trains_and_progress_prints(capsys):
    cfg = small_config(epochs=1, noise="unigram", exclude_target=True, dense_head=True)
    r = train_sgns(TRAIN, V, cfg, progress=True)
    assert r.n_pairs == 60 * POSITIVES_PER_PLAYLIST * 4
    assert np.isfinite(r.target_vectors).all()
    out = capsys.readouterr().out
    assert out.startswith("epoch 1/1  loss ") and out.count("\n") == 1, out  # one line for the epoch


def test_cap_limits_pairs_per_playlist():
    r = train_sgns(TRAIN, V, small_config(epochs=1, max_pairs_per_playlist=50))
    assert r.n_pairs == 60 * 50


# --------------------------------------------------------------------------- bad input


def test_rejects_song_index_outside_vocabulary():
    bad = TRAIN[:3] + [np.array([1, 2, 25], dtype=np.int32)]
    with pytest.raises(ValueError, match="25"):
        train_sgns(bad, V, small_config(epochs=1))


def test_rejects_padding_index_in_playlist():
    bad = [np.array([3, 0, 4], dtype=np.int32)]
    with pytest.raises(ValueError, match="0"):
        train_sgns(bad, V, small_config(epochs=1))


@pytest.mark.parametrize("vocab_size", [0, -2, 3.5])
def test_rejects_bad_vocab_size(vocab_size):
    with pytest.raises(ValueError, match=re.escape(repr(vocab_size))):
        train_sgns(TRAIN, vocab_size, small_config(epochs=1))


def test_rejects_empty_corpus_and_corpus_without_pairs():
    with pytest.raises(ValueError, match="empty"):
        train_sgns([], V, small_config(epochs=1))
    singles = [np.array([i], dtype=np.int32) for i in range(1, 6)]
    with pytest.raises(ValueError, match="train_encoded must be playlists of which at least one has 2 songs"):
        train_sgns(singles, V, small_config(epochs=1))
    with pytest.raises(ValueError, match="val_encoded must be playlists of which at least one has 2 songs"):
        train_sgns(TRAIN, V, small_config(epochs=1), singles)


def test_rejects_a_non_config():
    with pytest.raises(ValueError, match="config must be an SGNSConfig.*got a dict"):
        train_sgns(TRAIN, V, {"epochs": 1})


@pytest.mark.skipif(not __import__("helpers.model").model.fast_fit_supported(),
                    reason="Keras older than helpers.model.FAST_FIT_KERAS fits plainly (compile_sgns)")
def test_xla_and_steps_per_call_keep_the_vectors():
    # The assignment preset runs model.fit with XLA and 16 steps per call for speed (issue 19).
    # On CPU, steps per call must not change a single bit; XLA fuses the float32 arithmetic
    # differently, so its vectors may differ by rounding only, and the same every run.
    # Batches of 100 leave a partial last batch and a partial last group of steps per epoch.
    plain = small_config(epochs=3, batch_size=100, reduce_lr_patience=1, jit_compile=False, steps_per_execution=1)
    a = train_sgns(TRAIN, V, plain, VAL_MIXED)
    assert a.n_pairs % 100 and (a.n_pairs // 100 + 1) % 5, "the data must leave partial batches"
    grouped = train_sgns(TRAIN, V, dataclasses.replace(plain, steps_per_execution=5), VAL_MIXED)
    assert np.array_equal(a.target_vectors, grouped.target_vectors) and a.history == grouped.history
    xla = dataclasses.replace(plain, jit_compile=True, steps_per_execution=5)
    b, again = train_sgns(TRAIN, V, xla, VAL_MIXED), train_sgns(TRAIN, V, xla, VAL_MIXED)
    assert np.array_equal(b.target_vectors, again.target_vectors)
    np.testing.assert_allclose(b.target_vectors, a.target_vectors, rtol=0, atol=1e-5)
    np.testing.assert_allclose(b.history["val_loss"], a.history["val_loss"], rtol=1e-5)
    other = train_sgns(TRAIN, V, dataclasses.replace(xla, seed=4), VAL_MIXED)
    assert np.abs(other.target_vectors - b.target_vectors).max() > 1e-2
