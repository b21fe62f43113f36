"""bench/fast_rows.py against the original assignment's loop (bench/original_pipeline.py):
the same positives, the same row counts per playlist, uniform noise, a uniform cap."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairs_by_loop import brute_positives, random_playlists

from bench.fast_rows import fast_skipgram_rows
from bench.original_pipeline import original_generate_pairs


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6), st.integers(0, 4))
def test_rows_without_cap_have_the_original_loops_positives(seed, window, negatives):
    rng = np.random.default_rng(seed)
    playlists = random_playlists(rng, 6, vocab=9)
    t, c, y = fast_skipgram_rows(playlists, window, negatives, 9, seed=seed)
    pairs, labels = original_generate_pairs(playlists, window, 9, negatives, None, seed=seed)
    assert t.dtype == c.dtype == np.int32 and y.dtype == np.float32
    assert len(y) == len(labels)
    fast_pos = Counter(zip(t[y == 1].tolist(), c[y == 1].tolist()))
    original_pos = Counter(map(tuple, pairs[labels == 1].tolist()))
    assert fast_pos == original_pos == brute_positives(playlists, window)
    # Noise rows: negatives per positive, same target as their positive, context in 1..V.
    assert (y == 0).sum() == negatives * (y == 1).sum()
    assert Counter(t[y == 0].tolist()) == Counter(
        {song: negatives * n for song, n in Counter(t[y == 1].tolist()).items()}
    ) - Counter()
    assert np.all((c >= 1) & (c <= 9))


def test_capped_rows_per_playlist_match_the_original_loop():
    rng = np.random.default_rng(3)
    playlists = [rng.integers(1, 50, size=n).astype(np.int32) for n in (1, 2, 5, 12, 40)]
    cap = 60
    for pl in playlists:
        t, c, y = fast_skipgram_rows([pl], 3, 5, 49, max_pairs_per_playlist=cap, seed=1)
        pairs, labels = original_generate_pairs([pl], 3, 49, 5, cap, seed=1)
        assert len(y) == len(labels)  # min(rows, cap), 0 for a 1-song playlist
        kept = Counter(zip(t[y == 1].tolist(), c[y == 1].tolist()))
        assert not kept - brute_positives([pl], 3)  # kept positives are real positives
    t, _, y = fast_skipgram_rows(playlists, 3, 5, 49, max_pairs_per_playlist=cap, seed=1)
    _, labels = original_generate_pairs(playlists, 3, 49, 5, cap, seed=1)
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
        t, c, y = fast_skipgram_rows([pl], 1, 1, 6, max_pairs_per_playlist=8, seed=s)
        assert len(y) == 8
        kept.update(zip(t[y == 1].tolist(), c[y == 1].tolist()))
        share += y.mean()
    assert len(kept) == 10
    freq = np.array(list(kept.values())) / trials
    # Binomial(3000, 0.4) has sd 0.009 per pair; 5 sd.
    assert np.all(np.abs(freq - 0.4) < 0.045), freq
    assert abs(share / trials - 0.5) < 0.01


def test_rows_negatives_are_uniform():
    pl = [np.tile(np.arange(1, 8, dtype=np.int32), 6)]
    _, c, y = fast_skipgram_rows(pl, 10, 20, 7, seed=0)
    neg = c[y == 0]
    counts = np.bincount(neg, minlength=8)
    assert counts[0] == 0
    expected = neg.size / 7
    chi2 = ((counts[1:] - expected) ** 2 / expected).sum()
    assert chi2 < 30  # chi-square with 6 degrees of freedom: P(> 30) < 1e-4


def test_rows_bad_input():
    with pytest.raises(ValueError, match="window"):
        fast_skipgram_rows([np.array([1, 2])], 0, 1, 3)
    with pytest.raises(ValueError, match="max_pairs_per_playlist"):
        fast_skipgram_rows([np.array([1, 2])], 1, 1, 3, max_pairs_per_playlist=0)
    with pytest.raises(ValueError, match=r"encoded\[1\] must be song indices in 1..vocab_size=3.*got 7"):
        fast_skipgram_rows([np.array([1, 2]), np.array([7])], 1, 1, 3)
