"""The skip-gram negative-sampling (SGNS) network in Keras 3.

The network scores a (target, context) pair of song indices: it looks up one vector per
song, takes their dot product and squashes it with a sigmoid, so the output is the
predicted probability that the pair came from a real playlist (label 1) rather than from
the noise distribution (label 0).

Conventions shared with the rest of the package:

* song indices are ``1..V``; row ``0`` of every embedding table is the padding row and
  never a song, so tables have ``V + 1`` rows;
* both inputs are scalar ``int32`` indices per example (Keras input shape ``()``), so a
  batch is two arrays of shape ``(batch,)``;
* the model output has shape ``(batch, 1)`` and dtype ``float32`` (the Keras convention
  for a single sigmoid unit). Labels of shape ``(batch,)`` work with it in ``fit`` and
  ``evaluate``; compare to ``predict(...)[:, 0]`` when checking by hand.

Keras and TensorFlow are imported inside the functions, so ``import helpers.model`` is
cheap and data-only code never pays for TensorFlow start-up.
"""

from __future__ import annotations

import os

import numpy as np

from helpers.validate import check_int, check_real, check_vocab_size

# Layer names are part of the API: embeddings_of() and the notebooks look layers up by name.
SHARED_NAME = "song_embedding"
TARGET_NAME = "target_embedding"
CONTEXT_NAME = "context_embedding"
DENSE_NAME = "dense_head"

# Small symmetric start, as word2vec implementations do: initial dot products are ~0,
# so every pair starts at probability ~0.5 and no song is favoured before training.
INIT_RANGE = 0.05


def build_sgns(vocab_size: int, dim: int, *, shared: bool = True,
               dense_head: bool = False, seed: int | None = None):
    """Build (but do not compile) the SGNS scoring model.

    ``vocab_size``: ``V``, the number of songs; every embedding table has ``V + 1`` rows,
    row 0 being the padding row.

    ``dim``: length of each song vector.

    ``shared``: ``True``, one ``Embedding`` layer named ``"song_embedding"`` serves both
    inputs, so a song has a single vector; ``False``, two layers, ``"target_embedding"``
    and ``"context_embedding"`` (the classic word2vec "input" and "output" vectors).

    ``dense_head``: ``True`` puts a ``Dense(1)`` layer named ``"dense_head"`` between the
    dot product and the sigmoid, so the logit becomes ``a * dot + b`` with two learned
    scalars. ``a`` rescales every score (the same effect as uniformly scaling the vectors)
    and ``b`` shifts all pairs towards "real" or "noise" at once (it can absorb the 1:k
    ratio of positives to negatives). Neither changes how songs rank against each other by
    cosine similarity, which is why the head is optional; a negative ``a`` would flip the
    meaning of the dot product, so inspect it when using it.

    ``seed``: seeds every initialiser, so the same seed gives identical initial weights;
    ``None`` leaves them to Keras' global seed (``keras.utils.set_random_seed``).

    Returns a ``keras.Model`` with inputs ``{"target": int32 (batch,), "context": int32
    (batch,)}`` and output float32 (batch, 1), the sigmoid of the (optionally rescaled) dot
    product. Raises ValueError for a bad argument.
    """
    vocab_size = check_vocab_size(vocab_size)
    dim = check_int("dim", dim, 1)
    seed = check_int("seed", seed, 0, allow_none=True)

    import keras
    from keras import layers

    def init(offset: int):
        # Distinct seeds per table: with separate tables and one seed, identical starting
        # tables would be a needless symmetry.
        s = None if seed is None else seed + offset
        return keras.initializers.RandomUniform(-INIT_RANGE, INIT_RANGE, seed=s)

    target_in = keras.Input(shape=(), dtype="int32", name="target")
    context_in = keras.Input(shape=(), dtype="int32", name="context")

    if shared:
        table = layers.Embedding(vocab_size + 1, dim, embeddings_initializer=init(0),
                                 name=SHARED_NAME)
        t_vec, c_vec = table(target_in), table(context_in)
    else:
        t_table = layers.Embedding(vocab_size + 1, dim, embeddings_initializer=init(0),
                                   name=TARGET_NAME)
        c_table = layers.Embedding(vocab_size + 1, dim, embeddings_initializer=init(1),
                                   name=CONTEXT_NAME)
        t_vec, c_vec = t_table(target_in), c_table(context_in)

    score = layers.Dot(axes=1, name="dot")([t_vec, c_vec])  # (batch, 1)
    if dense_head:
        score = layers.Dense(
            1, name=DENSE_NAME,
            # Start the head as the identity map (a = 1, b = 0) so that it begins as the
            # plain model and only learns a rescale/shift if that lowers the loss.
            kernel_initializer="ones",
            bias_initializer="zeros",
        )(score)
    prob = layers.Activation("sigmoid", name="sigmoid")(score)
    name = "sgns_" + ("shared" if shared else "separate") + ("_dense" if dense_head else "")
    return keras.Model(inputs={"target": target_in, "context": context_in}, outputs=prob,
                       name=name)


# XLA:CPU's newer "thunk" runtime ran this model's small training steps about 1.7x slower
# than its older runtime under TensorFlow 2.20, Colab's version (part 4's fit, alternating:
# bench/bench_xla_runtime.py); under 2.21 the gap was within the noise. XLA reads the
# flag once per process, at its first compile. Only the series where it was measured get
# it: an XLA that does not know a flag in XLA_FLAGS stops the whole process.
LEGACY_XLA_CPU_FLAG = "--xla_cpu_use_thunk_runtime=false"
LEGACY_XLA_CPU_TF = ((2, 20),)

FAST_FIT_KERAS = (3, 13)   # oldest Keras verified with XLA + steps per call (Colab's 3.13.2; 3.15.1 here)


