"""Question 2: train SGNS variants and score them. Usage:
run_variants.py NAME [NAME ...] [--problems full seed200] [--seeds 0 1]
NAME is a key of VARIANTS below. Each run appends rows to results.jsonl."""
import argparse
import json
from dataclasses import asdict

import numpy as np

from harness import BENCH

from harness import SPLIT_SEEDS, evaluate, problem, record
from variants import score_factory, train, variant

V = variant
VARIANTS = {
    # the reference SGNS (helpers.fast_sgns.REFERENCE_SETTINGS) re-implemented here
    "ref": V(),
    "ref-bias": V(bias=True),
    "fwd-w1": V(direction="forward", window=1),
    "fwd-w2": V(direction="forward", window=2),
    "fwd-w2-bias": V(direction="forward", window=2, bias=True),
    "fwd-w3-inv": V(direction="forward", window=3, reach="inverse"),
    "struct-w2": V(positional=True),
    "struct-w2-bias": V(positional=True, bias=True),
    "struct-fwd-w3": V(positional=True, direction="forward", window=3),
    "struct-fwd-w5": V(positional=True, direction="forward", window=5),
    "sess-k2": V(kind="session", context=2),
    "sess-k3": V(kind="session", context=3),
    "sess-k5": V(kind="session", context=5),
    "sess-k5-bias": V(kind="session", context=5, bias=True),
    "sess-k10": V(kind="session", context=10),
    "sess-k5-shared": V(kind="session", context=5, slot_tables=False, decay=0.5),
    "sess-k5-wide": V(kind="session", context=5, wide=True, bias=True),
    "sess-k5-softmax": V(kind="session", context=5, loss="softmax", group=1024, negatives=128),
    "sess-k5-softmax-bias": V(kind="session", context=5, loss="softmax", group=1024,
                              negatives=128, bias=True),
    "sess-k5-softmax-wide": V(kind="session", context=5, loss="softmax", group=1024,
                              negatives=128, bias=True, wide=True),
    "sess-k5-softmax-ng3": V(kind="session", context=5, loss="softmax", group=1024,
                             negatives=128, bias=True, ngram=3),
    "sess-k5-softmax-ng2": V(kind="session", context=5, loss="softmax", group=1024,
                             negatives=128, bias=True, ngram=2),
    "sess-k5-ng3": V(kind="session", context=5, bias=True, ngram=3),
    "sess-k10-softmax": V(kind="session", context=10, loss="softmax", group=1024,
                          negatives=128, bias=True),
    "sess-k3-softmax": V(kind="session", context=3, loss="softmax", group=1024,
                         negatives=128, bias=True),
    "sess-k5-shared-softmax": V(kind="session", context=5, slot_tables=False, decay=0.5,
                                loss="softmax", group=1024, negatives=1024, bias=True),
    # the winning family: session model, sampled softmax with 1024 shared negatives
    "sess5-sm1024": V(kind="session", context=5, loss="softmax", group=1024,
                      negatives=1024, bias=True),
    "ref-wide": V(wide=True, bias=True),
    "ref-softmax": V(loss="softmax", group=1024, negatives=128),
    "fwd-w1-softmax": V(direction="forward", window=1, loss="softmax", group=1024,
                        negatives=128),
}

SCORINGS = {  # scoring name -> kwargs of score_factory (those that apply)
    "dot+noise": {},
    "dot": {"noise": False},
}


SAVE = BENCH / "results" / "experiments"


def save(name, prob, tr):
    """Tables of a trained variant for later rescoring (git-ignored bench/results/)."""
    SAVE.mkdir(parents=True, exist_ok=True)
    path = SAVE / f"{name}_{prob.name}_s{prob.split_seed}.npz".replace("/", "_")
    extra = {} if tr.H is None else {"H": tr.H}
    np.savez(path, T=tr.T, C=tr.C, b=tr.b, spec=json.dumps(asdict(tr.spec)), **extra)
    return path


def run(name, spec, prob, seed=42):
    tr = train(prob, spec, seed=seed)
    if not spec.wide:
        save(name, prob, tr)
    rows = []
    scorings = dict(SCORINGS)
    if spec.kind == "skipgram" and spec.positional and spec.window > 1:
        scorings["session+noise"] = {"session_scoring": True}
    if spec.kind == "session" and spec.context > 1:
        scorings["query-only+noise"] = {"context": 1}
    for sname, kw in scorings.items():
        res = evaluate(score_factory(tr, prob, **kw), prob)
        rows.append(record(f"{name} [{sname}]", prob, res, kind="sgns", spec=spec.label(),
                           train_s=tr.train_s, loss=tr.history))
    return tr, rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="+")
    ap.add_argument("--problems", nargs="*", default=["full", "seed200"])
    ap.add_argument("--seeds", nargs="*", type=int, default=list(SPLIT_SEEDS))
    ap.add_argument("--set", nargs="*", default=[], help="overrides key=value")
    ap.add_argument("--train-seed", type=int, default=42)
    args = ap.parse_args()
    for pname in args.problems:
        for s in args.seeds:
            prob = problem(pname, s)
            for name in args.names:
                spec = VARIANTS[name]
                over = {}
                for kv in args.set:
                    k, val = kv.split("=")
                    over[k] = type(getattr(spec, k))(eval(val))
                if pname == "seed200" and "epochs" not in over:
                    over["epochs"] = 20  # as bench_quality.py (50x fewer pairs per epoch)
                spec = variant(**{**spec.__dict__, **over})
                label = name + ("" if not args.set else "{" + ",".join(args.set) + "}")
                if args.train_seed != 42:
                    label += f"@seed{args.train_seed}"
                run(label, spec, prob, seed=args.train_seed)
