"""Tests for the fast loop (helpers.fast_loop, helpers.fast_model): every fast path against
a simple one on small inputs.

* ``epoch_positives`` against a plain double loop over positions;
* the in-graph sampler against the noise distribution (statistical tolerance);
* the model's loss against ``helpers.model.sgns_loss_numpy``, its hand-written gradients
  against TensorFlow's autodiff, one lazy-Adam step against NumPy;
* ``helpers.sgns.train`` with ``loop="fast"``: seeded repeatability and that it learns a
  planted structure.
No timing assertions.
"""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairs_by_loop import brute_positives, random_playlists

from helpers.fast_loop import epoch_positives, keep_probabilities
from helpers.model import sgns_loss_numpy
from helpers.noise import noise_distribution
from helpers.sgns import PRESETS, train

# --------------------------------------------------------------------------- positives


def _flat(playlists):
    lengths = np.array([len(p) for p in playlists], dtype=np.int64)
    return np.concatenate(playlists).astype(np.int32), lengths


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 7))
def test_epoch_positives_fixed_window_equals_double_loop(seed, window):
    rng = np.random.default_rng(seed)
    playlists = random_playlists(rng, 5, vocab=6)
    flat, lengths = _flat(playlists)
    pairs = epoch_positives(flat, lengths, window, rng)
    assert pairs.dtype == np.int32 and pairs.shape[1] == 2
    assert Counter(map(tuple, pairs.tolist())) == brute_positives(playlists, window)


def test_dynamic_window_weights_distance_d_by_its_chance_to_be_in_reach():
    # Distinct songs 1..400 in one playlist, so a pair's songs tell its distance. A target
    # keeps context at distance d when its reach (uniform on 1..w) is >= d: probability
    # (w - d + 1) / w.
    n, w = 400, 4
    flat, lengths = np.arange(1, n + 1, dtype=np.int32), np.array([n])
    rng = np.random.default_rng(0)
    dist = Counter()
    for _ in range(20):
        pairs = epoch_positives(flat, lengths, w, rng, dynamic_window=True)
        dist.update(np.abs(pairs[:, 0] - pairs[:, 1]).tolist())
    assert set(dist) <= set(range(1, w + 1))
    for d in range(1, w + 1):
        full = 20 * 2 * (n - d)  # pairs at distance d over 20 epochs with a full window
        assert abs(dist[d] / full - (w - d + 1) / w) < 0.03


def test_subsampling_drops_songs_then_closes_gaps():
    playlists = [np.array([1, 2, 3, 2, 4], dtype=np.int32)]
    flat, lengths = _flat(playlists)
    keep = np.array([1.0, 1.0, 0.0, 1.0, 1.0])  # song 2 always dropped
    pairs = epoch_positives(flat, lengths, 1, np.random.default_rng(0), keep_prob=keep)
    # Playlist becomes [1, 3, 4]: neighbours 1-3 and 3-4.
    assert Counter(map(tuple, pairs.tolist())) == Counter({(1, 3): 1, (3, 1): 1, (3, 4): 1,
                                                          (4, 3): 1})


def test_keep_probabilities_formula():
    counts = np.array([0, 100_000, 10, 0])  # total 100010, so t * total = 100.01
    keep = keep_probabilities(counts, 0.001)
    assert keep[1] == pytest.approx((np.sqrt(100_000 / 100.01) + 1) * 100.01 / 100_000)
    # Song 2: (sqrt(10 / 100.01) + 1) * 100.01 / 10 > 1, so it is always kept.
    assert keep[2] == 1.0 and keep[3] == 1.0 and keep[0] == 1.0
    with pytest.raises(ValueError, match="threshold"):
        keep_probabilities(counts, 0)


# --------------------------------------------------------------------------- noise


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def build_fast_sgns(*args, **kwargs):
    from helpers.fast_model import build_fast_sgns as build

    return build(*args, **kwargs)


def sgns_batch_loss(*args):
    from helpers.fast_model import sgns_batch_loss as loss

    return loss(*args)


def _model(vocab, noise=None, **over):
    cfg = replace(PRESETS["fast"], **{"dim": 4, "negatives": 3, "negative_group": 1, "batch_size": 8, "seed": 5,
                                      **over})
    return build_fast_sgns(vocab, cfg, noise)


