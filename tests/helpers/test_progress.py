"""Progress lines (helpers.progress): readable live and in stored notebook outputs."""

import io
import re

import numpy as np
import pytest

from helpers.progress import Progress, Steps, epoch_progress, format_seconds, report, show_progress

LINE = re.compile(r"^(\S.*: )?epoch +\d+/\d+  loss \d+\.\d{4}.*\((\d.* elapsed, about .* left|.* in all)\)$")


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (8.4, "8 s"), (59.6, "1 min 00 s"),
                                           (65, "1 min 05 s"), (3599, "59 min 59 s"),
                                           (7380, "2 h 03 min"), (float("nan"), "?"), (-1, "?")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_steps_estimates_the_time_left_from_the_mean_step():
    clock = FakeClock()
    steps = Steps(4, clock=clock)
    assert steps.line() == "0 s elapsed, about ? left"
    clock.now += 10
    steps.step()
    assert steps.line() == "10 s elapsed, about 30 s left"
    clock.now += 30  # a slow step raises the estimate
    steps.step()
    assert steps.line() == "40 s elapsed, about 40 s left"
    steps.step()
    steps.step()
    assert steps.line() == "40 s in all"


@pytest.mark.parametrize("total", [0, -1, 2.0, True, None])
def test_steps_rejects_a_bad_total(total):
    with pytest.raises(ValueError, match="total"):
        Steps(total)


def test_report_prints_one_line_after_each_item(capsys):
    seen, printed = [], []
    for item in report(["a", "b", "c"], "scored", name=str.upper):
        seen.append(item)
        printed.append(capsys.readouterr().out)  # the line about the previous item
    printed.append(capsys.readouterr().out)
    assert seen == ["a", "b", "c"]
    assert printed[0] == "" and [p.count("\n") for p in printed[1:]] == [1, 1, 1]
    assert printed[1].startswith("scored 1/3 (A): ") and " left" in printed[1]
    assert printed[3].startswith("scored 3/3 (C): ") and printed[3].endswith(" in all\n")


def test_report_of_nothing_prints_nothing(capsys):
    assert list(report([], "scored")) == []
    assert capsys.readouterr().out == ""


def _tiny_model():
    import keras

    from helpers.model import build_sgns, compile_sgns

    keras.utils.set_random_seed(0)
    return compile_sgns(build_sgns(20, 4, seed=0), 0.01)


def _tiny_xy():
    rng = np.random.default_rng(0)
    x = {"target": rng.integers(1, 21, 256).astype(np.int32),
         "context": rng.integers(1, 21, 256).astype(np.int32)}
    return x, rng.integers(0, 2, 256).astype(np.float32)


@pytest.mark.slow
def test_epoch_progress_prints_one_plain_line_per_epoch(capsys):
    x, y = _tiny_xy()
    _tiny_model().fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[epoch_progress("demo")])
    out = capsys.readouterr().out
    assert "\r" not in out and "\x08" not in out
    lines = out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["demo: epoch 1/3", "demo: epoch 2/3", "demo: epoch 3/3"]
    assert all(LINE.match(line) for line in lines), lines
    assert lines[-1].endswith(" in all)")


@pytest.mark.slow
def test_show_progress_reaches_a_fit_call_inside_someone_elses_function(capsys):
    import keras

    model = _tiny_model()
    x, y = _tiny_xy()
    seen = []

    class Mine(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    def students_train(m):  # passes its own callbacks and verbose=0, as the task asks
        return m.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[Mine()])

    with show_progress(model):
        history = students_train(model)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines), lines
    assert seen == [0, 1] and len(history.history["loss"]) == 2
    # Afterwards fit is the model's own method again: no progress lines.
    assert "fit" not in vars(model)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_show_progress_restores_fit_when_training_fails():
    model = _tiny_model()
    with pytest.raises(ValueError):
        with show_progress(model):
            model.fit({"target": np.zeros(3, np.int32)}, np.zeros(3, np.float32), verbose=0)
    assert "fit" not in vars(model)


@pytest.mark.slow
def test_keras_loop_progress_prints_epoch_lines(capsys):
    from dataclasses import replace

    from helpers.sgns import PRESETS, train

    rng = np.random.default_rng(1)
    playlists = [rng.integers(1, 31, 12).astype(np.int32) for _ in range(20)]
    config = replace(PRESETS["assignment"], window=2, negatives=2, dim=4, batch_size=64, epochs=2)
    train(playlists[:16], 30, config, playlists[16:], progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines), lines
    assert "val_loss" in lines[0]


def test_evaluate_methods_progress_prints_a_line_per_method_and_the_same_table(capsys):
    from helpers.baselines import PopularityScorer, RandomScorer
    from helpers.metrics import evaluate_methods

    plays = np.arange(11)
    q = np.array([1, 2, 3, 4], np.int32)
    a = np.array([10, 9, 8, 1], np.int32)
    scorers = [RandomScorer(10, seed=0), PopularityScorer(plays)]
    quiet = evaluate_methods(scorers, q, a, k=3)
    assert capsys.readouterr().out == ""
    loud = evaluate_methods(scorers, q, a, k=3, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"evaluated 1/2 ({scorers[0].name})",
                                                      f"evaluated 2/2 ({scorers[1].name})"]
    assert quiet.drop(columns="seconds").equals(loud.drop(columns="seconds"))


# A class autograde's display (tools.instructor.class_autograde): bar on a terminal, lines in a log.


def test_progress_lines_for_a_log_carry_done_total_elapsed_and_eta():
    out, clock = io.StringIO(), FakeClock()
    progress = Progress(4, out, unit="students", tty=False, now=clock)
    assert progress.eta() is None and "ETA ?" in progress.status()
    clock.now += 30
    progress.finished("ann: 5/5 points")
    clock.now += 30
    progress.finished("bob: 2/5 points")
    lines = out.getvalue().splitlines()
    assert lines == ["[1/4 students, 30 s elapsed, ETA 1 min 30 s] ann: 5/5 points",
                     "[2/4 students, 1 min 00 s elapsed, ETA 1 min 00 s] bob: 2/5 points"]
    assert "\r" not in out.getvalue()


def test_progress_bar_on_a_terminal_is_redrawn_in_place():
    out, clock = io.StringIO(), FakeClock()
    progress = Progress(2, out, unit="students", tty=True, now=clock)
    clock.now += 10
    progress.finished("ann: 5/5 points")
    progress.close()
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 3  # the empty bar, ann's line, the redrawn bar
    assert "ann: 5/5 points\n" in text
    assert text.rstrip("\n").endswith("[############............] 1/2 students, 10 s elapsed, ETA 10 s")
