"""Target 1: pair generation, vectorised vs the original assignment's Python loop, same inputs.

Setting (the original assignment's): first 200 yes_complete playlists, vocabulary built on
them, window 10, 5 uniform negatives per positive, at most 10,000 rows per playlist. The
original loop (bench/original_pipeline.py) runs once; each vectorised generator runs once untimed (warm-up)
then ``REPEATS`` times, and its median time is used (the minimum is reported too).
``fast_skipgram_rows`` uses both cores (two blocks of playlists in threads); it is also
timed with one thread. Each generator runs in its own child process, which reports its
peak RSS. Checks that both produce the same number of rows and the same share of
positives (up to the cap's sampling).

Writes bench/results/pairs.csv and prints the speed-up.
"""

from __future__ import annotations

import statistics
import time

from bench.common import ORIGINAL_PLAYLISTS, in_child, load_playlists, say, write_csv

WINDOW, NEGATIVES, CAP, SEED = 10, 5, 10_000, 42
REPEATS = 10


def _encoded():
    from helpers.vocab import build_vocab

    playlists = load_playlists(ORIGINAL_PLAYLISTS)
    vocab = build_vocab(playlists)
    return vocab.encode(playlists), vocab.size


def run_original() -> dict:
    from bench.original_pipeline import original_generate_pairs

    enc, v = _encoded()
    start = time.perf_counter()
    pairs, labels = original_generate_pairs(enc, WINDOW, v, NEGATIVES, CAP, seed=SEED)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "seconds_min": seconds, "rows": int(labels.size),
            "positive_share": float(labels.mean())}


def run_vectorised(which: str) -> dict:
    enc, v = _encoded()
    if which.startswith("fast_skipgram_rows"):
        from bench.fast_rows import fast_skipgram_rows

        workers = 1 if which.endswith("(1 thread)") else 2

        def gen(seed):
            return fast_skipgram_rows(enc, WINDOW, NEGATIVES, v,
                                      max_pairs_per_playlist=CAP, seed=seed,
                                      workers=workers)
    else:
        from helpers.skipgrams import skipgram_pairs

        def gen(seed):
            return skipgram_pairs(enc, WINDOW, NEGATIVES, v, max_pairs_per_playlist=CAP,
                                  seed=seed)
    gen(SEED - 1)  # warm-up (allocator, thread pool), not timed
    times = []
    for r in range(REPEATS):
        start = time.perf_counter()
        _, _, labels = gen(SEED + r)
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "seconds_min": min(times),
            "rows": int(labels.size), "positive_share": float(labels.mean())}


def main() -> dict:
    say("== pair generation (target 1) ==")
    rows = []
    base = in_child(run_original)
    base["method"] = "original loop (bench/original_pipeline.py)"
    rows.append(base)
    for which in ("fast_skipgram_rows", "fast_skipgram_rows (1 thread)",
                  "helpers.skipgrams.skipgram_pairs"):
        r = in_child(run_vectorised, which)
        r["method"] = which
        rows.append(r)
    for r in rows:
        r["speedup_vs_original"] = base["seconds"] / r["seconds"]
        r["speedup_vs_original_best"] = base["seconds"] / r["seconds_min"]
        r["same_rows"] = r["rows"] == base["rows"]
        say(f"{r['method']:>36}: {r['seconds']:8.3f} s (min {r['seconds_min']:.3f}), "
            f"{r['rows']:,} rows, positives {r['positive_share']:.4f}, "
            f"x{r['speedup_vs_original']:,.0f} vs the original loop, peak RSS {r['peak_rss_mb']:.0f} MiB")
    write_csv("pairs", [{k: r[k] for k in ("method", "seconds", "seconds_min", "rows",
                                           "positive_share", "same_rows",
                                           "speedup_vs_original", "speedup_vs_original_best",
                                           "peak_rss_mb")} for r in rows])
    return {"rows": rows}


if __name__ == "__main__":
    main()
