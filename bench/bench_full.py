"""Target 4: the fast loop on every yes_complete playlist (what ``songrec train`` does with
``PRESETS["fast"]``): wall time and peak memory, in a child process.

Wall time counts everything after the data are loaded and encoded: building the noise
table, making positives (overlapped with training after epoch 1), compiling and training.
TensorFlow's import is not counted. The budget is 10 minutes on 2 CPU cores.

Writes bench/results/full.csv.
"""

from __future__ import annotations

import time

from bench.common import in_child, load_playlists, say, write_csv

BUDGET_S = 600.0


def run() -> dict:
    import keras  # noqa: F401

    from helpers.sgns import PRESETS, train
    from helpers.vocab import build_vocab

    playlists = load_playlists()
    vocab = build_vocab(playlists)
    encoded = vocab.encode(playlists)
    start = time.perf_counter()
    res = train(encoded, vocab.size, PRESETS["fast"])
    wall = time.perf_counter() - start
    return {"playlists": len(playlists), "songs": int(sum(len(p) for p in playlists)),
            "vocab": vocab.size, "wall_seconds": wall, "train_seconds": res.seconds,
            "pairs_seconds": res.pairs_seconds, "pair_updates_per_epoch": res.n_pairs,
            "pair_updates_per_s": res.pairs_per_second, "epochs": res.epochs_run,
            "final_loss": res.history["loss"][-1]}


def main() -> dict:
    say("== full yes_complete fast-loop training (target 4) ==")
    r = in_child(run)
    r["budget_s"] = BUDGET_S
    r["within_budget"] = r["wall_seconds"] <= BUDGET_S
    say(f"{r['playlists']:,} playlists, {r['songs']:,} songs, V={r['vocab']:,}: "
        f"{r['wall_seconds']:.0f} s wall ({r['train_seconds']:.0f} s in training, "
        f"{r['pair_updates_per_s']:,.0f} pair updates/s), peak RSS {r['peak_rss_mb']:.0f} MiB, "
        f"{'within' if r['within_budget'] else 'OVER'} the {BUDGET_S:.0f} s budget")
    write_csv("full", [r])
    return {"row": r}


if __name__ == "__main__":
    main()
