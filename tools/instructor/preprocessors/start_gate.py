"""The start gate of a prefetched autograde (``--jobs 1``: the next student's nbgrader starts
while the current student is graded; :class:`tools.instructor.nbgrader_calls.NbgraderRun`).

The grader passes the read end of a pipe in ``SONGREC_GRADING_GATE_FD``. ``GuardedExecute``
calls :func:`wait_for_start` once its first kernel has started and the guard has recorded
the kernel's state (TensorFlow imported), before the first cell of the student's: it blocks
until the grader writes :data:`GATE_OPEN`. If the grader
closes the pipe instead (it stopped, or gave the student up), this nbgrader stops before
any of the student's code ran.

The variable is taken out of this process's environment when this module is imported
(with ``nbgrader_config.py``, before any kernel starts), so no kernel inherits it; the
sandbox drops it too (``policy.DROPPED_SONGREC``).
"""

from __future__ import annotations

import os

from helpers import environment
from tools.instructor.errors import CourseToolError

GATE_OPEN = b"go"
CLOSED_MESSAGE = "the grader closed the start gate: this student is not graded in this run"
WAITING_LOG = "kernel ready (guard set up); waiting for this student's turn"  # in nbgrader's log


def _take_fd() -> int | None:
    value = os.environ.pop(environment.GRADING_GATE_FD, None)
    if value is None:
        return None
    try:
        fd = int(value)
        os.set_inheritable(fd, False)  # kernels and their children never see it
    except (ValueError, OSError) as exc:
        raise CourseToolError(f"{environment.GRADING_GATE_FD} must name an open pipe, got {value!r} ({exc})") from None
    return fd


# "fd": the pipe's read end until the gate is reached, then None; "closed": the grader
# closed it unopened (every later call refuses too, so no later notebook runs ungated).
_gate = {"fd": _take_fd(), "closed": False}


def gate_pending() -> bool:
    """Whether :func:`wait_for_start` would wait (this process has a gate not yet reached)."""
    return _gate["fd"] is not None


def wait_for_start() -> None:
    """Block until the grader opens the gate (at once when there is none, or it was passed).

    Raises CourseToolError when the grader closed the pipe without opening the gate, and on
    every call after that.
    """
    if _gate["closed"]:
        raise CourseToolError(CLOSED_MESSAGE)
    fd = _gate["fd"]
    if fd is None:
        return
    _gate["fd"] = None
    try:
        got = b""
        while len(got) < len(GATE_OPEN):
            chunk = os.read(fd, len(GATE_OPEN) - len(got))
            if not chunk:
                break
            got += chunk
    finally:
        os.close(fd)
    if got != GATE_OPEN:
        _gate["closed"] = True
        raise CourseToolError(CLOSED_MESSAGE)
