"""The fast loop's Keras model: SGNS whose negatives are drawn inside the TensorFlow graph.

Importing this module imports Keras and TensorFlow; :mod:`helpers.fast_loop` imports it only
when it trains, so the rest of the package starts fast.

The model keeps the plain SGNS scoring (a target table, a context table, the sigmoid of
their dot product, binary cross-entropy) and changes how it is updated:

* the ``negatives`` noise contexts of every positive are drawn in the graph, fresh for every
  step, from the noise distribution (an alias table, so one draw costs two gathers whatever
  the vocabulary size) or uniformly. Groups of ``negative_group`` positives share their noise
  contexts, so far fewer context rows are gathered and updated per step; every positive
  still meets ``negatives`` of them;
* gradients are written out by hand and ``optimizer="lazy_adam"`` updates only the rows a
  batch touches (Adam moments included), instead of Keras' dense Adam, which rewrites both
  tables and their moments at every step.

Negatives are a function of ``(config.seed, step)`` only (a stateless generator), and the
initial tables come from Keras initialisers seeded with ``config.seed``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from helpers.model import CONTEXT_NAME, SHARED_NAME, TARGET_NAME
from helpers.noise import alias_table
from helpers.validate import Described, bad_argument, check_vocab_size


class NoiseSampler:
    """Noise songs drawn inside the graph, a function of ``(seed, step)`` only.

    ``vocab_size``: V; ``noise``: float (V+1,) distribution with ``noise[0] == 0``, or
    ``None`` for uniform over ``1..V``; ``seed``: int. Non-uniform noise is drawn from
    Walker's alias table (:func:`helpers.noise.alias_table`): one draw costs two gathers
    whatever V. Raises ValueError for a distribution of the wrong shape.
    """

    def __init__(self, vocab_size: int, noise, seed: int):
        self.vocab_size = int(vocab_size)
        self.seed = int(seed)
        self.threshold = self.alias = None
        if noise is not None:
            noise = np.asarray(noise, dtype=np.float64)
            if noise.shape != (vocab_size + 1,) or noise[0] != 0:
                raise bad_argument("noise", f"a distribution of shape ({vocab_size + 1},) with noise[0] == 0",
                                   Described(f"shape {noise.shape}"))
            thr, ali = alias_table(noise[1:] / noise[1:].sum())
            self.threshold = tf.constant(thr)
            self.alias = tf.constant(ali)

    def draw(self, n, k, step):
        """int32 (n, k) songs in ``1..V``; ``step``: int64 scalar tensor."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), step])
        shape = tf.stack([n, k])
        if self.threshold is None:
            return tf.random.stateless_uniform(shape, seed, minval=1, maxval=self.vocab_size + 1, dtype=tf.int32)
        cols = tf.random.stateless_uniform(shape, seed, minval=0, maxval=self.vocab_size, dtype=tf.int32)
        u = tf.random.stateless_uniform(shape, seed + 1, dtype=tf.float32)
        return tf.where(u < tf.gather(self.threshold, cols), cols, tf.gather(self.alias, cols)) + 1


class StepCounters:
    """The step count, the run's length in steps and the running loss of one training run,
    and the learning-rate schedule they imply (linear decay to 1e-4 of the start when
    ``config.lr_decay``)."""

    def __init__(self):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.loss_count = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.total_steps = tf.Variable(1, dtype=tf.int64, trainable=False)

    def learning_rate(self, config):
        """float32 tensor: ``config.learning_rate``, decayed by the steps taken."""
        lr = tf.constant(config.learning_rate, tf.float32)
        if not config.lr_decay:
            return lr
        done = tf.cast(self.step, tf.float32) / tf.cast(self.total_steps, tf.float32)
        return lr * tf.maximum(1.0 - done, 1e-4)

    def count(self, loss):
        """One step done, with loss ``loss``."""
        self.step.assign_add(1)
        self.loss_sum.assign_add(tf.cast(loss, tf.float64))
        self.loss_count.assign_add(1)


