"""Shared pieces of the issue-14 experiments: problems (split + cases with their session),
evaluation of any score function, and a results log.

A *problem* is one of the bench's two settings (``full``: every yes_complete playlist,
5,000 sampled held-out cases; ``seed200``: the first 200 playlists, every held-out case)
with one split seed. Its cases are exactly ``bench/common.split``'s (same split, same
``heldout_pairs`` filter, same sample for split seed 0, the sample drawn with the split
seed otherwise), each with the songs before it in its held-out playlist
(``sessions`` int32 (M, L), right-aligned, last column = the query, 0 = padding or a song
unknown to the training vocabulary).

Ranking uses ``helpers.evaluate``'s masking and tie rule (lower index first), so a
score function that ignores the session gives the same HR@10 as ``hit_rate_mrr``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import FULL_EVAL_CASES, SEED_PLAYLISTS, TEST_FRACTION, load_playlists  # noqa: E402

LOG = HERE / "results.jsonl"
# "full20k": the same split as "full" with 20,000 sampled cases (a 5,000-case HR@10 near
# 0.15 has a standard error of about 0.005; the larger sample halves it).
SETTINGS = {"full": (None, FULL_EVAL_CASES), "seed200": (SEED_PLAYLISTS, None),
            "full20k": (None, 20_000)}
SPLIT_SEEDS = (0, 1)
SESSION_LEN = 50


@dataclass
class Problem:
    name: str
    split_seed: int
    train: list            # encoded training playlists, int32 arrays of 1..V
    vocab_size: int
    counts: np.ndarray     # int64 (V+1,)
    queries: np.ndarray    # int32 (M,)
    answers: np.ndarray    # int32 (M,)
    sessions: np.ndarray   # int32 (M, SESSION_LEN), last column == queries

    @property
    def key(self) -> str:
        return f"{self.name}/s{self.split_seed}"


_CACHE: dict = {}


def problem(name: str, split_seed: int = 0, session_len: int = SESSION_LEN) -> Problem:
    key = (name, split_seed, session_len)
    if key in _CACHE:
        return _CACHE[key]
    from helpers.evaluate import split_and_encode

    limit, max_cases = SETTINGS[name]
    sp = split_and_encode(load_playlists(limit), TEST_FRACTION, split_seed)
    counts = np.asarray(sp.vocab.counts)
    known = {raw: i for raw, i in sp.vocab.raw_to_idx().items() if counts[i] > 0}
    q, a, sess = [], [], []
    for p in sp.test_raw:
        enc = np.array([known.get(int(x), 0) for x in p], dtype=np.int32)
        for t in range(len(enc) - 1):
            if enc[t] and enc[t + 1] and enc[t] != enc[t + 1]:
                q.append(enc[t])
                a.append(enc[t + 1])
                row = np.zeros(session_len, np.int32)
                piece = enc[max(0, t - session_len + 1):t + 1]
                row[session_len - piece.size:] = piece
                sess.append(row)
    q = np.array(q, np.int32)
    a = np.array(a, np.int32)
    sess = np.array(sess, np.int32)
    # Same cases as the library's heldout_pairs (and so as bench_quality.py).
    assert np.array_equal(q, sp.queries) and np.array_equal(a, sp.answers), "case mismatch"
    if max_cases and q.size > max_cases:
        pick = np.sort(np.random.default_rng(split_seed).choice(q.size, max_cases,
                                                                replace=False))
        q, a, sess = q[pick], a[pick], sess[pick]
    prob = Problem(name, split_seed, [np.asarray(x, np.int32) for x in sp.train_encoded],
                   sp.vocab.size, counts, q, a, sess)
    _CACHE[key] = prob
    return prob


def evaluate(score_fn, prob: Problem, k: int = 10, batch: int | None = None,
             per_case: bool = False) -> dict:
    """HR@k, MRR@k, coverage of ``score_fn(case_ids int64 (B,)) -> float (B, V+1)``;
    with ``per_case`` also ``rank`` int64 (M,): the answer's rank, 0 when beyond k."""
    from helpers.evaluate import _masked, _top_k_masked, auto_batch

    v = prob.vocab_size
    batch = batch or auto_batch(v)
    m = prob.queries.size
    hits, recip = 0, 0.0
    seen = np.zeros(v + 1, bool)
    rank = np.zeros(m, np.int64)
    t0 = time.perf_counter()
    for start in range(0, m, batch):
        idx = np.arange(start, min(m, start + batch))
        s, _ = _masked(score_fn(idx), prob.queries[idx])
        top = _top_k_masked(s, k)
        match = top == prob.answers[idx][:, None]
        found = match.any(axis=1)
        ranks = np.argmax(match, axis=1)[found] + 1
        rank[idx[found]] = ranks
        hits += int(found.sum())
        recip += float((1.0 / ranks).sum())
        seen[top.ravel()] = True
    out = {"hr10": hits / m, "mrr10": recip / m, "coverage": int(seen.sum()) / v,
           "cases": m, "eval_s": time.perf_counter() - t0}
    if per_case:
        out["rank"] = rank
    return out


def query_scorer(scorer):
    """Adapt a ``helpers`` Scorer (scores(queries)) to a case score function."""
    def fn(prob):
        return lambda idx: scorer.scores(prob.queries[idx])
    return fn


def load_avg() -> float:
    return os.getloadavg()[0]


def record(variant: str, prob: Problem, res: dict, **extra) -> dict:
    """Append one result row to results.jsonl and print it."""
    row = {"variant": variant, "problem": prob.key, **extra, **res,
           "load1": round(load_avg(), 2), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(LOG, "a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")
    extra_s = f" train {extra['train_s']:.1f}s" if "train_s" in extra else ""
    print(f"{prob.key:12s} {variant:40s} HR@10 {res['hr10']:.4f} MRR@10 {res['mrr10']:.4f}"
          f" cov {res['coverage']:.3f}{extra_s} (eval {res['eval_s']:.1f}s, "
          f"load {row['load1']})", flush=True)
    return row
