"""Target 2: training throughput of the fast path vs the seed's ``model.fit``.

Both train on the training side of the seed's setting (first 200 yes_complete playlists,
10% of them held out), with the same embedding size (32) and the same number of epochs:

* baseline: ``helpers.training.train_sgns`` with ``TrainConfig()`` (the seed's settings:
  window 10, 5 uniform negatives per positive materialised as rows, cap 10,000 rows per
  playlist, shared table, Adam 1e-3, batch 2048, ``model.fit`` on NumPy arrays);
* fast: ``helpers.fast_sgns.train_fast`` on the same training problem (the seed's window
  of 10, fixed, 5 uniform negatives per positive, dim 32, same epochs) with the machinery
  of ``REFERENCE_SETTINGS`` (separate tables, in-graph negatives shared by groups of 8
  positives, lazy Adam 0.01 with linear decay, batches of 8,192 positives). Its positives
  are not capped, so it sees more distinct pairs per epoch than the seed.

Throughput = pair updates per second (positives plus negatives; for the seed the rows it
feeds to ``fit``), time inside training only. Each run is a child process that reports its
peak RSS. HR@10 on the held-out playlists' next-song cases is reported for both (the seed
by cosine of its shared table, as the notebooks do, and by its own dot product; the fast
path by target . context with the noise term, see ``fast_sgns.next_song_tables``).

``--epochs N`` runs both for N epochs instead of 20 (quicker, throughput only comparable).
Writes bench/results/training.csv.
"""

from __future__ import annotations

import argparse

from common import SEED_PLAYLISTS, in_child, say, split, write_csv

SEED_EPOCHS = 20
# The seed's pair settings, for the fast path: same window, negatives and noise.
SEED_PAIRS = {"window": 10, "dynamic_window": False, "negatives": 5, "power": 0.0}


def _hr(split_data, target, context, counts=None, power=0.0):
    from helpers.baselines import EmbeddingScorer
    from helpers.evaluate import evaluate_methods

    _, q, a = split_data
    scorers = [EmbeddingScorer(target, None, "cosine", name="cosine")]
    if context is None:
        scorers.append(EmbeddingScorer(target, target, "dot", name="dot"))
    else:
        from helpers.fast_sgns import next_song_tables

        scorers.append(EmbeddingScorer(target, context, "dot", name="dot"))
        t2, c2 = next_song_tables(target, context, counts, power)
        scorers.append(EmbeddingScorer(t2, c2, "dot", name="dot+noise"))
    table = evaluate_methods(scorers, q, a, k=10)
    return {f"hr10_{m}": float(h) for m, h in zip(table["method"], table["HR@10"])}


def run_seed(epochs: int) -> dict:
    import keras  # noqa: F401  (imported before timing starts)

    from helpers.training import TrainConfig, train_sgns

    data = split(SEED_PLAYLISTS)
    sp = data[0]
    cfg = TrainConfig(epochs=epochs)
    res = train_sgns(sp.train_encoded, sp.vocab.size, cfg)
    out = {"method": "seed model.fit (TrainConfig defaults)", "epochs": res.epochs_run,
           "dim": cfg.dim, "pair_updates_per_epoch": res.n_pairs,
           "train_seconds": res.seconds, "pair_updates_per_s": res.pairs_per_second,
           "pairs_seconds": res.pairs_seconds}
    out.update(_hr(data, res.target_vectors, None))
    return out


def run_fast(epochs: int) -> dict:
    from helpers.fast_sgns import REFERENCE_SETTINGS, train_fast

    data = split(SEED_PLAYLISTS)
    sp = data[0]
    settings = {**REFERENCE_SETTINGS, **SEED_PAIRS, "dim": 32, "epochs": epochs}
    res = train_fast(sp.train_encoded, sp.vocab.size, settings, seed=42)
    out = {"method": "fast_sgns.train_fast (seed's window and noise, dim 32)",
           "epochs": res.epochs_run, "dim": 32, "pair_updates_per_epoch": res.n_pairs,
           "train_seconds": res.seconds, "pair_updates_per_s": res.pairs_per_second,
           "pairs_seconds": res.pairs_seconds}
    counts = sp.vocab.counts
    out.update(_hr(data, res.target_vectors, res.context_vectors, counts,
                   settings["power"]))
    return out


def main(epochs: int = SEED_EPOCHS) -> dict:
    say(f"== training throughput (target 2), {epochs} epochs, dim 32 ==")
    base = in_child(run_seed, epochs)
    fast = in_child(run_fast, epochs)
    rows = [base, fast]
    for r in rows:
        r["speedup_vs_seed"] = r["pair_updates_per_s"] / base["pair_updates_per_s"]
        hr = {k: v for k, v in r.items() if k.startswith("hr10_")}
        say(f"{r['method']:>52}: {r['pair_updates_per_s']:>12,.0f} pair updates/s "
            f"({r['train_seconds']:.1f} s), x{r['speedup_vs_seed']:.1f}, "
            + ", ".join(f"{k[5:]} HR@10 {v:.4f}" for k, v in hr.items())
            + f", peak RSS {r['peak_rss_mb']:.0f} MiB")
    write_csv("training", rows)
    return {"rows": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=SEED_EPOCHS)
    main(ap.parse_args().epochs)
