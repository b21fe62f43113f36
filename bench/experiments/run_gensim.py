"""Question 4: gensim skip-gram (as bench_quality.py trains it) over a small grid, to find
its best HR@10 on the full data and the time it takes. Usage:
run_gensim.py [--problems full] [--seeds 0] [--grid NAME ...]"""
import argparse
import time

import numpy as np

from harness import evaluate, problem, record

BASE = {"window": 2, "shrink": False, "negatives": 5, "power": 0.75, "sample": 0.0,
        "dim": 64, "epochs": 5}
GRID = {
    "bench": {},
    "w1": {"window": 1},
    "w5-shrink": {"window": 5, "shrink": True},
    "e10": {"epochs": 10},
    "neg15": {"negatives": 15},
    "dim128": {"dim": 128},
    "sample1e-4": {"sample": 1e-4},
    "w1-e10": {"window": 1, "epochs": 10},
    "e20": {"epochs": 20},
    "w1-e20": {"window": 1, "epochs": 20},
}


def train_gensim(prob, st, seed=42):
    from gensim.models import Word2Vec

    v = prob.vocab_size
    sentences = [[str(int(s)) for s in p] for p in prob.train]
    start = time.perf_counter()
    model = Word2Vec(sentences, vector_size=st["dim"], window=st["window"],
                     shrink_windows=st["shrink"], sg=1, hs=0, negative=st["negatives"],
                     ns_exponent=st["power"], sample=st["sample"], epochs=st["epochs"],
                     min_count=1, workers=2, seed=seed)
    wall = time.perf_counter() - start
    t = np.zeros((v + 1, st["dim"]), np.float32)
    c = np.zeros_like(t)
    rows = np.array([int(k) for k in model.wv.index_to_key])
    t[rows] = model.wv.vectors
    c[rows] = model.syn1neg
    return t, c, wall


if __name__ == "__main__":
    from helpers.baselines import EmbeddingScorer
    from helpers.fast_sgns import next_song_tables

    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", nargs="*", default=["full"])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--grid", nargs="*", default=list(GRID))
    args = ap.parse_args()
    for pname in args.problems:
        for s in args.seeds:
            prob = problem(pname, s)
            for g in args.grid:
                st = {**BASE, **GRID[g]}
                if pname == "seed200" and "epochs" not in GRID[g]:
                    st["epochs"] = 20
                t, c, wall = train_gensim(prob, st)
                t2, c2 = next_song_tables(t, c, prob.counts, st["power"])
                for sname, sc in (("dot+noise", EmbeddingScorer(t2, c2, "dot")),
                                  ("dot", EmbeddingScorer(t, c, "dot")),
                                  ("cosine", EmbeddingScorer(t, None, "cosine"))):
                    res = evaluate(lambda idx: sc.scores(prob.queries[idx]), prob)
                    record(f"gensim-{g} [{sname}]", prob, res, kind="gensim",
                           spec=",".join(f"{k}={v}" for k, v in GRID[g].items()) or "bench",
                           train_s=wall)
