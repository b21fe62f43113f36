"""A small synthetic playlist corpus with known ground truth.

Songs belong to genres; each playlist is a random walk that mostly stays inside one
genre, so a working embedding must put genre-mates close together. Used by fast tests
and by the offline demo (``songrec train --synthetic``) when the Cornell data is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.data import Dataset
from helpers.validate import bad_argument, check_int, check_real, is_int


def make_synthetic(
    n_genres: int = 4,
    songs_per_genre: int = 50,
    n_playlists: int = 400,
    length_range: tuple[int, int] = (8, 30),
    p_stay: float = 0.9,
    artists_per_genre: int = 5,
    zipf: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """Build a seeded genre-structured playlist corpus.

    Song ``s`` (raw ID, 0-based) belongs to genre ``s // songs_per_genre``; it is named
    "Song s" by "Artist a", artists nested inside genres. Within a genre, song popularity
    follows a Zipf law with exponent ``zipf`` so frequencies are skewed like real radio.
    A playlist starts in a random genre; at each step it stays with probability
    ``p_stay`` and otherwise jumps to a uniformly chosen genre.

    Returns a Dataset whose ``songs`` has columns title, artist, genre (int64) and whose
    playlists are int64 arrays of raw IDs with lengths in ``length_range`` (inclusive).
    """
    for name, value in (("n_genres", n_genres), ("songs_per_genre", songs_per_genre),
                        ("n_playlists", n_playlists)):
        check_int(name, value, 1)
    check_int("artists_per_genre", artists_per_genre, 1, songs_per_genre)
    lo, hi = length_range
    if not (is_int(lo) and is_int(hi) and 1 <= lo <= hi):
        raise bad_argument("length_range", "a pair (low, high) of ints with 1 <= low <= high", length_range)
    check_real("p_stay", p_stay, 0, 1)
    check_real("zipf", zipf)
    rng = np.random.default_rng(seed)
    n_songs = n_genres * songs_per_genre
    song_ids = np.arange(n_songs, dtype=np.int64)
    genre = song_ids // songs_per_genre
    within = song_ids % songs_per_genre
    artist = genre * artists_per_genre + within % artists_per_genre
    songs = pd.DataFrame(
        {
            "title": [f"Song {s}" for s in song_ids],
            "artist": [f"Artist {a}" for a in artist],
            "genre": genre,
        },
        index=pd.Index(song_ids, name="song_id"),
    )
    weights = 1.0 / np.arange(1, songs_per_genre + 1) ** zipf
    weights /= weights.sum()
    # A fixed random order per genre decides which songs are the popular ones.
    rank_to_song = np.stack([g * songs_per_genre + rng.permutation(songs_per_genre) for g in range(n_genres)])

    lengths = rng.integers(lo, hi + 1, size=n_playlists)
    playlists = []
    for length in lengths:
        jumps = rng.random(length) >= p_stay
        jumps[0] = True
        new_genres = rng.integers(0, n_genres, size=length)
        # Carry the genre forward from the last jump (vectorised "forward fill").
        last_jump = np.maximum.accumulate(np.where(jumps, np.arange(length), 0))
        g = new_genres[last_jump]
        ranks = rng.choice(songs_per_genre, size=length, p=weights)
        playlists.append(rank_to_song[g, ranks].astype(np.int64))
    return Dataset(
        playlists=playlists,
        songs=songs,
        name="synthetic",
        source=(
            f"make_synthetic(n_genres={n_genres}, songs_per_genre={songs_per_genre}, "
            f"n_playlists={n_playlists}, length_range={tuple(length_range)}, p_stay={p_stay}, seed={seed!r})"
        ),
    )
