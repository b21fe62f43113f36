"""Tests for helpers.model: the Keras SGNS network and its NumPy loss reference."""

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.model import (
    LEGACY_XLA_CPU_FLAG,
    build_sgns,
    compile_sgns,
    embeddings_of,
    sgns_loss_numpy,
    xla_flags_for_speed,
)

keras = pytest.importorskip("keras")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def predict(model, targets, contexts):
    out = model.predict({"target": np.asarray(targets, np.int32),
                         "context": np.asarray(contexts, np.int32)}, verbose=0)
    return np.asarray(out)


def layer_names(model):
    return {layer.name for layer in model.layers}


VARIANTS = [
    pytest.param(True, False, id="shared"),
    pytest.param(False, False, id="separate"),
    pytest.param(True, True, id="shared-dense"),
    pytest.param(False, True, id="separate-dense"),
]


@pytest.mark.parametrize("shared, dense_head", VARIANTS)
def test_output_is_one_probability_per_pair(shared, dense_head):
    model = build_sgns(9, 4, shared=shared, dense_head=dense_head, seed=0)
    out = predict(model, [1, 2, 9, 0, 5], [3, 3, 1, 0, 9])
    assert out.shape == (5, 1)
    assert out.dtype == np.float32
    assert np.all((out > 0) & (out < 1))


def test_layer_names_shared():
    names = layer_names(build_sgns(5, 3, shared=True, seed=0))
    assert "song_embedding" in names
    assert not {"target_embedding", "context_embedding", "dense_head"} & names
    assert {"target", "context"} <= names


def test_layer_names_separate_and_dense():
    names = layer_names(build_sgns(5, 3, shared=False, dense_head=True, seed=0))
    assert {"target_embedding", "context_embedding", "dense_head"} <= names
    assert "song_embedding" not in names


def test_shared_model_has_exactly_one_table():
    model = build_sgns(7, 3, shared=True, seed=0)
    tables = [w for w in model.get_weights() if w.ndim == 2]
    assert [t.shape for t in tables] == [(8, 3)]


@pytest.mark.parametrize("shared", [True, False])
def test_embedding_tables_have_padding_row(shared):
    model = build_sgns(11, 6, shared=shared, seed=1)
    for which in ("target", "context"):
        table = embeddings_of(model, which)
        assert table.shape == (12, 6)
        assert table.dtype == np.float32


def test_embeddings_of_returns_a_copy_of_the_right_table():
    model = build_sgns(4, 2, shared=False, seed=0)
    t = np.arange(10, dtype=np.float32).reshape(5, 2)
    c = -t
    model.get_layer("target_embedding").set_weights([t])
    model.get_layer("context_embedding").set_weights([c])
    got_t, got_c = embeddings_of(model, "target"), embeddings_of(model, "context")
    np.testing.assert_array_equal(got_t, t)
    np.testing.assert_array_equal(got_c, c)
    got_t[:] = 99.0  # must not write through to the model
    np.testing.assert_array_equal(embeddings_of(model, "target"), t)


def test_embeddings_of_shared_gives_same_table_for_both():
    model = build_sgns(4, 2, shared=True, seed=0)
    np.testing.assert_array_equal(embeddings_of(model, "target"),
                                  embeddings_of(model, "context"))


def test_embeddings_of_rejects_bad_which_and_foreign_model():
    model = build_sgns(4, 2, seed=0)
    with pytest.raises(ValueError, match="'both'"):
        embeddings_of(model, "both")
    inp = keras.Input(shape=(3,))
    other = keras.Model(inp, keras.layers.Dense(1, name="d")(inp), name="not_sgns")
    with pytest.raises(ValueError, match="not_sgns"):
        embeddings_of(other, "target")


def test_output_matches_hand_worked_dot_product():
    # Vectors (0.2, -0.5) and (0.7, 0.1): dot = 0.14 - 0.05 = 0.09.
    model = build_sgns(2, 2, shared=True, seed=0)
    table = np.array([[0, 0], [0.2, -0.5], [0.7, 0.1]], dtype=np.float32)
    model.get_layer("song_embedding").set_weights([table])
    out = predict(model, [1, 2, 1], [2, 1, 1])[:, 0]
    # (1,1): 0.04 + 0.25 = 0.29
    np.testing.assert_allclose(out, sigmoid([0.09, 0.09, 0.29]), rtol=1e-6)


