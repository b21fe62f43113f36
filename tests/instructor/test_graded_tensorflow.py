"""TensorFlow's graph optimizer (grappler) in graded kernels
(``GuardedExecute.tensorflow_graph_optimizer``, default off).

Part 4's checks run a dozen tiny fits; grappler re-optimizes each fit's input pipeline and
steps, about a quarter of such a fit. Turning it off may change float32 rounding only: a
fit of the checks' tiny model gives the same history and weights within 1e-5 either way
(measured: at most 4e-7 apart, on weights up to 1.1; checked here in two fresh processes;
two fits in one kernel stay bit-identical, which is what part 4's seed check compares), and
the guard turns it off before the first cell only when the setting says so.
"""

from __future__ import annotations

import json
import subprocess
import sys

import nbgrader_toy as toy
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tools.instructor.preprocessors.guarded_execute import GuardedExecute

FIT = r"""
import json, sys
import tensorflow as tf
if sys.argv[1] == "off":
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
import keras
from helpers.testkit import tiny_data, tiny_model
vocab, _, train, val = tiny_data()
model = tiny_model(vocab.size)
keras.utils.set_random_seed(5)
history = model.fit({"target": train[0], "context": train[1]}, train[2],
                    validation_data=({"target": val[0], "context": val[1]}, val[2]), epochs=2, batch_size=64,
                    shuffle=True, verbose=0,
                    callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)])
print("RESULT " + json.dumps({"weights": [w.tolist() for w in model.get_weights()],
                              "history": {k: [float(x) for x in v] for k, v in history.history.items()}}))
"""


def _fit(mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", FIT, mode], capture_output=True, text=True, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.mark.slow
def test_a_tiny_fit_differs_by_float_rounding_at_most_without_grappler():
    on, off = _fit("on"), _fit("off")
    assert on["history"] == off["history"]
    for a, b in zip(on["weights"], off["weights"]):
        assert np.allclose(a, b, rtol=0, atol=1e-5)


PROBE = ("import tensorflow as tf\n"
         "print('GRAPPLER OFF', bool(tf.config.optimizer.get_experimental_options().get('disable_meta_optimizer')))")


def _graded(tmp_path, **traits) -> str:
    test = new_code_cell("import tensorflow as _tf\nassert _tf.constant(1) == 1",
                         metadata=toy._meta("t_test", grade=True, locked=True, points=1))
    nb = toy._finish(new_notebook(cells=[new_code_cell(PROBE), test]))
    step = GuardedExecute(timeout=120, share_kernel=False, **traits)
    graded, _ = step.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return "".join(out.get("text", "") for out in graded.cells[0].outputs)


@pytest.mark.slow
@pytest.mark.parametrize("keep, printed", [(False, "GRAPPLER OFF True"), (True, "GRAPPLER OFF False")])
def test_the_guard_turns_grappler_off_before_the_first_cell_unless_told_not_to(tmp_path, keep, printed):
    assert printed in _graded(tmp_path, tensorflow_graph_optimizer=keep)
