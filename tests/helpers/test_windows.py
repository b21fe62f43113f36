"""helpers.windows, the one definition of a context window, against plain double loops."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.windows import Windows, locate, positives_per_playlist

lengths_st = st.lists(st.integers(0, 12), min_size=0, max_size=8)


def double_loop(lengths, window):
    """(target position, context position) pairs, flat positions, in loop order."""
    out, start = [], 0
    for n in lengths:
        for i in range(n):
            for j in range(n):
                if i != j and abs(i - j) <= window:
                    out.append((start + i, start + j))
        start += n
    return out


@settings(max_examples=80, deadline=None)
@given(lengths_st, st.integers(1, 15))
def test_positions_are_the_double_loop_in_its_order(lengths, window):
    t, c = Windows(np.array(lengths, dtype=np.int64)).positions(window)
    assert list(zip(t.tolist(), c.tolist())) == double_loop(lengths, window)


@settings(max_examples=80, deadline=None)
@given(lengths_st, st.integers(1, 10**15))
def test_positives_per_playlist_counts_the_double_loop(lengths, window):
    per = positives_per_playlist(np.array(lengths, dtype=np.int64), window)
    assert per.tolist() == [len(double_loop([n], window)) for n in lengths]


@settings(max_examples=60, deadline=None)
@given(lengths_st, st.integers(-13, 13).filter(lambda d: d != 0))
def test_partners_share_a_playlist_at_the_offset(lengths, offset):
    lengths = np.array(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(lengths.size), lengths)
    expected = [i for i in range(owner.size) if 0 <= i + offset < owner.size and owner[i + offset] == owner[i]]
    assert Windows(lengths).partners(offset).tolist() == expected


def test_neighbour_table_holds_the_songs_at_each_offset_or_zero():
    flat = np.array([5, 6, 7, 8, 9], dtype=np.int32)
    table = Windows(np.array([3, 2])).neighbour_table(flat, 2)
    # offsets -2, -1, 1, 2; playlists [5, 6, 7] and [8, 9]
    assert table.tolist() == [[0, 0, 5, 0, 0], [0, 5, 6, 0, 8], [6, 7, 0, 9, 0], [7, 0, 0, 0, 0]]


def test_locate_finds_playlist_and_position():
    lengths = np.array([2, 0, 3])
    assert [locate(p, lengths) for p in range(5)] == [(0, 0), (0, 1), (2, 0), (2, 1), (2, 2)]
