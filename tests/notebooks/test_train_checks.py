"""Part 4's four check cells of ``train`` (hidden parts included, as when grading) tell right
from wrong: the instructor's solution and a right variant pass every check, and each of nine
wrong ``train`` functions fails exactly the checks written for its mistake.

The checks were resized for grading time (issue 19: the loss worked out in NumPy, the hidden
parts on the visible checks' model shape, bigger batches in check 3); this pins that they
still catch what they caught before. The cells run in this process, one ``train`` after
another, from the source notebook (not the student's copy, which lacks the hidden parts).
"""

from __future__ import annotations

import nbformat
import nbgrader_toy as toy
import pytest

NOTEBOOK = toy.REPO_ROOT / "notebooks" / "song2vec" / "04_training.ipynb"
SOLUTION_CELL = "nb04-19"
CHECKS = {"nb04-20": 1, "nb04-21": 2, "nb04-22": 3, "nb04-23": 4}

SEED_LINE = "    keras.utils.set_random_seed(seed)\n"
VAL_DATA = 'validation_data=({"target": val_targets, "context": val_contexts}, val_labels),'

# name -> (change to the solution's text, the checks that must fail), the checks chosen by
# what each one tests: 1 the history, val_loss on val_pairs and the steps; 2 the callback;
# 3 the seed; 4 (hidden) learning on fresh data.
VARIANTS = {
    "solution": (lambda s: s, set()),
    "seed set just before fit": (
        lambda s: s.replace(SEED_LINE, "").replace("    return model.fit(", SEED_LINE + "    return model.fit("),
        set()),
    "no seed": (lambda s: s.replace(SEED_LINE, "    pass\n"), {3}),
    "a constant seed": (lambda s: s.replace(SEED_LINE, "    keras.utils.set_random_seed(5)\n"), {3}),
    "no shuffling and no seed": (
        lambda s: s.replace("shuffle=True,", "shuffle=False,").replace(SEED_LINE, "    pass\n"), {3}),
    "batch_size dropped": (lambda s: s.replace("batch_size=batch_size,", ""), {1}),
    "no callback": (lambda s: s.replace("callbacks=[lower_lr],", ""), {2}),
    "no min_lr": (lambda s: s.replace(", min_lr=1e-6)", ")"), {2}),
    "three epochs hard-coded": (lambda s: s.replace("epochs=epochs,", "epochs=3,"), {1, 2}),
    "validation_split instead of val_pairs": (lambda s: s.replace(VAL_DATA, "validation_split=0.1,"), {1}),
    "validating on training pairs": (
        lambda s: s.replace(VAL_DATA, 'validation_data=({"target": targets[:500], "context": contexts[:500]}, '
                                      'labels[:500]),'), {1, 2}),
    "no fit": (lambda s: s.replace("    return model.fit(", "    return keras.callbacks.History()\n    model.fit("),
               {1, 2, 3, 4}),
}


@pytest.mark.slow
def test_part4_checks_fail_exactly_the_wrong_trains():
    import keras  # a dependency of the course: a missing one is a failure, not a skip
    cells = {c.get("id"): c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    solution = cells[SOLUTION_CELL]
    assert "### BEGIN HIDDEN TESTS" in cells["nb04-23"], "the source notebook should hold check 4's hidden test"
    outcomes = {}
    for name, (change, _) in VARIANTS.items():
        source = change(solution)
        assert name == "solution" or source != solution, f"variant {name!r} no longer changes the solution"
        namespace = {"keras": keras}
        exec(source, namespace)
        failed = set()
        for cell_id, check in CHECKS.items():
            try:
                exec(cells[cell_id], namespace)
            except AssertionError:
                failed.add(check)
        outcomes[name] = failed
    wrong = {name: (got, VARIANTS[name][1]) for name, got in outcomes.items() if got != VARIANTS[name][1]}
    assert not wrong, "checks failed (got, expected): " + "; ".join(f"{n}: {g} != {e}" for n, (g, e) in wrong.items())
