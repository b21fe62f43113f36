"""Resource limits (helpers.limits): the up-front estimate, never an allocation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import limits
from helpers.fast_sgns import REFERENCE_SETTINGS

LENGTHS = [5, 9, 2, 30]


def estimate(method="reference", **kw):
    base = dict(method=method, window=2, negatives=5, dim=64, batch_size=8192, shared=False,
                max_pairs_per_playlist=None)
    base.update(kw)
    return limits.training_memory(LENGTHS, [4, 6], 1000, **base)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["reference", "assignment"]), st.sampled_from(["dim", "negatives", "window", "batch_size"]),
       st.integers(1, 10**6), st.integers(1, 10**6))
def test_estimate_never_shrinks_when_a_size_grows(method, name, a, b):
    small, large = sorted((a, b))
    assert estimate(method, **{name: small})["total"] <= estimate(method, **{name: large})["total"]


def test_absurd_sizes_give_large_numbers_not_overflow():
    parts = estimate(dim=10**9, negatives=10**12, window=10**18, batch_size=10**18)
    assert parts["total"] > 2**64 and all(isinstance(v, int) for v in parts.values())
    with pytest.raises(limits.ResourceLimitError, match="over the limit of 8.0 GiB"):
        limits.check_training_memory(parts, limits.DEFAULT_MEMORY, flags="--dim")


def test_a_window_past_the_longest_playlist_adds_nothing():
    assert estimate(window=29)["total"] == estimate(window=10**15)["total"]


def test_positive_count_matches_the_pair_generator():
    from helpers.skipgrams import pair_stats

    encoded = [np.arange(1, n + 1) for n in LENGTHS]
    for window in (1, 3, 50):
        assert limits._positives(np.array(LENGTHS), window) == pair_stats(encoded, window)["positives"]


@pytest.mark.parametrize(("text", "value"), [("8G", 8 << 30), ("512m", 512 << 20), ("1048576", 1 << 20),
                                             ("1.5K", 1536), ("2GiB", 2 << 30)])
def test_sizes_parse(text, value):
    assert limits.parse_size(text, "--max-memory") == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "1e999G", "8 G B"])
def test_bad_sizes_name_the_setting(text):
    with pytest.raises(ValueError, match="--max-memory"):
        limits.parse_size(text, "--max-memory")


@pytest.mark.realdata
def test_the_default_settings_on_the_full_data_fit_the_default_limit(real_data_dir):
    from helpers.data import load_cornell
    from helpers.training import TrainConfig

    lengths = [len(p) for p in load_cornell(real_data_dir, "yes_complete").playlists]
    ref = dict(REFERENCE_SETTINGS)
    fast = limits.training_memory(lengths, [], 75_262, method="reference", window=ref["window"],
                                  negatives=ref["negatives"], dim=ref["dim"], batch_size=ref["batch_size"],
                                  shared=ref["shared"], steps_per_execution=ref["steps_per_execution"])
    seed = TrainConfig()
    assignment = limits.training_memory(lengths, [], 75_262, method="assignment", window=seed.window,
                                        negatives=seed.negatives, dim=seed.dim, batch_size=seed.batch_size,
                                        shared=seed.shared, max_pairs_per_playlist=seed.max_pairs_per_playlist)
    assert fast["total"] < limits.DEFAULT_MEMORY and assignment["total"] < limits.DEFAULT_MEMORY


@pytest.mark.parametrize("power", [1e308, 400.0, -1e308])
def test_noise_power_that_overflows_is_named(power):
    from helpers.fast_sgns import noise_weights
    from helpers.skipgrams import noise_distribution

    counts = np.array([0, 5, 1000, 3])
    with pytest.raises(ValueError, match="power"):
        noise_weights(counts, power)
    if power > 0:
        with pytest.raises(ValueError, match="too large for these counts"):
            noise_distribution(counts, power)
