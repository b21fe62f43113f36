"""Listening sessions (helpers.sessions) and the held-out cases that carry them
(helpers.splits.heldout_cases): every vectorised path against a plain loop over positions."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairs_by_loop import random_playlists

from helpers.sessions import SESSION_DEPTH, SessionTables, preceding_songs, session_examples
from helpers.splits import heldout_cases, heldout_pairs
from helpers.windows import Windows


def _flat(playlists):
    lengths = np.array([len(p) for p in playlists], dtype=np.int64)
    flat = np.concatenate(playlists).astype(np.int32) if playlists else np.zeros(0, np.int32)
    return flat, lengths


def examples_by_loop(playlists, depth):
    """(session..., next song) rows of every playlist position with a next song."""
    out = []
    for pl in playlists:
        for t in range(len(pl) - 1):
            row = [int(pl[t - j]) if t - j >= 0 else 0 for j in range(depth)]
            out.append(tuple(row + [int(pl[t + 1])]))
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6))
def test_session_examples_equal_a_plain_loop(seed, depth):
    rng = np.random.default_rng(seed)
    playlists = random_playlists(rng, 6, vocab=9)
    flat, lengths = _flat(playlists)
    ordered = session_examples(flat, lengths, depth)
    assert ordered.dtype == np.int32 and ordered.shape == (len(examples_by_loop(playlists, depth)), depth + 1)
    assert [tuple(r) for r in ordered.tolist()] == examples_by_loop(playlists, depth)
    shuffled = session_examples(flat, lengths, depth, np.random.default_rng(seed))
    assert Counter(map(tuple, shuffled.tolist())) == Counter(examples_by_loop(playlists, depth))


def test_no_example_crosses_playlists():
    # Songs 1..3 only in the first playlist, 11..14 only in the second: a row mixing the
    # two ranges would have crossed the boundary.
    playlists = [np.array([1, 2, 3]), np.array([11, 12, 13, 14])]
    rows = session_examples(*_flat(playlists), 5)
    assert len(rows) == 2 + 3
    for row in rows:
        songs = row[row > 0]
        assert (songs < 10).all() or (songs > 10).all()
    # The first example of each playlist sees only its query.
    assert rows[0].tolist() == [1, 0, 0, 0, 0, 2] and rows[2].tolist() == [11, 0, 0, 0, 0, 12]


def test_slot_dropout_rate_spares_the_query_and_is_seeded():
    playlists = [np.arange(1, 2001, dtype=np.int32)]
    flat, lengths = _flat(playlists)
    full = session_examples(flat, lengths, 4)
    a = session_examples(flat, lengths, 4, np.random.default_rng([3, 0]), slot_dropout=0.3)
    b = session_examples(flat, lengths, 4, np.random.default_rng([3, 0]), slot_dropout=0.3)
    c = session_examples(flat, lengths, 4, np.random.default_rng([3, 1]), slot_dropout=0.3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    a = a[np.argsort(a[:, 0])]  # queries are distinct: back to playlist order
    assert np.array_equal(a[:, [0, 4]], full[:, [0, 4]])  # query and next song never dropped
    could = full[:, 1:4] > 0
    dropped = (a[:, 1:4] == 0) & could
    assert abs(dropped.sum() / could.sum() - 0.3) < 0.03
    assert np.array_equal(a[:, 1:4][~dropped], full[:, 1:4][~dropped])


def test_session_examples_validate():
    flat, lengths = _flat([np.array([1, 2, 3])])
    with pytest.raises(ValueError, match="rng must be a numpy Generator"):
        session_examples(flat, lengths, 2, slot_dropout=0.5)
    with pytest.raises(ValueError, match="slot_dropout must be a number in"):
        session_examples(flat, lengths, 2, np.random.default_rng(0), slot_dropout=1.0)
    with pytest.raises(ValueError, match="lengths must be lengths summing to the 3 songs"):
        session_examples(flat, np.array([2]), 2)


def test_preceding_songs_hand_example():
    flat = np.array([5, 6, 7, 8, 9], dtype=np.int32)
    w = Windows(np.array([2, 3]))
    out = preceding_songs(flat, w, np.array([1, 4, 2]), 3)
    assert out.tolist() == [[6, 5, 0], [9, 8, 7], [7, 0, 0]]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6))
def test_heldout_cases_sessions_equal_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    raw = [p.astype(np.int64) + 100 for p in random_playlists(rng, 5, vocab=8)]
    known = {100 + s: s for s in range(1, 7)}  # raw 107, 108 are unknown
    q, a, sessions, skipped = heldout_cases(raw, known, depth=4)
    want = []
    for p in raw:
        idx = [known.get(int(x), 0) for x in p]
        for t in range(len(p) - 1):
            if idx[t] and idx[t + 1] and p[t] != p[t + 1]:
                want.append((idx[t], idx[t + 1], tuple(idx[t - j] if t - j >= 0 else 0 for j in range(4))))
    assert list(zip(q.tolist(), a.tolist(), map(tuple, sessions.tolist()))) == want
    # The single-song cases are the same cases.
    q1, a1, skipped1 = heldout_pairs(raw, known)
    assert np.array_equal(q1, q) and np.array_equal(a1, a) and skipped1 == skipped
    assert sessions.dtype == np.int32 and (sessions[:, 0] == q).all()


def test_heldout_cases_default_depth_and_empty_input():
    q, a, sessions, _ = heldout_cases([np.array([1, 2, 3])], {1: 1, 2: 2, 3: 3})
    assert sessions.shape == (2, SESSION_DEPTH) and sessions[1, :3].tolist() == [2, 1, 0]
    q, a, sessions, skipped = heldout_cases([], {1: 1}, depth=3)
    assert q.size == a.size == 0 and sessions.shape == (0, 3) and sum(skipped.values()) == 0


def test_session_tables_check_their_shapes():
    ok = SessionTables(np.zeros((3, 5, 2), np.float32), np.zeros((5, 2), np.float32), np.zeros(5, np.float32))
    assert ok.depth == 3 and ok.vocab_size == 4
    with pytest.raises(ValueError, match="matching shapes"):
        SessionTables(np.zeros((3, 5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="bias must be an array of shape"):
        SessionTables(np.zeros((3, 5, 2)), np.zeros((5, 2)), np.zeros(4))
