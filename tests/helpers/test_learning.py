"""End-to-end learning check on the synthetic corpus, whose genres are ground truth."""

from dataclasses import replace

import numpy as np
import pytest

from helpers.recommend import top_n
from helpers.sgns import PRESETS, train
from helpers.synthetic import make_synthetic
from helpers.vocab import build_vocab

pytestmark = pytest.mark.slow


def genre_share(vectors, genre_of_idx, k=10):
    """Mean fraction of each song's top-k cosine neighbours that share its genre."""
    shares = []
    for q in range(1, len(genre_of_idx)):
        idx, _ = top_n(vectors, q, k)
        shares.append(np.mean(genre_of_idx[idx] == genre_of_idx[q]))
    return float(np.mean(shares))


def test_neighbours_share_genre_far_above_chance():
    n_genres = 6
    ds = make_synthetic(n_genres=n_genres, songs_per_genre=30, n_playlists=300, seed=7)
    vocab = build_vocab(ds.playlists, ds.songs)
    genre_of_idx = np.concatenate([[-1], ds.songs.loc[vocab.raw_ids, "genre"].to_numpy()])
    config = replace(PRESETS["assignment"], window=3, negatives=5, noise="unigram", dim=16, batch_size=512,
                     epochs=8, learning_rate=1e-2, max_pairs_per_playlist=None, seed=1)
    result = train(vocab.encode(ds.playlists), vocab.size, config)
    share = genre_share(result.target_vectors, genre_of_idx)
    # chance: a random other song shares the genre with probability (30 - 1) / (180 - 1)
    chance = (30 - 1) / (vocab.size - 1)
    assert share >= 3 * chance, f"top-10 genre share {share:.3f} is below 3x chance ({3 * chance:.3f})"


def test_untrained_vectors_are_near_chance():
    """The same yardstick on random vectors stays near chance, so the test above can fail."""
    ds = make_synthetic(n_genres=6, songs_per_genre=30, n_playlists=300, seed=7)
    vocab = build_vocab(ds.playlists, ds.songs)
    genre_of_idx = np.concatenate([[-1], ds.songs.loc[vocab.raw_ids, "genre"].to_numpy()])
    random_vectors = np.random.default_rng(0).normal(size=(vocab.size + 1, 16)).astype(np.float32)
    share = genre_share(random_vectors, genre_of_idx)
    assert share < 3 * (29 / (vocab.size - 1))
