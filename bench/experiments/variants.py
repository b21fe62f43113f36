"""SGNS variants that change what the model predicts (issue 14, question 2).

One generic negative-sampling model covers them all. Every training example has

* up to ``K`` *input* songs, each read from an input table block (index
  ``block * (V+1) + song``; song 0 = absent, contributes nothing), summed into ``h``
  (with fixed per-slot weights ``slot_weight``);
* one *output* song read from an output table block, and ``negatives`` noise songs from
  the same block (``count ** power`` noise, an alias table, drawn in the graph from
  ``(seed, step)``; groups of ``group`` consecutive examples share them and their block);
* an optional learned per-song bias ``b`` (one per output row) added to the logit.

logit(x) = h . C[x] (+ b[x]); loss = softplus(-z_pos) + sum softplus(z_neg) (SGNS).

Variants (``Spec``):

* ``kind="skipgram"``: one input song, the pairs of a window (``direction="both"`` is
  the reference SGNS; ``"forward"`` keeps only songs *after* the input), pooled into one
  output table or, with ``positional=True``, one output table per relative offset
  (structured skip-gram, Ling et al. 2015). ``reach="inverse"`` keeps a pair at gap o with
  probability 1/o (distance weighting, cheaper than counting it 1/o times).
* ``kind="session"``: the ``context`` songs before position t+1 (t, t-1, ...) are the
  input, each slot with its own input table (``slot_tables=True``, a log-bilinear model
  in the spirit of Mnih & Hinton 2007) or one shared table; the output is the song at t+1.

Scoring (``score_factory``): ``h(query or session) . C_next[x] + b[x] + power * log
count(x)`` (the noise correction; ``noise=False`` leaves it out). For a positional
skip-gram, ``session_scoring=True`` sums the offset tables' logits of the previous
songs (product of experts; trained separately, combined at test time).

Gradients are written out by hand and applied with lazy Adam (only touched rows, as
``helpers.fast_sgns``); ``check_gradients`` compares them with autodiff.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from harness import Problem


@dataclass(frozen=True)
class Spec:
    kind: str = "skipgram"          # "skipgram" | "session"
    window: int = 2
    direction: str = "both"         # skipgram: "both" | "forward"
    positional: bool = False        # skipgram: one output table per offset
    reach: str = "fixed"            # skipgram: "fixed" | "inverse" (keep gap o w.p. 1/o)
    context: int = 1                # session: previous songs used as input
    slot_tables: bool = True        # session: one input table per slot
    decay: float = 0.0              # session, shared table: slot j weighted 1/(1+decay*j)
    slot_dropout: float = 0.0       # session: drop each earlier song (not the query) w.p.
    bias: bool = False
    loss: str = "sgns"              # "sgns" | "softmax" (sampled softmax, logQ-corrected)
    wide: bool = False              # learned weight per observed (query, next) pair
    ngram: int = 0                  # session: hashed direct n-gram weights, orders 2..ngram
    hash_bits: int = 22             # size of the hashed n-gram table (2 ** hash_bits)
    dim: int = 64
    negatives: int = 5
    group: int = 8
    power: float = 0.75
    lr: float = 0.01
    lr_decay: bool = True
    batch: int = 8192
    epochs: int = 5
    spe: int = 32                   # steps per tf.function call

    def label(self) -> str:
        base = Spec()
        diff = {k: v for k, v in asdict(self).items() if getattr(base, k) != v}
        return ",".join(f"{k}={v}" for k, v in diff.items()) or "reference"


# --------------------------------------------------------------------------- examples


def _flat(train):
    lengths = np.array([p.size for p in train], np.int64)
    flat = np.concatenate(train).astype(np.int32)
    owner = np.repeat(np.arange(len(train), dtype=np.int32), lengths)
    return flat, owner


def offsets(spec: Spec) -> list[int]:
    fwd = list(range(1, spec.window + 1))
    return fwd if spec.direction == "forward" else [-o for o in reversed(fwd)] + fwd


def n_blocks(spec: Spec) -> tuple[int, int]:
    """(input blocks, output blocks)."""
    if spec.kind == "session":
        return (spec.context if spec.slot_tables else 1), 1
    return 1, (len(offsets(spec)) if spec.positional else 1)


def slot_weights(spec: Spec) -> np.ndarray:
    k = spec.context if spec.kind == "session" else 1
    if spec.kind == "session" and not spec.slot_tables:
        return (1.0 / (1.0 + spec.decay * np.arange(k))).astype(np.float32)
    return np.ones(k, np.float32)


def epoch_examples(spec: Spec, flat, owner, v: int, rng):
    """One epoch: ``ins`` int32 (N, K), ``outs`` int32 (N,), ``blk`` int32 (N/g,).

    N is a multiple of ``group``; the rows of a group share an output block. Blocks are
    filled by wrapping around their own shuffled rows, then groups are shuffled.
    """
    n = flat.size
    per_block = []   # (out_block, ins (n, K), outs (n,))
    if spec.kind == "session":
        k = spec.context
        t = np.flatnonzero(owner[:-1] == owner[1:])           # positions with a next song
        ins = np.zeros((t.size, k), np.int32)
        for j in range(k):
            src = t - j
            ok = (src >= 0) & (owner[np.maximum(src, 0)] == owner[t])
            blockj = j if spec.slot_tables else 0
            ins[:, j] = np.where(ok, flat[np.maximum(src, 0)] + blockj * (v + 1), 0)
        if spec.slot_dropout > 0 and k > 1:
            # Fresh every epoch: the model cannot lean on one earlier song alone.
            ins[:, 1:][rng.random((t.size, k - 1)) < spec.slot_dropout] = 0
        per_block.append((0, ins, flat[t + 1]))
    else:
        for b, o in enumerate(offsets(spec)):
            i = np.arange(max(0, -o), min(n, n - o))
            i = i[owner[i] == owner[i + o]]
            if spec.reach == "inverse" and abs(o) > 1:
                i = i[rng.random(i.size) < 1.0 / abs(o)]
            ob = b if spec.positional else 0
            per_block.append((ob, flat[i][:, None], flat[i + o] + ob * (v + 1)))
        if not spec.positional:
            ins = np.concatenate([p[1] for p in per_block])
            outs = np.concatenate([p[2] for p in per_block])
            per_block = [(0, ins, outs)]
    g = spec.group
    all_ins, all_outs, all_blk = [], [], []
    for ob, ins, outs in per_block:
        m = ins.shape[0]
        perm = rng.permutation(m)
        take = np.concatenate([perm, perm[: (-m) % g]]) if m % g else perm
        all_ins.append(ins[take])
        all_outs.append(outs[take])
        all_blk.append(np.full(take.size // g, ob, np.int32))
    ins = np.concatenate(all_ins)
    outs = np.concatenate(all_outs).astype(np.int32)
    blk = np.concatenate(all_blk)
    order = rng.permutation(blk.size)
    rows = (order[:, None] * g + np.arange(g)).ravel()
    return np.ascontiguousarray(ins[rows]), outs[rows], blk[order]


# --------------------------------------------------------------------------- model


class Model:
    """TF variables and the hand-written train step; see the module docstring."""

    def __init__(self, spec: Spec, v: int, noise: np.ndarray, seed: int,
                 pair_keys: np.ndarray | None = None):
        import tensorflow as tf

        from helpers.fast_sgns import alias_table

        self.spec, self.v, self.seed = spec, v, seed
        nin, nout = n_blocks(spec)
        d = spec.dim
        rng = np.random.default_rng([seed, 7])
        t0 = rng.uniform(-0.5 / d, 0.5 / d, size=(nin * (v + 1), d)).astype(np.float32)
        t0[:: v + 1] = 0.0  # row 0 of each block is padding
        self.T = tf.Variable(t0)
        self.C = tf.Variable(tf.zeros((nout * (v + 1), d)))
        self.b = tf.Variable(tf.zeros((nout * (v + 1), 1)))
        self.vars = [self.T, self.C] + ([self.b] if spec.bias else [])
        if spec.wide:
            # Sorted keys q * (V+1) + x of the observed training transitions; one weight
            # each, plus a last row for "never observed" that stays 0.
            self.keys = tf.constant(np.asarray(pair_keys, np.int64)[None, :])
            self.n_pairs = int(len(pair_keys))
            self.w = tf.Variable(tf.zeros((self.n_pairs + 1, 1)))
            self.vars.append(self.w)
        if spec.ngram:
            self.h = tf.Variable(tf.zeros((2 ** spec.hash_bits, 1)))
            self.vars.append(self.h)
        self.log_q = tf.constant(np.log(np.maximum(noise, 1e-30)).astype(np.float32))
        self.moments = [(tf.Variable(tf.zeros(x.shape)), tf.Variable(tf.zeros(x.shape)))
                        for x in self.vars]
        thr, ali = alias_table(noise[1:] / noise[1:].sum())
        self.thr, self.ali = tf.constant(thr), tf.constant(ali)
        self.slot_w = tf.constant(slot_weights(spec))
        self.step = tf.Variable(0, dtype=tf.int64)
        self.total = tf.Variable(1, dtype=tf.int64)
        self.loss_sum = tf.Variable(0.0, dtype=tf.float64)

    def negatives(self, n_groups):
        import tensorflow as tf

        seed = tf.stack([tf.constant(self.seed, tf.int64), self.step])
        shape = tf.stack([n_groups, self.spec.negatives])
        cols = tf.random.stateless_uniform(shape, seed, 0, self.v, dtype=tf.int32)
        u = tf.random.stateless_uniform(shape, seed + 1, dtype=tf.float32)
        return tf.where(u < tf.gather(self.thr, cols), cols, tf.gather(self.ali, cols)) + 1

    def forward(self, ins, outs, negs):
        """Loss pieces shared by the hand gradients and the autodiff check."""
        import tensorflow as tf

        mask = tf.cast(ins % (self.v + 1) != 0, tf.float32) * self.slot_w   # (B, K)
        rows = tf.gather(self.T, ins)                                      # (B, K, d)
        h = tf.einsum("bk,bkd->bd", mask, rows)
        c = tf.gather(self.C, outs)
        nv = tf.gather(self.C, negs)                                       # (G, k, d)
        g = self.spec.group
        hg = tf.reshape(h, [-1, g, self.spec.dim])
        z_pos = tf.reduce_sum(h * c, 1)
        z_neg = tf.einsum("Gid,Gkd->Gik", hg, nv)
        if self.spec.bias:
            z_pos += tf.gather(self.b, outs)[:, 0]
            z_neg += tf.gather(self.b, negs)[:, None, :, 0]
        if self.spec.wide:
            pi, ni = self.pair_index(ins, outs, negs)
            z_pos += tf.gather(self.w, pi)[:, 0]
            z_neg += tf.reshape(tf.gather(self.w, ni)[:, 0], tf.shape(z_neg))
        if self.spec.ngram:
            hp, hn = self.ngram_index(ins, outs, negs)         # (B, n), (G, g, k, n)
            z_pos += tf.reduce_sum(tf.gather(self.h, hp)[..., 0], -1)
            z_neg += tf.reduce_sum(tf.gather(self.h, hn)[..., 0], -1)
        return mask, h, c, nv, hg, z_pos, z_neg

    def ngram_index(self, ins, outs, negs):
        """Hashed rows of ``h`` for orders 2..ngram: (B, n) for the answers and
        (G, g, k, n) for the noise songs; see :func:`ngram_hash`."""
        import tensorflow as tf

        v1 = self.v + 1
        hist = tf.cast(ins[:, : self.spec.ngram - 1] % v1, tf.int64)    # (B, n)
        g = self.spec.group
        n = self.spec.ngram - 1
        hp = ngram_hash(hist, tf.cast(outs % v1, tf.int64)[:, None], self.spec.hash_bits, n)
        hist_g = tf.reshape(hist, [-1, g, 1, n])
        cand = tf.cast(negs % v1, tf.int64)[:, None, :, None]              # (G, 1, k, 1)
        hn = ngram_hash(hist_g, cand, self.spec.hash_bits, n)
        return hp, hn

    def pair_index(self, ins, outs, negs):
        """Row of ``w`` for every (query, output) and (query, noise) pair; the last row
        (never updated) when the pair was not observed in training."""
        import tensorflow as tf

        v1 = tf.constant(self.v + 1, tf.int64)
        q = tf.cast(ins[:, 0] % (self.v + 1), tf.int64)
        g = self.spec.group
        qn = tf.reshape(tf.repeat(tf.reshape(q, [-1, g, 1]), self.spec.negatives, axis=2),
                        [-1])
        nn = tf.reshape(tf.repeat(negs[:, None, :], g, axis=1), [-1])
        keys = tf.concat([q * v1 + tf.cast(outs % (self.v + 1), tf.int64),
                          qn * v1 + tf.cast(nn % (self.v + 1), tf.int64)], 0)
        pos = tf.searchsorted(self.keys, keys[None, :], out_type=tf.int32)[0]
        pos = tf.minimum(pos, self.n_pairs - 1)
        found = tf.gather(self.keys[0], pos) == keys
        idx = tf.where(found, pos, self.n_pairs)
        b = tf.shape(outs)[0]
        return idx[:b], idx[b:]

    def dlogits(self, z_pos, z_neg, outs, negs):
        """(loss, d loss / d z_pos (B,), d loss / d z_neg (G, g, k))."""
        import tensorflow as tf

        if self.spec.loss == "sgns":
            loss = tf.reduce_sum(tf.nn.softplus(-z_pos)) + tf.reduce_sum(tf.nn.softplus(z_neg))
            return loss, tf.sigmoid(z_pos) - 1.0, tf.sigmoid(z_neg)
        # Sampled softmax: logits minus log Q (the sampling distribution), noise rows
        # equal to the example's own answer masked out.
        g = self.spec.group
        lq_pos = tf.gather(self.log_q, outs % (self.v + 1))
        lq_neg = tf.gather(self.log_q, negs % (self.v + 1))[:, None, :]
        zp = tf.reshape(z_pos - lq_pos, [-1, g, 1])
        hit = tf.reshape(outs, [-1, g, 1]) == negs[:, None, :]
        zn = tf.where(hit, tf.constant(-1e9, tf.float32), z_neg - lq_neg)
        allz = tf.concat([zp, zn], 2)
        lse = tf.reduce_logsumexp(allz, 2, keepdims=True)
        p = tf.exp(allz - lse)
        loss = tf.reduce_sum(lse - zp)
        return loss, tf.reshape(p[:, :, 0] - 1.0, [-1]), p[:, :, 1:]

    def loss(self, ins, outs, negs):
        import tensorflow as tf

        *_, z_pos, z_neg = self.forward(ins, outs, negs)
        return self.dlogits(z_pos, z_neg, outs, negs)[0]

    def gradients(self, ins, outs, negs):
        """Summed loss and [(indices, row gradients)] per variable in ``self.vars``."""
        import tensorflow as tf

        mask, h, c, nv, hg, z_pos, z_neg = self.forward(ins, outs, negs)
        d = self.spec.dim
        loss, d_pos, d_neg = self.dlogits(z_pos, z_neg, outs, negs)       # (B,), (G, g, k)
        g_h = d_pos[:, None] * c + tf.reshape(tf.einsum("Gik,Gkd->Gid", d_neg, nv), [-1, d])
        g_t = mask[:, :, None] * g_h[:, None, :]                           # (B, K, d)
        g_c = d_pos[:, None] * h
        g_n = tf.reshape(tf.einsum("Gik,Gid->Gkd", d_neg, hg), [-1, d])
        ctx = tf.concat([outs, tf.reshape(negs, [-1])], 0)
        out = [(tf.reshape(ins, [-1]), tf.reshape(g_t, [-1, d])),
               (ctx, tf.concat([g_c, g_n], 0))]
        if self.spec.bias:
            g_bn = tf.reshape(tf.reduce_sum(d_neg, 1), [-1, 1])
            out.append((ctx, tf.concat([d_pos[:, None], g_bn], 0)))
        if self.spec.wide:
            pi, ni = self.pair_index(ins, outs, negs)
            idx = tf.concat([pi, ni], 0)
            gw = tf.concat([d_pos, tf.reshape(d_neg, [-1])], 0)
            # The "not observed" row is not a parameter: no gradient reaches it.
            gw = tf.where(idx == self.n_pairs, 0.0, gw)
            out.append((idx, gw[:, None]))
        if self.spec.ngram:
            hp, hn = self.ngram_index(ins, outs, negs)
            n = self.spec.ngram - 1
            idx = tf.concat([tf.reshape(hp, [-1]), tf.reshape(hn, [-1])], 0)
            gp = tf.reshape(tf.repeat(d_pos[:, None], n, 1), [-1])
            gn = tf.reshape(tf.repeat(d_neg[..., None], n, -1), [-1])
            # Orders whose history runs off the playlist hash to row 0, kept at 0.
            gv = tf.where(idx == 0, 0.0, tf.concat([gp, gn], 0))
            out.append((tf.cast(idx, tf.int32), gv[:, None]))
        return loss, out

    def train_step(self, ins, outs, blk):
        import tensorflow as tf

        negs = self.negatives(tf.shape(blk)[0]) + blk[:, None] * (self.v + 1)
        loss, grads = self.gradients(ins, outs, negs)
        lr = tf.constant(self.spec.lr, tf.float32)
        if self.spec.lr_decay:
            done = tf.cast(self.step, tf.float32) / tf.cast(self.total, tf.float32)
            lr = lr * tf.maximum(1.0 - done, 1e-4)
        t = tf.cast(self.step + 1, tf.float32)
        b1, b2, eps = 0.9, 0.999, 1e-7
        alpha = lr * tf.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        for var, (m, vv), (idx, gr) in zip(self.vars, self.moments, grads):
            rows, pos = tf.unique(idx)
            gsum = tf.math.unsorted_segment_sum(gr, pos, tf.shape(rows)[0])
            m_new = b1 * tf.gather(m, rows) + (1.0 - b1) * gsum
            v_new = b2 * tf.gather(vv, rows) + (1.0 - b2) * tf.square(gsum)
            m.scatter_update(tf.IndexedSlices(m_new, rows))
            vv.scatter_update(tf.IndexedSlices(v_new, rows))
            var.scatter_update(tf.IndexedSlices(
                tf.gather(var, rows) - alpha * m_new / (tf.sqrt(v_new) + eps), rows))
        # Padding rows stay zero (their gradient is masked, Adam moments stay 0).
        self.step.assign_add(1)
        self.loss_sum.assign_add(tf.cast(loss, tf.float64))


_P = (0x9E3779B97F4A7C15 - 2 ** 64, 0xC2B2AE3D27D4EB4F - 2 ** 64,
      0x165667B19E3779F9, 0x27D4EB2F165667C5)


def ngram_hash(hist, cand, bits: int, n: int):
    """Rows of the hashed n-gram table: for order j + 2 (j = 0..n-1) the history
    ``hist[..., :j+1]`` (most recent song first) followed by ``cand``. ``hist`` int64
    (..., n), ``cand`` int64 broadcastable to (..., 1). Returns int64 (..., n) in
    ``1 .. 2**bits - 1``, or 0 where the history has a 0 (runs off the playlist)."""
    import tensorflow as tf

    key = cand * _P[0] + 1
    keys, alive = [], None
    for j in range(n):
        hj = hist[..., j:j + 1]
        key = (key ^ (hj + j * _P[3])) * _P[1]
        key = key ^ tf.bitwise.right_shift(key, 29)
        ok = hj > 0
        alive = ok if alive is None else (alive & ok)
        mixed = tf.bitwise.right_shift(key * _P[2], 20) & (2 ** 40 - 1)
        row = tf.math.floormod(mixed, 2 ** bits - 1) + 1
        keys.append(tf.where(alive, row, tf.zeros_like(row)))
    return tf.concat(keys, -1)


def check_gradients(spec: Spec, v: int = 30, seed: int = 0) -> float:
    """Max abs difference between the hand gradients and autodiff on a random batch."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(v + 2, (v + 1) ** 2, size=v * 8))  # observed pairs
    model = Model(spec, v, np.r_[0.0, rng.random(v) + 0.5] / v, seed, keys)
    nin, nout = n_blocks(spec)
    model.T.assign(rng.normal(size=model.T.shape).astype(np.float32) * 0.3)
    model.C.assign(rng.normal(size=model.C.shape).astype(np.float32) * 0.3)
    model.b.assign(rng.normal(size=model.b.shape).astype(np.float32) * 0.3)
    if spec.wide:
        model.w.assign(rng.normal(size=model.w.shape).astype(np.float32) * 0.3)
    if spec.ngram:
        model.h.assign(rng.normal(size=model.h.shape).astype(np.float32) * 0.3)
    b = spec.group * 3
    k = spec.context if spec.kind == "session" else 1
    ins = rng.integers(0, v + 1, size=(b, k)) + rng.integers(0, nin, size=(b, k)) * (v + 1)
    blk = rng.integers(0, nout, size=b // spec.group)
    outs = rng.integers(1, v + 1, size=b) + np.repeat(blk, spec.group) * (v + 1)
    negs = rng.integers(1, v + 1, size=(b // spec.group, spec.negatives)) \
        + blk[:, None] * (v + 1)
    if spec.wide:  # make some examples' pairs observed ones
        q = ins[:, 0] % (v + 1)
        outs[::2] = keys[rng.integers(0, keys.size, b)][::2] % (v + 1) \
            + np.repeat(blk, spec.group)[::2] * (v + 1)
        ins[::2, 0] = keys[rng.integers(0, keys.size, b)][::2] // (v + 1)
        del q
    ins, outs, negs = (tf.constant(x.astype(np.int32)) for x in (ins, outs, negs))
    with tf.GradientTape() as tape:
        loss = model.loss(ins, outs, negs)
    auto = tape.gradient(loss, model.vars)
    _, hand = model.gradients(ins, outs, negs)
    worst = 0.0
    for var, a, (idx, g) in zip(model.vars, auto, hand):
        dense_a = tf.convert_to_tensor(a).numpy()
        dense_h = tf.math.unsorted_segment_sum(g, idx, dense_a.shape[0]).numpy()
        if spec.wide and var is model.w:
            dense_a[-1] = 0.0  # the "not observed" row of w is a constant, not a parameter
        if spec.ngram and var is model.h:
            dense_a[0] = 0.0   # row 0 of h ("no history") is a constant
        worst = max(worst, float(np.abs(dense_a - dense_h).max()))
    return worst


# --------------------------------------------------------------------------- training


@dataclass
class Trained:
    spec: Spec
    T: np.ndarray
    C: np.ndarray
    b: np.ndarray
    W: object       # wide: CSR (V+1, V+1) of the learned pair weights, else None
    H: object       # ngram: float32 (2 ** hash_bits,) hashed n-gram weights, else None
    train_s: float
    history: list
    snapshots: list  # (seconds, T, C, b) after each epoch when requested


def train(prob: Problem, spec: Spec, seed: int = 42, snapshots: bool = False) -> Trained:
    import keras  # noqa: F401  (TensorFlow start-up is not training time)
    import tensorflow as tf

    from helpers.fast_sgns import noise_weights

    v = prob.vocab_size
    flat, owner = _flat(prob.train)
    keys = None
    if spec.wide:
        t = np.flatnonzero(owner[:-1] == owner[1:])
        keys = np.unique(flat[t].astype(np.int64) * (v + 1) + flat[t + 1])
    model = Model(spec, v, noise_weights(prob.counts, spec.power), seed, keys)
    g = spec.group
    batch = spec.batch // g * g

    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.int32),
                                  tf.TensorSpec([None, None], tf.int32),
                                  tf.TensorSpec([None, None], tf.int32)])
    def run(ins, outs, blk):
        for s in tf.range(tf.shape(outs)[0]):
            model.train_step(ins[s], outs[s], blk[s])
        return model.step

    make = lambda e: epoch_examples(spec, flat, owner, v, np.random.default_rng([seed, e]))
    t0 = time.perf_counter()
    current = make(0)
    seconds = time.perf_counter() - t0
    steps_per_epoch = current[1].size // batch
    model.total.assign(max(1, steps_per_epoch) * spec.epochs)
    history, snaps = [], []
    for epoch in range(spec.epochs):
        nxt = {}
        worker = None
        if epoch + 1 < spec.epochs:
            worker = threading.Thread(target=lambda e=epoch + 1: nxt.update(x=make(e)))
            worker.start()
        start = time.perf_counter()
        ins, outs, blk = current
        s = outs.size // batch  # drop the ragged tail (< one batch)
        k = ins.shape[1]
        ins = ins[: s * batch].reshape(s, batch, k)
        outs = outs[: s * batch].reshape(s, batch)
        blk = blk[: s * batch // g].reshape(s, batch // g)
        model.loss_sum.assign(0.0)
        for a in range(0, s, spec.spe):
            run(tf.constant(ins[a:a + spec.spe]), tf.constant(outs[a:a + spec.spe]),
                tf.constant(blk[a:a + spec.spe]))
        if worker is not None:
            worker.join()
            current = nxt["x"]
        seconds += time.perf_counter() - start
        history.append(float(model.loss_sum.numpy()) / max(1, s * batch))
        if snapshots:
            snaps.append((seconds, model.T.numpy(), model.C.numpy(), model.b.numpy()[:, 0]))
    W = None
    if spec.wide:
        from scipy import sparse

        W = sparse.csr_matrix((model.w.numpy()[:-1, 0], (keys // (v + 1), keys % (v + 1))),
                              shape=(v + 1, v + 1))
    H = model.h.numpy()[:, 0] if spec.ngram else None
    return Trained(spec, model.T.numpy(), model.C.numpy(), model.b.numpy()[:, 0], W, H,
                   seconds, history, snaps)


# --------------------------------------------------------------------------- scoring


def score_factory(tr: Trained, prob: Problem, noise: bool = True,
                  session_scoring: bool = False, context: int | None = None,
                  T=None, C=None, b=None, prior=None, prior_weight: float = 0.0):
    """score_fn(case_ids) for a trained variant; see the module docstring.

    ``prior``: optional (V+1, V+1) sparse matrix; ``prior_weight * log(1 + prior[q])``
    is added (count-prior mixing, an experiment).
    """
    spec = tr.spec
    v = prob.vocab_size
    T = tr.T if T is None else T
    C = tr.C if C is None else C
    b = tr.b if b is None else b
    extra = np.zeros(v + 1, np.float32)
    if spec.wide:
        prior, prior_weight = tr.W, "raw"
    if noise and spec.loss == "sgns":
        extra += (spec.power * np.log(np.maximum(prob.counts, 1))).astype(np.float32)
    if spec.bias:
        extra += b[: v + 1]
    if spec.kind == "session":
        k = spec.context if context is None else context
        w = slot_weights(spec)
        Cn = C[: v + 1]

        def fn(idx):
            sess = prob.sessions[idx][:, ::-1][:, :k]      # (B, k), slot 0 = query
            h = np.zeros((idx.size, spec.dim), np.float32)
            for j in range(k):
                blockj = j if spec.slot_tables else 0
                h += w[j] * T[sess[:, j] + blockj * (v + 1)] * (sess[:, j] > 0)[:, None]
            s = h @ Cn.T + extra
            if spec.ngram:
                import tensorflow as tf

                hist = tf.constant(sess[:, : spec.ngram - 1].astype(np.int64))[:, None, :]
                cand = tf.range(v + 1, dtype=tf.int64)[None, :, None]
                rows = ngram_hash(hist, cand, spec.hash_bits,
                                  spec.ngram - 1).numpy()                 # (B, V+1, n)
                s += tr.H[rows].sum(axis=-1)
            return _with_prior(s, prob, idx, prior, prior_weight)
        return fn
    offs = offsets(spec)
    if spec.positional:
        blocks = {o: i for i, o in enumerate(offs)}
    else:
        blocks = {o: 0 for o in offs}
    Cb = {o: C[blocks[o] * (v + 1): (blocks[o] + 1) * (v + 1)] for o in offs}

    def fn(idx):
        q = prob.queries[idx]
        s = T[q] @ Cb[1].T
        if session_scoring and spec.positional:
            sess = prob.sessions[idx][:, ::-1]
            for o in range(2, spec.window + 1):
                prev = sess[:, o - 1]
                s += (T[prev] * (prev > 0)[:, None]) @ Cb[o].T
        if spec.bias and spec.positional:
            s += b[blocks[1] * (v + 1): (blocks[1] + 1) * (v + 1)] - b[: v + 1]
        return _with_prior(s + extra, prob, idx, prior, prior_weight)
    return fn


def _with_prior(s, prob, idx, prior, weight):
    if prior is None or weight == 0:
        return s.astype(np.float32, copy=False)
    rows = prior[prob.queries[idx]].toarray()
    if weight == "raw":
        return (s + rows).astype(np.float32)
    return (s + weight * np.log1p(rows)).astype(np.float32)


def variant(**kw) -> Spec:
    return replace(Spec(), **kw)
