import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.errors import AmbiguousSongError, UnknownSongError
from helpers.vocab import PAD_NAME, Vocab, build_vocab, display_names


def songs_table(rows):
    ids, titles, artists = zip(*rows)
    return pd.DataFrame({"title": titles, "artist": artists}, index=pd.Index(ids, name="song_id"))


SONGS = songs_table([
    (5, "Fade To Black", "Metallica"),
    (20, "One", "Metallica"),
    (2172, "Gucci Time (w/ Swizz Beatz)", "Gucci Mane"),
    (7, "Home", "Daughtry"),
    (8, "Home", "Daughtry"),
    (9, "Home", "Michael Buble"),
])


def test_seed_example_mapping():
    vocab = build_vocab([[5, 20, 2172], [20, 5]], SONGS)
    assert vocab.raw_to_idx() == {5: 1, 20: 2, 2172: 3}
    assert vocab.idx_to_raw() == {1: 5, 2: 20, 3: 2172}
    assert [list(p) for p in vocab.encode([[5, 20, 2172], [20, 5]])] == [[1, 2, 3], [2, 1]]
    assert vocab.names[0] == PAD_NAME
    assert vocab.counts.tolist() == [0, 2, 2, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10**9), min_size=0, max_size=12), min_size=1, max_size=8))
def test_round_trip_and_padding_never_assigned(playlists):
    vocab = build_vocab(playlists)
    encoded = vocab.encode(playlists)
    for raw, enc in zip(playlists, encoded):
        assert enc.dtype == np.int32
        assert np.all(enc >= 1) and np.all(enc <= vocab.size)
        assert vocab.decode(enc).tolist() == list(raw)
    assert set(vocab.raw_to_idx().values()) == set(range(1, vocab.size + 1))
    flat = [x for p in playlists for x in p]
    assert vocab.size == len(set(flat))
    # counts are keyed by index: index i counts raw ID idx_to_raw[i]
    i2r = vocab.idx_to_raw()
    for i in range(1, vocab.size + 1):
        assert vocab.counts[i] == flat.count(i2r[i])


def test_most_common_uses_the_right_names():
    # raw 20 is the most frequent; a lookup keyed by the wrong thing would name raw 5 or 2172
    vocab = build_vocab([[20, 20, 20, 5, 2172], [2172, 20]], SONGS)
    top = vocab.most_common(2)
    assert top[0] == (2, 20, "One by Metallica", 4)
    assert top[1] == (3, 2172, "Gucci Time (w/ Swizz Beatz) by Gucci Mane", 2)


def test_duplicate_names_stay_distinct():
    names = display_names(SONGS)
    assert names.loc[7] == "Home by Daughtry [id 7]"
    assert names.loc[8] == "Home by Daughtry [id 8]"
    assert names.loc[9] == "Home by Michael Buble"
    vocab = build_vocab([[7, 8, 9, 5]], SONGS)
    assert vocab.index_of("Home by Daughtry [id 8]") != vocab.index_of("Home by Daughtry [id 7]")
    with pytest.raises(AmbiguousSongError) as err:
        vocab.index_of("Home by Daughtry")
    assert "[id 7]" in str(err.value) and "[id 8]" in str(err.value)


def test_plain_name_resolves_when_only_one_duplicate_is_in_vocab():
    vocab = build_vocab([[8, 5]], SONGS)
    assert vocab.index_of("Home by Daughtry") == vocab.raw_to_idx()[8]


def test_unknown_name_suggests_close_matches():
    vocab = build_vocab([[5, 20]], SONGS)
    with pytest.raises(UnknownSongError) as err:
        vocab.index_of("Fade to Blak by Metallica")
    assert "Fade To Black by Metallica" in err.value.suggestions
    assert "Fade To Black by Metallica" in str(err.value)
    assert vocab.index_of("fade to black by metallica") == 1  # case-insensitive fallback


def test_encode_unknown_id_errors_or_drops():
    vocab = build_vocab([[5, 20]])
    with pytest.raises(UnknownSongError, match="999"):
        vocab.encode([[5, 999]])
    assert vocab.encode([[5, 999, 20]], unknown="drop")[0].tolist() == [1, 2]
    with pytest.raises(ValueError, match="'ignore'"):
        vocab.encode([[5]], unknown="ignore")


def test_padding_and_range_errors_name_the_value():
    vocab = build_vocab([[5, 20]])
    with pytest.raises(ValueError, match="index 0"):
        vocab.name_of(0)
    with pytest.raises(ValueError, match="index 3"):
        vocab.decode([1, 3])


def test_song_missing_from_table_is_an_error():
    with pytest.raises(UnknownSongError, match="12345"):
        build_vocab([[5, 12345]], SONGS)


def test_json_round_trip_and_fingerprint():
    vocab = build_vocab([[5, 20, 7, 8]], SONGS)
    again = Vocab.from_json(vocab.to_json())
    assert again.names == vocab.names and np.array_equal(again.raw_ids, vocab.raw_ids)
    assert again.fingerprint() == vocab.fingerprint()
    other = build_vocab([[5, 20, 9]], SONGS)
    assert other.fingerprint() != vocab.fingerprint()
    tampered = json.loads(vocab.to_json())
    tampered["raw_ids"][0] = 6
    with pytest.raises(ValueError, match="fingerprint"):
        Vocab.from_json(json.dumps(tampered))


def test_fingerprint_covers_names_and_counts():
    vocab = build_vocab([[5, 20, 7, 8]], SONGS)
    swapped = Vocab(vocab.raw_ids, vocab.counts, [vocab.names[0], vocab.names[2], vocab.names[1], *vocab.names[3:]])
    recounted = Vocab(vocab.raw_ids, vocab.counts + np.arange(len(vocab.counts)), vocab.names)
    prints = {v.fingerprint() for v in (vocab, swapped, recounted)}
    assert len(prints) == 3


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["raw_ids"].__setitem__(0, 2**64), "raw_ids[0]"),
    (lambda d: d["names"].__setitem__(1, None), "names[1]"),
    (lambda d: d.update(counts="1 2 3"), "counts"),
    (lambda d: d.pop("names"), "names"),
])
def test_from_json_names_the_bad_field(change, field):
    d = json.loads(build_vocab([[5, 20, 7, 8]], SONGS).to_json())
    change(d)
    with pytest.raises(ValueError, match=re.escape(f"field {field}")):
        Vocab.from_json(json.dumps(d))
