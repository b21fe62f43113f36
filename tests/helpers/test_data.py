"""Parsers, loaders and the .npz round trip of helpers.data, on small hand-written files."""

import gzip
import hashlib
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.course_pickle import load_course_pickle
from helpers.data import (
    Dataset,
    find_data_dir,
    load_cornell,
    read_song_hash,
    read_tags,
    read_train,
    unescape,
)
from helpers.errors import DataFormatError, UntrustedPickleError
from helpers.npz import read_npz, write_npz
from helpers.outdir import UnsafeOutputError

# Four songs; the first line carries the trailing space after the ID seen in yes_complete.
SONG_HASH = (
    "0 \tGucci Time (w\\/ Swizz Beatz)\tGucci Mane\n"
    "1\t Song B \tArtist B \n"
    "2\tWritten In Blood\tSpeed\\\\Kill\\/Hate\n"
    "3\tSolo\tX\n"
)
# Header, then: a 3-song playlist, an empty one, a singleton, a 2-song playlist.
TRAIN = "101 102 103 104 \n2 1 2 1 \n0 1 2 \n\n3 \n2 0 \n"
TAGS = "0 1\n#\n2\n#"
TAG_HASH = "0, rock\n1, pop\n2, hip hop"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def make_variant(root: Path, variant: str = "yes_small", train: str = TRAIN, gz: bool = False) -> Path:
    folder = root / variant
    if gz:
        write(folder / "train.txt.gz", gzip.compress(train.encode()))
    else:
        write(folder / "train.txt", train)
    write(folder / "song_hash.txt", SONG_HASH)
    write(folder / "tags.txt", TAGS)
    write(folder / "tag_hash.txt", TAG_HASH)
    return folder


def as_lists(playlists):
    return [p.tolist() for p in playlists]


# --------------------------------------------------------------------------- read_train


def test_read_train_keeps_every_line_including_empty(tmp_path):
    playlists = read_train(write(tmp_path / "train.txt", TRAIN))
    assert as_lists(playlists) == [[0, 1, 2], [], [3], [2, 0]]
    assert all(p.dtype == np.int64 and p.ndim == 1 for p in playlists)


def test_read_train_reads_gzip_transparently(tmp_path):
    path = write(tmp_path / "train.txt.gz", gzip.compress(TRAIN.encode()))
    assert as_lists(read_train(path)) == [[0, 1, 2], [], [3], [2, 0]]


def test_read_train_without_final_newline(tmp_path):
    path = write(tmp_path / "train.txt", "7\n1\n5 5 ")
    assert as_lists(read_train(path)) == [[5, 5]]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("", ["line 1", "missing"]),
        ("1 2\n", ["line 2", "missing"]),
        ("1 x2\n1 1\n", ["line 1", "'x2'"]),
        ("1 2\n1 -1\n", ["line 2", "'-1'"]),
        ("1 2\n1\n", ["line 2", "1 counts for 2 songs"]),
        ("\n\n", ["line 1", "empty"]),
    ],
)
def test_read_train_bad_header(tmp_path, content, fragments):
    path = write(tmp_path / "bad.txt", content)
    with pytest.raises(DataFormatError) as info:
        read_train(path)
    message = str(info.value)
    assert "bad.txt" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("body", "lineno", "token", "why"),
    [
        ("0 1 \n0 x7 1 \n", 4, "'x7'", "not an integer"),
        ("0 -3 \n", 3, "'-3'", "negative"),
        ("1.5 \n", 3, "'1.5'", "not an integer"),
        ("99999999999999999999 \n", 3, "'99999999999999999999'", "int64"),
    ],
)
def test_read_train_bad_ids_name_file_line_and_token(tmp_path, body, lineno, token, why):
    path = write(tmp_path / "train.txt", "1 2\n1 1\n" + body)
    with pytest.raises(DataFormatError) as info:
        read_train(path)
    message = str(info.value)
    assert "train.txt" in message and f"line {lineno}" in message and token in message and why in message


