"""The course's settings, each declared here once: its names and folders, and what it
reads from the environment.

``nbgrader_config.py`` and ``tools/run_notebooks.py`` import this module, so it uses the
standard library only.

Environment variables:
    SONGREC_CELL_TIMEOUT  seconds one notebook cell may run while autograding,
                          validating or executing the notebooks (default
                          ``CELL_TIMEOUT_S``, enough for the default-profile training
                          cell; tests use a few seconds so a student's infinite loop fails
                          fast instead of hanging CI).
    SONGREC_EXCHANGE      nbgrader's exchange folder (default: ``exchange/`` next to
                          nbgrader_config.py). On a shared JupyterHub, the folder all
                          users share (docs/GRADING.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

COURSE_ID = "song2vec"
ASSIGNMENT = "song2vec"  # nbgrader's assignment: the six notebooks
# nbgrader's folders, relative to the course root; the source and release folders hold
# one folder per assignment (notebooks/song2vec/, release/song2vec/).
FOLDERS = {
    "source": "notebooks",
    "release": "release",
    "submitted": "submitted",
    "autograded": "autograded",
    "feedback": "feedback",
}
GRADEBOOK_FILE = "gradebook.db"
GRADES_CSV = "grades.csv"

CELL_TIMEOUT_S = 1800
CELL_TIMEOUT_VAR = "SONGREC_CELL_TIMEOUT"
EXCHANGE_VAR = "SONGREC_EXCHANGE"
EXCHANGE_DIR = "exchange"


def cell_timeout(environ: Mapping[str, str] = os.environ) -> int:
    """Seconds one cell may run: ``SONGREC_CELL_TIMEOUT``, else ``CELL_TIMEOUT_S``.

    ``environ``: where to read the variable (the process environment by default).
    Returns a whole number of seconds > 0.
    Raises ValueError when the variable is set to anything else.
    """
    raw = environ.get(CELL_TIMEOUT_VAR, str(CELL_TIMEOUT_S))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{CELL_TIMEOUT_VAR} must be a positive whole number of seconds, got {raw!r}")
    return value


def exchange_root(course_root: str, environ: Mapping[str, str] = os.environ) -> str:
    """nbgrader's exchange folder: ``SONGREC_EXCHANGE``, else ``exchange/`` in ``course_root``.

    ``course_root``: the folder holding nbgrader_config.py.
    ``environ``: where to read the variable (the process environment by default).
    Returns the folder's path; it is created when missing and the parent is writable (a
    read-only course copy is left alone: nbgrader then reports the missing exchange).
    """
    root = environ.get(EXCHANGE_VAR) or os.path.join(course_root, EXCHANGE_DIR)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError:
        pass
    return root

# How the instructor tools are started; messages that advise a next step use it.
TOOL_COMMAND = "python -m tools.instructor"