def test_in_graph_noise_follows_the_unigram_power(tf):
    counts = np.array([0, 50, 10, 1, 0, 200])
    p = noise_distribution(counts, 0.75)
    model = _model(5, noise=p, negatives=50)
    draws = np.concatenate([model.sample_negatives(tf.constant(400), tf.constant(s, tf.int64))
                            .numpy().ravel() for s in range(5)])
    freq = np.bincount(draws, minlength=6) / draws.size
    assert freq[0] == 0 and freq[4] == 0  # padding and unseen songs never drawn
    assert np.allclose(freq, p, atol=0.01)


def test_in_graph_uniform_noise_and_its_seeding(tf):
    model = _model(6)
    a = model.sample_negatives(tf.constant(20000), tf.constant(3, tf.int64)).numpy()
    b = model.sample_negatives(tf.constant(20000), tf.constant(3, tf.int64)).numpy()
    c = model.sample_negatives(tf.constant(20000), tf.constant(4, tf.int64)).numpy()
    assert a.shape == (20000, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    freq = np.bincount(a.ravel(), minlength=7) / a.size
    assert freq[0] == 0 and np.allclose(freq[1:], 1 / 6, atol=0.01)


# --------------------------------------------------------------------------- loss


def _random_tables(model, seed=0):
    rng = np.random.default_rng(seed)
    for var in model.tf_tables:
        var.assign(rng.normal(scale=0.7, size=var.shape).astype(np.float32))


@pytest.mark.parametrize("shared", [False, True])
def test_batch_loss_equals_numpy_cross_entropy(tf, shared):
    model = _model(10, shared=shared)
    _random_tables(model)
    rng = np.random.default_rng(1)
    t = rng.integers(1, 11, 6)
    c = rng.integers(1, 11, 6)
    neg = rng.integers(1, 11, (6, 3))
    tv = model.tf_tables[0].numpy()
    cv = model.tf_tables[-1].numpy()
    rows_t = np.concatenate([t, np.repeat(t, 3)])
    rows_c = np.concatenate([c, neg.ravel()])
    labels = np.concatenate([np.ones(6), np.zeros(18)])
    expected = sgns_loss_numpy(tv[rows_t], cv[rows_c], labels)
    assert sgns_batch_loss(model, t, c, neg) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("shared,group", [(False, 1), (False, 3), (True, 2)])
def test_hand_gradients_equal_autodiff(tf, shared, group):
    model = _model(9, shared=shared, negative_group=group)
    _random_tables(model, seed=2)
    rng = np.random.default_rng(3)
    b = 6
    t = tf.constant(rng.integers(1, 10, b), tf.int32)
    c = tf.constant(rng.integers(1, 10, b), tf.int32)
    neg = tf.constant(rng.integers(1, 10, (b // group, 3)), tf.int32)
    loss, grads = model.row_gradients(t, c, neg)
    with tf.GradientTape() as tape:
        ref = model.batch_loss(t, c, tf.repeat(neg, group, axis=0))
    auto = tape.gradient(ref, model.tf_tables)
    assert float(loss) == pytest.approx(float(ref), rel=1e-5)
    for (idx, g), a in zip(grads, auto):
        dense = np.zeros(a.dense_shape.numpy(), np.float32)
        np.add.at(dense, idx.numpy(), g.numpy())
        # Hand gradients are of the summed loss: rows = b * (k + 1).
        auto_dense = tf.convert_to_tensor(a).numpy() * b * 4
        assert np.allclose(dense, auto_dense, atol=1e-5)


def test_one_lazy_adam_step_matches_numpy(tf):
    model = _model(7, learning_rate=0.1, lr_decay=False)
    _random_tables(model, seed=4)
    before = [v.numpy().copy() for v in model.tf_tables]
    pairs = np.array([[1, 2], [1, 3], [4, 2], [5, 5]], dtype=np.int32)
    negatives = model.sample_negatives(tf.constant(4), tf.constant(0, tf.int64)).numpy()
    model.train_step(tf.constant(pairs))
    # NumPy reference: dense gradient of the summed loss, Adam's first step on the
    # touched rows only (m = (1-b1) g, v = (1-b2) g^2, bias-corrected), others unchanged.
    tv, cv = before
    gt, gc = np.zeros_like(tv), np.zeros_like(cv)
    for (a, b), negs in zip(pairs, negatives):
        for ctx, label in [(b, 1.0)] + [(n, 0.0) for n in negs]:
            z = tv[a] @ cv[ctx]
            d = 1 / (1 + np.exp(-z)) - label
            gt[a] += d * cv[ctx]
            gc[ctx] += d * tv[a]
    for old, grad, var in ((tv, gt, model.tf_tables[0]), (cv, gc, model.tf_tables[1])):
        touched = np.zeros(len(old), bool)
        touched[np.unique(pairs[:, 0] if var is model.tf_tables[0]
                          else np.concatenate([pairs[:, 1], negatives.ravel()]))] = True
        m = 0.1 * grad
        v = 0.001 * grad ** 2
        alpha = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
        expected = old.copy()
        expected[touched] -= alpha * m[touched] / (np.sqrt(v[touched]) + 1e-7)
        assert np.allclose(var.numpy(), expected, atol=1e-5)


# --------------------------------------------------------------------------- training


GROUP_A, GROUP_B = np.arange(1, 11), np.arange(11, 21)


def _two_groups(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.choice(GROUP_A if k % 2 else GROUP_B, 8).astype(np.int32) for k in range(n)]


SMALL = replace(PRESETS["fast"], dim=8, epochs=4, batch_size=64, negative_group=4, learning_rate=0.05, window=3,
                steps_per_execution=4, seed=3)


def test_fast_loop_is_repeatable_and_learns_the_groups(tf):
    train_lists = _two_groups(60, seed=0)
    a = train(train_lists, 20, SMALL, _two_groups(6, seed=1))
    b = train(train_lists, 20, SMALL)
    assert a.target_vectors.shape == a.context_vectors.shape == (21, 8)
    assert a.target_vectors.dtype == np.float32
    assert np.array_equal(a.target_vectors, b.target_vectors)
    assert np.array_equal(a.context_vectors, b.context_vectors)
    assert len(a.history["loss"]) == len(a.history["val_loss"]) == 4
    assert a.history["loss"][-1] < a.history["loss"][0]
    assert a.history["lr"][0] == pytest.approx(0.05)
    assert a.n_pairs > 0 and a.pairs_per_second > 0 and a.epochs_run == 4
    assert a.config is SMALL
    scores = a.target_vectors @ a.context_vectors.T
    same = np.equal.outer(np.arange(21) <= 10, np.arange(21) <= 10)
    songs = np.ix_(np.arange(1, 21), np.arange(1, 21))
    assert scores[songs][same[songs]].mean() > scores[songs][~same[songs]].mean() + 1.0


def test_fast_loop_unigram_noise_shared_table_and_other_seed(tf):
    train_lists = _two_groups(20, seed=0)
    over = replace(SMALL, epochs=1, power=0.75, shared=True, subsample=0.05)
    a = train(train_lists, 20, over)
    b = train(train_lists, 20, replace(over, seed=4))
    assert a.context_vectors is None
    assert not np.array_equal(a.target_vectors, b.target_vectors)


@pytest.mark.parametrize("over", [{"optimizer": "sgd", "learning_rate": 0.05},
                                  {"optimizer": "sgd", "learning_rate": 0.05, "jit_compile": True},
                                  {"optimizer": "adam", "learning_rate": 0.05}])
def test_other_optimizers_learn_the_groups(tf, over):
    res = train(_two_groups(60, seed=0), 20, replace(SMALL, epochs=6, **over))
    assert np.isfinite(res.target_vectors).all()
    assert res.history["loss"][-1] < res.history["loss"][0]
    scores = res.target_vectors @ res.context_vectors.T
    same = np.equal.outer(np.arange(21) <= 10, np.arange(21) <= 10)
    songs = np.ix_(np.arange(1, 21), np.arange(1, 21))
    assert scores[songs][same[songs]].mean() > scores[songs][~same[songs]].mean()


def test_fast_loop_refuses_inputs_without_pairs_and_keras_only_settings():
    with pytest.raises(ValueError, match="at least one has 2 songs"):
        train([np.array([1])], 3, SMALL)
    with pytest.raises(ValueError, match=r"train_encoded\[0\] must be song indices in 1..vocab_size=3"):
        train([np.array([1, 9])], 3, SMALL)
    with pytest.raises(ValueError, match=r"callbacks must be callables f\(epoch, model\) with loop='fast'"):
        train([np.array([1, 2])], 3, SMALL, callbacks=[object()])