def test_shared_output_equals_numpy_sigmoid_dot():
    rng = np.random.default_rng(7)
    V, d = 15, 5
    model = build_sgns(V, d, shared=True, seed=0)
    table = rng.normal(size=(V + 1, d)).astype(np.float32)
    model.get_layer("song_embedding").set_weights([table])
    t = rng.integers(0, V + 1, size=40)
    c = rng.integers(0, V + 1, size=40)
    expected = sigmoid(np.sum(table[t].astype(np.float64) * table[c], axis=1))
    np.testing.assert_allclose(predict(model, t, c)[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_separate_tables_look_up_target_and_context_in_their_own_table():
    rng = np.random.default_rng(8)
    V, d = 6, 3
    model = build_sgns(V, d, shared=False, seed=0)
    T = rng.normal(size=(V + 1, d)).astype(np.float32)
    C = rng.normal(size=(V + 1, d)).astype(np.float32)
    model.get_layer("target_embedding").set_weights([T])
    model.get_layer("context_embedding").set_weights([C])
    t = np.array([1, 2, 3, 6])
    c = np.array([2, 1, 6, 3])
    expected = sigmoid(np.sum(T[t].astype(np.float64) * C[c], axis=1))
    swapped = sigmoid(np.sum(C[t].astype(np.float64) * T[c], axis=1))
    got = predict(model, t, c)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, swapped, atol=1e-3)


def test_dense_head_output_is_sigmoid_of_scaled_shifted_dot():
    rng = np.random.default_rng(9)
    V, d = 8, 4
    model = build_sgns(V, d, shared=True, dense_head=True, seed=0)
    table = rng.normal(scale=0.5, size=(V + 1, d)).astype(np.float32)
    model.get_layer("song_embedding").set_weights([table])
    a, b = -2.5, 0.7
    model.get_layer("dense_head").set_weights([np.array([[a]], np.float32),
                                               np.array([b], np.float32)])
    t = rng.integers(1, V + 1, size=20)
    c = rng.integers(1, V + 1, size=20)
    dots = np.sum(table[t].astype(np.float64) * table[c], axis=1)
    np.testing.assert_allclose(predict(model, t, c)[:, 0], sigmoid(a * dots + b),
                               rtol=1e-5, atol=1e-6)


def test_dense_head_starts_as_identity():
    model = build_sgns(5, 3, dense_head=True, seed=0)
    kernel, bias = model.get_layer("dense_head").get_weights()
    np.testing.assert_array_equal(kernel, [[1.0]])
    np.testing.assert_array_equal(bias, [0.0])


@pytest.mark.parametrize("shared, dense_head", VARIANTS)
def test_same_seed_same_initial_weights(shared, dense_head):
    w1 = build_sgns(10, 4, shared=shared, dense_head=dense_head, seed=123).get_weights()
    w2 = build_sgns(10, 4, shared=shared, dense_head=dense_head, seed=123).get_weights()
    w3 = build_sgns(10, 4, shared=shared, dense_head=dense_head, seed=124).get_weights()
    assert len(w1) == len(w2)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    tables1 = [w for w in w1 if w.shape[0] == 11]
    tables3 = [w for w in w3 if w.shape[0] == 11]
    assert all(not np.array_equal(a, b) for a, b in zip(tables1, tables3))


def test_separate_tables_start_different():
    model = build_sgns(10, 4, shared=False, seed=5)
    assert not np.array_equal(embeddings_of(model, "target"), embeddings_of(model, "context"))


def test_initial_vectors_are_small_so_scores_start_near_half():
    model = build_sgns(30, 16, seed=2)
    table = embeddings_of(model)
    assert np.abs(table).max() <= 0.05
    assert table.std() > 0.01  # not all zeros: there is something to break symmetry
    out = predict(model, np.arange(1, 31), np.arange(30, 0, -1))
    assert np.all(np.abs(out - 0.5) < 0.02)


@pytest.mark.parametrize("kwargs, shown", [
    ({"vocab_size": 0}, "0"),
    ({"vocab_size": -3}, "-3"),
    ({"vocab_size": 2.5}, "2.5"),
    ({"vocab_size": True}, "True"),
    ({"vocab_size": 5, "dim": 0}, "0"),
    ({"vocab_size": 5, "dim": "8"}, "'8'"),
    ({"vocab_size": 5, "seed": -1}, "-1"),
])
def test_invalid_arguments_raise_value_error_naming_value(kwargs, shown):
    with pytest.raises(ValueError) as err:
        build_sgns(**{"dim": 4, **kwargs})
    message = str(err.value)
    assert re.search(rf"(?<![\w.-]){re.escape(shown)}(?![\w.])", message), message
    bad_name = "dim" if "dim" in kwargs else ("seed" if "seed" in kwargs else "vocab_size")
    assert bad_name in message


def test_compile_uses_adam_and_binary_cross_entropy():
    model = compile_sgns(build_sgns(5, 3, seed=0), learning_rate=0.0125, jit_compile=False)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    lr = float(model.optimizer.learning_rate.numpy())
    assert lr == pytest.approx(0.0125)
    assert isinstance(model.loss, keras.losses.BinaryCrossentropy)


@pytest.mark.parametrize("lr", [0, -1e-3, float("nan"), "fast"])
def test_compile_rejects_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning_rate"):
        compile_sgns(build_sgns(5, 3, seed=0), learning_rate=lr)


# --- the NumPy loss reference -------------------------------------------------------

def test_numpy_loss_hand_values():
    # dot = 0 -> p = 1/2 -> loss ln 2 whatever the label.
    zeros = np.zeros((3, 2))
    assert sgns_loss_numpy(zeros, zeros, [1, 0, 1]) == pytest.approx(np.log(2))
    # dot = ln 3 -> p = 3/4: label 1 costs ln(4/3), label 0 costs ln 4.
    t = np.array([[np.log(3), 0.0]] * 2)
    c = np.array([[1.0, 5.0]] * 2)
    expected = (np.log(4 / 3) + np.log(4)) / 2
    assert sgns_loss_numpy(t, c, [1, 0]) == pytest.approx(expected)
    # scale -1, bias ln 3 on a zero dot: logit ln 3 again.
    assert sgns_loss_numpy(zeros[:1], zeros[:1], [0], scale=-1.0, bias=np.log(3)) \
        == pytest.approx(np.log(4))


def test_numpy_loss_does_not_overflow():
    t = np.array([[100.0], [100.0]])
    c = np.array([[100.0], [-100.0]])
    # logits +1e4 and -1e4: correct labels cost ~0, wrong ones cost ~1e4.
    assert sgns_loss_numpy(t, c, [1, 0]) == pytest.approx(0.0, abs=1e-12)
    assert sgns_loss_numpy(t, c, [0, 1]) == pytest.approx(1e4)


def test_numpy_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        sgns_loss_numpy(np.zeros((3, 2)), np.zeros((3, 3)), [0, 0, 0])
    with pytest.raises(ValueError, match="labels"):
        sgns_loss_numpy(np.zeros((3, 2)), np.zeros((3, 2)), [0, 0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3),
                          st.floats(-3, 3), st.booleans()), min_size=1, max_size=20))
