"""Issue 14: the next-song model against the best simple methods, and its time to quality.

Settings (each split by playlist, 10% held out, split seeds 0 and 1, vocabulary from the
training side, held-out cases with the songs before them, :func:`helpers.splits.heldout_cases`):

* ``original200``: the first 200 yes_complete playlists, every held-out case;
* ``full``: every yes_complete playlist, :data:`FULL_CASES` sampled held-out cases (an
  HR@10 near 0.16 has a standard error of about 0.0026 on 20,000 cases; paired differences
  against the best anchor are reported with their own standard error).

Methods: the reference skip-gram (``PRESETS["fast"]``, ranked by target·context + noise),
the next-song model (``PRESETS["next_song"]``; on 200 playlists with :data:`SMALL_RECIPE`)
alone and with its count prior, gensim skip-gram at its best settings (:data:`GENSIM_BEST`)
and every registered baseline with the session anchors (counts, sequential rules, SKNN,
V-SKNN, SEQ-KNN). Trainings run in child processes; tables come back through a .npz.

Time to quality (``full``, split seed 0, :data:`TTQ_CASES` cases): the next-song model's
HR@10 after every epoch against its cumulative training time, vs gensim's best run.

Writes bench/results/next_song_<setting>_s<seed>.csv and bench/results/next_song_ttq.csv.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.bench_quality import train_gensim
from bench.common import ORIGINAL_PLAYLISTS, in_child, say, split, write_csv

FULL_CASES = 20_000
TTQ_CASES = 5_000
SPLIT_SEEDS = (0, 1)
SETTINGS = {"original200": (ORIGINAL_PLAYLISTS, None), "full": (None, FULL_CASES)}
# gensim's best settings in the grid of bench/experiments/RESULTS.md (Q4): the fast
# preset's hyper-parameters with 20 epochs (0.104 on full/s0 against 0.085 with 5; a grid
# result, not SGNSConfig's default epochs).
GENSIM_EPOCHS = 20
GENSIM_BEST = {"epochs": GENSIM_EPOCHS}
# On 200 playlists the full-data batch gives 4 steps per epoch: the research's best
# recipe there (bench/experiments/RESULTS.md, Q2.3).
SMALL_RECIPE = {"batch_size": 1024, "epochs": 10, "slot_dropout": 0.3, "auto_schedule": False}


def _config(name: str, preset: str):
    from helpers.sgns import PRESETS

    config = PRESETS[preset]
    if preset == "next_song" and name == "original200":
        config = replace(config, **SMALL_RECIPE)
    return config


def train_model(limit, seed, preset, name, out_path, ttq=None) -> dict:
    """Train one preset on one split (in a child); save its tables to ``out_path``.

    ``ttq``: ``(queries, answers, sessions)``; then also HR@10 after every epoch, with the
    cumulative training time (scoring excluded)."""
    import keras  # noqa: F401  (TensorFlow start-up is not training time)

    from helpers.metrics import hit_rate_mrr
    from helpers.session_scorers import SessionScorer
    from helpers.sgns import train

    sp, _, _ = split(limit, seed=seed)
    epochs, paused = [], [0.0]

    def snapshot(epoch, model):
        s = time.perf_counter()
        res = hit_rate_mrr(SessionScorer(model.tables()), ttq[0], ttq[1], sessions=ttq[2])
        epochs.append({"epoch": epoch + 1, "seconds": s - start - paused[0], "hr10": res["hr"]})
        paused[0] += time.perf_counter() - s

    start = time.perf_counter()
    res = train(sp.train_encoded, sp.vocab.size, _config(name, preset), callbacks=[snapshot] if ttq else ())
    wall = time.perf_counter() - start - paused[0]
    tables = {"target": res.target_vectors, "context": res.context_vectors}
    if res.session is not None:
        tables["inputs"] = res.session.inputs
        tables["bias"] = res.session.bias
    np.savez(out_path, **tables)
    return {"train_seconds": wall, "epochs": epochs, "schedule": res.schedule}


def _scorers(sp, settings, path, label, session=False):
    from helpers.evaluate import noise_power
    from helpers.scorers import ScoringInputs, build_keyed
    from helpers.sessions import SessionTables

    z = np.load(path)
    tables = SessionTables(z["inputs"], z["context"], z["bias"]) if session else None
    inputs = ScoringInputs(sp.train_encoded, sp.vocab.size, np.asarray(sp.vocab.counts), settings["window"],
                           z["target"], z["context"], power=noise_power(settings), label=label,
                           session=tables, loss=settings["loss"])
    keys = ("session", "session+prior") if session else ("next-song",)
    return [s for _, s in build_keyed(inputs, keys=keys)]


def run_setting(name: str, seed: int) -> dict:
    from helpers.metrics import evaluate_methods
    from helpers.scorers import ScoringInputs, build_scorers
    from helpers.sgns import PRESETS

    limit, max_cases = SETTINGS[name]
    say(f"== next song, {name}, split seed {seed} ==")
    sp, q, a = split(limit, max_cases, seed=seed)
    sessions = _sessions(sp, q, max_cases, seed)
    times = {}
    scorers = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, preset in (("reference SGNS", "fast"), ("next-song model", "next_song")):
            path = str(Path(tmp) / f"{preset}.npz")
            out = in_child(train_model, limit, seed, preset, name, path)
            times[label] = out["train_seconds"]
            say(f"{label}: {out['train_seconds']:.1f} s training ({out['schedule']})")
            scorers += _scorers(sp, _config(name, preset).to_dict(), path, label, session=preset == "next_song")
        gensim_settings = {**PRESETS["fast"].to_dict(), **GENSIM_BEST}
        path = str(Path(tmp) / "gensim.npz")
        gen = in_child(train_gensim, limit, gensim_settings, path, seed)
        times["gensim"] = gen["train_seconds"]
        say(f"gensim ({GENSIM_BEST}): {gen['train_seconds']:.1f} s")
        scorers += _scorers(sp, {**gensim_settings, "loss": "sgns"}, path, "gensim")
    inputs = ScoringInputs(sp.train_encoded, sp.vocab.size, np.asarray(sp.vocab.counts), 2, anchors=True)
    scorers += build_scorers(inputs, kind="baseline", options={"cooc-window": {"windows": (1, 2)}})
    ranks: dict = {}
    table = evaluate_methods([s for s in scorers if s.name != "random"], q, a, sessions=sessions, ranks=ranks)
    hybrid = next(m for m in table["method"] if "SR w" in m)
    anchors = table[~table["method"].str.startswith(("reference", "next-song", "gensim"))]
    best = anchors.loc[anchors["HR@10"].idxmax(), "method"]
    diff = (ranks[hybrid] > 0).astype(float) - (ranks[best] > 0)
    summary = {"setting": name, "split_seed": seed, "cases": int(q.size), "vocab": sp.vocab.size,
               "best_anchor": best, "hybrid": hybrid, "diff": float(diff.mean()),
               "diff_se": float(diff.std(ddof=1) / np.sqrt(diff.size)), "train_seconds": times}
    say(table.drop(columns=["seconds"]).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    say(f"hybrid - best anchor ({best}): {summary['diff']:+.4f} (s.e. {summary['diff_se']:.4f})")
    write_csv(f"next_song_{name}_s{seed}", table.to_dict("records"))
    return {"table": table, "summary": summary}


def _sessions(sp, q, max_cases, seed):
    """The sessions of :func:`bench.common.split`'s sampled cases (the same sample)."""
    from helpers.splits import sample_index

    keep = sample_index(len(sp.queries), max_cases, seed) if max_cases else slice(None)
    assert np.array_equal(sp.queries[keep], q)
    return sp.sessions[keep]


