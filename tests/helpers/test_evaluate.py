"""Evaluation: split (helpers.splits), ranking (helpers.ranking), metrics and label
agreement (helpers.metrics).

Expected values are derived by hand in the comments, never by the code under test.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.metrics import evaluate_methods, hit_rate_mrr, neighbour_label_agreement, tags_by_index
from helpers.ranking import rank_of, top_k
from helpers.splits import EvalSplit, heldout_pairs, sample_pairs, split_and_encode, split_playlists


class FixedScorer:
    """Returns a prebuilt row per query index (test double for the Scorer protocol)."""

    def __init__(self, table, name="fixed"):
        self.table = np.asarray(table, dtype=np.float32)
        self.name = name
        self.calls = []

    def scores(self, queries):
        self.calls.append(len(queries))
        return self.table[np.asarray(queries)]


def index_order_table(v):
    """Every row scores song j as -j: the ranking is 1, 2, 3, ... for every query."""
    row = -np.arange(v + 1, dtype=np.float32)
    return np.tile(row, (v + 1, 1))


# --------------------------------------------------------------------------- split


def test_split_is_disjoint_complete_and_sized():
    playlists = [np.array([i, i + 1000]) for i in range(50)]
    train, test = split_playlists(playlists, fraction=0.2, seed=3)
    train_ids = {int(p[0]) for p in train}
    test_ids = {int(p[0]) for p in test}
    assert len(test) == 10 and len(train) == 40  # round(50 * 0.2)
    assert train_ids.isdisjoint(test_ids)
    assert train_ids | test_ids == set(range(50))
    # original order is kept on each side
    assert [int(p[0]) for p in test] == sorted(test_ids)


def test_split_is_seeded():
    playlists = [np.array([i]) for i in range(100)]
    a = split_playlists(playlists, 0.1, seed=1)[1]
    b = split_playlists(playlists, 0.1, seed=1)[1]
    c = split_playlists(playlists, 0.1, seed=2)[1]
    assert [int(p[0]) for p in a] == [int(p[0]) for p in b]
    assert [int(p[0]) for p in a] != [int(p[0]) for p in c]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 200), frac=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_property(n, frac, seed):
    playlists = [np.array([i]) for i in range(n)]
    n_test = int(round(n * frac))
    if n_test in (0, n):
        with pytest.raises(ValueError, match="leaves both sides non-empty"):
            split_playlists(playlists, frac, seed)
        return
    train, test = split_playlists(playlists, frac, seed)
    ids = sorted(int(p[0]) for p in train + test)
    assert ids == list(range(n))
    assert len(test) == n_test
    # The same objects, each side in the input order.
    position = {id(p): i for i, p in enumerate(playlists)}
    for side in (train, test):
        assert [position[id(p)] for p in side] == sorted(position[id(p)] for p in side)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan"), "0.1"])
def test_split_rejects_bad_fraction(bad):
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\)"):
        split_playlists([np.array([1])] * 10, bad, 0)


def test_split_rejects_too_few_playlists_and_bad_seeds():
    with pytest.raises(ValueError, match="non-empty"):
        split_playlists([np.array([1, 2])], 0.5, 0)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        split_playlists([np.array([1, 2])] * 4, 0.5, -1)


# --------------------------------------------------------------------------- pairs


def test_heldout_pairs_hand_example():
    raw_to_idx = {10: 1, 20: 2, 30: 3}
    test = [
        np.array([10, 20, 20, 99, 30]),  # keep (10,20); repeat; answer_unknown; query_unknown
        np.array([99, 10]),  # query_unknown; the 30 -> 99 boundary is no pair
        np.array([30]),  # too short: nothing
        np.array([10, 30]),  # keep
        np.array([98, 99]),  # both unknown: counted once, as query_unknown
        np.array([], dtype=np.int64),
    ]
    q, a, skipped = heldout_pairs(test, raw_to_idx)
    assert q.dtype == np.int32 and a.dtype == np.int32
    assert q.tolist() == [1, 1]
    assert a.tolist() == [2, 3]
    assert skipped == {"query_unknown": 3, "answer_unknown": 1, "repeat": 1}


def test_heldout_pairs_empty_inputs():
    q, a, skipped = heldout_pairs([], {1: 1})
    assert q.size == 0 and a.size == 0
    assert skipped == {"query_unknown": 0, "answer_unknown": 0, "repeat": 0}


def test_heldout_pairs_rejects_bad_playlist():
    with pytest.raises(ValueError, match=r"test_playlists_raw\[1\] must be a 1-D array of integer song IDs"):
        heldout_pairs([np.array([1, 2]), np.array([1.5, 2.0])], {1: 1, 2: 2})


def test_sample_pairs_keeps_pairs_together_and_is_seeded():
    q = np.arange(100, dtype=np.int32)
    a = q + 1000
    sq, sa = sample_pairs(q, a, 10, seed=3)
    assert sq.size == 10 and np.all(sa == sq + 1000)
    assert np.all(np.diff(sq) > 0)  # original order kept, no repeats
    assert np.array_equal(sample_pairs(q, a, 10, seed=3)[0], sq)
    assert not np.array_equal(sample_pairs(q, a, 10, seed=4)[0], sq)
    assert np.array_equal(sample_pairs(q, a, 500)[0], q)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        sample_pairs(q, a, 0)


# --------------------------------------------------------------------------- ranking


def test_rank_of_ignores_padding_and_query():
    # V = 5, query 1.  Column 0 and the query get the highest scores but must not count.
    # Remaining order: 3 (0.9), 5 (0.7), 2 (0.5), 4 (0.1).
    row = np.array([9.0, 100.0, 0.5, 0.9, 0.1, 0.7], dtype=np.float32)
    scores = np.tile(row, (3, 1))
    ranks = rank_of(scores, np.array([1, 1, 1]), np.array([2, 3, 4]))
    assert ranks.tolist() == [3, 1, 4]
    assert top_k(scores[:1], np.array([1]), 4).tolist() == [[3, 5, 2, 4]]


def test_ties_break_by_lower_index():
    # All equal, query 3: order 1, 2, 4, 5.
    scores = np.ones((2, 6), dtype=np.float32)
    assert rank_of(scores, np.array([3, 3]), np.array([4, 2])).tolist() == [3, 2]
    assert top_k(scores, np.array([3, 3]), 3).tolist() == [[1, 2, 4], [1, 2, 4]]
    # Partial ties: 5 and 2 tie on top, then 1 and 4 tie.
    row = np.array([[0, 1, 2, 0, 1, 2]], dtype=np.float32)
    assert top_k(row, np.array([3]), 4).tolist() == [[2, 5, 1, 4]]
    assert rank_of(row, np.array([3]), np.array([4])).tolist() == [4]


def test_rank_of_rejects_answer_equal_to_query():
    with pytest.raises(ValueError, match="answers must be different from their queries"):
        rank_of(np.ones((1, 4)), np.array([2]), np.array([2]))


def test_scores_must_not_be_nan_and_minus_inf_still_outranks_padding():
    bad = np.ones((1, 4))
    bad[0, 2] = np.nan
    with pytest.raises(ValueError, match="scores must be free of NaN"):
        rank_of(bad, np.array([1]), np.array([3]))
    # -inf is a score like any other: the lowest, yet above column 0 and the query.
    row = np.array([[5.0, 5.0, -np.inf, 1.0]])
    assert top_k(row, np.array([1]), 2).tolist() == [[3, 2]]
    assert rank_of(row, np.array([1]), np.array([2])).tolist() == [2]


def test_excluded_songs_are_never_ranked():
    row = np.array([[0, 1, 2, 3, 4, 5]], dtype=np.float32)  # query 1: order 5, 4, 3, 2
    assert top_k(row, np.array([1]), 2, exclude=[5, 3]).tolist() == [[4, 2]]
    with pytest.raises(ValueError, match="k must be an int in 1..2, got 3"):
        top_k(row, np.array([1]), 3, exclude=[5, 3])
    with pytest.raises(ValueError, match="exclude must be song indices in 1..5"):
        top_k(row, np.array([1]), 1, exclude=[9])


def test_query_zero_is_rejected():
    with pytest.raises(ValueError, match="0 is padding"):
        top_k(np.ones((1, 4)), np.array([0]), 1)


def test_hit_rate_mrr_ranks_1_3_11():
    # V = 12, ranking 1..11 for query 12, so answer j has rank j.
    scorer = FixedScorer(index_order_table(12))
    res = hit_rate_mrr(scorer, np.array([12, 12, 12]), np.array([1, 3, 11]), k=10)
    assert res["n"] == 3
    assert res["hr"] == pytest.approx(2 / 3)
    assert res["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    # every top-10 list is songs 1..10 -> coverage 10 / 12
    assert res["coverage"] == pytest.approx(10 / 12)


def test_hit_rate_mrr_query_not_counted_and_batching():
    # Query 2 is excluded, so for query 2 the order is 1, 3, 4, ...: answer 3 has rank 2.
    # Query 1: order 2, 3, 4, ...: answer 3 has rank 2 as well, answer 6 rank 5.
    scorer = FixedScorer(index_order_table(8))
    q, a = np.array([2, 1, 1]), np.array([3, 3, 6])
    res = hit_rate_mrr(scorer, q, a, k=2)
    assert res["hr"] == pytest.approx(2 / 3)
    assert res["mrr"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    # top-2 lists: {1, 3} for query 2 and {2, 3} for query 1 -> 3 distinct of 8
    assert res["coverage"] == pytest.approx(3 / 8)
    one_by_one = hit_rate_mrr(FixedScorer(index_order_table(8)), q, a, k=2, batch=1)
    assert one_by_one == res


def test_hit_rate_mrr_batches_queries():
    scorer = FixedScorer(index_order_table(6))
    q = np.array([1, 2, 3, 4, 5])
    hit_rate_mrr(scorer, q, np.array([2, 1, 1, 1, 1]), k=1, batch=2)
    assert scorer.calls == [2, 2, 1]


def test_hit_rate_mrr_validates():
    scorer = FixedScorer(index_order_table(5))
    with pytest.raises(ValueError, match="empty"):
        hit_rate_mrr(scorer, np.array([], dtype=np.int32), np.array([], dtype=np.int32))
    with pytest.raises(ValueError, match="k must be an int in 1..4, got 5"):
        hit_rate_mrr(scorer, np.array([1]), np.array([2]), k=5)
    with pytest.raises(ValueError, match="answers must be song indices in 1..5"):
        hit_rate_mrr(scorer, np.array([1]), np.array([6]), k=2)
    with pytest.raises(ValueError, match="queries must be an array of integer song indices, got dtype float64"):
        hit_rate_mrr(scorer, np.array([1.0]), np.array([2]), k=2)


def test_evaluate_methods_table():
    v = 12
    best = FixedScorer(index_order_table(v), name="index-order")
    reverse = FixedScorer(-index_order_table(v), name="reverse")  # ranking 12, 11, ...
    q, a = np.array([12, 12, 12]), np.array([1, 3, 11])
    table = evaluate_methods([best, reverse], q, a, k=10)
    assert list(table.columns) == ["method", "HR@10", "MRR@10", "coverage", "seconds"]
    assert table["method"].tolist() == ["index-order", "reverse"]
    assert table.loc[0, "HR@10"] == pytest.approx(2 / 3)
    # reverse for query 12: order 11, 10, ..., 1 -> ranks 11, 9, 1
    assert table.loc[1, "HR@10"] == pytest.approx(2 / 3)
    assert table.loc[1, "MRR@10"] == pytest.approx((0 + 1 / 9 + 1) / 3)
    assert (table["seconds"] >= 0).all()
    with pytest.raises(ValueError, match="scorers must be scorers with distinct names, got two named 'index-order'"):
        evaluate_methods([best, best], q, a)


def test_split_and_encode_uses_training_vocab_only():
    playlists = [np.array([i, i + 1, i + 2], dtype=np.int64) * 10 for i in range(20)]
    split = split_and_encode(playlists, test_fraction=0.25, seed=0)
    assert isinstance(split, EvalSplit)
    assert len(split.train_raw) == 15 and len(split.test_raw) == 5
    train_ids = set(np.concatenate(split.train_raw).tolist())
    assert set(split.vocab.raw_ids.tolist()) == train_ids
    for enc, raw in zip(split.train_encoded, split.train_raw):
        assert split.vocab.raw_ids[np.asarray(enc) - 1].tolist() == raw.tolist()
    # Independent count of held-out pairs whose two songs are both training songs.
    expected = []
    unknown_q = unknown_a = 0
    for p in split.test_raw:
        for x, y in zip(p[:-1].tolist(), p[1:].tolist()):
            if x not in train_ids:
                unknown_q += 1
            elif y not in train_ids:
                unknown_a += 1
            else:
                expected.append((x, y))
    got = [
        (int(split.vocab.raw_ids[q - 1]), int(split.vocab.raw_ids[a - 1]))
        for q, a in zip(split.queries, split.answers)
    ]
    assert got == expected
    assert split.skipped == {"query_unknown": unknown_q, "answer_unknown": unknown_a, "repeat": 0}


# --------------------------------------------------------------------------- label lens


def test_neighbour_label_agreement_hand_case():
    # Cosine neighbours (k=1): 1<->2 and 3<->4.
    vectors = np.array([[0, 0], [1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    labels = [frozenset(), {"a"}, {"a"}, {"b"}, {"a", "b"}]
    res = neighbour_label_agreement(vectors, labels, k=1)
    # every neighbour shares a label -> share 1
    assert res["share"] == pytest.approx(1.0)
    # songs (other than itself) sharing a label: 1 -> {2,4}, 2 -> {1,4}, 3 -> {4}, 4 -> {1,2,3}
    chance = (2 / 3 + 2 / 3 + 1 / 3 + 3 / 3) / 4
    assert res["chance"] == pytest.approx(chance)
    assert res["lift"] == pytest.approx(1.0 / chance)
    assert res["n"] == 4


def test_neighbour_label_agreement_skips_unlabelled_queries():
    vectors = np.array([[0, 0], [1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    labels = [frozenset(), {"a"}, frozenset(), {"a"}, None]
    res = neighbour_label_agreement(vectors, labels, k=1)
    # queries 1 and 3 only; 1's neighbour is 2 (unlabelled) -> 0, 3's neighbour is 4 -> 0
    assert res["n"] == 2
    assert res["share"] == 0.0
    # 1 shares with {3}, 3 shares with {1}: 1/3 each
    assert res["chance"] == pytest.approx(1 / 3)


def _genre_labels(n_genres, per_genre):
    genre = np.repeat(np.arange(n_genres), per_genre)
    return genre, [frozenset()] + [frozenset({int(g)}) for g in genre]


def test_label_agreement_random_vs_structured_vectors():
    rng = np.random.default_rng(0)
    genre, labels = _genre_labels(8, 50)
    chance = 49 / 399
    random_vecs = rng.normal(size=(401, 16))
    res = neighbour_label_agreement(random_vecs, labels, k=10)
    assert res["chance"] == pytest.approx(chance)
    assert 0.7 < res["lift"] < 1.3
    onehot = np.vstack([np.zeros(8), np.eye(8)[genre]]) + rng.normal(0, 0.2, size=(401, 8))
    res = neighbour_label_agreement(onehot, labels, k=10)
    assert res["share"] > 0.9
    assert res["lift"] > 6
    sampled = neighbour_label_agreement(onehot, labels, k=10, sample=50, seed=1)
    assert sampled["n"] == 50 and sampled["lift"] > 6


def test_label_agreement_validates():
    with pytest.raises(ValueError, match="length V\\+1 = 4"):
        neighbour_label_agreement(np.ones((4, 2)), [frozenset()] * 3)
    with pytest.raises(ValueError, match="at least one song with a label"):
        neighbour_label_agreement(np.eye(4), [frozenset()] * 4, k=1)


def test_tags_by_index():
    vocab = SimpleNamespace(size=3, raw_ids=np.array([5, 7, 9], dtype=np.int64))
    songs = pd.DataFrame(
        {
            "title": ["a", "b", "c"],
            "artist": ["x", "y", "z"],
            "tags": [("rock", "80s"), (), ("pop",)],
            "genre": [1.0, np.nan, 2.0],
        },
        index=pd.Index([5, 7, 11], name="song_id"),
    )
    assert tags_by_index(vocab, songs) == [
        frozenset(), frozenset({"rock", "80s"}), frozenset(), frozenset()
    ]
    assert tags_by_index(vocab, songs, "genre") == [
        frozenset(), frozenset({1.0}), frozenset(), frozenset()
    ]
    with pytest.raises(ValueError, match="column must be a column of songs.*got 'mood'"):
        tags_by_index(vocab, songs, "mood")


@settings(max_examples=60, deadline=None)
@given(
    st.integers(3, 12).flatmap(
        lambda v: st.tuples(
            st.just(v),
            st.lists(st.lists(st.integers(0, 3), min_size=v + 1, max_size=v + 1), min_size=1, max_size=5),
            st.data(),
        )
    )
)
def test_top_k_and_rank_match_a_plain_sort(case):
    v, rows, data = case
    scores = np.array(rows, dtype=np.float32)  # few distinct values: many ties
    queries = np.array([data.draw(st.integers(1, v)) for _ in rows])
    k = data.draw(st.integers(1, v - 1))
    got = top_k(scores, queries, k)
    for r, q in enumerate(queries):
        # Reference: Python's sort on (-score, index) over the allowed songs.
        ref = sorted((j for j in range(1, v + 1) if j != q), key=lambda j: (-scores[r, j], j))
        assert got[r].tolist() == ref[:k]
        answers = np.array([ref[-1], ref[0]])
        ranks = rank_of(scores[[r, r]], np.array([q, q]), answers)
        assert ranks.tolist() == [v - 1, 1]
