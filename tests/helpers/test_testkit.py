"""Tests for helpers.testkit.tiny_model: part 4's checks get one model per shape, put back
to the state of a new one, and a fit of it must not be told apart from a fit of a new model."""

import numpy as np
import pytest

from helpers import testkit
from helpers.model import build_sgns, compile_sgns

keras = pytest.importorskip("keras")


def _fit(model, data, *, seed, lr_callback=True, batch_size=64, epochs=2):
    """Train as part 4's reference train() does; returns (vectors, history dict, steps taken)."""
    _, _, train_pairs, val_pairs = data
    keras.utils.set_random_seed(seed)
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-6)]
    history = model.fit({"target": train_pairs[0], "context": train_pairs[1]}, train_pairs[2],
                        validation_data=({"target": val_pairs[0], "context": val_pairs[1]}, val_pairs[2]),
                        epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks if lr_callback else [])
    vectors = model.get_layer("song_embedding").get_weights()[0].copy()
    return vectors, dict(history.history), int(np.asarray(model.optimizer.iterations))


@pytest.fixture(scope="module")
def data():
    return testkit.tiny_data()


def test_a_reused_model_trains_exactly_like_a_new_one(data):
    vocab = data[0]
    testkit._TINY_MODELS.clear()
    first = testkit.tiny_model(vocab.size, learning_rate=0.05)
    _fit(first, data, seed=3, epochs=3)      # moves the weights, the step count, Adam's moments, the rate
    again = testkit.tiny_model(vocab.size, learning_rate=0.02)
    assert again is first, "a model of the same shape left as compile_sgns made it should be handed out again"
    fresh = compile_sgns(build_sgns(vocab.size, 8, seed=0), 0.02, jit_compile=False)
    np.testing.assert_array_equal(again.get_weights()[0], fresh.get_weights()[0])
    assert int(np.asarray(again.optimizer.iterations)) == 0
    assert float(np.asarray(again.optimizer.learning_rate)) == pytest.approx(0.02)
    got, got_history, got_steps = _fit(again, data, seed=7)
    want, want_history, want_steps = _fit(fresh, data, seed=7)
    np.testing.assert_array_equal(got, want)
    assert got_steps == want_steps == 2 * -(-len(data[2][2]) // 64)
    assert got_history.keys() == want_history.keys()
    for key in want_history:
        np.testing.assert_array_equal(got_history[key], want_history[key])


def test_other_shapes_and_seeds_get_their_own_models(data):
    vocab = data[0]
    testkit._TINY_MODELS.clear()
    a = testkit.tiny_model(vocab.size)
    assert testkit.tiny_model(vocab.size, seed=1) is not a
    assert testkit.tiny_model(vocab.size + 1) is not a
    assert testkit.tiny_model(vocab.size, dim=4) is not a
    np.testing.assert_array_equal(testkit.tiny_model(vocab.size, seed=1).get_weights()[0],
                                  build_sgns(vocab.size, 8, seed=1).get_weights()[0])


@pytest.mark.parametrize("change", ["recompiled", "method replaced", "layer frozen"])
def test_a_model_the_student_changed_is_not_handed_out_again(data, change):
    vocab = data[0]
    testkit._TINY_MODELS.clear()
    model = testkit.tiny_model(vocab.size)
    if change == "recompiled":
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    elif change == "method replaced":
        model.fit = lambda *args, **kwargs: None
    else:
        model.get_layer("song_embedding").trainable = False
    again = testkit.tiny_model(vocab.size)
    assert again is not model
    assert isinstance(again.optimizer, keras.optimizers.Adam)
    assert all(layer.trainable for layer in again.layers)
    _, _, steps = _fit(again, data, seed=1, batch_size=256, epochs=1)
    assert steps == -(-len(data[2][2]) // 256)
