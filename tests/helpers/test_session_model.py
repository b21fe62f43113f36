"""The next-song (session) model and the session scorers: hand gradients against autodiff,
table shapes, padding, determinism, the batch-size rule, and every scorer against a plain
per-case loop or a small example worked out by hand."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairs_by_loop import random_playlists
from scipy import sparse

from helpers.baselines import CooccurrenceScorer, EmbeddingScorer
from helpers.fast_loop import MIN_BATCH, SMALL_CORPUS_EPOCHS, STEPS_PER_EPOCH, fitted
from helpers.noise import next_song_tables, noise_distribution
from helpers.scorers import BEST_FIRST, ScoringInputs, best_first, build_keyed
from helpers.session_scorers import SequenceKNNScorer, SequenceMatchScorer, SessionKNNScorer, SessionScorer
from helpers.sessions import SessionTables
from helpers.sgns import PRESETS, SGNSConfig, train

# A small session model: every setting of PRESETS["next_song"] but the sizes.
TINY = replace(PRESETS["next_song"], window=3, dim=8, negatives=16, negative_group=8, batch_size=64, epochs=2,
               steps_per_execution=2, auto_schedule=False)


def tiny_corpus(seed=0, n=30, vocab=12):
    rng = np.random.default_rng(seed)
    return [rng.integers(1, vocab + 1, size=int(rng.integers(2, 12))).astype(np.int32) for _ in range(n)]


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("loss", ["sgns", "softmax"])
@pytest.mark.parametrize("bias", [False, True])
def test_hand_gradients_equal_autodiff(loss, bias):
    import tensorflow as tf

    from helpers.session_model import SessionModel

    v, k, depth = 9, 6, 3
    config = replace(TINY, window=depth, dim=4, negatives=k, negative_group=2, loss=loss, bias=bias)
    counts = np.arange(v + 1, dtype=np.int64)
    model = SessionModel(v, config, noise_distribution(counts, 0.75))
    rng = np.random.default_rng(1)
    for var in model.params:
        var.assign(rng.normal(0, 0.5, size=var.shape).astype(np.float32))
    sessions = rng.integers(0, v + 1, size=(6, depth)).astype(np.int32)
    sessions[:, 0] = rng.integers(1, v + 1, size=6)
    sessions[0, 1:] = 0  # a session that has only its query
    answers = rng.integers(1, v + 1, size=6).astype(np.int32)
    negatives = rng.integers(1, v + 1, size=(3, k)).astype(np.int32)
    negatives[0, 0] = answers[0]  # an accidental hit (masked by the softmax loss)
    args = tf.constant(sessions), tf.constant(answers), tf.constant(negatives)
    with tf.GradientTape() as tape:
        want_loss = model.loss(*args)
    want = [tf.convert_to_tensor(g) for g in tape.gradient(want_loss, model.params)]
    loss_value, grads = model.gradients(*args)
    assert np.isclose(float(loss_value), float(want_loss), rtol=1e-5)
    assert len(grads) == len(model.params) == (3 if bias else 2)
    for var, (idx, rows), w in zip(model.params, grads, want):
        dense = tf.math.unsorted_segment_sum(rows, idx, var.shape[0])
        np.testing.assert_allclose(dense.numpy(), w.numpy(), rtol=1e-4, atol=1e-5)


def test_softmax_loss_leaves_accidental_hits_out():
    import tensorflow as tf

    from helpers.session_model import SessionModel

    config = replace(TINY, window=1, dim=2, negatives=2, negative_group=1, bias=False)
    model = SessionModel(3, config)
    model.inputs.assign(np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32))
    model.output.assign(np.array([[0, 0], [2, 0], [0, 1], [1, 1]], np.float32))
    s, a = tf.constant([[1]]), tf.constant([2])
    # Uniform noise: log Q is the same for every song and cancels. Logits: answer 2 -> 0,
    # noise 3 -> 1; the second noise song is the answer itself and must not count.
    with_hit = float(model.loss(s, a, tf.constant([[3, 2]])))
    assert np.isclose(with_hit, np.log(1 + np.e) - 0.0, rtol=1e-6)


# ------------------------------------------------------------------- training: tables
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_tables_have_one_input_slot_per_song_and_padding_stays_zero(depth):
    v = 12
    result = train(tiny_corpus(), v, replace(TINY, window=depth, epochs=1))
    tables = result.session
    assert isinstance(tables, SessionTables) and tables.depth == depth
    assert tables.inputs.shape == (depth, v + 1, 8) and tables.inputs.dtype == np.float32
    assert tables.output.shape == (v + 1, 8) and tables.bias.shape == (v + 1,)
    assert not tables.inputs[:, 0].any() and not tables.output[0].any() and tables.bias[0] == 0
    assert np.isfinite(tables.inputs).all() and tables.output[1:].any()
    # Single-song tools read the query slot and the output table.
    assert np.array_equal(result.target_vectors, tables.inputs[0])
    assert np.array_equal(result.context_vectors, tables.output)


def test_training_is_deterministic_per_seed():
    corpus = tiny_corpus(3)
    a = train(corpus, 12, TINY).session
    b = train(corpus, 12, TINY).session
    c = train(corpus, 12, replace(TINY, seed=TINY.seed + 1)).session
    for x, y in ((a.inputs, b.inputs), (a.output, b.output), (a.bias, b.bias)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.inputs, c.inputs) and not np.array_equal(a.output, c.output)


def test_training_lowers_the_loss_and_reports_validation():
    result = train(tiny_corpus(4, n=60), 12, replace(TINY, epochs=4, slot_dropout=0.3), tiny_corpus(5, n=10))
    assert len(result.history["loss"]) == len(result.history["val_loss"]) == 4
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.schedule == {"batch_size": 64, "negative_group": 8, "epochs": 4}


def test_session_settings_are_checked():
    with pytest.raises(ValueError, match="shared must be False with loop='session'"):
        replace(TINY, shared=True)
    with pytest.raises(ValueError, match="optimizer must be 'lazy_adam' or 'sgd' with loop='session'"):
        replace(TINY, optimizer="adam")
    with pytest.raises(ValueError, match="slot_dropout"):
        SGNSConfig(loop="fast", slot_dropout=0.2)


# --------------------------------------------------------------------- batch-size rule
def test_auto_schedule_sizes_the_batch_to_small_corpora_only():
    fast = PRESETS["fast"]
    assert fast.auto_schedule
    small = fitted(fast, 40_000)
    assert small.batch_size == 40_000 // STEPS_PER_EPOCH // fast.negative_group * fast.negative_group
    assert small.epochs == SMALL_CORPUS_EPOCHS
    tiny = fitted(fast, 1_000)
    assert tiny.batch_size == MIN_BATCH and tiny.epochs == SMALL_CORPUS_EPOCHS
    big = fitted(fast, 10**7)
    assert (big.batch_size, big.epochs, big.negative_group) == (fast.batch_size, fast.epochs, fast.negative_group)
    # Without the rule only the tiny-input clamp applies.
    off = replace(fast, auto_schedule=False)
    assert (fitted(off, 40_000).batch_size, fitted(off, 40_000).epochs) == (fast.batch_size, fast.epochs)
    # The noise group shrinks with the batch: the session preset shares 1024 noise songs.
    ns = fitted(PRESETS["next_song"], 10_000)
    assert ns.batch_size == ns.negative_group == 10_000 // STEPS_PER_EPOCH


def test_session_loop_sizes_the_batch_but_keeps_its_epochs():
    # The session model overfits small corpora quickly: no 20-epoch floor for it.
    result = train(tiny_corpus(6, n=80), 12, replace(TINY, auto_schedule=True, batch_size=8192, negative_group=1024))
    assert result.schedule["epochs"] == TINY.epochs and result.schedule["batch_size"] == MIN_BATCH
    assert len(result.history["loss"]) == TINY.epochs


# ------------------------------------------------------------------------ session scorer
def random_tables(seed, depth, v=10, d=4, bias=True):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(depth, v + 1, d)).astype(np.float32)
    inputs[:, 0] = 0
    output = rng.normal(size=(v + 1, d)).astype(np.float32)
    return SessionTables(inputs, output, rng.normal(size=v + 1).astype(np.float32) if bias else None)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(1, 6), st.booleans())
def test_session_scorer_equals_a_per_case_loop(seed, depth, history, with_prior):
    v = 10
    tables = random_tables(seed, depth)
    rng = np.random.default_rng(seed + 1)
    counts = rng.integers(0, 50, size=v + 1)
    prior = sparse.random(v + 1, v + 1, density=0.3, random_state=seed, format="csr") * 5 if with_prior else None
    scorer = SessionScorer(tables, counts=counts, power=0.75, prior=prior, prior_weight=0.7)
    sessions = rng.integers(0, v + 1, size=(7, history))
    sessions[:, 0] = rng.integers(1, v + 1, size=7)
    got = scorer.session_scores(sessions)
    assert got.shape == (7, v + 1) and got.dtype == np.float32
    for r, session in enumerate(sessions):
        h = np.zeros(4)
        for j, song in enumerate(session[:depth]):
            if song:
                h += tables.inputs[j, song]
        for x in range(v + 1):
            want = h @ tables.output[x] + tables.bias[x] + 0.75 * np.log(max(counts[x], 1))
            if prior is not None:
                want += 0.7 * np.log1p(prior[session[0], x])
            assert np.isclose(got[r, x], want, rtol=1e-4, atol=1e-4)


def test_one_slot_session_model_scores_like_the_skip_gram_next_song_scorer():
    v = 10
    tables = random_tables(7, 1, bias=False)
    counts = np.random.default_rng(7).integers(0, 40, size=v + 1)
    common = dict(train_encoded=[np.arange(1, v + 1)], vocab_size=v, counts=counts, window=1, power=0.75)
    session = dict(build_keyed(ScoringInputs(**common, session=tables, loss="sgns"), keys=["session"]))["session"]
    skip = dict(build_keyed(ScoringInputs(**common, target_vectors=tables.inputs[0],
                                          context_vectors=tables.output), keys=["next-song"]))["next-song"]
    queries = np.arange(1, v + 1)
    np.testing.assert_allclose(session.scores(queries)[:, 1:], skip.scores(queries)[:, 1:], rtol=1e-5, atol=1e-5)
    direct = EmbeddingScorer(*next_song_tables(tables.inputs[0], tables.output, counts, 0.75), mode="dot")
    np.testing.assert_allclose(session.scores(queries)[:, 1:], direct.scores(queries)[:, 1:], rtol=1e-5, atol=1e-5)


def test_softmax_session_runs_add_no_noise_term_and_rank_best_first():
    v = 10
    tables = random_tables(2, 2)
    counts = np.arange(v + 1) * 3
    inputs = ScoringInputs([np.arange(1, v + 1)], v, counts, 2, tables.inputs[0], tables.output, power=0.75,
                           session=tables, loss="softmax")
    keyed = build_keyed(inputs, kind="embedding")
    keys = [k for k, _ in keyed]
    assert "next-song" not in keys and {"session", "session+prior", "cosine", "dot"} <= set(keys)
    # Without a fitted blend (BEST_FIRST[0]) the count prior leads.
    assert "blend" not in keys and BEST_FIRST[0] == "blend"
    assert best_first(keyed)[0][0] == "session+prior" == BEST_FIRST[1]
    plain = dict(keyed)["session"].session_scores(np.array([[3, 2]]))
    h = tables.inputs[0, 3] + tables.inputs[1, 2]
    np.testing.assert_allclose(plain[0], tables.output @ h + tables.bias, rtol=1e-5, atol=1e-5)
    # A skip-gram run ranks by target·context + noise first.
    sg = ScoringInputs([np.arange(1, v + 1)], v, counts, 2, tables.inputs[0], tables.output, power=0.75)
    assert best_first(build_keyed(sg, kind="embedding"))[0][0] == "next-song"


def test_session_scorers_refuse_bad_sessions():
    scorer = SessionScorer(random_tables(0, 2))
    with pytest.raises(ValueError, match="sessions must be a 2-D integer array"):
        scorer.session_scores(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"song indices in 0..10"):
        scorer.session_scores(np.array([[1, 11]]))
    with pytest.raises(ValueError, match="counts must be training plays"):
        SessionScorer(random_tables(0, 2), power=0.75)


# ------------------------------------------------------------- anchors, worked by hand
def test_sequential_rules_hand_example():
    # 1 -> 2 (gap 1), 1 -> 3 (gap 2), 2 -> 3 (gap 1); then 3 -> 1 (gap 1).
    s = CooccurrenceScorer([np.array([1, 2, 3]), np.array([3, 1])], 3, window=2, directed=True, inverse_gap=True)
    assert s.matrix.toarray().tolist() == [[0, 0, 0, 0], [0, 0, 1, 0.5], [0, 0, 0, 1], [0, 1, 0, 0]]


def test_session_knn_hand_example():
    train_pl = [np.array([1, 2, 3]), np.array([2, 4])]  # past sessions {1, 2, 3} and {2, 4}
    sknn = SessionKNNScorer(train_pl, 4)
    a, b = 1 / np.sqrt(3), 1 / np.sqrt(2)  # cosine of {2} with each past session
    np.testing.assert_allclose(sknn.session_scores(np.array([[2]]))[0], [0, a, a + b, a, b], rtol=1e-6)
    # Session (4, then 3 before it): V-SKNN weighs the query 1 and the earlier song 1/2.
    vsknn = SessionKNNScorer(train_pl, 4, k=2, recency=True)
    first, second = 0.5 / np.sqrt(2 * 3), 1.0 / np.sqrt(2 * 2)
    np.testing.assert_allclose(vsknn.session_scores(np.array([[4, 3]]))[0],
                               [0, first, first + second, first, second], rtol=1e-6)
    # One neighbour: only the closest past session votes.
    one = SessionKNNScorer(train_pl, 4, neighbours=1)
    np.testing.assert_allclose(one.session_scores(np.array([[2]]))[0], [0, 0, b, 0, b], rtol=1e-6)
    # Pieces of 2 songs: {1, 2}, {3}, {2, 4}.
    cut = SessionKNNScorer(train_pl, 4, segment=2)
    assert cut.pieces.shape[0] == 3


def test_sequence_knn_hand_example_and_sequential_rules_limit():
    train_pl = [np.array([1, 2, 3, 4]), np.array([5, 2, 4, 1])]
    s = SequenceKNNScorer(train_pl, 5, k=2, beta=2.0, window=2)
    # Query 2 after 1: the first play of 2 (also after 1) weighs 1 + 2, the second 1.
    np.testing.assert_allclose(s.session_scores(np.array([[2, 1]]))[0], [0, 0.5, 0, 3.0, 2.5, 0], rtol=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6))
def test_sequence_knn_without_overlap_weight_is_the_sequential_rules(seed):
    playlists = random_playlists(np.random.default_rng(seed), 6, vocab=8)
    playlists = [p for p in playlists if len(p)] or [np.array([1, 2])]
    seq = SequenceKNNScorer(playlists, 8, k=3, beta=0.0, window=3)
    sr = CooccurrenceScorer(playlists, 8, window=3, directed=True, inverse_gap=True)
    sessions = np.random.default_rng(seed).integers(1, 9, size=(5, 3))
    np.testing.assert_allclose(seq.session_scores(sessions), sr.scores(sessions[:, 0]), rtol=1e-5, atol=1e-6)


def test_sequence_match_hand_example():
    train_pl = [np.array([7, 1, 2, 3]), np.array([1, 7, 2, 4]), np.array([6, 7, 1, 2, 5])]
    s = SequenceMatchScorer(train_pl, 7, k=3, base=4.0, window=1)
    # Session: ... 7, 1, then the query 2 (column 1 = 1, column 2 = 7). Play 1 of 2 follows
    # 7, 1 in order (m = 2, vote 16 for 3); play 2 follows 7 only (1 does not match: m = 0,
    # vote 1 for 4); play 3 follows 7, 1 (m = 2, vote 16 for 5).
    np.testing.assert_allclose(s.session_scores(np.array([[2, 1, 7]]))[0], [0, 0, 0, 16, 1, 16, 0, 0])
    # A gap (an unknown song, 0) ends the run: 7 further back no longer counts.
    np.testing.assert_allclose(s.session_scores(np.array([[2, 0, 7]]))[0], [0, 0, 0, 1, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="base"):
        SequenceMatchScorer(train_pl, 7, base=1.0)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6))
def test_sequence_match_of_the_query_alone_is_the_sequential_rules(seed):
    playlists = random_playlists(np.random.default_rng(seed), 6, vocab=8)
    playlists = [p for p in playlists if len(p)] or [np.array([1, 2])]
    match = SequenceMatchScorer(playlists, 8, k=3, window=3)
    sr = CooccurrenceScorer(playlists, 8, window=3, directed=True, inverse_gap=True)
    queries = np.random.default_rng(seed).integers(1, 9, size=5)
    np.testing.assert_allclose(match.scores(queries), sr.scores(queries), rtol=1e-5, atol=1e-6)


def test_the_next_song_preset_fits_the_default_memory_limit_on_full_data_sizes():
    # songrec train --loop session checks this before training: about 11,000 playlists of
    # 190 songs and 75,000 songs (the full yes_complete) must fit the default limit.
    from helpers import limits

    ns = PRESETS["next_song"]
    parts = limits.session_memory([190] * 11_000, [190] * 1_100, 75_000, window=ns.window,
                                   negatives=ns.negatives, dim=ns.dim, batch_size=ns.batch_size, shared=False,
                                   negative_group=ns.negative_group, blend_holdout=ns.blend_holdout)
    assert parts["total"] < limits.DEFAULT_MEMORY
    # Fitting the preset's blend is counted on top of training.
    plain = limits.session_memory([190] * 11_000, [190] * 1_100, 75_000, window=ns.window,
                                  negatives=ns.negatives, dim=ns.dim, batch_size=ns.batch_size, shared=False,
                                  negative_group=ns.negative_group)
    assert "blend" not in plain and parts["blend"] > 0
    assert parts["total"] == plain["total"] + parts["blend"]
    # The noise rows are shared per group: independent noise would need far more.
    alone = limits.session_memory([190] * 11_000, [190] * 1_100, 75_000, window=ns.window,
                                   negatives=ns.negatives, dim=ns.dim, batch_size=ns.batch_size, shared=False)
    assert alone["step"] > 10 * parts["step"]
