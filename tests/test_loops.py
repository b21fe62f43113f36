"""The training-loop registry (helpers.sgns.LOOPS): what a loop is lives in its entry.

Every place that once branched on a loop's name (the config checks, the memory estimate,
the CLI's preset, the evaluation label, a run's session tables) reads the entry instead:
an unknown loop fails there with the value and the known loops, and a loop registered
here, in a test, is trained-for with its own preset, estimate and checks.
"""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import cli, limits, sgns
from helpers.errors import DataFormatError
from helpers.sgns import LOOPS, PRESETS, Loop, SGNSConfig

KNOWN = "'keras', 'fast', 'session'"


def toy_memory(train_lengths, val_lengths, vocab_size, **settings):
    # Hand-picked numbers, so the test sees this function was the one called.
    return {"tables": vocab_size, "pairs": len(train_lengths), "validation": len(val_lengths),
            "step": settings["dim"], "total": 1234}


def toy_check(config):
    if config.dim == 7:
        raise ValueError("SGNSConfig.dim must not be 7 with loop='toy', got 7")


@pytest.fixture
def toy(monkeypatch):
    """A loop named 'toy' that honours negative_group, with its own preset, estimate and check."""
    monkeypatch.setitem(LOOPS, "toy", Loop("helpers.fast_loop", "a loop registered by a test",
                                           frozenset({"negative_group"}), preset="toy_preset",
                                           memory=toy_memory, check=toy_check, label="toy model"))
    monkeypatch.setitem(PRESETS, "toy_preset", SGNSConfig(loop="toy", dim=11, negative_group=3, epochs=2))
    return LOOPS["toy"]


def train_args(**given):
    # What build_parser gives `songrec train` with no hyper-parameter flag.
    args = cli.build_parser().parse_args(["train", "--synthetic"])
    for name, value in given.items():
        setattr(args, name, value)
    return args


@pytest.mark.parametrize("bad", ["bogus", "", None, 3])
def test_an_unknown_loop_is_refused_naming_it_and_the_known_loops(bad):
    with pytest.raises(ValueError, match=rf"loop must be one of the training loops {KNOWN}, got {bad!r}"):
        sgns.loop_named(bad)
    with pytest.raises(ValueError, match=f"SGNSConfig.loop must be one of {KNOWN}, got {bad!r}"):
        SGNSConfig(loop=bad)


def test_an_unknown_loop_has_no_memory_estimate():
    # Once the fast loop's estimate stood in for any name it did not know.
    config = SimpleNamespace(loop="bogus", to_dict=dict)
    with pytest.raises(ValueError, match=rf"SGNSConfig.loop must be one of the training loops {KNOWN}, got 'bogus'"):
        sgns.training_memory(config, [5, 6], [4], 100)


def test_an_unknown_loop_has_no_cli_preset_and_no_honoured_settings():
    with pytest.raises(ValueError, match=rf"--loop must be one of the training loops {KNOWN}, got 'bogus'"):
        cli.config_from_args(train_args(loop="bogus"))
    with pytest.raises(ValueError, match="got 'bogus'"):
        sgns.honours("bogus", "negative_group")


def test_a_run_json_naming_an_unknown_loop_is_refused(tmp_path):
    from helpers.runs import load_run, save_run
    from helpers.vocab import build_vocab

    vocab = build_vocab([[1, 2, 3]], None)
    out = save_run(tmp_path / "run", vocab, np.ones((vocab.size + 1, 2), np.float32),
                   settings={"loop": "fast", "window": 2, "dim": 2})
    meta = json.loads((out / "run.json").read_text())
    meta["settings"]["loop"] = "bogus"
    (out / "run.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match="loop.*bogus"):
        load_run(out)


def test_a_registered_loop_gets_its_preset_estimate_checks_and_flags_from_its_entry(toy):
    config = cli.config_from_args(train_args(loop="toy", epochs=4))
    assert config == dataclasses.replace(PRESETS["toy_preset"], epochs=4, seed=42)
    assert config.dim == 11 and config.negative_group == 3
    assert sgns.training_memory(config, [5, 6, 7], [4], 100) == {
        "tables": 100, "pairs": 3, "validation": 1, "step": 11, "total": 1234}
    with pytest.raises(ValueError, match="must not be 7 with loop='toy'"):
        dataclasses.replace(config, dim=7)
    # It honours what its entry says and nothing else.
    assert sgns.honours("toy", "negative_group") and not sgns.honours("toy", "optimizer")
    with pytest.raises(ValueError, match="SGNSConfig.optimizer"):
        SGNSConfig(loop="toy", optimizer="sgd")
    assert "toy" in cli.build_parser()._subparsers._group_actions[0].choices["train"]._option_string_actions[
        "--loop"].choices


def test_the_built_in_loops_keep_their_presets_and_estimates():
    assert {name: loop.preset for name, loop in LOOPS.items()} == {
        "keras": "assignment", "fast": "fast", "session": "next_song"}
    assert (LOOPS["keras"].memory, LOOPS["fast"].memory, LOOPS["session"].memory) == (
        limits.keras_memory, limits.fast_memory, limits.session_memory)
    for name, loop in LOOPS.items():
        assert PRESETS[loop.preset].loop == name


@pytest.mark.parametrize(("loop", "change", "message"), [
    ("fast", {"negatives": 0}, "negatives must be an int >= 1 with loop='fast', got 0"),
    ("session", {"negatives": 0}, "negatives must be an int >= 1 with loop='session', got 0"),
    ("session", {"shared": True}, "shared must be False with loop='session'"),
    ("session", {"optimizer": "adam"}, "optimizer must be 'lazy_adam' or 'sgd' with loop='session'"),
])
def test_each_loops_own_checks_come_from_its_entry(loop, change, message):
    preset = PRESETS[LOOPS[loop].preset]
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(preset, **change)
    # The keras loop has no such check: zero negatives and a shared table are fine there.
    assert SGNSConfig(loop="keras", negatives=0, shared=True).negatives == 0

