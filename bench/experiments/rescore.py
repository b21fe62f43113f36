"""Rescore saved variants and anchors on a larger case sample (default full20k), with a
paired comparison of every method against a reference method.

Usage: rescore.py SEED REF_METHOD [SAVED_VARIANT ...] [--problem full20k]
Methods named like the anchors in run_anchors.py; saved variants as run_variants.py saved
them (trained on the "full" split of that seed, which "full20k" shares)."""
import argparse

import numpy as np

from diagnose import load_saved
from harness import evaluate, problem, record
from run_anchors import ANCHORS
from variants import score_factory

BEST_ANCHORS = ["cooc-w1", "cooc-w2", "cooc-next", "sr-w3", "sr-w5", "vsknn-k10-seg20",
                "vsknn-k10-seg50", "sknn-k5-seg20", "seqknn-k5-b4", "seqknn-k10-b2"]

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("seed", type=int)
    ap.add_argument("ref")
    ap.add_argument("saved", nargs="*")
    ap.add_argument("--problem", default="full20k")
    ap.add_argument("--anchors", nargs="*", default=BEST_ANCHORS)
    ap.add_argument("--prior-weight", type=float, default=1.0,
                    help="also score each saved variant + w * log(1 + SR w5)")
    args = ap.parse_args()
    prob = problem(args.problem, args.seed)
    train_prob = problem("full", args.seed)
    ranks = {}
    for name in args.anchors:
        r = evaluate(ANCHORS[name](prob), prob, per_case=True)
        ranks[name] = r.pop("rank")
        record(name, prob, r, kind="anchor")
    sr = ANCHORS["sr-w5"](prob) if args.prior_weight else None
    for name in args.saved:
        tr = load_saved(name, train_prob)
        fn = score_factory(tr, prob)
        r = evaluate(fn, prob, per_case=True)
        ranks[name] = r.pop("rank")
        record(f"{name} [dot+noise]", prob, r, kind="sgns", spec=tr.spec.label())
        if sr is not None:
            w = args.prior_weight
            r = evaluate(lambda idx: fn(idx) + w * np.log1p(sr(idx)), prob, per_case=True)
            mix = f"mix {name} + {w:g} log(1+sr-w5)"
            ranks[mix] = r.pop("rank")
            record(mix, prob, r, kind="mix")
    ref = ranks[args.ref] > 0
    print(f"paired against {args.ref} (HR@10 {ref.mean():.4f}), {ref.size} cases:")
    for name, rk in ranks.items():
        hit = rk > 0
        d = hit.astype(float) - ref
        se = d.std(ddof=1) / np.sqrt(d.size)
        print(f"  {name:44s} HR@10 {hit.mean():.4f}  diff {d.mean():+.4f} +- {se:.4f} (1 se)"
              f"  wins {int((hit & ~ref).sum())} losses {int((~hit & ref).sum())}")
