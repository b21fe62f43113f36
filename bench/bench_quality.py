"""Targets 3 and 4: HR@10 of the fast loop's SGNS vs co-occurrence counts and gensim, and the
time and memory of the fast training on the full yes_complete.

Two settings, each split by playlist (10% held out, ``helpers.splits.split_playlists`` seed
0, vocabulary from the training side), next-song cases from the held-out playlists:

* ``original200``: the original assignment's first 200 playlists (all held-out cases);
  ``PRESETS["fast"]`` with the original's 20 epochs (its batch sized to the data);
* ``full``: every yes_complete playlist (a seeded sample of 5,000 held-out cases, to keep
  the ranking of 73k songs per case affordable).

Methods: every scorer of the registry (:mod:`helpers.scorers`): the SGNS trained with
``PRESETS["fast"]`` scored three ways (target . context plus the noise term = the model's
estimate of log P(next | query); plain target . context; cosine of target vectors), gensim's
skip-gram Word2Vec with the same hyper-parameters (window, shrinking window, negatives,
noise exponent, subsampling, dimension, epochs; its own SGD learning rate) scored the same
three ways, and the baselines, with co-occurrence counts within 1, 2, 5 and 10 songs.
Trainings run in child processes (time, peak RSS); vectors come back through a temporary
.npz.

Writes bench/results/quality_<setting>.csv.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import FULL_EVAL_CASES, ORIGINAL_PLAYLISTS, SPLIT_SEED, in_child, say, split, write_csv
from helpers.sgns import PRESETS

SETTINGS = {"original200": (ORIGINAL_PLAYLISTS, None), "full": (None, FULL_EVAL_CASES)}
# PRESETS["fast"] is tuned for the full data (5 epochs of ~7M positives). The 200 playlists
# give 50x fewer positives per epoch; there its auto_schedule shrinks the batch and trains
# at least 20 epochs (helpers.fast_loop.fitted), the original's count, which gensim gets too.
OVERRIDES = {"original200": {"epochs": PRESETS["assignment"].epochs}, "full": {}}
COOC_WINDOWS = (1, 2, 5, 10)


def train_fast_loop(limit, settings, out_path) -> dict:
    import keras  # noqa: F401  (TensorFlow start-up is not training time)

    from helpers.sgns import SGNSConfig, train

    sp, _, _ = split(limit)
    start = time.perf_counter()
    res = train(sp.train_encoded, sp.vocab.size, SGNSConfig.from_dict(settings))
    wall = time.perf_counter() - start
    np.savez(out_path, target=res.target_vectors, context=res.context_vectors)
    return {"train_seconds": res.seconds, "wall_seconds": wall,
            "pair_updates_per_s": res.pairs_per_second,
            "pair_updates_per_epoch": res.n_pairs, "pairs_seconds": res.pairs_seconds,
            "final_loss": res.history["loss"][-1]}


def train_gensim(limit, settings, out_path, split_seed=SPLIT_SEED) -> dict:
    from gensim.models import Word2Vec

    sp, _, _ = split(limit, seed=split_seed)
    v = sp.vocab.size
    sentences = [[str(int(s)) for s in p] for p in sp.train_encoded]
    start = time.perf_counter()
    model = Word2Vec(sentences, vector_size=settings["dim"], window=settings["window"],
                     shrink_windows=settings["dynamic_window"], sg=1, hs=0,
                     negative=settings["negatives"], ns_exponent=settings["power"],
                     sample=settings["subsample"], epochs=settings["epochs"], min_count=1,
                     workers=2, seed=settings["seed"])
    wall = time.perf_counter() - start
    target = np.zeros((v + 1, settings["dim"]), np.float32)
    context = np.zeros_like(target)
    rows = np.array([int(k) for k in model.wv.index_to_key])
    target[rows] = model.wv.vectors
    context[rows] = model.syn1neg
    np.savez(out_path, target=target, context=context)
    return {"train_seconds": wall, "wall_seconds": wall}


def _inputs(sp, settings, path=None, label="sgns"):
    from helpers.evaluate import noise_power
    from helpers.scorers import ScoringInputs

    z = np.load(path) if path is not None else {"target": None, "context": None}
    return ScoringInputs(sp.train_encoded, sp.vocab.size, np.asarray(sp.vocab.counts), settings["window"],
                         z["target"], z["context"], power=noise_power(settings), label=label)


def _embedding_scorers(sp, settings, path, label):
    """The registry's embedding scores, next song (target . context + noise) first."""
    from helpers.scorers import build_scorers

    inputs = _inputs(sp, settings, path, label)
    return build_scorers(inputs, kind="embedding", keys=("next-song", "dot", "cosine"))[::-1]