def time_to_quality() -> dict:
    from helpers.metrics import hit_rate_mrr
    from helpers.scorers import ScoringInputs, build_keyed
    from helpers.sgns import PRESETS

    say("== next song, time to quality vs gensim (full, split seed 0) ==")
    sp, q, a = split(None, TTQ_CASES, seed=0)
    sessions = _sessions(sp, q, TTQ_CASES, 0)
    settings = {**PRESETS["fast"].to_dict(), **GENSIM_BEST}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "gensim.npz")
        gen = in_child(train_gensim, None, settings, path, 0)
        z = np.load(path)
        inputs = ScoringInputs(sp.train_encoded, sp.vocab.size, np.asarray(sp.vocab.counts), settings["window"],
                               z["target"], z["context"], power=settings["power"], label="gensim")
        g_hr = hit_rate_mrr(dict(build_keyed(inputs, keys=("next-song",)))["next-song"], q, a)["hr"]
        model = in_child(train_model, None, 0, "next_song", "full", str(Path(tmp) / "m.npz"), (q, a, sessions))
    first = next((e["seconds"] for e in model["epochs"] if e["hr10"] >= g_hr), float("nan"))
    row = {"gensim_hr10": g_hr, "gensim_seconds": gen["train_seconds"], "model_hr10": model["epochs"][-1]["hr10"],
           "model_seconds": model["train_seconds"], "seconds_to_gensim_best": first,
           "ratio_to_gensim_best": first / gen["train_seconds"],
           "ratio_full_run": model["train_seconds"] / gen["train_seconds"]}
    for e in model["epochs"]:
        say(f"next-song model after epoch {e['epoch']}: HR@10 {e['hr10']:.4f} at {e['seconds']:.1f} s")
    say(f"gensim {GENSIM_BEST}: HR@10 {g_hr:.4f} in {gen['train_seconds']:.1f} s; ratio to pass it "
        f"{row['ratio_to_gensim_best']:.2f}x, full run {row['ratio_full_run']:.2f}x")
    write_csv("next_song_ttq", [row, *model["epochs"]])
    return {"row": row, "epochs": model["epochs"]}