class CountedSteps:
    """The counters a row-based loop's driver (:func:`helpers.fast_loop.train_epochs`) reads,
    for a model holding ``self.counters`` (:class:`StepCounters`) and ``self.config``."""

    @property
    def step(self):
        """Optimizer steps taken so far (int64 variable)."""
        return self.counters.step

    @property
    def total_steps(self):
        """Steps of the whole run, the length of the learning-rate decay (int64 variable)."""
        return self.counters.total_steps

    @property
    def loss_sum(self):
        """Sum of the step losses since the loop last reset it (float64 variable)."""
        return self.counters.loss_sum

    @property
    def loss_count(self):
        """Steps summed into ``loss_sum`` (int64 variable)."""
        return self.counters.loss_count

    def learning_rate_now(self):
        """The learning rate of the next step (float32 tensor)."""
        return self.counters.learning_rate(self.config)


def adam_moments(variables) -> list:
    """Zero first and second moments, one pair per variable, for :func:`lazy_adam`."""
    return [(tf.Variable(tf.zeros(v.shape), trainable=False), tf.Variable(tf.zeros(v.shape), trainable=False))
            for v in variables]


def lazy_adam(variables, moments, grads, lr, step, beta1=0.9, beta2=0.999, eps=1e-7):
    """One Adam step restricted to the rows a batch touched (TF1's LazyAdam).

    ``variables``: tf.Variables (n_rows, d); ``moments``: their ``(m, v)`` pairs
    (:func:`adam_moments`); ``grads``: one ``(indices int32 (n,), rows float32 (n, d))``
    per variable, indices may repeat; ``lr``: float32 scalar; ``step``: int64 steps taken
    before this one. Moments of untouched rows are left as they are, which keeps a step
    O(batch) instead of O(V * dim). Duplicate rows are summed first, as a dense gradient
    would.
    """
    t = tf.cast(step + 1, tf.float32)
    alpha = lr * tf.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
    for var, (m, v), (idx, g) in zip(variables, moments, grads):
        rows, pos = tf.unique(idx)
        gsum = tf.math.unsorted_segment_sum(g, pos, tf.shape(rows)[0])
        m_new = beta1 * tf.gather(m, rows) + (1.0 - beta1) * gsum
        v_new = beta2 * tf.gather(v, rows) + (1.0 - beta2) * tf.square(gsum)
        m.scatter_update(tf.IndexedSlices(m_new, rows))
        v.scatter_update(tf.IndexedSlices(v_new, rows))
        # Rows are distinct here, so an update (cheaper than scatter_sub on CPU) is exact.
        var.scatter_update(tf.IndexedSlices(tf.gather(var, rows) - alpha * m_new / (tf.sqrt(v_new) + eps), rows))


