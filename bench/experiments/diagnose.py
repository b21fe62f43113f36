"""Question 3: where the anchors' advantage comes from. For one problem, split the cases
by whether the exact transition was seen in training (bigram q -> a, trigram
prev, q -> a, 4-gram) and report HR@10 per bucket for anchors and saved SGNS variants;
then log-linear mixtures of a saved variant with an anchor.

Usage: diagnose.py PROBLEM SEED SAVED_VARIANT [SAVED_VARIANT ...]
(saved variants: names as run_variants.py wrote them, e.g. "sess-k5-softmax-bias")."""
import json
import sys

import numpy as np

import anchors as A
from harness import BENCH, evaluate, problem, record
from variants import Spec, Trained, score_factory


def load_saved(name, prob):
    base = "full" if prob.name == "full20k" else prob.name   # same split, more cases
    path = BENCH / "results" / "experiments" / f"{name}_{base}_s{prob.split_seed}.npz"
    z = np.load(path)
    spec = Spec(**json.loads(str(z["spec"])))
    return Trained(spec, z["T"], z["C"], z["b"], None, z["H"] if "H" in z else None,
                   float("nan"), [], [])


def seen_buckets(prob):
    flat = np.concatenate(prob.train).astype(np.int64)
    owner = np.repeat(np.arange(len(prob.train)), [p.size for p in prob.train])
    v1 = prob.vocab_size + 1
    out = {}
    for n in (2, 3, 4):
        ok = np.ones(flat.size - n + 1, bool)
        key = np.zeros(flat.size - n + 1, np.int64)
        for j in range(n):
            ok &= owner[j:flat.size - n + 1 + j] == owner[:flat.size - n + 1]
            # A rolling polynomial key; collisions only merge buckets, rare at 2**63.
            key = key * v1 + flat[j:flat.size - n + 1 + j]
        train_keys = np.unique(key[ok])
        hist = prob.sessions[:, prob.sessions.shape[1] - (n - 1):]
        ck = np.zeros(prob.queries.size, np.int64)
        valid = (hist > 0).all(axis=1)
        for j in range(n - 1):
            ck = ck * v1 + hist[:, j]
        ck = ck * v1 + prob.answers
        out[n] = valid & np.isin(ck, train_keys)
    return out


if __name__ == "__main__":
    pname, seed, *saved = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
    prob = problem(pname, seed)
    b = seen_buckets(prob)
    bucket = np.where(b[4], "4-gram seen", np.where(b[3], "trigram seen (not 4)",
                      np.where(b[2], "bigram seen (not 3)", "transition unseen")))
    names = ["4-gram seen", "trigram seen (not 4)", "bigram seen (not 3)", "transition unseen"]
    print(f"{prob.key}: " + ", ".join(f"{n} {np.mean(bucket == n):.3f}" for n in names))
    fns = {"cooc-w2": A.cooc(2)(prob), "sr-w5": A.sr(5)(prob),
           "seqknn-k10-b2": A.seqknn(10, 2.0)(prob)}
    for s in saved:
        fns[s] = score_factory(load_saved(s, prob), prob)
    ranks = {}
    for name, fn in fns.items():
        r = evaluate(fn, prob, per_case=True)
        ranks[name] = r["rank"]
        hits = r["rank"] > 0
        print(f"{name:34s} HR@10 {hits.mean():.4f} | " + " | ".join(
            f"{n}: {hits[bucket == n].mean():.3f}" for n in names), flush=True)
    # Log-linear mixtures: saved variant + weight * log(1 + anchor score).
    for s in saved:
        for anchor in ("sr-w5", "seqknn-k10-b2"):
            for w in (0.5, 1.0):
                f1, f2 = fns[s], fns[anchor]
                res = evaluate(lambda idx: f1(idx) + w * np.log1p(f2(idx)), prob)
                record(f"mix {s} + {w} log(1+{anchor})", prob, res, kind="mix")
