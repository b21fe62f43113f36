"""Issue 19: part 4's training with XLA's older CPU runtime against its newer "thunk" runtime,
in this venv and in the simulated Colab's (Colab's TensorFlow 2.20 pins), same run.

Each measurement is a child process of the venv's Python: the default profile's part-4 fit
(``train`` settings: the profile's model, ``compile_options`` (XLA, 16 steps per call), batch
size, held-out validation) for ``--epochs`` epochs on the real data, with
``XLA_FLAGS=--xla_cpu_use_thunk_runtime=false`` (``legacy``) or with the flag forced the other
way (``thunk``: what the course did before, whatever ``compile_sgns`` now adds). The two
alternate ``--pairs`` times per venv, so the machine's load hits both alike; the first epoch
(XLA's compile) is reported apart from the rest. Also checks that each side gives the same
vectors on a second identical run (printed as the table's sha256).

    python -m bench.bench_xla_runtime [--pairs 3] [--epochs 6] [--no-colab]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, data_dir, say, write_csv

FLAGS = {"legacy": "--xla_cpu_use_thunk_runtime=false", "thunk": "--xla_cpu_use_thunk_runtime=true"}

CHILD = r"""
import json, os, sys, time
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras
import tensorflow as tf
from helpers import course
from helpers.digest import sha256_bytes
from helpers.model import build_sgns, compile_sgns, embeddings_of
from helpers.skipgrams import skipgram_pairs

epochs = int(sys.argv[1])
P = course.profile("default")
mapping = course.reference_mapping()
V = mapping.vocab.size
train_playlists, val_playlists = course.reference_split(mapping)
settings = dict(window=P.window, negatives=P.negatives, vocab_size=V, max_pairs_per_playlist=P.max_pairs_per_playlist)
t, c, y = skipgram_pairs(train_playlists, seed=P.seed, **settings)
vt, vc, vy = skipgram_pairs(val_playlists, seed=P.seed + 1, **settings)
keras.utils.set_random_seed(P.seed)
model = compile_sgns(build_sgns(V, P.dim, seed=P.seed), P.learning_rate, **P.compile_options)
seconds = []


class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds.append(time.perf_counter() - self.started)


keras.utils.set_random_seed(P.seed)
model.fit({"target": t, "context": c}, y, validation_data=({"target": vt, "context": vc}, vy), epochs=epochs,
          batch_size=P.batch_size, shuffle=True, verbose=0, callbacks=[Clock()])
table = embeddings_of(model)
print("XLA-BENCH " + json.dumps({"tf": tf.__version__, "flags": os.environ.get("XLA_FLAGS", ""), "seconds": seconds,
                                 "sha256": sha256_bytes(table.tobytes())}))
"""


def measure(python: Path, side: str, epochs: int) -> dict:
    """One child fit with ``side``'s flag; its TensorFlow version, flags, epoch seconds, sha256."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(XLA_FLAGS=FLAGS[side], PYTHONPATH=str(REPO), SONGREC_PROFILE="default",
               SONGREC_DATA_DIR=str(data_dir()))
    proc = subprocess.run([str(python), "-c", CHILD, str(epochs)], env=env, cwd=str(REPO),
                          capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("XLA-BENCH ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"{python} ({side}) failed, exit {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(line.split(" ", 1)[1])


def compare(name: str, python: Path, pairs: int, epochs: int) -> dict:
    """Alternate the two sides ``pairs`` times in venv ``python``; a result row."""
    runs = {"legacy": [], "thunk": []}
    for i in range(pairs):
        for side in (("legacy", "thunk") if i % 2 == 0 else ("thunk", "legacy")):
            run = measure(python, side, epochs)
            runs[side].append(run)
            say(f"  {name} {side:6s}: first epoch {run['seconds'][0]:.2f} s, then "
                + " ".join(f"{s:.2f}" for s in run["seconds"][1:]))
    after_first = {side: statistics.median(s for r in rs for s in r["seconds"][1:]) for side, rs in runs.items()}
    same = {side: len({r["sha256"] for r in rs}) == 1 for side, rs in runs.items()}
    row = {"venv": name, "tensorflow": runs["legacy"][0]["tf"], "epochs": epochs, "pairs": pairs,
           "legacy_epoch_s": round(after_first["legacy"], 3), "thunk_epoch_s": round(after_first["thunk"], 3),
           "ratio": round(after_first["thunk"] / after_first["legacy"], 2),
           "legacy_total_s": [round(sum(r["seconds"]), 1) for r in runs["legacy"]],
           "thunk_total_s": [round(sum(r["seconds"]), 1) for r in runs["thunk"]],
           "same_vectors_each_side": same["legacy"] and same["thunk"]}
    say(f"{name} (TensorFlow {row['tensorflow']}): median epoch after the first {row['legacy_epoch_s']:.2f} s "
        f"(older runtime) vs {row['thunk_epoch_s']:.2f} s (thunk runtime): x{row['ratio']:.2f}; totals "
        f"{row['legacy_total_s']} vs {row['thunk_total_s']}; same vectors on repeat: {row['same_vectors_each_side']}")
    return row


def main(pairs: int = 3, epochs: int = 6, colab: bool = True) -> dict:
    say("== part 4's fit: XLA's older CPU runtime vs the thunk runtime (issue 19) ==")
    rows = [compare("this venv", Path(sys.executable), pairs, epochs)]
    if colab:
        from tools import ci_venv

        venv = ci_venv.ensure_venv(ci_venv.SPECS["colab"])
        rows.append(compare("Colab's pins", venv / "bin" / "python", pairs, epochs))
    write_csv("xla_runtime", rows)
    return {"rows": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3, help="alternating pairs of runs per venv (default 3)")
    ap.add_argument("--epochs", type=int, default=6, help="epochs per run (default 6)")
    ap.add_argument("--no-colab", action="store_true", help="only this venv (no simulated-Colab venv)")
    args = ap.parse_args()
    main(args.pairs, args.epochs, not args.no_colab)
