"""Question 5: why the reference SGNS looks broken on the synthetic demo, and what fixes it.

Mirrors ``songrec train --synthetic`` (make_synthetic(seed=42), playlists with >= 2
songs, split_by_playlist(0.1, seed 42), vocabulary on the training side, train_fast with
the given settings and seed 42) and reports, for each setting:

* steps: optimizer steps actually taken (positives per epoch / batch * epochs);
* top-10 cosine: the mean cosine of the 10 nearest target vectors of the three most
  played songs (the demo prints these lists);
* genre share of those top-10 lists, and the genre agreement of every song's top-10
  cosine neighbours (``neighbour_label_agreement``: share, chance, lift);
* HR@10 on the held-out cases: SGNS cosine, target.context, dot + noise term, the best
  co-occurrence count, random.

Usage: synthetic_demo.py [NAME ...] (names of SETTINGS below; default all).
"""
from __future__ import annotations

import sys
import time

import numpy as np

import harness  # noqa: F401  (paths)

SETTINGS = {
    "reference": {},
    "batch256": {"batch_size": 256},
    "batch256-e20": {"batch_size": 256, "epochs": 20},
    "batch64-e20": {"batch_size": 64, "epochs": 20},
    "batch512-e50": {"batch_size": 512, "epochs": 50},
    "batch1024-e100": {"batch_size": 1024, "epochs": 100},
    "e200": {"epochs": 200},
    "batch256-e20-dim16": {"batch_size": 256, "epochs": 20, "dim": 16},
    "batch256-e20-w5": {"batch_size": 256, "epochs": 20, "window": 5},
}


def main(names):
    from helpers.baselines import CooccurrenceScorer, EmbeddingScorer, RandomScorer
    from helpers.evaluate import (evaluate_methods, neighbour_label_agreement, split_and_encode,
                                  tags_by_index, top_k)
    from helpers.fast_sgns import REFERENCE_SETTINGS, next_song_tables, train_fast
    from helpers.synthetic import make_synthetic

    ds = make_synthetic(seed=42)
    from types import SimpleNamespace

    playlists = [p for p in ds.playlists if len(p) >= 2]
    sp = split_and_encode(SimpleNamespace(playlists=playlists, songs=ds.songs), 0.1, 42)
    v = sp.vocab.size
    counts = np.asarray(sp.vocab.counts)
    genre = tags_by_index(sp.vocab, ds.songs, "genre")
    g_of = np.array([next(iter(x)) if x else -1 for x in genre])
    top3 = np.argsort(-counts)[:3]
    positives = sum(2 * max(0, min(2, len(p) - 1)) * len(p) for p in sp.train_encoded)
    print(f"synthetic: {len(sp.train_encoded)} training playlists, V={v}, "
          f"{sp.queries.size} held-out cases, about {positives:,} positives per epoch (window 2)")
    rows = []
    for name in names:
        settings = {**REFERENCE_SETTINGS, **SETTINGS[name]}
        t0 = time.perf_counter()
        res = train_fast(sp.train_encoded, v, settings, seed=42)
        secs = time.perf_counter() - t0
        t, c = res.target_vectors, res.context_vectors
        unit = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        sims = unit[top3] @ unit.T
        nb = top_k(sims, top3, 10)
        top_cos = float(np.take_along_axis(sims, nb, 1).mean())
        top_share = float((g_of[nb] == g_of[top3][:, None]).mean())
        agree = neighbour_label_agreement(t, genre, k=10)
        t2, c2 = next_song_tables(t, c, counts, settings["power"])
        table = evaluate_methods([
            EmbeddingScorer(t, None, "cosine", name="cosine"),
            EmbeddingScorer(t, c, "dot", name="dot"),
            EmbeddingScorer(t2, c2, "dot", name="dot+noise"),
            CooccurrenceScorer(sp.train_encoded, v, window=2, name="cooc-w2"),
            RandomScorer(v),
        ], sp.queries, sp.answers)
        hr = dict(zip(table["method"], table["HR@10"]))
        row = {"name": name, "steps": int(res.model.step.numpy()),
               "train_s": secs, "top10_cos": top_cos, "top10_genre_share": top_share,
               "nb_share": agree["share"], "nb_chance": agree["chance"], **hr}
        rows.append(row)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in row.items()), flush=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:] or list(SETTINGS))
