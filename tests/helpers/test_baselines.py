"""Baseline scorers: co-occurrence counts, PPMI, popularity, random, embeddings."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from helpers.baselines import (
    CooccurrenceScorer,
    EmbeddingScorer,
    PopularityScorer,
    RandomScorer,
    cooccurrence_matrix,
    ppmi,
)
from helpers.metrics import Scorer, hit_rate_mrr
from helpers.ranking import top_k
from helpers.splits import heldout_pairs, split_playlists

N_GENRES, PER_GENRE = 4, 15
V = N_GENRES * PER_GENRE


def genre_of(idx):
    return (np.asarray(idx) - 1) // PER_GENRE


def genre_corpus(n_playlists=300, p_stay=0.9, seed=0):
    """Encoded playlists (values 1..60): random walks that stay in-genre with p_stay."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_playlists):
        g = rng.integers(N_GENRES)
        songs = []
        for _ in range(rng.integers(6, 16)):
            if rng.random() > p_stay:
                g = rng.integers(N_GENRES)
            songs.append(1 + g * PER_GENRE + rng.integers(PER_GENRE))
        out.append(np.array(songs, dtype=np.int32))
    return out


def brute_force_counts(playlists, v, window, directed):
    c = np.zeros((v + 1, v + 1))
    for p in playlists:
        for i in range(len(p)):
            for j in range(len(p)):
                d = j - i
                if 1 <= d <= window or (not directed and 1 <= -d <= window):
                    c[p[i], p[j]] += 1
    return c


def genre_mate_share(scorer, k=5):
    queries = np.arange(1, V + 1, dtype=np.int32)
    nbrs = top_k(scorer.scores(queries), queries, k)
    return float(np.mean(genre_of(nbrs) == genre_of(queries)[:, None]))


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize("window", [1, 2, 3])
@pytest.mark.parametrize("directed", [False, True])
def test_cooccurrence_matches_double_loop(window, directed):
    rng = np.random.default_rng(window)
    # small vocabulary so repeats and self-pairs occur; lengths include 1 and 2
    playlists = [rng.integers(1, 7, size=n).astype(np.int32) for n in (1, 2, 5, 8, 3, 9)]
    got = cooccurrence_matrix(playlists, 6, window=window, directed=directed)
    assert sparse.issparse(got) and got.shape == (7, 7)
    np.testing.assert_array_equal(got.toarray(), brute_force_counts(playlists, 6, window, directed))


def test_cooccurrence_hand_case():
    # [1,2,3] and [3,1], window 1, directed: 1->2, 2->3, 3->1 once each.
    m = cooccurrence_matrix([np.array([1, 2, 3]), np.array([3, 1])], 3, directed=True)
    assert m.toarray().tolist() == [
        [0, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
        [0, 1, 0, 0],
    ]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 5), min_size=0, max_size=8), min_size=1, max_size=6),
    st.integers(1, 3),
)
def test_undirected_is_symmetric_and_counts_pairs(lists, window):
    playlists = [np.array(p, dtype=np.int32) for p in lists]
    m = cooccurrence_matrix(playlists, 5, window=window, directed=False).toarray()
    np.testing.assert_array_equal(m, m.T)
    pairs = sum(max(0, len(p) - d) for p in lists for d in range(1, window + 1))
    assert m.sum() == 2 * pairs


def test_cooccurrence_rejects_bad_input():
    with pytest.raises(ValueError, match=r"train_encoded\[0\] must be song indices in 1..vocab_size=5.*got 7"):
        cooccurrence_matrix([np.array([1, 7])], 5)
    with pytest.raises(ValueError, match="got 0 at position 0"):
        cooccurrence_matrix([np.array([0, 1])], 5)
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        cooccurrence_matrix([np.array([1, 2])], 5, window=0)
    with pytest.raises(ValueError, match="weighting"):
        CooccurrenceScorer([np.array([1, 2])], 5, weighting="tfidf")


def test_ppmi_hand_values():
    # N = 8; every row and column sums to 4, so p(i)p(j) = 1/4.
    # (1,1): log((1/8)/(1/4)) = log 0.5 < 0 -> 0;  (1,2): log((3/8)/(1/4)) = log 1.5
    counts = sparse.csr_matrix(np.array([[0, 0, 0], [0, 1, 3], [0, 3, 1]], dtype=float))
    got = ppmi(counts).toarray()
    want = np.array([[0, 0, 0], [0, 0, math.log(1.5)], [0, math.log(1.5), 0]])
    np.testing.assert_allclose(got, want)


