"""The progress display of a class autograde: a bar (students done/total, elapsed, ETA)
and one line per finished student.

On a terminal the bar stays on the last line and is redrawn in place; anywhere else (a
CI log, a file) nothing is redrawn: each finished student's line starts with the
progress so far, so a log reads top to bottom.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (or ``h:mm:ss``)."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Progress of ``total`` students, written to ``out``.

    ``tty``: redraw a bar in place (default: whether ``out`` is a terminal).
    ``now``: the clock (tests pass a fake one).
    """

    def __init__(self, total: int, out: TextIO | None = None, *, tty: bool | None = None, now=time.monotonic):
        self.total, self.done = total, 0
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.now = now
        self.start = now()
        if self.tty and total:
            self._draw()

    def eta(self) -> float | None:
        """Seconds left, from the mean time per finished student so far; None before the first."""
        if not self.done:
            return None
        return (self.now() - self.start) / self.done * (self.total - self.done)

    def status(self) -> str:
        """``3/8 students, 1:02 elapsed, ETA 1:40``."""
        eta = self.eta()
        return (f"{self.done}/{self.total} students, {clock(self.now() - self.start)} elapsed, "
                f"ETA {'?' if eta is None else clock(eta)}")

    def bar(self) -> str:
        """``[#########...............] 3/8 students, ...``."""
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.status()}"

    def _draw(self) -> None:
        self.out.write("\r\x1b[2K" + self.bar())
        self.out.flush()

    def finished(self, line: str) -> None:
        """Count one more student and show their ``line``."""
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
