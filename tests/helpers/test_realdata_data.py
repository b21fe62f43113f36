"""Facts about the real Cornell files (SONGREC_DATA_DIR); skipped when the data is absent.

Expected numbers come from /work/shared/data/cornell/SOURCE.md and Cornell's README,
counted there with independent tools.
"""

import functools
import shutil

import numpy as np
import pytest

from helpers.data import load_cornell, read_song_hash, read_train
from helpers.errors import ChecksumError
from helpers.fetch import KNOWN_FILES, check, verify_dir
from helpers.npz import read_npz, write_npz

pytestmark = pytest.mark.realdata


@functools.cache
def cached_cornell(data_dir, variant, min_length=2, with_tags=True):
    return load_cornell(data_dir, variant, min_length=min_length, with_tags=with_tags)


def variant_dir(root, variant):
    return root / variant if (root / variant).is_dir() else root / "dataset" / variant


def test_yes_complete_raw_playlist_counts(real_data_dir):
    folder = variant_dir(real_data_dir, "yes_complete")
    train = folder / "train.txt" if (folder / "train.txt").exists() else folder / "train.txt.gz"
    lengths = np.array([len(p) for p in read_train(train)])
    assert len(lengths) == 11_137
    assert (lengths == 0).sum() == 44
    assert (lengths > 1).sum() == 11_088
    assert (lengths[lengths > 0] - 1).sum() == 1_876_845
    # The course pickle's 10,738 playlists: exactly those with more than 15 songs.
    assert (lengths > 15).sum() == 10_738


def test_yes_complete_dataset(real_data_dir):
    ds = cached_cornell(real_data_dir, "yes_complete")
    assert len(ds.songs) == 75_262
    assert ds.songs.index.tolist() == list(range(75_262))
    assert len(ds.playlists) == 11_088
    assert ds.dropped == {"min_length": 2, "playlists": 49, "empty": 44}
    assert ds.describe()["n_playlists_gt1"] == 11_088
    assert tuple(ds.songs.loc[2172, ["title", "artist"]]) == ("Fade To Black", "Metallica")
    assert ds.songs.loc[0, "title"] == "Gucci Time (w/ Swizz Beatz)"
    assert not ds.songs["title"].str.contains(r"\\/", regex=False).any()
    # tags.txt has 31,569 '#' lines (songs without tags).
    assert (ds.songs["tags"].map(len) == 0).sum() == 31_569


def test_yes_complete_more_than_15(real_data_dir):
    assert len(cached_cornell(real_data_dir, "yes_complete", 16, False).playlists) == 10_738


def test_yes_complete_duplicate_names(real_data_dir):
    songs = read_song_hash(variant_dir(real_data_dir, "yes_complete") / "song_hash.txt")
    names = songs["title"] + " by " + songs["artist"]
    sizes = names.groupby(names).size()
    shared = sizes[sizes > 1]
    assert len(shared) == 674
    assert shared.sum() == 3_191


@pytest.mark.parametrize(
    ("variant", "n_songs", "n_lines", "transitions"),
    [("yes_small", 3_168, 41_480, 134_431), ("yes_big", 9_775, 18_139, 172_510)],
)
def test_small_and_big_match_cornell_readme(real_data_dir, variant, n_songs, n_lines, transitions):
    ds = cached_cornell(real_data_dir, variant, 0, False)
    assert len(ds.songs) == n_songs
    assert len(ds.playlists) == n_lines
    assert sum(len(p) - 1 for p in ds.playlists) == transitions


def test_real_round_trip_through_npz(real_data_dir, tmp_path):
    ds = cached_cornell(real_data_dir, "yes_small")
    back = read_npz(write_npz(ds, tmp_path / "yes_small.npz"))
    assert [p.tolist() for p in back.playlists] == [p.tolist() for p in ds.playlists]
    assert back.songs.equals(ds.songs)
    assert back.dropped == ds.dropped


def test_verify_dir_passes_on_shared_files(real_data_dir):
    checks = verify_dir(real_data_dir)
    present = [c for c in checks if c.status != "missing"]
    assert present and all(c.ok for c in present), [c.describe() for c in present if not c.ok]
    # Every file with a published sha256 is there; only test.txt may be absent.
    assert {c.name for c in checks if c.status == "missing"} <= {
        f"{v}/test.txt" for v in ("yes_small", "yes_big", "yes_complete")}
    assert {c.name for c in present} >= set(KNOWN_FILES)


def test_verify_dir_catches_one_changed_byte(real_data_dir, tmp_path):
    original = variant_dir(real_data_dir, "yes_small") / "tag_hash.txt"
    copy = tmp_path / "yes_small" / "tag_hash.txt"
    copy.parent.mkdir()
    shutil.copyfile(original, copy)
    data = bytearray(copy.read_bytes())
    data[100] ^= 0x01
    copy.write_bytes(bytes(data))
    checks = {c.name: c for c in verify_dir(tmp_path)}
    assert checks["yes_small/tag_hash.txt"].status == "mismatch"
    expected = KNOWN_FILES["yes_small/tag_hash.txt"][1]
    check(original, expected)
    with pytest.raises(ChecksumError, match=expected):
        check(copy, expected)