def test_ppmi_scorer_hand_values_directed():
    # Directed window 1 over [1,2], [1,2], [2,3]: C[1,2] = 2, C[2,3] = 1, N = 3.
    # Row sums: r1 = 2, r2 = 1.  Column sums: c2 = 2, c3 = 1.
    # PMI(1,2) = log(2*3 / (2*2)) = log 1.5;  PMI(2,3) = log(1*3 / (1*1)) = log 3.
    playlists = [np.array([1, 2]), np.array([1, 2]), np.array([2, 3])]
    s = CooccurrenceScorer(playlists, 3, weighting="ppmi", directed=True)
    got = s.scores(np.array([1, 2, 3], dtype=np.int32))
    assert got.dtype == np.float32 and got.shape == (3, 4)
    np.testing.assert_allclose(
        got, [[0, 0, math.log(1.5), 0], [0, 0, 0, math.log(3)], [0, 0, 0, 0]], rtol=1e-6
    )


def test_popularity_tiebreak_orders_zero_scores():
    # Plays: 1, 2, 3, 4 once each, 5 three times, 6 never.
    # Directed transitions: 1->2, 5->4, 4->5, 5->3, 3->5.
    playlists = [np.array([1, 2]), np.array([5, 4, 5, 3, 5])]
    plain = CooccurrenceScorer(playlists, 6, directed=True)
    backed = CooccurrenceScorer(playlists, 6, directed=True, tiebreak="popularity")
    q1 = np.array([1], dtype=np.int32)
    # plain: 2, then the zero-score songs by index
    assert top_k(plain.scores(q1), q1, 5).tolist() == [[2, 3, 4, 5, 6]]
    # back-off: 2, then 5 (3 plays), then 3, 4 (1 play, lower index first), then 6
    assert top_k(backed.scores(q1), q1, 5).tolist() == [[2, 5, 3, 4, 6]]
    q6 = np.array([6], dtype=np.int32)  # never played: pure popularity
    assert top_k(plain.scores(q6), q6, 3).tolist() == [[1, 2, 3]]
    assert top_k(backed.scores(q6), q6, 3).tolist() == [[5, 1, 2]]
    q5 = np.array([5], dtype=np.int32)  # 5->4 and 5->3 once each: positive scores stay first
    assert top_k(backed.scores(q5), q5, 3).tolist() == [[3, 4, 1]]
    assert backed.name.endswith("+pop")


# --------------------------------------------------------------------------- simple scorers


def test_popularity_scorer_ranks_by_count():
    s = PopularityScorer(np.array([0, 5, 9, 1, 9]))
    q = np.array([2, 3], dtype=np.int32)
    got = s.scores(q)
    assert got.shape == (2, 5) and got.dtype == np.float32
    # query 2 excluded: 4 (9), 1 (5), 3 (1);  query 3: 2 and 4 tie at 9 -> 2 first
    assert top_k(got, q, 3).tolist() == [[4, 1, 3], [2, 4, 1]]
    with pytest.raises(ValueError, match="non-negative"):
        PopularityScorer(np.array([0, -1, 2, 3]))


def test_random_scorer_fixed_per_query_and_seeded():
    s = RandomScorer(20, seed=4)
    both = s.scores(np.array([3, 7], dtype=np.int32))
    alone = s.scores(np.array([7], dtype=np.int32))
    assert both.shape == (2, 21) and both.dtype == np.float32
    np.testing.assert_array_equal(both[1], alone[0])
    assert not np.array_equal(both[0], both[1])
    other = RandomScorer(20, seed=5).scores(np.array([7], dtype=np.int32))
    assert not np.array_equal(alone, other)


@pytest.mark.parametrize(
    "scorer",
    [RandomScorer(5), PopularityScorer(np.arange(6)), CooccurrenceScorer([np.array([1, 2])], 5),
     EmbeddingScorer(np.eye(6, 3))],
)
def test_scorers_follow_protocol_and_reject_padding(scorer):
    assert isinstance(scorer, Scorer)
    assert isinstance(scorer.name, str) and scorer.name
    with pytest.raises(ValueError, match="0 is padding"):
        scorer.scores(np.array([0], dtype=np.int32))
    with pytest.raises(ValueError, match="1..5"):
        scorer.scores(np.array([6], dtype=np.int32))


