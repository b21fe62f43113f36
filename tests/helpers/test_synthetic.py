import numpy as np
import pytest

from helpers.synthetic import make_synthetic


def test_shape_and_ground_truth():
    ds = make_synthetic(n_genres=3, songs_per_genre=10, n_playlists=50, length_range=(5, 9), seed=1)
    assert len(ds.playlists) == 50
    assert all(5 <= len(p) <= 9 and p.dtype == np.int64 for p in ds.playlists)
    assert ds.songs.shape[0] == 30
    assert ds.songs.loc[17, "genre"] == 1
    assert ds.songs.loc[17, "title"] == "Song 17"
    assert ds.songs["artist"].str.startswith("Artist ").all()


def test_playlists_mostly_stay_in_genre():
    ds = make_synthetic(n_genres=4, songs_per_genre=20, n_playlists=200, p_stay=0.9, seed=2)
    genre = ds.songs["genre"].to_numpy()
    same = [np.mean(genre[p[1:]] == genre[p[:-1]]) for p in ds.playlists]
    # staying (0.9) plus jumping back into the same genre (0.1 * 1/4) = 0.925 expected
    assert 0.88 < np.mean(same) < 0.96


def test_seeded():
    a = make_synthetic(seed=3)
    b = make_synthetic(seed=3)
    c = make_synthetic(seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.playlists, b.playlists))
    assert not all(len(x) == len(y) and np.array_equal(x, y) for x, y in zip(a.playlists, c.playlists))


@pytest.mark.parametrize("kwargs, bad", [
    ({"n_genres": 0}, "n_genres"),
    ({"length_range": (5, 2)}, "length_range"),
    ({"p_stay": 1.5}, "p_stay"),
    ({"artists_per_genre": 99, "songs_per_genre": 5}, "artists_per_genre"),
])
def test_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        make_synthetic(**kwargs)