def main(which=("original200", "full"), ttq: bool = True) -> dict:
    out = {"settings": {f"{name}/s{seed}": run_setting(name, seed) for name in which for seed in SPLIT_SEEDS}}
    if ttq:
        out["ttq"] = time_to_quality()
    return out


def render(res: dict) -> list[str]:
    """Markdown lines for bench/RESULTS.md."""
    lines = []
    for key, r in res.get("settings", {}).items():
        s = r["summary"]
        lines += ["", f"Next song, {key} ({s['cases']:,} held-out cases with their sessions, V={s['vocab']:,}; "
                      f"training s: " + ", ".join(f"{k} {v:.0f}" for k, v in s["train_seconds"].items()) + "):", "",
                  "| method | HR@10 | MRR@10 |", "|---|---|---|"]
        lines += [f"| {m} | {h:.4f} | {r_:.4f} |" for m, h, r_ in r["table"][["method", "HR@10", "MRR@10"]].values]
        lines += ["", f"{s['hybrid']} minus the best anchor ({s['best_anchor']}), paired: {s['diff']:+.4f} "
                      f"(standard error {s['diff_se']:.4f})."]
    if "ttq" in res:
        t = res["ttq"]["row"]
        lines += ["", f"Time to quality (full, split seed 0, {TTQ_CASES:,} cases): gensim at its best "
                      f"({GENSIM_BEST}) reaches HR@10 {t['gensim_hr10']:.4f} in {t['gensim_seconds']:.0f} s; the "
                      f"next-song model passes it after {t['seconds_to_gensim_best']:.0f} s "
                      f"(**{t['ratio_to_gensim_best']:.2f}x**) and ends at {t['model_hr10']:.4f} after "
                      f"{t['model_seconds']:.0f} s ({t['ratio_full_run']:.2f}x)."]
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="*", default=["original200", "full"], choices=sorted(SETTINGS))
    ap.add_argument("--no-ttq", action="store_true")
    args = ap.parse_args()
    main(tuple(args.settings), not args.no_ttq)