def test_numpy_loss_matches_textbook_formula(rows):
    arr = np.array(rows, dtype=np.float64)
    t, c, y = arr[:, 0:2], arr[:, 2:4], arr[:, 4]
    p = sigmoid(np.sum(t * c, axis=1))
    textbook = np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p))
    assert sgns_loss_numpy(t, c, y) == pytest.approx(textbook, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("shared, dense_head", VARIANTS)
def test_numpy_loss_equals_keras_evaluate(shared, dense_head):
    rng = np.random.default_rng(11)
    V, d, n = 12, 4, 64
    model = compile_sgns(build_sgns(V, d, shared=shared, dense_head=dense_head, seed=0), 1e-3,
                         jit_compile=False)
    T = rng.normal(scale=0.6, size=(V + 1, d)).astype(np.float32)
    C = rng.normal(scale=0.6, size=(V + 1, d)).astype(np.float32)
    if shared:
        model.get_layer("song_embedding").set_weights([T])
        C = T
    else:
        model.get_layer("target_embedding").set_weights([T])
        model.get_layer("context_embedding").set_weights([C])
    a, b = 1.0, 0.0
    if dense_head:
        a, b = 0.8, -0.4
        model.get_layer("dense_head").set_weights([np.array([[a]], np.float32),
                                                   np.array([b], np.float32)])
    t = rng.integers(1, V + 1, size=n).astype(np.int32)
    c = rng.integers(1, V + 1, size=n).astype(np.int32)
    y = (rng.random(n) < 0.3).astype(np.float32)
    keras_loss = model.evaluate({"target": t, "context": c}, y, batch_size=n, verbose=0,
                                return_dict=True)["loss"]
    ours = sgns_loss_numpy(T[t], C[c], y, scale=a, bias=b)
    assert keras_loss == pytest.approx(ours, rel=1e-5)


@pytest.mark.parametrize("version, given, expected", [
    ("2.20.0", "", LEGACY_XLA_CPU_FLAG),                                   # Colab's TensorFlow
    ("2.20.1rc0", "--xla_dump_to=/tmp/x", f"--xla_dump_to=/tmp/x {LEGACY_XLA_CPU_FLAG}"),
    ("2.20.0", "--xla_cpu_use_thunk_runtime=true", "--xla_cpu_use_thunk_runtime=true"),  # the user's choice stays
    ("2.21.0", "", ""),                                                    # measured: no gain there
    ("2.16.1", "", ""),                                                    # older XLA may not know the flag
    ("2.2.0", "", ""),                                                     # not read as 2.20
    ("3.0.0", "--xla_dump_to=/tmp/x", "--xla_dump_to=/tmp/x"),
])
def test_legacy_xla_cpu_runtime_only_for_the_measured_tensorflow(version, given, expected):
    assert xla_flags_for_speed(version, given) == expected


def test_compile_sgns_sets_the_xla_flag_only_with_xla(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("XLA_FLAGS", raising=False)
    compile_sgns(build_sgns(5, 2, seed=0), 1e-3, jit_compile=False)
    assert "XLA_FLAGS" not in os.environ
    compile_sgns(build_sgns(5, 2, seed=0), 1e-3, jit_compile=True)
    assert os.environ.get("XLA_FLAGS", "") == xla_flags_for_speed(tf.__version__, "")