class FastSGNS(CountedSteps, keras.Model):
    """SGNS with negatives drawn in the graph; see :func:`build_fast_sgns`."""

    def __init__(self, vocab_size, config, noise=None):
        super().__init__(name="fast_sgns")
        self.vocab_size = int(vocab_size)
        self.config = config
        self.seed_value = int(config.seed)
        k = config.negatives
        d = config.dim
        # word2vec's start: small random target rows, zero context rows.
        t_init = keras.initializers.RandomUniform(-0.5 / d, 0.5 / d, seed=config.seed)
        if config.shared:
            self.t_table = keras.layers.Embedding(vocab_size + 1, d, name=SHARED_NAME,
                                                  embeddings_initializer=t_init)
            self.c_table = self.t_table
        else:
            self.t_table = keras.layers.Embedding(vocab_size + 1, d, name=TARGET_NAME,
                                                  embeddings_initializer=t_init)
            self.c_table = keras.layers.Embedding(vocab_size + 1, d, name=CONTEXT_NAME,
                                                  embeddings_initializer="zeros")
        self.k = k
        self.noise = NoiseSampler(vocab_size, noise, self.seed_value)
        self.counters = StepCounters()

    def build_tables(self):
        self.t_table.build((None,))
        if not self.config.shared:
            self.c_table.build((None,))
        tables = [self.t_table.embeddings] if self.config.shared else \
            [self.t_table.embeddings, self.c_table.embeddings]
        self.tables = tables
        # The tf.Variables behind the Keras ones: gathers on them differentiate to
        # IndexedSlices and they have the scatter_* methods the lazy update needs.
        self.tf_tables = [v.value for v in tables]
        if self.config.optimizer == "adam":
            self.compile(optimizer=keras.optimizers.Adam(self.config.learning_rate),
                         jit_compile=self.config.jit_compile)
            self.optimizer.build(tables)
        else:
            self.compile(jit_compile=False)
            self.moments = adam_moments(tables)
        self.built = True

    def call(self, inputs):
        pairs = tf.convert_to_tensor(inputs)
        t = self.t_table(pairs[:, 0])
        c = self.c_table(pairs[:, 1])
        return tf.sigmoid(tf.reduce_sum(t * c, axis=-1))

    # -- sampling ---------------------------------------------------------------
    def sample_negatives(self, n, step):
        """int32 (n, k) noise contexts in 1..V, a function of (seed, step) only."""
        return self.noise.draw(n, self.k, step)

    # -- loss --------------------------------------------------------------------
    def batch_loss(self, targets, contexts, negatives):
        """Mean binary cross-entropy over the B * (k + 1) rows of a batch.

        ``targets``, ``contexts`` int32 (B,), ``negatives`` int32 (B, k). Computed as
        ``softplus(-z)`` for real rows and ``softplus(z)`` for noise rows, which is
        the cross-entropy without clipping.
        """
        tv = self.tf_tables[0]
        cv = self.tf_tables[-1]
        t = tf.gather(tv, targets)                                   # (B, d)
        ctx = tf.concat([contexts[:, None], negatives], axis=1)      # (B, k+1)
        c = tf.gather(cv, ctx)                                       # (B, k+1, d)
        z = tf.einsum("bd,bjd->bj", t, c)
        sign = tf.concat([-tf.ones_like(z[:, :1]), tf.ones_like(z[:, 1:])], axis=1)
        return tf.reduce_mean(tf.nn.softplus(sign * z))

    def row_gradients(self, targets, contexts, negatives):
        """Loss and per-row gradients of one batch, without autodiff.

        ``targets``, ``contexts`` int32 (B,); ``negatives`` int32 (B / g, k): group
        ``i`` of ``g = config.negative_group`` consecutive positives shares row ``i``
        of noise contexts (``g = 1``: every positive has its own). Each positive
        still meets ``k`` noise contexts, so the loss is the SGNS loss of the B
        positives with ``repeat(negatives, g, axis=0)`` as their noise rows; sharing
        only means the noise vectors are gathered and updated once per group.

        With ``z`` the logit of a row and ``y`` its label, the row's cross-entropy has
        derivative ``sigmoid(z) - y``; the target row gets that times the context
        vector and vice versa. Gradients are of the *summed* loss (one unit per row,
        as in word2vec), so a learning rate means the same at any batch size.
        Returns ``(mean loss, [(indices int32 (n,), grads float32 (n, d)) per
        table])``; indices may repeat.
        """
        d = self.config.dim
        g = self.config.negative_group
        tv = self.tf_tables[0]
        cv = self.tf_tables[-1]
        t = tf.gather(tv, targets)                                   # (B, d)
        c = tf.gather(cv, contexts)                                  # (B, d)
        nv = tf.gather(cv, negatives)                                # (G, k, d)
        t_grouped = tf.reshape(t, [-1, g, d])                        # (G, g, d)
        z_pos = tf.reduce_sum(t * c, axis=1)                         # (B,)
        z_neg = tf.einsum("Gid,Gkd->Gik", t_grouped, nv)             # (G, g, k)
        rows = tf.cast(tf.size(z_pos) + tf.size(z_neg), tf.float32)
        loss = (tf.reduce_sum(tf.nn.softplus(-z_pos))
                + tf.reduce_sum(tf.nn.softplus(z_neg))) / rows
        d_pos = tf.sigmoid(z_pos) - 1.0
        d_neg = tf.sigmoid(z_neg)
        g_t = d_pos[:, None] * c + tf.reshape(
            tf.einsum("Gik,Gkd->Gid", d_neg, nv), [-1, d])
        g_c = d_pos[:, None] * t
        g_n = tf.reshape(tf.einsum("Gik,Gid->Gkd", d_neg, t_grouped), [-1, d])
        ctx = tf.concat([contexts, tf.reshape(negatives, [-1])], 0)
        g_ctx = tf.concat([g_c, g_n], 0)
        if self.config.shared:
            return loss, [(tf.concat([targets, ctx], 0), tf.concat([g_t, g_ctx], 0))]
        return loss, [(targets, g_t), (ctx, g_ctx)]

    def train_step(self, data):
        pairs = data[0] if isinstance(data, (tuple, list)) else data
        pairs = tf.cast(pairs, tf.int32)
        targets, contexts = pairs[:, 0], pairs[:, 1]
        groups = tf.shape(pairs)[0] // self.config.negative_group
        negatives = self.sample_negatives(groups, self.step)
        lr = self.learning_rate_now()
        if self.config.optimizer == "adam":
            with tf.GradientTape() as tape:
                loss = self.batch_loss(
                    targets, contexts,
                    tf.repeat(negatives, self.config.negative_group, axis=0))
            grads = tape.gradient(loss, self.tf_tables)
            self.optimizer.learning_rate.assign(lr)
            self.optimizer.apply(grads, self.tables)
        else:
            loss, grads = self.row_gradients(targets, contexts, negatives)
            if self.config.optimizer == "sgd":
                for var, (idx, g) in zip(self.tf_tables, grads):
                    var.scatter_sub(tf.IndexedSlices(lr * g, idx))
            else:
                lazy_adam(self.tf_tables, self.moments, grads, lr, self.step)
        self.counters.count(loss)
        return {"loss": loss}