def test_read_train_rejects_non_ascii_digits(tmp_path):
    # int() would accept Arabic-Indic digits; the file format is ASCII.
    path = write(tmp_path / "train.txt", "1\n1\n\u0663 \n")
    with pytest.raises(DataFormatError, match="line 3"):
        read_train(path)


def test_read_train_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_train(tmp_path / "nope.txt")


def test_read_train_corrupt_gzip(tmp_path):
    path = write(tmp_path / "train.txt.gz", gzip.compress(TRAIN.encode())[:20])
    with pytest.raises(DataFormatError, match="train.txt.gz"):
        read_train(path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**40), max_size=8), max_size=12))
def test_read_train_round_trips_cornell_format(playlists):
    # Writing the Cornell format by hand is an independent path to the expected value.
    body = "".join("".join(f"{s} " for s in p) + "\n" for p in playlists)
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "train.txt", "9\n0\n" + body)
        assert as_lists(read_train(path)) == playlists


# --------------------------------------------------------------------------- song_hash / tags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Gucci Time (w\\/ Swizz Beatz)", "Gucci Time (w/ Swizz Beatz)"),
        ("Speed\\\\Kill\\/Hate", "Speed\\Kill/Hate"),
        ("6'1\\", "6'1\\"),  # a lone trailing backslash is not an escape
        ("\\tHappy (Love Theme)", "Happy (Love Theme)"),
        ('Say \\"Hi\\"', 'Say "Hi"'),
        ("C:\\x stays", "C:\\x stays"),
        ("  padded  ", "padded"),
    ],
)
def test_unescape(raw, expected):
    assert unescape(raw) == expected


def test_read_song_hash_strips_and_unescapes(tmp_path):
    songs = read_song_hash(write(tmp_path / "song_hash.txt", SONG_HASH))
    assert songs.index.name == "song_id" and songs.index.dtype == np.int64
    assert songs.index.tolist() == [0, 1, 2, 3]
    assert list(songs.columns) == ["title", "artist"]
    assert songs.loc[0, "title"] == "Gucci Time (w/ Swizz Beatz)"
    assert songs.loc[1, "title"] == "Song B" and songs.loc[1, "artist"] == "Artist B"
    assert songs.loc[2, "artist"] == "Speed\\Kill/Hate"


def test_read_song_hash_sorts_by_id(tmp_path):
    songs = read_song_hash(write(tmp_path / "h.txt", "5\tb\tB\n2\ta\tA\n"))
    assert songs.index.tolist() == [2, 5] and songs["title"].tolist() == ["a", "b"]


def test_read_song_hash_wrong_column_count(tmp_path):
    path = write(tmp_path / "song_hash.txt", "0\ta\tA\n1\tonly two\n")
    with pytest.raises(DataFormatError) as info:
        read_song_hash(path)
    message = str(info.value)
    assert "song_hash.txt" in message and "line 2" in message and "2 tab-separated" in message


def test_read_song_hash_bad_utf8_names_byte_offset(tmp_path):
    # Counted by hand: "0\tok\tA\n" is 7 bytes and "1\tbad " 6 more, so 0xff sits at offset 13.
    data = b"0\tok\tA\n1\tbad \xff title\tB\n"
    path = write(tmp_path / "song_hash.txt", data)
    with pytest.raises(DataFormatError) as info:
        read_song_hash(path)
    assert "song_hash.txt" in str(info.value) and "byte offset 13" in str(info.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "empty"),
        ("0\ta\tA\n0\tb\tB\n", "already appeared on line 1"),
        ("x\ta\tA\n", "'x'"),
        ("-1\ta\tA\n", "'-1'"),
    ],
)
def test_read_song_hash_bad_ids_and_empty(tmp_path, content, fragment):
    with pytest.raises(DataFormatError, match="song_hash.txt") as info:
        read_song_hash(write(tmp_path / "song_hash.txt", content))
    assert fragment in str(info.value)


