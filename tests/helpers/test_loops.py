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

from helpers import cli, limits, sgns, train_flags
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
        train_flags.config_from_args(train_args(loop="bogus"))
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
    config = train_flags.config_from_args(train_args(loop="toy", epochs=4))
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



# -- songrec train's flags come from SGNSConfig's fields ------------------------

def train_actions():
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    by_dest = {}
    for action in train._actions:
        by_dest.setdefault(action.dest, []).append(action)
    return by_dest


def test_every_config_field_has_one_flag_whose_help_is_its_doc():
    by_dest = train_actions()
    for f in dataclasses.fields(SGNSConfig):
        actions = by_dest.get(f.name)
        assert actions, f"SGNSConfig.{f.name} has no songrec train flag"
        doc = f.metadata["doc"]
        if f.name == "loop":
            assert len(actions) == 1 and actions[0].help.startswith(doc)
        elif f.type == "bool":
            # One flag to turn it on, one to turn it off, nothing else writes the field.
            on, off = actions
            assert len(actions) == 2 and on.help == doc and on.option_strings[0] in off.help, f.name
        else:
            assert len(actions) == 1 and actions[0].help == doc, f.name


def test_the_old_flag_spellings_still_set_their_fields():
    args = cli.build_parser().parse_args(["train", "--lr", "0.5", "--max-pairs", "0", "--separate-tables",
                                          "--loop", "keras", "--reduce-lr-patience", "none", "--dense-head"])
    config = train_flags.config_from_args(args)
    assert (config.learning_rate, config.max_pairs_per_playlist, config.shared) == (0.5, None, False)
    assert config.reduce_lr_patience is None and config.dense_head is True


def test_a_flag_the_chosen_loop_cannot_honour_is_refused():
    args = cli.build_parser().parse_args(["train", "--optimizer", "sgd", "--loop", "keras"])
    with pytest.raises(ValueError, match="--optimizer applies to --loop fast, session only"):
        train_flags.config_from_args(args)


# -- run.json's settings, typed -------------------------------------------------

# run.json "settings" as `songrec train --synthetic --epochs 2 --dim 8` wrote it before
# RunSettings existed (copied from such a run, not produced by the code under test).
TODAYS_SETTINGS = {
    "data": "synthetic genre corpus", "dataset_source": "helpers.synthetic.make_synthetic(seed=42)",
    "playlists": 600, "dataset": {"kind": "synthetic", "variant": "synthetic", "synthetic_seed": 42},
    "val_fraction": 0.1, "split_seed": 42, "loop": "fast", "window": 2, "negatives": 5, "noise": "unigram",
    "power": 0.75, "dim": 8, "shared": False, "learning_rate": 0.01, "batch_size": 8192, "epochs": 2,
    "seed": 42, "max_pairs_per_playlist": None, "exclude_target": False, "exclude_context": False,
    "dense_head": False, "reduce_lr_patience": None, "early_stopping_patience": None, "verbose": 0,
    "dynamic_window": False, "subsample": 0.0, "negative_group": 8, "optimizer": "lazy_adam", "lr_decay": True,
    "steps_per_execution": 32, "jit_compile": False, "auto_schedule": True, "loss": "sgns", "bias": False,
    "slot_dropout": 0.0, "blend_holdout": 0.0,
}


def test_a_run_json_in_todays_format_loads_as_run_settings_and_writes_back_the_same(tmp_path):
    from helpers.runs import RunSettings, load_run, save_run
    from helpers.vocab import build_vocab

    vocab = build_vocab([[1, 2, 3]], None)
    out = save_run(tmp_path / "run", vocab, np.ones((vocab.size + 1, 8), np.float32),
                   np.ones((vocab.size + 1, 8), np.float32), settings=dict(TODAYS_SETTINGS))
    run = load_run(out)
    settings = RunSettings.from_json(run.settings)
    assert (settings.playlists, settings.val_fraction, settings.split_seed) == (600, 0.1, 42)
    assert (settings.kind, settings.variant, settings.synthetic_seed) == ("synthetic", "synthetic", 42)
    assert settings.config.loop == "fast" and settings.config.dim == 8 and settings.config.negative_group == 8
    assert settings.to_json() == TODAYS_SETTINGS
    assert list(settings.to_json()) == list(TODAYS_SETTINGS)  # the same order of keys in run.json


def test_run_settings_without_the_split_are_refused_naming_the_file():
    from helpers.errors import RunMismatchError
    from helpers.runs import RunSettings

    partial = {k: v for k, v in TODAYS_SETTINGS.items() if k != "val_fraction"}
    with pytest.raises(RunMismatchError, match="somewhere/run.json lacks the dataset/split settings"):
        RunSettings.from_json(partial, "somewhere/run.json")
