"""Question 4: time to quality. Trains one variant with a snapshot after every epoch and
gensim with its best grid setting, back to back on the same problem, and prints HR@10
against cumulative training seconds; then the two ratios:

* t(variant first reaches gensim's best HR@10) / t(gensim's best run);
* t(variant's full run) / t(gensim's best run).

Usage: ttq.py VARIANT GENSIM_GRID_NAME [--problem full] [--seed 0] [--set k=v ...]"""
import argparse

from harness import evaluate, problem, record
from run_gensim import BASE, GRID, train_gensim
from run_variants import VARIANTS
from variants import score_factory, train, variant

if __name__ == "__main__":
    from helpers.baselines import EmbeddingScorer
    from helpers.fast_sgns import next_song_tables

    ap = argparse.ArgumentParser()
    ap.add_argument("variant")
    ap.add_argument("gensim")
    ap.add_argument("--problem", default="full")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[])
    args = ap.parse_args()
    prob = problem(args.problem, args.seed)
    spec = VARIANTS[args.variant]
    over = {k: type(getattr(spec, k))(eval(v)) for k, v in (kv.split("=") for kv in args.set)}
    spec = variant(**{**spec.__dict__, **over})
    st = {**BASE, **GRID[args.gensim]}
    t, c, g_wall = train_gensim(prob, st)
    t2, c2 = next_song_tables(t, c, prob.counts, st["power"])
    sc = EmbeddingScorer(t2, c2, "dot")
    g = evaluate(lambda idx: sc.scores(prob.queries[idx]), prob)
    record(f"ttq gensim-{args.gensim} [dot+noise]", prob, g, kind="ttq", train_s=g_wall)
    tr = train(prob, spec, snapshots=True)
    first = None
    for e, (secs, T, C, b) in enumerate(tr.snapshots, 1):
        r = evaluate(score_factory(tr, prob, T=T, C=C, b=b), prob)
        record(f"ttq {args.variant}{over or ''} epoch {e}", prob, r, kind="ttq", train_s=secs)
        if first is None and r["hr10"] >= g["hr10"]:
            first = secs
    print(f"gensim-{args.gensim}: HR@10 {g['hr10']:.4f} in {g_wall:.1f} s; "
          f"{args.variant}: HR@10 {r['hr10']:.4f} in {tr.train_s:.1f} s")
    if first is not None:
        print(f"ratio, time to gensim's best HR@10: {first / g_wall:.2f}x "
              f"({first:.1f} s vs {g_wall:.1f} s)")
    print(f"ratio, full run vs gensim's best run: {tr.train_s / g_wall:.2f}x")