def test_read_tags(tmp_path):
    tags = read_tags(write(tmp_path / "tags.txt", TAGS), write(tmp_path / "tag_hash.txt", TAG_HASH))
    assert tags.index.name == "song_id" and tags.index.tolist() == [0, 1, 2, 3]
    assert tags.tolist() == [("rock", "pop"), (), ("hip hop",), ()]


def test_read_tags_accepts_commas(tmp_path):
    tags = read_tags(write(tmp_path / "tags.txt", "1,0\n"), write(tmp_path / "tag_hash.txt", TAG_HASH))
    assert tags.tolist() == [("pop", "rock")]


def test_read_tags_unknown_tag(tmp_path):
    with pytest.raises(DataFormatError) as info:
        read_tags(write(tmp_path / "tags.txt", "0\n7\n"), write(tmp_path / "tag_hash.txt", TAG_HASH))
    assert "tags.txt" in str(info.value) and "line 2" in str(info.value) and "'7'" in str(info.value)


def test_read_tags_bad_tag_hash(tmp_path):
    with pytest.raises(DataFormatError, match=r"tag_hash.txt, line 2"):
        read_tags(write(tmp_path / "tags.txt", "0\n"), write(tmp_path / "tag_hash.txt", "0, rock\nno comma\n"))


# --------------------------------------------------------------------------- load_cornell


def test_load_cornell_filters_and_reports(tmp_path):
    make_variant(tmp_path)
    ds = load_cornell(tmp_path, "yes_small")
    assert ds.name == "yes_small"
    assert as_lists(ds.playlists) == [[0, 1, 2], [2, 0]]
    assert ds.dropped == {"min_length": 2, "playlists": 2, "empty": 1}
    assert "train.txt" in ds.source
    assert ds.songs.loc[0, "tags"] == ("rock", "pop") and ds.songs.loc[3, "tags"] == ()
    assert ds.describe() == {"n_playlists": 2, "n_songs": 4, "n_occurrences": 5, "n_playlists_gt1": 2}


def test_load_cornell_min_length_zero_keeps_all(tmp_path):
    make_variant(tmp_path)
    ds = load_cornell(tmp_path, "yes_small", min_length=0, with_tags=False)
    assert len(ds.playlists) == 4 and ds.dropped["playlists"] == 0
    assert "tags" not in ds.songs.columns


@pytest.mark.parametrize("layout", ["parent", "dataset", "variant"])
def test_load_cornell_accepts_folder_layouts_and_gzip(tmp_path, layout):
    if layout == "dataset":
        make_variant(tmp_path / "dataset", gz=True)
        where = tmp_path
    else:
        folder = make_variant(tmp_path, gz=True)
        where = folder if layout == "variant" else tmp_path
    ds = load_cornell(where, "yes_small")
    assert as_lists(ds.playlists) == [[0, 1, 2], [2, 0]]
    assert "train.txt.gz" in ds.source


def test_load_cornell_unknown_song_id(tmp_path):
    make_variant(tmp_path, train="1\n1\n0 1 \n0 9 \n")
    with pytest.raises(DataFormatError) as info:
        load_cornell(tmp_path, "yes_small")
    message = str(info.value)
    assert "song ID 9" in message and "line 4" in message and "song_hash.txt" in message


