"""Tests for helpers.fast_sgns: every fast path against a simple one on small inputs.

* ``fast_skipgram_rows`` against the seed's loop (bench/seed_pipeline.py): the same
  positives, the same row counts per playlist, uniform noise, a uniform cap;
* ``epoch_positives`` against a plain double loop over positions;
* the alias table against its defining formula, the in-graph sampler against the noise
  distribution (statistical tolerance);
* the model's loss against ``helpers.model.sgns_loss_numpy``, its hand-written gradients
  against TensorFlow's autodiff, one lazy-Adam step against NumPy;
* ``train_fast``: seeded repeatability and that it learns a planted structure.
No timing assertions.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from helpers import fast_sgns as fs  # noqa: E402
from helpers.model import sgns_loss_numpy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from seed_pipeline import seed_generate_pairs  # noqa: E402


def brute_positives(playlists, window, reach=None):
    """(target, context) pairs by a plain double loop; ``reach[p][i]`` limits position i."""
    out = []
    for p, pl in enumerate(playlists):
        for i in range(len(pl)):
            r = window if reach is None else reach[p][i]
            for j in range(len(pl)):
                if i != j and abs(i - j) <= r:
                    out.append((int(pl[i]), int(pl[j])))
    return Counter(out)


def random_playlists(rng, n, vocab, lo=0, hi=30):
    return [rng.integers(1, vocab + 1, size=rng.integers(lo, hi)).astype(np.int32)
            for _ in range(n)]


# --------------------------------------------------------------------------- seed rows


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6), st.integers(0, 4))
def test_rows_without_cap_have_the_seed_loops_positives(seed, window, negatives):
    rng = np.random.default_rng(seed)
    playlists = random_playlists(rng, 6, vocab=9)
    t, c, y = fs.fast_skipgram_rows(playlists, window, negatives, 9, seed=seed)
    pairs, labels = seed_generate_pairs(playlists, window, 9, negatives, None, seed=seed)
    assert t.dtype == c.dtype == np.int32 and y.dtype == np.float32
    assert len(y) == len(labels)
    fast_pos = Counter(zip(t[y == 1].tolist(), c[y == 1].tolist()))
    seed_pos = Counter(map(tuple, pairs[labels == 1].tolist()))
    assert fast_pos == seed_pos == brute_positives(playlists, window)
    # Noise rows: negatives per positive, same target as their positive, context in 1..V.
    assert (y == 0).sum() == negatives * (y == 1).sum()
    assert Counter(t[y == 0].tolist()) == Counter(
        {song: negatives * n for song, n in Counter(t[y == 1].tolist()).items()}
    ) - Counter()
    assert np.all((c >= 1) & (c <= 9))


def test_capped_rows_per_playlist_match_the_seed_loop():
    rng = np.random.default_rng(3)
    playlists = [rng.integers(1, 50, size=n).astype(np.int32) for n in (1, 2, 5, 12, 40)]
    cap = 60
    for pl in playlists:
        t, c, y = fs.fast_skipgram_rows([pl], 3, 5, 49, max_pairs_per_playlist=cap, seed=1)
        pairs, labels = seed_generate_pairs([pl], 3, 49, 5, cap, seed=1)
        assert len(y) == len(labels)  # min(rows, cap), 0 for a 1-song playlist
        kept = Counter(zip(t[y == 1].tolist(), c[y == 1].tolist()))
        assert not kept - brute_positives([pl], 3)  # kept positives are real positives
    t, _, y = fs.fast_skipgram_rows(playlists, 3, 5, 49, max_pairs_per_playlist=cap, seed=1)
    _, labels = seed_generate_pairs(playlists, 3, 49, 5, cap, seed=1)
    assert len(y) == len(labels)


def test_cap_keeps_every_row_with_the_same_probability():
    # One playlist of 6 distinct songs, window 1: 10 positives, 20 rows with 1 negative,
    # cap 8. A uniform 8-subset keeps each positive with probability 8/20 and leaves a
    # positive share of 1/2 on average.
    pl = np.array([1, 2, 3, 4, 5, 6], dtype=np.int32)
    trials = 3000
    kept = Counter()
    share = 0.0
    for s in range(trials):
        t, c, y = fs.fast_skipgram_rows([pl], 1, 1, 6, max_pairs_per_playlist=8, seed=s)
        assert len(y) == 8
        kept.update(zip(t[y == 1].tolist(), c[y == 1].tolist()))
        share += y.mean()
    assert len(kept) == 10
    freq = np.array(list(kept.values())) / trials
    # Binomial(3000, 0.4) has sd 0.009 per pair; 5 sd.
    assert np.all(np.abs(freq - 0.4) < 0.045), freq
    assert abs(share / trials - 0.5) < 0.01


def test_seed_rows_negatives_are_uniform():
    pl = [np.tile(np.arange(1, 8, dtype=np.int32), 6)]
    _, c, y = fs.fast_skipgram_rows(pl, 10, 20, 7, seed=0)
    neg = c[y == 0]
    counts = np.bincount(neg, minlength=8)
    assert counts[0] == 0
    expected = neg.size / 7
    chi2 = ((counts[1:] - expected) ** 2 / expected).sum()
    assert chi2 < 30  # chi-square with 6 degrees of freedom: P(> 30) < 1e-4


def test_seed_rows_bad_input():
    with pytest.raises(ValueError, match="window"):
        fs.fast_skipgram_rows([np.array([1, 2])], 0, 1, 3)
    with pytest.raises(ValueError, match="max_pairs_per_playlist"):
        fs.fast_skipgram_rows([np.array([1, 2])], 1, 1, 3, max_pairs_per_playlist=0)
    with pytest.raises(ValueError, match=r"encoded\[1\].*index 7"):
        fs.fast_skipgram_rows([np.array([1, 2]), np.array([7])], 1, 1, 3)


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
    pairs = fs.epoch_positives(flat, lengths, window, rng)
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
        pairs = fs.epoch_positives(flat, lengths, w, rng, dynamic_window=True)
        dist.update(np.abs(pairs[:, 0] - pairs[:, 1]).tolist())
    assert set(dist) <= set(range(1, w + 1))
    for d in range(1, w + 1):
        full = 20 * 2 * (n - d)  # pairs at distance d over 20 epochs with a full window
        assert abs(dist[d] / full - (w - d + 1) / w) < 0.03


def test_subsampling_drops_songs_then_closes_gaps():
    playlists = [np.array([1, 2, 3, 2, 4], dtype=np.int32)]
    flat, lengths = _flat(playlists)
    keep = np.array([1.0, 1.0, 0.0, 1.0, 1.0])  # song 2 always dropped
    pairs = fs.epoch_positives(flat, lengths, 1, np.random.default_rng(0), keep_prob=keep)
    # Playlist becomes [1, 3, 4]: neighbours 1-3 and 3-4.
    assert Counter(map(tuple, pairs.tolist())) == Counter({(1, 3): 1, (3, 1): 1, (3, 4): 1,
                                                          (4, 3): 1})


def test_keep_probabilities_formula():
    counts = np.array([0, 100_000, 10, 0])  # total 100010, so t * total = 100.01
    keep = fs.keep_probabilities(counts, 0.001)
    assert keep[1] == pytest.approx((np.sqrt(100_000 / 100.01) + 1) * 100.01 / 100_000)
    # Song 2: (sqrt(10 / 100.01) + 1) * 100.01 / 10 > 1, so it is always kept.
    assert keep[2] == 1.0 and keep[3] == 1.0 and keep[0] == 1.0
    with pytest.raises(ValueError, match="threshold"):
        fs.keep_probabilities(counts, 0)


# --------------------------------------------------------------------------- noise


def test_noise_weights():
    counts = np.array([0, 4, 1, 0, 9])
    assert np.allclose(fs.noise_weights(counts, 0), [0, 0.25, 0.25, 0.25, 0.25])
    assert np.allclose(fs.noise_weights(counts, 1), [0, 4 / 14, 1 / 14, 0, 9 / 14])
    assert np.allclose(fs.noise_weights(counts, 0.5), [0, 2 / 6, 1 / 6, 0, 3 / 6])
    neg = fs.noise_weights(counts, -1.0)  # 1/4, 1, unseen -> 0, 1/9
    assert np.allclose(neg, np.array([0, 1 / 4, 1, 0, 1 / 9]) / (1 / 4 + 1 + 1 / 9))
    with pytest.raises(ValueError, match="power"):
        fs.noise_weights(counts, float("nan"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=40).filter(lambda w: sum(w) > 0))
def test_alias_table_reproduces_the_distribution(weights):
    p = np.array(weights) / np.sum(weights)
    thr, alias = fs.alias_table(p)
    n = p.size
    implied = thr.astype(np.float64).copy()
    np.add.at(implied, alias, 1.0 - thr)
    assert np.allclose(implied / n, p, atol=1e-6)


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _model(vocab, noise=None, **over):
    cfg = fs.FastConfig.from_dict({"dim": 4, "negatives": 3, "negative_group": 1,
                                   "batch_size": 8, **over})
    return fs.build_fast_sgns(vocab, cfg, noise, seed=5)


def test_in_graph_noise_follows_the_unigram_power(tf):
    counts = np.array([0, 50, 10, 1, 0, 200])
    p = fs.noise_weights(counts, 0.75)
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
    assert fs.sgns_batch_loss(model, t, c, neg) == pytest.approx(expected, rel=1e-5)


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


def test_next_song_tables_add_the_log_noise_term():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(4, 3)).astype(np.float32)
    c = rng.normal(size=(4, 3)).astype(np.float32)
    counts = np.array([0, 1, 8, 3])
    tt, cc = fs.next_song_tables(t, c, counts, 0.5)
    assert tt.shape == cc.shape == (4, 4)
    expected = t @ c.T + 0.5 * np.log(np.maximum(counts, 1))[None, :]
    expected[:, 0] = (t @ c.T)[:, 0]
    assert np.allclose(tt @ cc.T, expected, atol=1e-5)
    t0, c0 = fs.next_song_tables(t, None, counts, 0.0)
    assert np.allclose(t0 @ c0.T, t @ t.T + 0.0)


# --------------------------------------------------------------------------- train_fast


GROUP_A, GROUP_B = np.arange(1, 11), np.arange(11, 21)


def _two_groups(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.choice(GROUP_A if k % 2 else GROUP_B, 8).astype(np.int32) for k in range(n)]


SMALL = {"dim": 8, "epochs": 4, "batch_size": 64, "negative_group": 4,
         "learning_rate": 0.05, "window": 3, "steps_per_execution": 4}


def test_train_fast_is_repeatable_and_learns_the_groups(tf):
    train = _two_groups(60, seed=0)
    a = fs.train_fast(train, 20, SMALL, val=_two_groups(6, seed=1), seed=3)
    b = fs.train_fast(train, 20, SMALL, seed=3)
    assert a.target_vectors.shape == a.context_vectors.shape == (21, 8)
    assert a.target_vectors.dtype == np.float32
    assert np.array_equal(a.target_vectors, b.target_vectors)
    assert np.array_equal(a.context_vectors, b.context_vectors)
    assert len(a.history["loss"]) == len(a.history["val_loss"]) == 4
    assert a.history["loss"][-1] < a.history["loss"][0]
    assert a.history["lr"][0] == pytest.approx(0.05)
    assert a.n_pairs > 0 and a.pairs_per_second > 0 and a.epochs_run == 4
    scores = a.target_vectors @ a.context_vectors.T
    same = np.equal.outer(np.arange(21) <= 10, np.arange(21) <= 10)
    songs = np.ix_(np.arange(1, 21), np.arange(1, 21))
    assert scores[songs][same[songs]].mean() > scores[songs][~same[songs]].mean() + 1.0


def test_train_fast_unigram_noise_shared_table_and_other_seed(tf):
    train = _two_groups(20, seed=0)
    over = {**SMALL, "epochs": 1, "power": 0.75, "shared": True, "subsample": 0.05}
    a = fs.train_fast(train, 20, over, seed=3)
    b = fs.train_fast(train, 20, over, seed=4)
    assert a.context_vectors is None
    assert not np.array_equal(a.target_vectors, b.target_vectors)


@pytest.mark.parametrize("over", [{"optimizer": "sgd", "learning_rate": 0.05},
                                  {"optimizer": "sgd", "learning_rate": 0.05, "jit_compile": True},
                                  {"optimizer": "adam", "learning_rate": 0.05}])
def test_other_optimizers_learn_the_groups(tf, over):
    res = fs.train_fast(_two_groups(60, seed=0), 20, {**SMALL, "epochs": 6, **over}, seed=3)
    assert np.isfinite(res.target_vectors).all()
    assert res.history["loss"][-1] < res.history["loss"][0]
    scores = res.target_vectors @ res.context_vectors.T
    same = np.equal.outer(np.arange(21) <= 10, np.arange(21) <= 10)
    songs = np.ix_(np.arange(1, 21), np.arange(1, 21))
    assert scores[songs][same[songs]].mean() > scores[songs][~same[songs]].mean()


def test_settings_validation():
    assert fs.FastConfig.from_dict(fs.REFERENCE_SETTINGS) == fs.FastConfig()
    assert set(fs.REFERENCE_SETTINGS) == set(fs.FastConfig().to_dict())
    with pytest.raises(ValueError, match="unknown FastConfig fields.*'windw'"):
        fs.FastConfig.from_dict({"windw": 3})
    with pytest.raises(ValueError, match="FastConfig.dim"):
        fs.FastConfig(dim=0)
    with pytest.raises(ValueError, match="FastConfig.optimizer"):
        fs.FastConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="FastConfig.jit_compile"):
        fs.FastConfig(optimizer="lazy_adam", jit_compile=True)
    with pytest.raises(ValueError, match="no positive pairs"):
        fs.train_fast([np.array([1])], 3, SMALL)
    with pytest.raises(ValueError, match=r"train_encoded\[0\]"):
        fs.train_fast([np.array([1, 9])], 3, SMALL)
