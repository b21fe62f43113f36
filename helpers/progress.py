"""Progress lines for long cells and commands: one line per step, with elapsed time and ETA.

Plain ``print`` lines (stdout by default), one per epoch or per evaluated method, never a
carriage-return progress bar: they appear live in JupyterLab and Colab, and a notebook
stored by nbconvert/nbgrader or a CI log keeps a few readable lines instead of thousands
of ``\\r`` updates. Keras' own ``verbose=1`` bar does the latter, so training cells use
``verbose=0`` plus :func:`epoch_progress` (or :func:`show_progress` around a function
that calls ``fit`` itself, like the student's ``train``).

:class:`Progress` is the one exception, for a terminal command with many items (a class
autograde's students): on a terminal its bar is redrawn in place; anywhere else it writes
plain lines like the rest. Every duration is written by :func:`format_seconds`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TextIO

from helpers.validate import check_int

BAR_WIDTH = 24


def format_seconds(seconds: float) -> str:
    """``8 s``, ``1 min 05 s``, ``2 h 03 min``; seconds are rounded (``nan`` -> ``?``)."""
    if seconds != seconds or seconds < 0:  # NaN or negative: unknown
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Steps:
    """Times ``total`` equal-ish steps; :meth:`line` says how far, how long, how much left.

    The estimate of the time left is the mean step time so far times the steps left.
    ``clock`` is injectable for tests.
    """

    def __init__(self, total: int, clock=time.perf_counter):
        self.total = check_int("total", total, 1)
        self.done = 0
        self._clock = clock
        self._start = clock()

    def step(self) -> None:
        self.done += 1

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start

    def line(self) -> str:
        elapsed = self.elapsed
        left = self.total - self.done
        if left <= 0:
            return f"{format_seconds(elapsed)} in all"
        eta = elapsed / self.done * left if self.done else float("nan")
        return f"{format_seconds(elapsed)} elapsed, about {format_seconds(eta)} left"


def _format_logs(logs: dict) -> str:
    parts = []
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in (logs or {}):
            parts.append(f"{key} {float(logs[key]):.4f}")
    return "  ".join(parts)


def epoch_progress(label: str = "", file=None):
    """A Keras callback printing one line per epoch: metrics, elapsed time, time left.

    ``label`` prefixes every line; ``file`` defaults to ``sys.stdout`` at print time
    (a notebook's stdout, not the red stderr box).
    """
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.clock = Steps(int(self.params.get("epochs") or 1))

        def on_epoch_end(self, epoch, logs=None):
            self.clock.step()
            width = len(str(self.clock.total))
            prefix = f"{label}: " if label else ""
            print(f"{prefix}epoch {epoch + 1:>{width}}/{self.clock.total}  {_format_logs(logs)}  "
                  f"({self.clock.line()})", file=file or sys.stdout, flush=True)

    return EpochProgress()


@contextlib.contextmanager
def show_progress(model, label: str = "", file=None):
    """Within the block, every ``model.fit`` call also runs :func:`epoch_progress`.

    For code that calls ``fit`` where no callback can be passed in (the student's
    ``train`` function); the model's own ``fit`` is back in place after the block.
    """
    original = model.fit

    def fit(*args, callbacks=None, **kwargs):
        return original(*args, callbacks=[*(callbacks or []), epoch_progress(label, file)], **kwargs)

    model.fit = fit
    try:
        yield model
    finally:
        del model.fit


def report(items, label: str, file=None, name=str):
    """Iterate over ``items`` (a sized collection), printing a line after each one.

    ``name(item)`` names the item in the line. For loops over a few slow things (methods
    to evaluate), not over many fast ones.
    """
    items = list(items)
    if not items:
        return
    clock = Steps(len(items))
    for item in items:
        yield item
        clock.step()
        print(f"{label} {clock.done}/{clock.total} ({name(item)}): {clock.line()}",
              file=file or sys.stdout, flush=True)


class Progress:
    """Progress of ``total`` items (``unit``: what they are, plural), written to ``out``:
    a bar (done/total, elapsed, time left) and one line per finished item.

    ``tty``: redraw the bar in place on the last line (default: whether ``out`` is a
    terminal); otherwise nothing is redrawn and each finished item's line starts with the
    progress so far, so a log reads top to bottom. ``now``: the clock (tests pass a fake one).
    """

    def __init__(self, total: int, out: TextIO | None = None, *, unit: str = "items", tty: bool | None = None,
                 now=time.monotonic):
        self.total, self.done, self.unit = total, 0, unit
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.now = now
        self.start = now()
        if self.tty and total:
            self._draw()

    def eta(self) -> float | None:
        """Seconds left, from the mean time per finished item so far; None before the first."""
        if not self.done:
            return None
        return (self.now() - self.start) / self.done * (self.total - self.done)

    def status(self) -> str:
        """``3/8 students, 1 min 02 s elapsed, ETA 1 min 40 s``."""
        eta = self.eta()
        return (f"{self.done}/{self.total} {self.unit}, {format_seconds(self.now() - self.start)} elapsed, "
                f"ETA {'?' if eta is None else format_seconds(eta)}")

    def bar(self) -> str:
        """``[#########...............] 3/8 students, ...``."""
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.status()}"

    def _draw(self) -> None:
        self.out.write("\r\x1b[2K" + self.bar())
        self.out.flush()

    def finished(self, line: str) -> None:
        """Count one more item and show its ``line``."""
        self.done += 1
        if self.tty:
            self.out.write("\r\x1b[2K" + line + "\n")
            self._draw()
        else:
            self.out.write(f"[{self.status()}] {line}\n")
            self.out.flush()

    def close(self) -> None:
        """End the bar's line (terminal only)."""
        if self.tty and self.total:
            self.out.write("\n")
            self.out.flush()
