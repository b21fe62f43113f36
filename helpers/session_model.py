"""The session loop's model: the next song from the last ``K`` songs, in TensorFlow.

Importing this module imports TensorFlow; :mod:`helpers.session_loop` imports it only when
it trains.

An example is a session ``s = (s_0, ..., s_{K-1})`` (slot 0 = the song just heard, slot
``j`` the song ``j`` places earlier, 0 = none) and the song ``y`` played next
(:func:`helpers.sessions.session_examples`). Each slot has its own input table (a
log-bilinear model in the spirit of Mnih & Hinton 2007); their rows are summed into
``h = sum_j I_j[s_j]`` and every candidate ``x`` gets the logit ``z(x) = h . O[x] (+ b[x])``
(output table ``O``, optional learned bias ``b``). Two losses:

* ``"sgns"``: binary cross-entropy of ``y`` (label 1) against ``negatives`` noise songs
  (label 0), as SGNS; at its optimum ``z`` estimates ``log P(x | s) - log(k noise(x))``,
  so ranking adds ``power * log count`` back (:mod:`helpers.session_scorers`);
* ``"softmax"``: sampled softmax over ``y`` and the noise songs with the log Q correction
  (``z - log noise(x)``; Bengio & Senécal 2008, Jean et al. 2015): ``z`` itself
  estimates ``log P(x | s)`` up to a constant. A noise song equal to the example's own
  answer (an accidental hit) is left out of that example's softmax.

Groups of ``negative_group`` consecutive examples share their ``negatives`` noise songs,
drawn in the graph from ``(seed, step)`` (:class:`helpers.fast_model.NoiseSampler`).
Gradients are written out by hand (``tests/helpers/test_session_model.py`` checks them against
autodiff) and applied by the fast loop's lazy Adam (:func:`helpers.fast_model.lazy_adam`)
or plain SGD, to the touched rows only. Padding rows get no gradient and stay 0.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from helpers.fast_model import CountedSteps, NoiseSampler, StepCounters, adam_moments, lazy_adam
from helpers.sessions import SessionTables
from helpers.validate import check_vocab_size

# The generator of the initial input tables: far from the epochs' [seed, epoch] keys.
INIT_STREAM = 10**6 + 7
# Logit given to a masked accidental hit: exp() of it is 0 in float32.
MASKED = -1e9


class SessionModel(CountedSteps, tf.Module):
    """The tables, the losses and the train step; see the module docstring.

    ``vocab_size``: V; ``config``: a :class:`helpers.sgns.SGNSConfig` (its ``window`` = K,
    ``dim``, ``negatives``, ``negative_group``, ``loss``, ``bias``, ``optimizer``,
    ``learning_rate``, ``lr_decay`` and ``seed`` are used); ``noise``: float (V+1,) noise
    distribution with ``noise[0] == 0``, or None for uniform. Input tables start uniform
    in ``±0.5 / dim`` (word2vec's start), the output table and the bias at 0.
    """

    def __init__(self, vocab_size: int, config, noise: np.ndarray | None = None):
        super().__init__(name="session_model")
        v = check_vocab_size(vocab_size)
        self.vocab_size, self.config = v, config
        self.depth, d = int(config.window), int(config.dim)
        rng = np.random.default_rng([config.seed, INIT_STREAM])
        start = rng.uniform(-0.5 / d, 0.5 / d, size=(self.depth * (v + 1), d)).astype(np.float32)
        start[:: v + 1] = 0.0  # row 0 of every slot's table is padding
        self.inputs = tf.Variable(start, name="inputs")
        self.output = tf.Variable(tf.zeros((v + 1, d)), name="output")
        self.params = [self.inputs, self.output]
        self.bias = None
        if config.bias:
            self.bias = tf.Variable(tf.zeros((v + 1, 1)), name="bias")
            self.params.append(self.bias)
        q = np.full(v + 1, 1.0 / v) if noise is None else np.asarray(noise, dtype=np.float64)
        self.log_q = tf.constant(np.log(np.maximum(q, 1e-30)).astype(np.float32))
        self.noise = NoiseSampler(v, noise, config.seed)
        self.counters = StepCounters()
        self.moments = adam_moments(self.params) if config.optimizer == "lazy_adam" else []
        self.slot_offsets = tf.constant(np.arange(self.depth, dtype=np.int32) * (v + 1))

    # -- forward and loss ---------------------------------------------------------
    def forward(self, sessions, answers, negatives):
        """The pieces of the logits, shared by the loss and the hand gradients.

        ``sessions``: int32 (B, K) songs 0..V; ``answers``: int32 (B,); ``negatives``:
        int32 (G, k), row ``i`` shared by examples ``i*g .. i*g+g-1`` (``g = B / G``).
        Returns ``(mask (B, K), h (B, d), answer rows (B, d), noise rows (G, k, d),
        h grouped (G, g, d), z_pos (B,), z_neg (G, g, k))``.
        """
        mask = tf.cast(sessions > 0, tf.float32)
        rows = tf.gather(self.inputs, sessions + self.slot_offsets)          # (B, K, d)
        h = tf.einsum("bk,bkd->bd", mask, rows)
        c = tf.gather(self.output, answers)
        nv = tf.gather(self.output, negatives)                               # (G, k, d)
        hg = tf.reshape(h, [tf.shape(negatives)[0], -1, tf.shape(h)[1]])
        z_pos = tf.reduce_sum(h * c, axis=1)
        z_neg = tf.einsum("Gid,Gkd->Gik", hg, nv)
        if self.bias is not None:
            z_pos += tf.gather(self.bias, answers)[:, 0]
            z_neg += tf.gather(self.bias, negatives)[:, None, :, 0]
        return mask, h, c, nv, hg, z_pos, z_neg

    def loss_and_slopes(self, z_pos, z_neg, answers, negatives):
        """``(summed loss, d loss / d z_pos (B,), d loss / d z_neg (G, g, k))`` of either loss."""
        if self.config.loss == "sgns":
            loss = tf.reduce_sum(tf.nn.softplus(-z_pos)) + tf.reduce_sum(tf.nn.softplus(z_neg))
            return loss, tf.sigmoid(z_pos) - 1.0, tf.sigmoid(z_neg)
        groups = tf.shape(negatives)[0]
        zp = tf.reshape(z_pos - tf.gather(self.log_q, answers), [groups, -1, 1])
        hit = tf.reshape(answers, [groups, -1, 1]) == negatives[:, None, :]
        zn = tf.where(hit, tf.constant(MASKED, tf.float32), z_neg - tf.gather(self.log_q, negatives)[:, None, :])
        logits = tf.concat([zp, zn], axis=2)
        lse = tf.reduce_logsumexp(logits, axis=2, keepdims=True)
        p = tf.exp(logits - lse)
        return tf.reduce_sum(lse - zp), tf.reshape(p[:, :, 0] - 1.0, [-1]), p[:, :, 1:]

    def loss(self, sessions, answers, negatives):
        """Summed loss of a batch (the arguments of :meth:`forward`): float32 scalar."""
        *_, z_pos, z_neg = self.forward(sessions, answers, negatives)
        return self.loss_and_slopes(z_pos, z_neg, answers, negatives)[0]

    def gradients(self, sessions, answers, negatives):
        """Summed loss and its gradients, without autodiff.

        Returns ``(loss, [(indices int32 (n,), rows float32 (n, width)) per trained
        variable])`` in the order inputs, output, bias; indices may repeat. The input
        rows of padding slots get a zero gradient.
        """
        mask, h, c, nv, hg, z_pos, z_neg = self.forward(sessions, answers, negatives)
        d = tf.shape(h)[1]
        loss, d_pos, d_neg = self.loss_and_slopes(z_pos, z_neg, answers, negatives)
        g_h = d_pos[:, None] * c + tf.reshape(tf.einsum("Gik,Gkd->Gid", d_neg, nv), [-1, d])
        g_in = mask[:, :, None] * g_h[:, None, :]                             # (B, K, d)
        g_out = tf.concat([d_pos[:, None] * h, tf.reshape(tf.einsum("Gik,Gid->Gkd", d_neg, hg), [-1, d])], 0)
        out_rows = tf.concat([answers, tf.reshape(negatives, [-1])], 0)
        grads = [(tf.reshape(sessions + self.slot_offsets, [-1]), tf.reshape(g_in, [-1, d])), (out_rows, g_out)]
        if self.bias is not None:
            grads.append((out_rows, tf.concat([d_pos, tf.reshape(tf.reduce_sum(d_neg, axis=1), [-1])], 0)[:, None]))
        return loss, grads

    def train_step(self, rows):
        """One step on int32 (B, K+1) rows (session, then the next song); B a multiple of
        ``negative_group``. Returns ``{"loss": mean loss per example}``."""
        rows = tf.cast(rows, tf.int32)
        sessions, answers = rows[:, : self.depth], rows[:, self.depth]
        groups = tf.shape(rows)[0] // self.config.negative_group
        negatives = self.noise.draw(groups, self.config.negatives, self.step)
        loss, grads = self.gradients(sessions, answers, negatives)
        lr = self.learning_rate_now()
        if self.config.optimizer == "sgd":
            for var, (idx, g) in zip(self.params, grads):
                var.scatter_sub(tf.IndexedSlices(lr * g, idx))
        else:
            lazy_adam(self.params, self.moments, grads, lr, self.step)
        loss = loss / tf.cast(tf.shape(rows)[0], tf.float32)
        self.counters.count(loss)
        return {"loss": loss}

    def rows_loss(self, rows: np.ndarray, negatives: np.ndarray) -> float:
        """Summed loss of int32 (n, K+1) rows that share the noise songs int32 (1, k)."""
        rows = tf.constant(np.asarray(rows, np.int32))
        negatives = tf.constant(np.asarray(negatives, np.int32))
        return float(self.loss(rows[:, : self.depth], rows[:, self.depth], negatives))

    def tables(self) -> SessionTables:
        """NumPy copies of the trained tables."""
        v1 = self.vocab_size + 1
        inputs = self.inputs.numpy().reshape(self.depth, v1, -1)
        return SessionTables(inputs.copy(), self.output.numpy().copy(),
                             None if self.bias is None else self.bias.numpy()[:, 0].copy())