def build_fast_sgns(vocab_size: int, config, noise: np.ndarray | None = None) -> FastSGNS:
    """Build and compile the in-graph negative-sampling SGNS model.

    ``config``: a :class:`helpers.sgns.SGNSConfig` (its ``dim``, ``shared``, ``negatives``,
    ``negative_group``, ``optimizer``, ``learning_rate``, ``lr_decay``, ``jit_compile`` and
    ``seed`` are used). ``noise``: float (V+1,) noise distribution (``noise[0] == 0``);
    ``None`` = uniform over ``1..V``. The model's ``train_step`` takes a batch of positive
    pairs int32 (B, 2) and draws ``config.negatives`` noise contexts per row itself;
    ``model(pairs)`` returns the sigmoid scores float32 (B,). Embedding layers are named
    like :func:`helpers.model.build_sgns`'s, so :func:`helpers.model.embeddings_of` works.
    """
    model = FastSGNS(check_vocab_size(vocab_size), config, noise)
    model.build_tables()
    return model


def sgns_batch_loss(model: FastSGNS, targets, contexts, negatives) -> float:
    """The model's mean SGNS loss for explicit rows (no sampling).

    ``targets``, ``contexts``: int (B,); ``negatives``: int (B, k). Returns a Python float.
    """
    return float(model.batch_loss(tf.constant(np.asarray(targets, np.int32)),
                                  tf.constant(np.asarray(contexts, np.int32)),
                                  tf.constant(np.asarray(negatives, np.int32))))