def test_load_cornell_missing_dir_says_how_to_get_data(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_cornell(missing)
    message = str(info.value)
    for fragment in (str(missing), "song_hash.txt", "train.txt", "songrec data fetch", "SONGREC_DATA_DIR",
                     "--data-dir"):
        assert fragment in message


def test_load_cornell_missing_variant_lists_what_is_there(tmp_path):
    make_variant(tmp_path, "yes_small")
    with pytest.raises(FileNotFoundError) as info:
        load_cornell(tmp_path, "yes_complete")
    assert "yes_complete" in str(info.value) and "yes_small" in str(info.value)


def test_load_cornell_missing_files(tmp_path):
    folder = make_variant(tmp_path)
    (folder / "tags.txt").unlink()
    with pytest.raises(FileNotFoundError, match="tags.txt"):
        load_cornell(tmp_path, "yes_small")
    assert len(load_cornell(tmp_path, "yes_small", with_tags=False).playlists) == 2
    (folder / "song_hash.txt").unlink()
    with pytest.raises(FileNotFoundError, match="song_hash.txt"):
        load_cornell(tmp_path, "yes_small", with_tags=False)


def test_load_cornell_tags_must_cover_every_song(tmp_path):
    folder = make_variant(tmp_path)
    write(folder / "tags.txt", "0\n#\n")
    with pytest.raises(DataFormatError, match="2 lines but .* 4 songs"):
        load_cornell(tmp_path, "yes_small")


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_load_cornell_rejects_bad_min_length(tmp_path, bad):
    make_variant(tmp_path)
    with pytest.raises(ValueError, match="min_length"):
        load_cornell(tmp_path, "yes_small", min_length=bad)


@pytest.mark.parametrize("bad", ["../yes_small", "", "a/b"])
def test_load_cornell_rejects_path_like_variant(tmp_path, bad):
    make_variant(tmp_path)
    with pytest.raises(ValueError, match="variant"):
        load_cornell(tmp_path, bad)


def test_dataset_rejects_wrong_dtypes():
    songs = pd.DataFrame({"title": ["a"], "artist": ["b"]}, index=pd.Index([0], name="song_id"))
    with pytest.raises(ValueError, match=r"playlists\[0\].*int64"):
        Dataset(playlists=[np.array([0], dtype=np.int32)], songs=songs, name="x", source="y")
    with pytest.raises(ValueError, match="artist"):
        Dataset(playlists=[], songs=songs[["title"]], name="x", source="y")


# --------------------------------------------------------------------------- find_data_dir


def test_find_data_dir_order(tmp_path, monkeypatch):
    cli, env, repo = tmp_path / "cli", tmp_path / "env", tmp_path / "repo"
    for d in (cli, env, repo / "data" / "cornell"):
        d.mkdir(parents=True)
    monkeypatch.setenv("SONGREC_DATA_DIR", str(env))
    assert find_data_dir(str(cli), repo_root=repo) == cli
    assert find_data_dir(None, repo_root=repo) == env
    monkeypatch.delenv("SONGREC_DATA_DIR")
    assert find_data_dir(None, repo_root=repo) == repo / "data" / "cornell"
    assert find_data_dir(None, repo_root=tmp_path / "empty_repo") is None


def test_find_data_dir_missing_values_name_their_origin(tmp_path, monkeypatch):
    monkeypatch.delenv("SONGREC_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        find_data_dir(str(tmp_path / "gone"), repo_root=tmp_path)
    assert "gone" in str(info.value) and "--data-dir" in str(info.value)
    monkeypatch.setenv("SONGREC_DATA_DIR", str(tmp_path / "gone_env"))
    with pytest.raises(FileNotFoundError) as info:
        find_data_dir(None, repo_root=tmp_path)
    assert "gone_env" in str(info.value) and "SONGREC_DATA_DIR" in str(info.value)


# --------------------------------------------------------------------------- course pickle


class _Armed:
    """Unpickling this touches a marker file: a harmless stand-in for arbitrary code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def course_dict():
    info = pd.DataFrame(
        {"title": ["Gucci Time (w\\/ Swizz Beatz)", "B", "C"], "artist": ["Gucci Mane", "Y", "Z"]},
        index=["0", "1", "2"],
    )
    return {"train_playlists": [["0", "1"], ["2", "0", "1"]], "songs_info": info}


def dump(path: Path, obj) -> Path:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)
    return path


def test_pickle_refused_without_trust_and_never_executed(tmp_path):
    marker = tmp_path / "marker"
    path = dump(tmp_path / "evil.pkl", _Armed(marker))
    with pytest.raises(UntrustedPickleError) as info:
        load_course_pickle(path)
    message = str(info.value)
    assert "arbitrary code" in message and "trust=True" in message and "--trust-pickle" in message
    assert "songrec data build" in message
    with pytest.raises(UntrustedPickleError, match="sha256"):
        load_course_pickle(path, expected_sha256="0" * 64)
    with pytest.raises(UntrustedPickleError, match="sha256"):
        load_course_pickle(path, trust=True, expected_sha256="0" * 64)
    assert not marker.exists()
    # Proof that the payload was live: once trusted, unpickling runs it, and the result
    # (None, not a dict) is then rejected.
    with pytest.raises(DataFormatError, match="expected a dict"):
        load_course_pickle(path, trust=True)
    assert marker.exists()


def test_pickle_loads_when_trusted_or_checksum_matches(tmp_path):
    path = dump(tmp_path / "training_data.pkl", course_dict())
    for ds in (
        load_course_pickle(path, trust=True),
        load_course_pickle(path, expected_sha256=hashlib.sha256(path.read_bytes()).hexdigest()),
    ):
        assert as_lists(ds.playlists) == [[0, 1], [2, 0, 1]]
        assert all(p.dtype == np.int64 for p in ds.playlists)
        assert ds.songs.index.name == "song_id" and ds.songs.index.dtype == np.int64
        assert ds.songs.loc[0, "title"] == "Gucci Time (w/ Swizz Beatz)"
        assert ds.songs.loc[2, "artist"] == "Z"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("songs_info"), "missing ['songs_info']"),
        (lambda d: d.update(extra=1), "'extra'"),
        (lambda d: d.update(songs_info={"title": [], "artist": []}), "expected a pandas DataFrame"),
        (lambda d: d.update(songs_info=d["songs_info"][["title"]]), "lacks column(s) ['artist']"),
        (lambda d: d.update(train_playlists="0 1"), "expected a list of lists"),
        (lambda d: d.update(train_playlists=["0 1"]), "train_playlists[0]"),
        (lambda d: d.update(train_playlists=[["0", 1.5]]), "train_playlists[0][1]"),
        (lambda d: d.update(train_playlists=[["0", "7"]]), "song ID 7"),
    ],
)
def test_pickle_content_is_validated(tmp_path, mutate, fragment):
    content = course_dict()
    mutate(content)
    path = dump(tmp_path / "bad.pkl", content)
    with pytest.raises(DataFormatError) as info:
        load_course_pickle(path, trust=True)
    assert fragment in str(info.value)


def test_pickle_garbage_and_missing(tmp_path):
    with pytest.raises(DataFormatError, match="cannot unpickle"):
        load_course_pickle(write(tmp_path / "junk.pkl", b"not a pickle"), trust=True)
    with pytest.raises(FileNotFoundError, match="absent.pkl"):
        load_course_pickle(tmp_path / "absent.pkl", trust=True)


# --------------------------------------------------------------------------- .npz round trip


def sample_dataset(with_tags=True, with_genre=True) -> Dataset:
    songs = pd.DataFrame(
        {"title": ["Fade To Black", "Ça va ✓", ""], "artist": ["Metallica", "Zaz", "Nobody"]},
        index=pd.Index(np.array([0, 5, 9], dtype=np.int64), name="song_id"),
    )
    if with_tags:
        songs["tags"] = pd.Series([("metal", "90s"), (), ("a,b",)], index=songs.index, dtype=object)
    if with_genre:
        songs["genre"] = np.array([2, 0, 1], dtype=np.int64)
    playlists = [np.array([0, 5, 9], dtype=np.int64), np.array([], dtype=np.int64), np.array([9, 9], dtype=np.int64)]
    return Dataset(playlists=playlists, songs=songs, name="sample", source="hand-made", dropped={"playlists": 3})


def assert_same(a: Dataset, b: Dataset):
    assert as_lists(a.playlists) == as_lists(b.playlists)
    assert all(p.dtype == np.int64 for p in b.playlists)
    pd.testing.assert_frame_equal(a.songs, b.songs)
    assert (a.name, a.source, a.dropped) == (b.name, b.source, b.dropped)


@pytest.mark.parametrize(("tags", "genre"), [(True, True), (False, False)])
def test_save_load_round_trip(tmp_path, tags, genre):
    ds = sample_dataset(tags, genre)
    path = write_npz(ds, tmp_path / "ds.npz")
    assert_same(ds, read_npz(path))
    assert [p.name for p in tmp_path.iterdir()] == ["ds.npz"]
    with np.load(path, allow_pickle=False) as npz:
        assert npz["playlist_offsets"].tolist() == [0, 3, 3, 5]
        assert npz["title"].dtype.kind == "U"


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 4), max_size=6), max_size=6),
    st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
             min_size=5, max_size=5),
)
def test_save_load_round_trip_property(playlists, titles):
    songs = pd.DataFrame(
        {"title": titles, "artist": list(reversed(titles))},
        index=pd.Index(np.arange(5, dtype=np.int64), name="song_id"),
    )
    ds = Dataset([np.array(p, dtype=np.int64) for p in playlists], songs, "p", "hypothesis")
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(ds, read_npz(write_npz(ds, Path(tmp) / "d.npz")))


def test_read_npz_rejects_truncated_and_garbage(tmp_path):
    good = write_npz(sample_dataset(), tmp_path / "good.npz").read_bytes()
    for name, data in (("cut.npz", good[: len(good) // 2]), ("junk.npz", b"hello"), ("empty.npz", b"")):
        with pytest.raises(DataFormatError, match=name):
            read_npz(write(tmp_path / name, data))


def test_read_npz_checks_consistency(tmp_path):
    good = write_npz(sample_dataset(), tmp_path / "good.npz")
    with np.load(good, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    cases = {
        "offsets.npz": dict(arrays, playlist_offsets=np.array([0, 3, 9], dtype=np.int64)),
        "titles.npz": dict(arrays, title=arrays["title"][:2]),
        "missing.npz": {k: v for k, v in arrays.items() if k != "artist"},
        "floatids.npz": dict(arrays, song_id=arrays["song_id"].astype(float)),
    }
    for name, content in cases.items():
        np.savez(tmp_path / name, **content)
        with pytest.raises(DataFormatError, match=name):
            read_npz(tmp_path / name)
    # An object array could only be read by unpickling, which read_npz never does.
    np.savez(tmp_path / "pickled.npz", **dict(arrays, title=np.array(["a", 1, None], dtype=object)))
    with pytest.raises(DataFormatError, match="pickled.npz"):
        read_npz(tmp_path / "pickled.npz")


def test_failed_save_leaves_no_files(tmp_path, monkeypatch):
    target = tmp_path / "ds.npz"
    target.mkdir()  # a folder where the file should go is refused before anything is written
    with pytest.raises(UnsafeOutputError, match="is a folder; expected a file name"):
        write_npz(sample_dataset(), target)
    assert [p.name for p in tmp_path.iterdir()] == ["ds.npz"] and not any(target.iterdir())

    def broken(fh, **arrays):
        fh.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        write_npz(sample_dataset(), tmp_path / "other.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["ds.npz"]


def test_save_rejects_unsaveable_values(tmp_path):
    ds = sample_dataset()
    ds.songs.at[0, "tags"] = ("bad\x1ftag",)
    with pytest.raises(ValueError, match="tags"):
        write_npz(ds, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_read_npz_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="songrec data build"):
        read_npz(tmp_path / "none.npz")


def test_npz_is_a_plain_zip_of_npy(tmp_path):
    path = write_npz(sample_dataset(), tmp_path / "ds.npz")
    with zipfile.ZipFile(path) as zf:
        assert "playlist_ids.npy" in zf.namelist()