def run_setting(name: str, settings: dict | None = None, with_gensim: bool = True) -> dict:
    from helpers.metrics import evaluate_methods
    from helpers.scorers import build_scorers

    base = PRESETS["fast"].to_dict() if settings is None else dict(settings)
    settings = {**base, **OVERRIDES[name]}
    limit, max_cases = SETTINGS[name]
    say(f"== quality, setting {name} ==")
    sp, q, a = split(limit, max_cases)
    v = sp.vocab.size
    say(f"{len(sp.train_raw)} training / {len(sp.test_raw)} held-out playlists, V={v}, "
        f"{q.size} next-song cases")
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = str(Path(tmp) / "ref.npz")
        ref = in_child(train_fast_loop, limit, settings, ref_path)
        say(f"fast-loop SGNS: {ref['train_seconds']:.1f} s training "
            f"({ref['pair_updates_per_s']:,.0f} pair updates/s), peak RSS "
            f"{ref['peak_rss_mb']:.0f} MiB")
        scorers = _embedding_scorers(sp, settings, ref_path, "sgns")
        gen = None
        if with_gensim:
            gen_path = str(Path(tmp) / "gensim.npz")
            gen = in_child(train_gensim, limit, settings, gen_path)
            say(f"gensim: {gen['train_seconds']:.1f} s, peak RSS {gen['peak_rss_mb']:.0f} MiB")
            scorers += _embedding_scorers(sp, settings, gen_path, "gensim")
        # Every registered baseline, with counts over the windows of the sweep.
        scorers += build_scorers(_inputs(sp, settings), kind="baseline",
                                 options={"cooc-window": {"windows": COOC_WINDOWS}})
        table = evaluate_methods(scorers, q, a, k=10)
    table.insert(0, "setting", name)
    say(table.drop(columns=["seconds"]).to_string(index=False,
                                                  float_format=lambda x: f"{x:.4f}"))
    hr = dict(zip(table["method"], table["HR@10"]))
    best_cooc = max((m for m in hr if m.startswith("co-occurrence")), key=hr.get)
    summary = {
        "setting": name, "cases": int(q.size), "vocab": v,
        "sgns_hr10": hr[scorers[0].name], "best_cooc": best_cooc,
        "best_cooc_hr10": hr[best_cooc],
        "gensim_hr10": hr.get(f"gensim {scorers[0].name.split(' ', 1)[1]}", float("nan")),
        "gensim_best_hr10": max((hr[m] for m in hr if m.startswith("gensim")),
                                default=float("nan")),
        "sgns_train_seconds": ref["train_seconds"], "sgns_peak_rss_mb": ref["peak_rss_mb"],
        "sgns_pair_updates_per_s": ref["pair_updates_per_s"],
        "gensim_train_seconds": gen["train_seconds"] if gen else float("nan"),
    }
    say(f"SGNS {summary['sgns_hr10']:.4f} vs best co-occurrence ({best_cooc}) "
        f"{summary['best_cooc_hr10']:.4f} vs gensim {summary['gensim_best_hr10']:.4f}")
    rows = table.to_dict("records")
    for r in rows:
        r["train_seconds"] = (ref["train_seconds"] if r["method"].startswith("sgns") else
                              gen["train_seconds"] if gen and r["method"].startswith("gensim")
                              else float("nan"))
    write_csv(f"quality_{name}", rows)
    return {"table": table, "summary": summary, "fast": ref, "gensim": gen,
            "settings": settings}


def main(which=("original200", "full")) -> dict:
    return {name: run_setting(name) for name in which}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="*", default=["original200", "full"],
                    choices=sorted(SETTINGS))
    main(tuple(ap.parse_args().settings))
