"""Tests for helpers.skipgrams: positives against a brute-force reference, negatives'
laws, exclusion, the per-playlist cap, validation, and agreement with the loop-based
re-implementation of the original assignment's pipeline in bench/original_pipeline.py.
The noise distribution itself is tested in test_noise.py."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, chisquare

from bench.original_pipeline import original_generate_pairs
from helpers import skipgrams as sg
from helpers.skipgrams import (
    collision_rates,
    pair_stats,
    positive_pairs,
    skipgram_pairs,
)


def enc(*playlists):
    return [np.asarray(p, dtype=np.int32) for p in playlists]


def brute_positives(playlists, window):
    """(target, context, playlist, target position) in double-loop order, O(L^2) per list."""
    out = []
    for k, pl in enumerate(playlists):
        pl = [int(x) for x in pl]
        for i in range(len(pl)):
            for j in range(len(pl)):
                if i != j and abs(i - j) <= window:
                    out.append((pl[i], pl[j], k, i))
    return out


playlist_lists = st.lists(
    st.lists(st.integers(1, 6), min_size=0, max_size=14), min_size=0, max_size=6
)


# --------------------------------------------------------------------------- positives


def test_hand_worked_example():
    t, c, pid = positive_pairs(enc([5, 7, 9]), 1)
    assert Counter(zip(t.tolist(), c.tolist())) == Counter([(5, 7), (7, 5), (7, 9), (9, 7)])
    assert pid.tolist() == [0, 0, 0, 0]
    assert t.dtype == c.dtype == pid.dtype == np.int32


def test_hand_worked_two_playlists_window_2():
    t, c, pid = positive_pairs(enc([1, 2, 3], [4], [5, 6]), 2)
    assert list(zip(t.tolist(), c.tolist(), pid.tolist())) == [
        (1, 2, 0), (1, 3, 0), (2, 1, 0), (2, 3, 0), (3, 1, 0), (3, 2, 0),
        (5, 6, 2), (6, 5, 2),
    ]


@settings(max_examples=150, deadline=None)
@given(playlist_lists, st.integers(1, 6))
def test_positives_equal_brute_force(playlists, window):
    t, c, pid = positive_pairs(enc(*playlists), window)
    expected = [(a, b, k) for a, b, k, _ in brute_positives(playlists, window)]
    # The documented order is the double loop's order, so compare sequences, not sets.
    assert list(zip(t.tolist(), c.tolist(), pid.tolist())) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=8), st.integers(1, 12))
def test_pair_count_closed_form(lengths, window):
    playlists = [np.arange(1, n + 1, dtype=np.int32) for n in lengths]
    t, _, _ = positive_pairs(playlists, window)
    closed = sum(2 * max(n - d, 0) for n in lengths for d in range(1, window + 1))
    assert t.size == closed
    stats = pair_stats(playlists, window, negatives=3)
    assert stats["positives"] == closed
    assert stats["rows"] == stats["rows_before_cap"] == 4 * closed
    assert stats["skipped"] == sum(n < 2 for n in lengths)


def test_distinct_songs_never_pair_with_themselves():
    t, c, _ = positive_pairs(enc(np.arange(1, 30), np.arange(40, 45)), 4)
    assert t.size > 0 and not np.any(t == c)


def test_repeated_song_pairs_with_itself_from_another_position():
    t, c, _ = positive_pairs(enc([3, 3, 8]), 1)
    assert Counter(zip(t.tolist(), c.tolist())) == Counter([(3, 3), (3, 3), (3, 8), (8, 3)])


def test_short_and_empty_playlists_contribute_nothing():
    playlists = enc([], [4], [1, 2])
    t, c, pid = positive_pairs(playlists, 3)
    assert list(zip(t.tolist(), c.tolist(), pid.tolist())) == [(1, 2, 2), (2, 1, 2)]
    stats = pair_stats(playlists, 3, negatives=1)
    assert stats == {"playlists": 3, "skipped": 2, "positives": 2, "rows_before_cap": 4,
                     "capped_playlists": 0, "rows": 4}
    for arr, dtype in zip(skipgram_pairs(enc([], [7]), 2, 3, 10, seed=0),
                          (np.int32, np.int32, np.float32)):
        assert arr.shape == (0,) and arr.dtype == dtype


# --------------------------------------------------------------------------- row layout


@settings(max_examples=60, deadline=None)
@given(playlist_lists, st.integers(1, 4), st.integers(0, 4), st.integers(0, 2**31))
def test_rows_are_positive_then_k_negatives(playlists, window, k, seed):
    V = 6
    t, c, y = skipgram_pairs(enc(*playlists), window, k, V, seed=seed)
    assert t.dtype == c.dtype == np.int32 and y.dtype == np.float32
    pos = brute_positives(playlists, window)
    assert t.size == len(pos) * (k + 1)
    blocks_y = y.reshape(-1, k + 1)
    assert np.all(blocks_y[:, 0] == 1) and np.all(blocks_y[:, 1:] == 0)
    blocks_t = t.reshape(-1, k + 1)
    blocks_c = c.reshape(-1, k + 1)
    assert blocks_t[:, 0].tolist() == [p[0] for p in pos]
    assert blocks_c[:, 0].tolist() == [p[1] for p in pos]
    assert np.all(blocks_t == blocks_t[:, :1])  # negatives keep their positive's target
    assert np.all((blocks_c[:, 1:] >= 1) & (blocks_c[:, 1:] <= V))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.sampled_from(["uniform", "unigram"]), st.integers(0, 1000))
def test_negatives_always_inside_vocab(vocab_size, noise, seed):
    rng = np.random.default_rng(seed)
    playlists = [rng.integers(1, vocab_size + 1, size=n) for n in (2, 9, 5)]
    counts = np.r_[0, rng.integers(0, 4, size=vocab_size)]
    counts[rng.integers(1, vocab_size + 1)] += 1  # at least one positive count
    t, c, y = skipgram_pairs(playlists, 2, 7, vocab_size, noise=noise, counts=counts,
                             seed=seed)
    neg = c[y == 0]
    assert neg.size == 7 * int(y.sum())
    assert np.all((neg >= 1) & (neg <= vocab_size))
    if noise == "unigram":
        assert np.all(counts[neg] > 0)  # zero-count songs have zero probability


def test_same_seed_same_rows_different_seed_different_negatives():
    playlists = enc(np.arange(1, 40), np.arange(5, 25))
    a = skipgram_pairs(playlists, 3, 4, 100, seed=11)
    b = skipgram_pairs(playlists, 3, 4, 100, seed=11)
    c = skipgram_pairs(playlists, 3, 4, 100, seed=12)
    g = skipgram_pairs(playlists, 3, 4, 100, seed=np.random.default_rng(11))
    for x, y_, z in zip(a, b, g):
        np.testing.assert_array_equal(x, y_)
        np.testing.assert_array_equal(x, z)
    np.testing.assert_array_equal(a[0], c[0])  # targets do not depend on the seed
    np.testing.assert_array_equal(a[2], c[2])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(a[1][a[2] == 1], c[1][c[2] == 1])


def test_shuffle_permutes_the_same_rows():
    playlists = enc(np.arange(1, 30), [3, 1, 4, 1, 5])
    plain = skipgram_pairs(playlists, 2, 3, 50, seed=5)
    mixed = skipgram_pairs(playlists, 2, 3, 50, seed=5, shuffle=True)
    assert not np.array_equal(plain[1], mixed[1])
    rows = lambda out: sorted(zip(*(a.tolist() for a in out)))  # noqa: E731
    assert rows(plain) == rows(mixed)


# --------------------------------------------------------------------------- noise laws


def test_uniform_negatives_pass_chi_square():
    V = 40
    rng = np.random.default_rng(0)
    playlists = [rng.integers(1, V + 1, size=200) for _ in range(20)]
    _, c, y = skipgram_pairs(playlists, 2, 5, V, seed=2024)
    neg = c[y == 0]
    observed = np.bincount(neg, minlength=V + 1)
    assert observed[0] == 0
    assert neg.size > 50_000
    assert chisquare(observed[1:]).pvalue > 1e-4
    assert_order_free(neg, range(1, V + 1))


@pytest.mark.parametrize("n_playlists", [1, 40])  # few draws: binary search; many: multinomial
def test_unigram_negatives_pass_chi_square(n_playlists):
    V = 2000
    counts = np.zeros(V + 1, dtype=np.int64)
    counts[[3, 10, 77, 1999]] = [1, 4, 20, 300]
    rng = np.random.default_rng(1)
    playlists = [rng.integers(1, V + 1, size=60) for _ in range(n_playlists)]
    _, c, y = skipgram_pairs(playlists, 2, 8, V, noise="unigram", counts=counts, seed=7)
    neg = c[y == 0]
    observed = np.bincount(neg, minlength=V + 1)
    assert observed.sum() == observed[[3, 10, 77, 1999]].sum()  # nothing else drawn
    weights = np.array([1, 4, 20, 300], dtype=float) ** 0.75
    expected = weights / weights.sum() * neg.size
    assert chisquare(observed[[3, 10, 77, 1999]], expected).pvalue > 1e-4
    assert_order_free(neg, [3, 10, 77, 1999])


def assert_order_free(neg, songs):
    """Draws must not depend on their row: both halves of the sequence follow one law."""
    half = neg.size // 2
    table = [[np.sum(part == s) for s in songs] for part in (neg[:half], neg[half:2 * half])]
    assert chi2_contingency(table).pvalue > 1e-4


def test_power_zero_unigram_is_uniform_over_vocab():
    counts = np.array([0, 100, 0, 1, 0, 0])
    playlists = [np.array([1, 2, 3, 4, 5] * 400)]
    _, c, y = skipgram_pairs(playlists, 2, 3, 5, noise="unigram", counts=counts, power=0,
                             seed=3)
    observed = np.bincount(c[y == 0], minlength=6)
    assert observed[0] == 0 and np.all(observed[1:] > 0)
    assert chisquare(observed[1:]).pvalue > 1e-4


# --------------------------------------------------------------------------- exclusion


def test_exclude_target():
    playlists = [np.array([1, 2, 1, 3, 3, 2, 1] * 30)]
    t0, c0, y0 = skipgram_pairs(playlists, 2, 5, 3, seed=0)
    assert np.any((c0 == t0) & (y0 == 0))  # without the rule, collisions do happen
    t, c, y = skipgram_pairs(playlists, 2, 5, 3, exclude_target=True, seed=0)
    neg = y == 0
    assert neg.sum() > 1000 and not np.any(c[neg] == t[neg])


def test_exclude_target_with_two_songs_forces_the_other_song():
    t, c, y = skipgram_pairs(enc([1, 2, 1, 2, 2]), 2, 4, 2, exclude_target=True, seed=1)
    neg = y == 0
    np.testing.assert_array_equal(c[neg], 3 - t[neg])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 12), min_size=0, max_size=15), min_size=1, max_size=4),
    st.integers(1, 3),
    st.booleans(),
    st.integers(0, 10_000),
)
def test_exclude_context_avoids_the_occurrence_window(playlists, window, also_target, seed):
    V, k = 12, 3
    t, c, y = skipgram_pairs(enc(*playlists), window, k, V, exclude_context=True,
                             exclude_target=also_target, seed=seed)
    pos = brute_positives(playlists, window)
    assert t.size == len(pos) * (k + 1)
    negs = c.reshape(-1, k + 1)[:, 1:]
    for (target, _, p, i), row in zip(pos, negs):
        pl = playlists[p]
        window_songs = {pl[j] for j in range(max(0, i - window), min(len(pl), i + window + 1))
                        if j != i}
        if also_target:
            window_songs.add(target)
        assert not window_songs.intersection(row.tolist())


def test_exclude_context_is_per_occurrence():
    # Songs 1..8 repeated: every interior occurrence of song s has the neighbours
    # s-2, s-1, s+1, s+2 (cyclically), which are all of s's true contexts in the data. Only
    # occurrences at the playlist's ends have smaller windows, so only their negatives can
    # still be a true positive pair found elsewhere.
    playlists = [np.tile(np.arange(1, 9), 20)]
    L, window, k = 160, 2, 4
    t, c, y = skipgram_pairs(playlists, window, k, 8, seed=0)
    assert collision_rates(t, c, y, playlists, window)["positive_pair"] > 0
    t, c, y = skipgram_pairs(playlists, window, k, 8, exclude_context=True, seed=0)
    true_ctx = {(a, b) for a, b, _, _ in brute_positives(playlists, window)}
    for (target, _, _, i), row in zip(brute_positives(playlists, window),
                                      c.reshape(-1, k + 1)[:, 1:]):
        if window <= i < L - window:
            assert not any((target, n) in true_ctx for n in row.tolist())


@pytest.mark.parametrize(
    "playlists, vocab_size, kwargs",
    [
        (enc([1, 1]), 1, dict(exclude_target=True)),
        (enc([1, 2, 3, 1]), 3, dict(exclude_context=True)),  # position 0 sees 2, 3, 1
        (enc([1, 2]), 2, dict(exclude_context=True, exclude_target=True)),
    ],
)
def test_vocab_too_small_for_exclusion(playlists, vocab_size, kwargs):
    with pytest.raises(ValueError, match=f"vocab_size={vocab_size}"):
        skipgram_pairs(playlists, 3, 2, vocab_size, seed=0, **kwargs)


def test_unigram_support_too_small_for_exclusion():
    counts = np.zeros(11, dtype=int)
    counts[[1, 2]] = 5
    with pytest.raises(ValueError, match=r"all 2 songs .*vocab_size=10"):
        skipgram_pairs(enc([1, 2]), 1, 1, 10, noise="unigram", counts=counts,
                       exclude_target=True, exclude_context=True, seed=0)


def test_exclusion_feasible_at_the_limit():
    # Position 1 sees 1 and 3, so exclude_context leaves exactly song 2 to draw.
    t, c, y = skipgram_pairs(enc([1, 2, 3]), 1, 6, 3, exclude_context=True, seed=0)
    blocks = c.reshape(-1, 7)
    assert np.all(blocks[1:3, 1:] == 2)  # the two positives whose target is position 1
    assert not np.any(blocks[0, 1:] == 2) and not np.any(blocks[3, 1:] == 2)


def test_redraw_rounds_are_capped(monkeypatch):
    # Song 2 is the only allowed negative for target 1 but has probability ~1e-9.
    monkeypatch.setattr(sg, "MAX_REDRAW_ROUNDS", 50)
    counts = np.array([0, 10**12, 1])
    with pytest.raises(ValueError, match="after 50 redraw rounds"):
        skipgram_pairs(enc([1, 2]), 1, 3, 2, noise="unigram", counts=counts,
                       exclude_target=True, seed=0)


def test_no_negatives_needs_no_feasible_exclusion():
    t, c, y = skipgram_pairs(enc([1, 1]), 1, 0, 1, exclude_target=True, seed=0)
    assert t.tolist() == [1, 1] and c.tolist() == [1, 1] and y.tolist() == [1, 1]


# --------------------------------------------------------------------------- cap


def disjoint_playlists(lengths, stride=1000):
    """Playlist g uses songs g*stride+1 .., so every row names its playlist."""
    return [np.arange(g * stride + 1, g * stride + 1 + n, dtype=np.int32)
            for g, n in enumerate(lengths)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=6), st.integers(1, 3),
       st.integers(0, 3), st.integers(1, 60), st.integers(0, 10_000))
def test_cap_per_playlist(lengths, window, k, cap, seed):
    playlists = disjoint_playlists(lengths)
    V = 1000 * len(lengths)
    full = skipgram_pairs(playlists, window, k, V, seed=seed)
    t, c, y = skipgram_pairs(playlists, window, k, V, max_pairs_per_playlist=cap, seed=seed)
    owner = (t - 1) // 1000
    full_owner = (full[0] - 1) // 1000
    for g, n in enumerate(lengths):
        rows = sum(2 * max(n - d, 0) for d in range(1, window + 1)) * (k + 1)
        mine = owner == g
        assert mine.sum() == min(rows, cap)
        if rows <= cap:  # untouched: same positives in the same places
            full_mine = full_owner == g
            np.testing.assert_array_equal(y[mine], full[2][full_mine])
            np.testing.assert_array_equal(c[mine][y[mine] == 1],
                                          full[1][full_mine][full[2][full_mine] == 1])
    kept = Counter(zip(t[y == 1].tolist(), c[y == 1].tolist()))
    all_pos = Counter(zip(full[0][full[2] == 1].tolist(), full[1][full[2] == 1].tolist()))
    assert not kept - all_pos  # kept positives are a sub-multiset of all positives
    assert pair_stats(playlists, window, k, cap)["rows"] == t.size


def _cap_frequencies(n_runs):
    # One playlist of 6 distinct songs, window 1: 10 distinct positives, no negatives;
    # keep 4 of the 10 rows.
    playlists = enc([1, 2, 3, 4, 5, 6])
    seen = Counter()
    for seed in range(n_runs):
        t, c, _ = skipgram_pairs(playlists, 1, 0, 6, max_pairs_per_playlist=4, seed=seed)
        assert t.size == 4 and len(set(zip(t.tolist(), c.tolist()))) == 4
        seen.update(zip(t.tolist(), c.tolist()))
    return seen


def test_cap_keeps_rows_uniformly():
    seen = _cap_frequencies(1500)
    assert len(seen) == 10
    assert chisquare(list(seen.values())).pvalue > 1e-4


def test_cap_tie_fallback_is_exact_and_uniform(monkeypatch):
    # With a single random bit per key almost every cut-off is a tie, forcing the exact path.
    monkeypatch.setattr(sg, "_CAP_KEY_BITS", 1)
    seen = _cap_frequencies(1500)
    assert len(seen) == 10
    assert chisquare(list(seen.values())).pvalue > 1e-4


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, exc, needle",
    [
        (dict(window=0), ValueError, "got 0"),
        (dict(window=-3), ValueError, "-3"),
        (dict(window=2.5), ValueError, "window must be an int >= 1, got 2.5"),
        (dict(negatives=-2), ValueError, "-2"),
        (dict(vocab_size=0), ValueError, "vocab_size must be an int >= 1, got 0"),
        (dict(noise="zipf"), ValueError, "'zipf'"),
        (dict(noise="unigram"), ValueError, "counts"),
        (dict(noise="unigram", counts=np.ones(10)), ValueError, "(10,)"),
        (dict(max_pairs_per_playlist=0), ValueError, "max_pairs_per_playlist must be None or an int >= 1, got 0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, exc, needle):
    args = dict(encoded=enc([1, 2, 3]), window=2, negatives=1, vocab_size=10)
    args.update(kwargs)
    with pytest.raises(exc) as info:
        skipgram_pairs(**args, seed=0)
    assert needle in str(info.value)


def test_counts_length_message_names_both_sizes():
    with pytest.raises(ValueError, match=r"counts must be .*vocab_size\+1.*\(11,\).*got shape \(10,\)"):
        skipgram_pairs(enc([1, 2]), 1, 1, 10, noise="unigram", counts=np.ones(10))


@pytest.mark.parametrize(
    "playlists, needle",
    [
        (enc([1, 2], [3, 11, 4]), "encoded[1] must be song indices in 1..vocab_size=10 (0 is padding), "
                                  "got 11 at position 1"),
        (enc([1, 0, 2]), "got 0 at position 1"),
        (enc([4, -5]), "-5"),
    ],
)
def test_bad_song_ids_name_value_and_playlist(playlists, needle):
    with pytest.raises(ValueError) as info:
        skipgram_pairs(playlists, 1, 1, 10, seed=0)
    assert needle in str(info.value)
    assert "1..vocab_size=10" in str(info.value)


def test_bad_playlist_types():
    with pytest.raises(ValueError, match="float64"):
        positive_pairs([np.array([1.0, 2.0])], 1)
    with pytest.raises(ValueError, match=r"encoded\[1\] must be a 1-D array.*shape \(2, 2\)"):
        positive_pairs([np.array([1, 2]), np.ones((2, 2), dtype=int)], 1)
    with pytest.raises(ValueError, match="one per playlist"):
        positive_pairs(np.array([1, 2, 3]), 1)
    with pytest.raises(ValueError, match=r"song indices >= 1 \(0 is padding\), got 0 at position 0"):
        positive_pairs(enc([0, 1]), 1)


# --------------------------------------------------------------------------- original pipeline


def test_agrees_with_original_pipeline():
    rng = np.random.default_rng(4)
    V = 20
    playlists = [rng.integers(1, V + 1, size=n).astype(np.int32) for n in (0, 1, 2, 7, 15, 30)]
    for window, k in [(1, 0), (3, 2), (10, 5)]:
        pairs, labels = original_generate_pairs(playlists, window, V, k, max_pairs=None)
        t, c, y = skipgram_pairs(playlists, window, k, V, seed=0)
        assert pairs.dtype == np.int32 and labels.dtype == np.float32
        assert Counter(map(tuple, pairs[labels == 1].tolist())) == Counter(
            zip(t[y == 1].tolist(), c[y == 1].tolist())
        )
        assert (labels == 0).sum() == k * (labels == 1).sum() == (y == 0).sum()
        original_neg = pairs[labels == 0, 1]
        assert np.all((original_neg >= 1) & (original_neg <= V))


def test_cap_row_counts_match_original_pipeline():
    playlists = disjoint_playlists([3, 12, 25, 40], stride=100)
    V = 400
    pairs, labels = original_generate_pairs(playlists, 3, V, 2, max_pairs=90)
    t, c, y = skipgram_pairs(playlists, 3, 2, V, max_pairs_per_playlist=90, seed=0)
    original_sizes = np.bincount((pairs[:, 0] - 1) // 100, minlength=4)
    ours = np.bincount((t - 1) // 100, minlength=4)
    np.testing.assert_array_equal(original_sizes, ours)
    np.testing.assert_array_equal(ours, [6 * 3, 90, 90, 90])  # 6 positives x 3


def test_original_pipeline_is_repeatable_and_leaves_global_state():
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = original_generate_pairs(enc([1, 2, 3, 4]), 2, 9, 3, max_pairs=None)
    b = original_generate_pairs(enc([1, 2, 3, 4]), 2, 9, 3, max_pairs=None)
    assert np.random.random() == before
    np.testing.assert_array_equal(a[0], b[0])


# --------------------------------------------------------------------------- collision rates


def test_collision_rates_hand_built():
    playlists = enc([1, 2, 3], [4, 4])
    # True positives (window 1): (1,2) (2,1) (2,3) (3,2) (4,4) (4,4).
    targets = np.array([1, 1, 1, 2, 3, 3, 4, 4, 2])
    contexts = np.array([2, 1, 3, 3, 2, 3, 4, 1, 1])
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=np.float32)
    # Negatives: (1,1) self; (1,3) neither; (2,3) positive; (3,2) positive; (3,3) self;
    # (4,4) self and positive; (4,1) neither.  7 negatives, 3 self, 3 positive.
    r = collision_rates(targets, contexts, labels, playlists, 1)
    assert r["negatives"] == 7
    assert r["same_as_target"] == 3 and r["positive_pair"] == 3
    assert r["same_as_target_rate"] == pytest.approx(3 / 7)
    assert r["positive_pair_rate"] == pytest.approx(3 / 7)


def test_collision_rates_without_negatives_is_nan():
    r = collision_rates(np.array([1]), np.array([2]), np.array([1.0]), enc([1, 2]), 1)
    assert r["negatives"] == 0 and np.isnan(r["positive_pair_rate"])


def test_other_bad_inputs_name_the_value():
    with pytest.raises(ValueError, match="got 0.5"):
        collision_rates(np.array([1]), np.array([2]), np.array([0.5]), enc([1, 2]), 1)
    with pytest.raises(ValueError, match="targets must be an array of integers, got dtype float64"):
        collision_rates(np.array([1.0]), np.array([2]), np.array([0]), enc([1, 2]), 1)


def test_collision_rates_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2,\), \(3,\), \(2,\)"):
        collision_rates(np.array([1, 2]), np.array([1, 2, 3]), np.array([1, 0]),
                        enc([1, 2]), 1)