def xla_flags_for_speed(tf_version: str, xla_flags: str) -> str:
    """The ``XLA_FLAGS`` value to train with: ``xla_flags`` plus :data:`LEGACY_XLA_CPU_FLAG`
    when TensorFlow ``tf_version`` (e.g. ``"2.20.0"``) is of a series in
    :data:`LEGACY_XLA_CPU_TF` and ``xla_flags`` does not choose the CPU runtime itself;
    otherwise ``xla_flags`` unchanged."""
    parts = tf_version.split(".")[:2]
    series = tuple(int(p) if p.isdigit() else -1 for p in parts)
    if series not in LEGACY_XLA_CPU_TF or "xla_cpu_use_thunk_runtime" in xla_flags:
        return xla_flags
    return f"{xla_flags} {LEGACY_XLA_CPU_FLAG}".strip()


def fast_fit_supported() -> bool:
    """Whether this Keras runs :func:`compile_sgns`'s ``jit_compile``/``steps_per_execution``
    correctly; on older Keras 3 (down to pyproject's 3.5) they are ignored."""
    import keras

    parts = keras.__version__.split(".")[:2]
    return tuple(int(p) if p.isdigit() else 0 for p in parts) >= FAST_FIT_KERAS


def compile_sgns(model, learning_rate: float, *, metrics=("accuracy",),
                 jit_compile="auto", steps_per_execution: int = 1):
    """Compile ``model`` in place with Adam and binary cross-entropy; return it.

    ``metrics`` is passed to Keras as a list (``"accuracy"`` becomes binary accuracy at
    threshold 0.5 because the loss is binary). ``jit_compile`` and ``steps_per_execution``
    are passed through (``"auto"`` lets Keras decide, which on a CPU-only machine means
    no XLA; ``False`` avoids XLA compile time on tiny runs). A step of this model is mostly
    per-call overhead, so on CPU ``jit_compile=True, steps_per_execution=16`` runs the
    assignment's 20 epochs in about half the time. Steps per call change no bit of the
    result; XLA fuses the float32 arithmetic differently (vectors differ by ~1e-6, the same
    every run). ``tests/helpers/test_sgns.py::test_xla_and_steps_per_call_keep_the_vectors``.
    Keras older than ``FAST_FIT_KERAS`` gets a plain fit instead (:func:`fast_fit_supported`).
    With ``jit_compile=True`` under TensorFlow 2.20 it also sets ``XLA_FLAGS`` to XLA's older
    CPU runtime before the first compile (:func:`xla_flags_for_speed`).
    """
    learning_rate = check_real("learning_rate", learning_rate, 0, low_open=True)
    steps_per_execution = check_int("steps_per_execution", steps_per_execution, 1)
    if not fast_fit_supported():
        # Older Keras 3 loses history entries and batches with steps_per_execution > 1:
        # fit plainly there (slower, same settings otherwise).
        jit_compile, steps_per_execution = ("auto" if jit_compile is True else jit_compile), 1
    import keras

    if jit_compile is True and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        flags = xla_flags_for_speed(tf.__version__, os.environ.get("XLA_FLAGS", ""))
        if flags:
            os.environ["XLA_FLAGS"] = flags
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(learning_rate)),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=list(metrics) if metrics else None,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def embeddings_of(model, which: str = "target") -> np.ndarray:
    """Return one embedding table of an SGNS model as a NumPy copy.

    ``which="target"`` gives the shared table (``"song_embedding"``) or, for separate
    tables, ``"target_embedding"``; ``which="context"`` gives ``"context_embedding"``
    or the shared table. Result: ``float32 (V + 1, dim)``, row 0 = padding.
    Raises ``ValueError`` for another ``which`` or a model without such a layer.
    """
    if which not in ("target", "context"):
        raise ValueError(f"which must be 'target' or 'context', got {which!r}")
    names = {layer.name for layer in model.layers}
    wanted = [SHARED_NAME, TARGET_NAME if which == "target" else CONTEXT_NAME]
    for name in wanted:
        if name in names:
            weights = model.get_layer(name).get_weights()
            return np.array(weights[0], dtype=np.float32, copy=True)
    raise ValueError(
        f"model {model.name!r} has no {which} embedding layer: expected one of "
        f"{wanted}, found layers {sorted(names)}"
    )


def sgns_loss_numpy(t_vecs, c_vecs, labels, *, scale: float = 1.0,
                    bias: float = 0.0) -> float:
    """Mean binary cross-entropy of ``sigmoid(scale * dot + bias)``, in plain NumPy.

    ``t_vecs``, ``c_vecs``: ``(N, dim)`` vectors of each pair's target and context;
    ``labels``: ``(N,)`` with 1 for a real pair and 0 for a noise pair. ``scale`` and
    ``bias`` are the dense head's weights (identity by default). Computed in float64
    as ``softplus(z) - y * z``, which equals ``-y log p - (1-y) log(1-p)`` without
    overflow for large ``|z|``. (Keras clips ``p`` to ``[1e-7, 1 - 1e-7]``, so the two
    agree while ``|z|`` stays below about 16.)
    """
    t = np.asarray(t_vecs, dtype=np.float64)
    c = np.asarray(c_vecs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if t.ndim != 2 or t.shape != c.shape:
        raise ValueError(
            f"t_vecs and c_vecs must both have shape (N, dim), got {t.shape} and {c.shape}")
    if y.shape[0] != t.shape[0]:
        raise ValueError(f"labels must have shape ({t.shape[0]},), got {np.shape(labels)}")
    if t.shape[0] == 0:
        raise ValueError("cannot average the loss over 0 pairs")
    z = scale * np.einsum("nd,nd->n", t, c) + bias
    return float(np.mean(np.logaddexp(0.0, z) - y * z))
