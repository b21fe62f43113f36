"""Simple anchors for next-song prediction (issue 14, question 1).

* co-occurrence counts (the library's ``CooccurrenceScorer``): window 1 and 2 on both
  sides, and "next song only" (directed, window 1);
* SR, sequential rules (Ludewig & Jannach 2018): a -> b whenever b follows a within
  ``window`` steps of a training playlist, weighted 1/gap; ranks by the last song only;
* SKNN / V-SKNN (Ludewig & Jannach 2018): the current session (the last ``k`` songs of
  the held-out playlist, query included) is compared with training "sessions" by the
  cosine of their song sets; the ``neighbours`` most similar vote for their songs with
  their similarity. Yes.com playlists are long radio logs (median 190 songs), so the
  training sessions are the playlists cut into pieces of ``segment`` songs. V-SKNN weights
  the current session's songs linearly by recency (most recent = 1). There are no
  timestamps, so there is no "most recent m sessions" sample: every session that shares
  a song is a candidate;
* SEQ-KNN (sequence-aware kNN over occurrences; our own adaptation in the spirit of
  S-SKNN/SF-SKNN): every training occurrence of the query song is a neighbour, weighted by
  ``1 + beta * overlap`` where ``overlap`` counts the current session's previous ``k - 1``
  songs among the ``k - 1`` songs before that occurrence; each neighbour votes for the
  songs after it, weighted 1/gap. With ``beta = 0`` it is SR.

Every builder returns ``score_fn_factory(prob) -> score_fn(case_ids) -> (B, V+1)``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from harness import Problem


def _flat(train):
    lengths = np.array([p.size for p in train], np.int64)
    flat = np.concatenate(train).astype(np.int64)
    owner = np.repeat(np.arange(len(train)), lengths)
    return flat, owner


def sr_matrix(train, v: int, window: int, gap_weight: str = "inv") -> sparse.csr_matrix:
    """Directed a -> b counts within ``window`` steps, weight 1/gap (or 1), CSR (V+1, V+1)."""
    flat, owner = _flat(train)
    rows, cols, vals = [], [], []
    for g in range(1, window + 1):
        same = owner[:-g] == owner[g:]
        rows.append(flat[:-g][same])
        cols.append(flat[g:][same])
        vals.append(np.full(int(same.sum()), 1.0 / g if gap_weight == "inv" else 1.0))
    m = sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(v + 1, v + 1)).tocsr()
    m.sum_duplicates()
    return m


def sr(window: int = 3):
    def factory(prob: Problem):
        m = sr_matrix(prob.train, prob.vocab_size, window)
        return lambda idx: m[prob.queries[idx]].toarray().astype(np.float32)
    return factory


def cooc(window: int, directed: bool = False):
    from helpers.baselines import CooccurrenceScorer

    def factory(prob: Problem):
        s = CooccurrenceScorer(prob.train, prob.vocab_size, window=window, directed=directed)
        return lambda idx: s.scores(prob.queries[idx])
    return factory


def _segments(train, segment):
    if segment is None:
        return train
    out = []
    for p in train:
        out += [p[i:i + segment] for i in range(0, p.size, segment) if p[i:i + segment].size]
    return out


def sknn(k: int = 10, neighbours: int = 100, segment: int | None = 20,
         decay: bool = False):
    """SKNN (``decay=False``) or V-SKNN (``decay=True``); see the module docstring."""
    def factory(prob: Problem):
        v = prob.vocab_size
        segs = _segments(prob.train, segment)
        lens = np.array([s.size for s in segs])
        rows = np.repeat(np.arange(len(segs)), lens)
        m = sparse.csr_matrix((np.ones(rows.size, np.float32),
                               (rows, np.concatenate(segs))), shape=(len(segs), v + 1))
        m.data[:] = 1.0  # set semantics (duplicates were summed)
        size = np.asarray((m > 0).sum(axis=1)).ravel().astype(np.float32)
        mt = m.T.tocsr()  # (V+1, n_segments)

        def fn(idx):
            sess = prob.sessions[idx][:, -k:]
            b = sess.shape[0]
            # Recency weight per column: most recent = 1, linear down to 1/k.
            w = (np.arange(1, k + 1) / k).astype(np.float32) if decay else \
                np.ones(k, np.float32)
            r, c = np.nonzero(sess)
            # A repeated song counts once, with its most recent (largest) weight.
            key = r.astype(np.int64) * (v + 1) + sess[r, c]
            _, last = np.unique(key[::-1], return_index=True)
            last = key.size - 1 - last
            r, c = r[last], c[last]
            s = sparse.csr_matrix((w[c], (r, sess[r, c])), shape=(b, v + 1))
            n_items = np.diff(s.indptr).astype(np.float32)
            sims = (s @ mt).tocsr()                     # (B, n_segments)
            rr, cc, vv = [], [], []
            for i in range(b):
                lo, hi = sims.indptr[i], sims.indptr[i + 1]
                if lo == hi:
                    continue
                cand = sims.indices[lo:hi]
                val = sims.data[lo:hi] / np.sqrt(n_items[i] * size[cand])
                if cand.size > neighbours:
                    top = np.argpartition(-val, neighbours - 1)[:neighbours]
                    cand, val = cand[top], val[top]
                rr.append(np.full(cand.size, i))
                cc.append(cand)
                vv.append(val)
            nb = sparse.csr_matrix((np.concatenate(vv), (np.concatenate(rr),
                                                         np.concatenate(cc))),
                                   shape=(b, len(segs)))
            return (nb @ m).toarray().astype(np.float32)
        return fn
    return factory


def seqknn(k: int = 5, beta: float = 1.0, window: int = 3):
    """SEQ-KNN: occurrences of the query, weighted by how much their preceding songs
    overlap the current session; see the module docstring."""
    def factory(prob: Problem):
        v = prob.vocab_size
        flat, owner = _flat(prob.train)
        n = flat.size
        order = np.argsort(flat, kind="stable")
        starts = np.searchsorted(flat[order], np.arange(v + 2))
        # Songs before each position in its playlist (0 where it leaves the playlist).
        before = np.zeros((n, max(k - 1, 1)), np.int64)
        for j in range(1, k):
            ok = np.zeros(n, bool)
            ok[j:] = owner[j:] == owner[:-j]
            before[j:, j - 1] = np.where(ok[j:], flat[:-j], 0)
        after = np.zeros((n, window), np.int64)
        for g in range(1, window + 1):
            ok = np.zeros(n, bool)
            ok[:-g] = owner[:-g] == owner[g:]
            after[:-g, g - 1] = np.where(ok[:-g], flat[g:], 0)
        gw = 1.0 / np.arange(1, window + 1)

        def fn(idx):
            out = np.zeros((idx.size, v + 1), np.float32)
            for r, i in enumerate(idx):
                q = prob.queries[i]
                occ = order[starts[q]:starts[q + 1]]
                if occ.size == 0:
                    continue
                prev = prob.sessions[i][-k:-1] if k > 1 else np.zeros(0, np.int64)
                prev = prev[prev > 0]
                if k > 1 and prev.size:
                    ov = np.isin(before[occ], prev).sum(axis=1)
                else:
                    ov = np.zeros(occ.size)
                wt = 1.0 + beta * ov
                aft = after[occ]
                vals = (wt[:, None] * gw[None, :]).ravel()
                cols = aft.ravel()
                keep = cols > 0
                out[r] = np.bincount(cols[keep], vals[keep], minlength=v + 1)
            return out
        return fn
    return factory
