"""Target 2: training throughput of the fast loop vs the original assignment's ``model.fit``.

Both train on the training side of the original assignment's setting (first 200
yes_complete playlists, 10% of them held out), with the same embedding size (32) and the
same number of epochs:

* baseline: the keras loop with ``PRESETS["assignment"]`` (the original assignment's
  settings: window 10, 5 uniform negatives per positive materialised as rows, cap 10,000
  rows per playlist, shared table, Adam 1e-3, batch 2048, ``model.fit`` on NumPy arrays);
* fast: the fast loop on the same training problem (the original's window of 10, fixed, 5
  uniform negatives per positive, dim 32, same epochs) with the machinery of
  ``PRESETS["fast"]`` (separate tables, in-graph negatives shared by groups of 8 positives,
  lazy Adam 0.01 with linear decay, batches of 8,192 positives). Its positives are not
  capped, so it sees more distinct pairs per epoch than the original.

Throughput = pair updates per second (positives plus negatives; for the keras loop the rows
it feeds to ``fit``), time inside training only. Each run is a child process that reports
its peak RSS. HR@10 on the held-out playlists' next-song cases is reported for both (the
keras loop by cosine of its shared table, as the notebooks do, and by its own dot product;
the fast loop by target . context with the noise term, see
``helpers.noise.next_song_tables``).

``--epochs N`` runs both for N epochs instead of 20 (quicker, throughput only comparable).
Writes bench/results/training.csv.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from bench.common import ORIGINAL_PLAYLISTS, in_child, say, split, write_csv
from helpers.sgns import PRESETS

ORIGINAL_EPOCHS = PRESETS["assignment"].epochs


def _hr(split_data, result) -> dict:
    """HR@10 of the run's embedding scores (the registry's embedding entries, plus the plain
    dot product of a shared table)."""
    from helpers.baselines import EmbeddingScorer
    from helpers.evaluate import noise_power
    from helpers.metrics import evaluate_methods
    from helpers.scorers import ScoringInputs, build_scorers

    sp, q, a = split_data
    inputs = ScoringInputs(sp.train_encoded, sp.vocab.size, sp.vocab.counts, result.config.window,
                           result.target_vectors, result.context_vectors,
                           power=noise_power(result.config.to_dict()), label="sgns")
    scorers = build_scorers(inputs, kind="embedding")
    if result.context_vectors is None:
        scorers.append(EmbeddingScorer(result.target_vectors, result.target_vectors, "dot", name="sgns dot"))
    table = evaluate_methods(scorers, q, a, k=10)
    return {f"hr10_{m}": float(h) for m, h in zip(table["method"], table["HR@10"])}


def _row(name: str, res, data) -> dict:
    out = {"method": name, "epochs": res.epochs_run, "dim": res.config.dim,
           "pair_updates_per_epoch": res.n_pairs, "train_seconds": res.seconds,
           "pair_updates_per_s": res.pairs_per_second, "pairs_seconds": res.pairs_seconds}
    out.update(_hr(data, res))
    return out


def run_original(epochs: int) -> dict:
    import keras  # noqa: F401  (imported before timing starts)

    from helpers.sgns import train

    data = split(ORIGINAL_PLAYLISTS)
    res = train(data[0].train_encoded, data[0].vocab.size, replace(PRESETS["assignment"], epochs=epochs))
    return _row("keras loop (PRESETS['assignment'])", res, data)


def run_fast(epochs: int) -> dict:
    import keras  # noqa: F401  (imported before timing starts)

    from helpers.sgns import train

    data = split(ORIGINAL_PLAYLISTS)
    original = PRESETS["assignment"]
    # The original's pair settings and size, the fast loop's machinery.
    config = replace(PRESETS["fast"], window=original.window, negatives=original.negatives,
                     noise=original.noise, dim=original.dim, epochs=epochs)
    res = train(data[0].train_encoded, data[0].vocab.size, config)
    return _row("fast loop (original's window and noise, dim 32)", res, data)


def main(epochs: int = ORIGINAL_EPOCHS) -> dict:
    say(f"== training throughput (target 2), {epochs} epochs, dim 32 ==")
    base = in_child(run_original, epochs)
    fast = in_child(run_fast, epochs)
    rows = [base, fast]
    for r in rows:
        r["speedup_vs_original"] = r["pair_updates_per_s"] / base["pair_updates_per_s"]
        hr = {k: v for k, v in r.items() if k.startswith("hr10_")}
        say(f"{r['method']:>52}: {r['pair_updates_per_s']:>12,.0f} pair updates/s "
            f"({r['train_seconds']:.1f} s), x{r['speedup_vs_original']:.1f}, "
            + ", ".join(f"{k[5:]} HR@10 {v:.4f}" for k, v in hr.items())
            + f", peak RSS {r['peak_rss_mb']:.0f} MiB")
    write_csv("training", rows)
    return {"rows": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=ORIGINAL_EPOCHS)
    main(ap.parse_args().epochs)