# --------------------------------------------------------------------------- embeddings


def test_embedding_scorer_cosine_and_dot():
    target = np.array([[0, 0], [1, 0], [2, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    context = np.array([[0, 0], [0, 1], [0, 3], [2, 0], [1, 0]], dtype=np.float32)
    q = np.array([1], dtype=np.int32)
    cos = EmbeddingScorer(target).scores(q)
    # cos(1, j): 2 -> 0.998..., 3 -> 0, 4 -> -1
    np.testing.assert_allclose(cos[0, 2:], [2 / math.sqrt(4.01), 0, -1], rtol=1e-6)
    assert top_k(cos, q, 3).tolist() == [[2, 3, 4]]
    dot = EmbeddingScorer(target, context, mode="dot").scores(q)
    # target[1] = (1,0) . context rows -> 0, 0, 2, 1 for songs 1..4
    np.testing.assert_allclose(dot[0, 1:], [0, 0, 2, 1])
    assert top_k(dot, q, 3).tolist() == [[3, 4, 2]]


def test_embedding_scorer_zero_vector_gives_zero_cosine():
    target = np.array([[0, 0], [1, 0], [0, 0], [1, 1]], dtype=np.float32)
    got = EmbeddingScorer(target).scores(np.array([1, 2], dtype=np.int32))
    assert np.isfinite(got).all()
    assert got[1].tolist() == [0, 0, 0, 0]


def test_embedding_scorer_validates():
    with pytest.raises(ValueError, match="context_vectors must be the second embedding table for mode='dot'"):
        EmbeddingScorer(np.ones((4, 2)), mode="dot")
    with pytest.raises(ValueError, match="shape"):
        EmbeddingScorer(np.ones((4, 2)), np.ones((4, 3)), mode="dot")
    with pytest.raises(ValueError, match="mode"):
        EmbeddingScorer(np.ones((4, 2)), mode="euclid")


# --------------------------------------------------------------------------- synthetic genres


@pytest.fixture(scope="module")
def corpus():
    return genre_corpus()


@pytest.mark.parametrize("weighting", ["count", "ppmi"])
@pytest.mark.parametrize("directed", [False, True])
def test_cooccurrence_ranks_genre_mates_first(corpus, weighting, directed):
    s = CooccurrenceScorer(corpus, V, window=2, weighting=weighting, directed=directed)
    assert genre_mate_share(s) > 0.8


def test_random_scorer_is_near_chance(corpus):
    chance = (PER_GENRE - 1) / (V - 1)  # 14/59 ~ 0.24
    assert abs(genre_mate_share(RandomScorer(V, seed=1)) - chance) < 0.12


def test_embedding_of_genre_one_hot_ranks_genre_mates_first():
    rng = np.random.default_rng(0)
    vecs = np.vstack([np.zeros(4), np.eye(4)[genre_of(np.arange(1, V + 1))]])
    vecs = vecs + rng.normal(0, 0.1, size=vecs.shape)
    assert genre_mate_share(EmbeddingScorer(vecs)) == 1.0


def test_next_song_cooccurrence_beats_random_and_popularity(corpus):
    raw = [p.astype(np.int64) for p in corpus]
    train, test = split_playlists(raw, 0.2, seed=0)
    q, a, _ = heldout_pairs(test, {i: i for i in range(1, V + 1)})
    counts = np.bincount(np.concatenate(train), minlength=V + 1)
    rand = hit_rate_mrr(RandomScorer(V), q, a, k=5)["hr"]
    pop = hit_rate_mrr(PopularityScorer(counts), q, a, k=5)["hr"]
    cooc = hit_rate_mrr(CooccurrenceScorer(train, V, directed=True), q, a, k=5)["hr"]
    # With uniform picks inside a genre, HR@5 is near 0.9 * 5/14 ~ 0.32 for a perfect
    # genre model, and near 5/59 ~ 0.085 for random.
    assert cooc > 2 * rand
    assert cooc > pop
    assert abs(rand - 5 / 59) < 0.05
