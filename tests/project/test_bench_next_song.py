"""bench.bench_next_song's paired comparison: the numbers the issue-23 tables report."""

import numpy as np
import pytest

from bench.bench_next_song import paired_difference


def test_paired_difference_by_hand():
    first = np.array([1, 0, 3, 2])   # ranks within the top 10, 0 = not in it
    other = np.array([2, 5, 0, 2])
    got = paired_difference(first, other)
    hr = np.array([0, -1, 1, 0])
    mrr = np.array([1 - 1 / 2, -1 / 5, 1 / 3, 0])
    for key, d in (("hr", hr), ("mrr", mrr)):
        se = d.std(ddof=1) / 2  # sqrt(4 cases)
        assert got[key] == pytest.approx(d.mean())
        assert got[f"{key}_se"] == pytest.approx(se)
        assert got[f"{key}_z"] == pytest.approx(d.mean() / se)


def test_identical_methods_differ_by_nothing():
    r = np.array([1, 0, 4])
    got = paired_difference(r, r)
    assert got["hr"] == got["mrr"] == got["hr_se"] == got["hr_z"] == got["mrr_z"] == 0
    always = paired_difference(np.array([1, 1]), np.array([0, 0]))
    assert always["hr_se"] == 0 and always["hr_z"] == float("inf")
