"""Resource limits (helpers.limits): the up-front estimate, never an allocation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import limits
from helpers.sgns import LOOPS, PRESETS

LENGTHS = [5, 9, 2, 30]


def estimate(loop="fast", **kw):
    base = dict(window=2, negatives=5, dim=64, batch_size=8192, shared=False,
                max_pairs_per_playlist=None)
    base.update(kw)
    return LOOPS[loop].memory(LENGTHS, [4, 6], 1000, **base)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["fast", "keras"]), st.sampled_from(["dim", "negatives", "window", "batch_size"]),
       st.integers(1, 10**6), st.integers(1, 10**6))
def test_estimate_never_shrinks_when_a_size_grows(loop, name, a, b):
    small, large = sorted((a, b))
    assert estimate(loop, **{name: small})["total"] <= estimate(loop, **{name: large})["total"]


def test_absurd_sizes_give_large_numbers_not_overflow():
    parts = estimate(dim=10**9, negatives=10**12, window=10**18, batch_size=10**18)
    assert parts["total"] > 2**64 and all(isinstance(v, int) for v in parts.values())
    with pytest.raises(limits.ResourceLimitError, match="over the limit of 8.0 GiB"):
        limits.check_training_memory(parts, limits.DEFAULT_MEMORY, flags="--dim")


def test_a_window_past_the_longest_playlist_adds_nothing():
    assert estimate(window=29)["total"] == estimate(window=10**15)["total"]


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

    lengths = [len(p) for p in load_cornell(real_data_dir, "yes_complete").playlists]
    ref = PRESETS["fast"]
    fast = limits.fast_memory(lengths, [], 75_262, window=ref.window,
                                  negatives=ref.negatives, dim=ref.dim, batch_size=ref.batch_size,
                                  shared=ref.shared, steps_per_execution=ref.steps_per_execution)
    original = PRESETS["assignment"]
    assignment = limits.keras_memory(lengths, [], 75_262, window=original.window,
                                        negatives=original.negatives, dim=original.dim,
                                        batch_size=original.batch_size, shared=original.shared,
                                        max_pairs_per_playlist=original.max_pairs_per_playlist)
    assert fast["total"] < limits.DEFAULT_MEMORY and assignment["total"] < limits.DEFAULT_MEMORY


@pytest.mark.parametrize("power", [1e308, 400.0, -1e308])
def test_noise_power_that_overflows_is_named(power):
    from helpers.noise import noise_distribution

    counts = np.array([0, 5, 1000, 3])
    with pytest.raises(ValueError, match="power must be a power of a few units at most for counts up to 1000"):
        noise_distribution(counts, power)
