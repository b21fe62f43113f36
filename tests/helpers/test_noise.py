"""Tests for helpers.noise: the one noise rule, the alias table and the next-song tables."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import skipgrams
from helpers.noise import alias_table, next_song_tables, noise_distribution


def test_noise_distribution_values():
    p = noise_distribution(np.array([0, 1, 16, 0, 81]), power=0.75)
    w = np.array([0, 1, 8, 0, 27], dtype=float)  # 16**.75 = 8, 81**.75 = 27
    np.testing.assert_allclose(p, w / 36)
    assert p.dtype == np.float64
    np.testing.assert_allclose(noise_distribution([0, 2, 6], power=1), [0, .25, .75])
    np.testing.assert_allclose(noise_distribution([0, 4, 1, 0, 9], 0.5), [0, 2 / 6, 1 / 6, 0, 3 / 6])


def test_power_zero_and_uniform_noise_cover_every_song_seen_or_not():
    counts = np.array([0, 1, 16, 0, 81])
    uniform = [0, .25, .25, .25, .25]
    np.testing.assert_allclose(noise_distribution(counts, power=0), uniform)
    np.testing.assert_allclose(noise_distribution(counts, power=0.75, noise="uniform"), uniform)
    # Counts do not matter for uniform noise, so all-zero counts are fine there.
    np.testing.assert_allclose(noise_distribution(np.zeros(5), power=0), uniform)


def test_negative_power_favours_rare_songs_and_never_draws_unseen_ones():
    neg = noise_distribution(np.array([0, 4, 1, 0, 9]), -1.0)  # 1/4, 1, unseen -> 0, 1/9
    np.testing.assert_allclose(neg, np.array([0, 1 / 4, 1, 0, 1 / 9]) / (1 / 4 + 1 + 1 / 9))


def test_the_notebooks_name_for_it_is_the_same_function():
    assert skipgrams.noise_distribution is noise_distribution


@pytest.mark.parametrize(
    "counts, power, needle",
    [
        (np.array([0, 3, -1]), 0.75, "counts[2] must be a finite count >= 0, got -1.0"),
        (np.zeros(4), 0.75, "got all zeros"),
        (np.ones((2, 3)), 0.75, "shape (2, 3)"),
        (np.array([5]), 0.75, "(1,)"),
        (np.array([2, 1, 1]), 0.75, "counts[0] must be 0"),
        (np.array([0, 1, np.nan]), 0.75, "counts[2] must be a finite count >= 0, got nan"),
        (np.array(["a", "b"]), 0.75, "<U1"),
        (np.array([0, 1, 1]), float("nan"), "power must be a finite number, got nan"),
        (np.array([0, 1, 1]), "x", "power must be a finite number, got 'x'"),
        (np.array([0, 1e300, 1]), 5.0, "power must be a power of a few units"),
    ],
)
def test_noise_distribution_rejects(counts, power, needle):
    with pytest.raises(ValueError) as info:
        noise_distribution(counts, power)
    assert needle in str(info.value)


def test_unknown_noise_kind_is_named():
    with pytest.raises(ValueError, match="noise must be one of 'uniform', 'unigram', got 'zipf'"):
        noise_distribution([0, 1], noise="zipf")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=40).filter(lambda w: sum(w) > 0))
def test_alias_table_reproduces_the_distribution(weights):
    p = np.array(weights) / np.sum(weights)
    thr, alias = alias_table(p)
    n = p.size
    implied = thr.astype(np.float64).copy()
    np.add.at(implied, alias, 1.0 - thr)
    assert np.allclose(implied / n, p, atol=1e-6)


def test_next_song_tables_add_the_log_noise_term():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(4, 3)).astype(np.float32)
    c = rng.normal(size=(4, 3)).astype(np.float32)
    counts = np.array([0, 1, 8, 3])
    tt, cc = next_song_tables(t, c, counts, 0.5)
    assert tt.shape == cc.shape == (4, 4)
    expected = t @ c.T + 0.5 * np.log(np.maximum(counts, 1))[None, :]
    expected[:, 0] = (t @ c.T)[:, 0]
    assert np.allclose(tt @ cc.T, expected, atol=1e-5)
    t0, c0 = next_song_tables(t, None, counts, 0.0)
    assert np.allclose(t0 @ c0.T, t @ t.T + 0.0)
    with pytest.raises(ValueError, match="context_vectors must be an array of the target table's shape"):
        next_song_tables(t, c[:, :2], counts, 0.5)
