"""Tests for helpers.training: config, playlist split and the SGNS training loop.

The training runs use a tiny corpus with a known answer: songs 1..12 (group A) and
13..24 (group B); every training playlist draws its songs from one group only. A working
SGNS must then place songs of the same group closer together than songs of different
groups.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

keras = pytest.importorskip("keras")

from helpers.skipgrams import skipgram_pairs  # noqa: E402
from helpers.training import (  # noqa: E402
    TrainConfig,
    TrainResult,
    split_playlists,
    train_sgns,
)

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
    return TrainConfig(**base)


def cosine_matrix(vectors):
    x = np.asarray(vectors[1:], dtype=np.float64)  # drop the padding row
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


# --------------------------------------------------------------------------- config


def test_defaults_are_the_original_assignments_settings():
    expected = dict(window=10, negatives=5, noise="uniform", power=0.75,
                    exclude_target=False, exclude_context=False,
                    max_pairs_per_playlist=10_000, dim=32, shared=True, dense_head=False,
                    learning_rate=1e-3, batch_size=2048, epochs=20, seed=42,
                    reduce_lr_patience=2, early_stopping_patience=None, verbose=0)
    assert TrainConfig().to_dict() == expected


@pytest.mark.parametrize("field, value", [
    ("window", 0), ("window", 2.0), ("negatives", -1), ("dim", 0), ("epochs", 0),
    ("batch_size", 0), ("learning_rate", 0.0), ("learning_rate", -0.1),
    ("learning_rate", float("inf")), ("noise", "zipf"), ("seed", -5), ("seed", None),
    ("max_pairs_per_playlist", 0), ("reduce_lr_patience", -1),
    ("early_stopping_patience", 1.5), ("shared", "yes"), ("verbose", 3),
    ("power", float("nan")),
])
def test_config_rejects_bad_values_naming_field_and_value(field, value):
    with pytest.raises(ValueError) as err:
        TrainConfig(**{field: value})
    message = str(err.value)
    assert field in message
    assert repr(value) in message


def test_config_round_trips_through_json():
    cfg = TrainConfig(window=3, noise="unigram", max_pairs_per_playlist=None,
                      early_stopping_patience=4, shared=False)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="embedding_size"):
        TrainConfig.from_dict({"embedding_size": 16})


# --------------------------------------------------------------------------- split


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 60), frac=st.floats(0.01, 0.99), seed=st.integers(0, 2**31))
def test_split_is_a_partition_of_playlists(n, frac, seed):
    playlists = [np.array([i + 1, i + 2], dtype=np.int32) for i in range(n)]
    train, val = split_playlists(playlists, frac, seed)
    train_ids, val_ids = {id(p) for p in train}, {id(p) for p in val}
    assert len(train_ids) == len(train) and len(val_ids) == len(val)
    assert not train_ids & val_ids
    assert train_ids | val_ids == {id(p) for p in playlists}
    assert len(val) == min(max(1, round(frac * n)), n - 1)
    # each side keeps the input order
    position = {id(p): i for i, p in enumerate(playlists)}
    assert [position[id(p)] for p in train] == sorted(position[id(p)] for p in train)
    assert [position[id(p)] for p in val] == sorted(position[id(p)] for p in val)


def test_split_is_seeded():
    playlists = [np.array([i, i + 1]) for i in range(1, 51)]

    def val_firsts(seed):
        return [int(p[0]) for p in split_playlists(playlists, 0.2, seed)[1]]

    assert val_firsts(7) == val_firsts(7)
    assert val_firsts(7) != val_firsts(8)


def test_split_zero_fraction_keeps_everything_for_training():
    train, val = split_playlists(TRAIN, 0.0, 1)
    assert val == [] and len(train) == len(TRAIN)


@pytest.mark.parametrize("frac", [1.0, -0.1, float("nan"), "0.1"])
def test_split_rejects_bad_fraction(frac):
    with pytest.raises(ValueError, match="val_fraction"):
        split_playlists(TRAIN, frac, 0)


def test_split_needs_two_playlists():
    with pytest.raises(ValueError, match="1"):
        split_playlists(TRAIN[:1], 0.5, 0)


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
    with pytest.raises(ValueError, match="no training pairs"):
        train_sgns(singles, V, small_config(epochs=1))
    with pytest.raises(ValueError, match="no validation pairs"):
        train_sgns(TRAIN, V, small_config(epochs=1), singles)


def test_rejects_a_non_config():
    with pytest.raises(ValueError, match="dict"):
        train_sgns(TRAIN, V, {"epochs": 1})
