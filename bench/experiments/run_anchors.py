"""Question 1: anchors on every problem. Usage: run_anchors.py [problem ...] [--only NAME]."""
import argparse

import anchors as A
from harness import SPLIT_SEEDS, evaluate, problem, record

ANCHORS = {
    "cooc-w1": A.cooc(1), "cooc-w2": A.cooc(2), "cooc-next": A.cooc(1, directed=True),
    "sr-w2": A.sr(2), "sr-w3": A.sr(3), "sr-w5": A.sr(5), "sr-w10": A.sr(10),
    "sknn-k1-seg20": A.sknn(1, 100, 20), "sknn-k5-seg20": A.sknn(5, 100, 20),
    "sknn-k10-seg20": A.sknn(10, 100, 20), "vsknn-k10-seg20": A.sknn(10, 100, 20, True),
    "vsknn-k10-seg50": A.sknn(10, 100, 50, True), "vsknn-k10-nb500-seg20": A.sknn(10, 500, 20, True),
    "sknn-k20-playlist": A.sknn(20, 100, None),
    "seqknn-k3-b1": A.seqknn(3, 1.0), "seqknn-k5-b1": A.seqknn(5, 1.0),
    "seqknn-k5-b4": A.seqknn(5, 4.0), "seqknn-k10-b2": A.seqknn(10, 2.0),
}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("problems", nargs="*", default=["full", "seed200"])
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--seeds", nargs="*", type=int, default=list(SPLIT_SEEDS))
    args = ap.parse_args()
    for name in args.problems:
        for seed in args.seeds:
            prob = problem(name, seed)
            for variant, factory in ANCHORS.items():
                if args.only and variant not in args.only:
                    continue
                record(variant, prob, evaluate(factory(prob), prob), kind="anchor")
