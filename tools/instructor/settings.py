"""The course's settings, each declared here once: its names and folders, and what it
reads from the environment.

``nbgrader_config.py`` and ``tools/run_notebooks.py`` import this module, so it uses the
standard library only (and ``helpers.environment``, the variables' names, which does too).

Environment variables:
    SONGREC_CELL_TIMEOUT  seconds one notebook cell may run while autograding,
                          validating or executing the notebooks (default
                          ``CELL_TIMEOUT_S``, enough for the default-profile training
                          cell; tests use a few seconds so a student's infinite loop fails
                          fast instead of hanging CI).
    SONGREC_EXCHANGE      nbgrader's exchange folder (default: ``exchange/`` next to
                          nbgrader_config.py). On a shared JupyterHub, the folder all
                          users share (docs/GRADING.md).
    SONGREC_SANDBOX       ``bwrap`` (default) runs each autograded notebook's kernel in a
                          bubblewrap sandbox (tools/instructor/sandbox/); ``none`` runs
                          student code with the grader's own permissions.
    SONGREC_SANDBOX_MEMORY_MB, SONGREC_SANDBOX_CPU_S, SONGREC_SANDBOX_PROCESSES,
    SONGREC_SANDBOX_FILE_MB, SONGREC_SANDBOX_TMPFS_MB, SONGREC_SANDBOX_TOTAL_MEMORY_MB
                          the sandbox's limits (``SANDBOX_LIMITS`` below): address space,
                          CPU seconds and processes/threads of one notebook's kernel, the
                          size of any file it writes, and of each of its scratch folders;
                          the memory of all its processes and scratch folders together
                          (a cgroup's, where one can be made).
    SONGREC_SANDBOX_CGROUP
                          ``auto`` (default): give each sandboxed kernel a cgroup where
                          one can be made, else per-process limits only, said in the
                          grading log; ``require``: refuse to grade without one; ``off``.
    SONGREC_SANDBOX_CGROUP_PARENT
                          the cgroup (a path such as ``/songrec``) the kernels' groups are
                          made in; default: the grader's own.
    SONGREC_SIMILARITY_THRESHOLD
                          the score (0..1) from which the similarity report lists a pair
                          of answers (default ``SIMILARITY_THRESHOLD``).
    DASK_SCHEDULER_ADDRESS
                          Dask's own setting: the scheduler that ``autograde`` sends its
                          per-student jobs to when ``--scheduler`` is not given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from helpers import environment

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
CELL_TIMEOUT_VAR = environment.CELL_TIMEOUT
# What `autograde` gives one cell, by notebook profile, unless SONGREC_CELL_TIMEOUT is set.
# The grading profile's slowest cell took 5 s on 2 busy cores (docs/GRADING.md, "Time
# budget"), so 60 s stops a student's infinite loop after a minute instead of half an
# hour; the full assignment's training cell needs the long limit.
GRADING_CELL_TIMEOUT_S = {"grading": 60, "ci": 120, "default": CELL_TIMEOUT_S, "synthetic": CELL_TIMEOUT_S}
GRADING_PROFILE = "grading"  # the notebook profile autograde runs unless told otherwise
GRADING_STATE_FILE = "autograde-state.json"  # per student: the submission hash last graded
GRADING_LOG_DIR = "autograde-logs"  # per student: nbgrader's log of the last grading

# Course cells autograde does not run (GuardedExecute.skip_cells): demonstrations that train
# or plot with the course's reference code only, so their output is the same for every
# student, and no later cell uses a name they define. Cell id -> sha256 of the cell's text:
# a cell whose text differs in a submission runs as usual. tests/instructor/test_skip_cells.py
# checks both conditions against the source notebooks.
GRADING_SKIPPED_CELLS = {
    # Part 3: one epoch of each model variant on 20,000 reference rows; the variant with
    # separate tables, from that cell.
    "p03-23": "23f57f43ab725e9ffd7b7d5546e1a8d2c5963642ed950a95859dcddbd28c4c0c",
    "p03-24": "aabc5c350e8f57d7142492c0cf19fed6aa8e131727c9b4d2824ea80c33b77038",
    # Part 5: the PCA map of the reference run's vectors.
    "nb05-35": "4c3ad291891478fb7c043e96f3f83725af0499481d9f395f81d9066e72b82bd1",
}

SANDBOX_VAR = environment.SANDBOX
SANDBOX_MODES = ("bwrap", "none")
# name -> (environment variable, default, unit). Memory is address space (RLIMIT_AS): TensorFlow
# reserves far more than it touches (a small Keras fit peaks near 2.7 GB of address space),
# so this is not a resident-memory figure.
SANDBOX_LIMITS = {
    "memory_mb": (environment.SANDBOX_MEMORY_MB, 8192, "MiB"),
    "cpu_s": (environment.SANDBOX_CPU_S, 900, "seconds"),
    "processes": (environment.SANDBOX_PROCESSES, 256, "processes"),
    "file_mb": (environment.SANDBOX_FILE_MB, 256, "MiB"),
    "tmpfs_mb": (environment.SANDBOX_TMPFS_MB, 512, "MiB"),
    # Resident memory of the kernel, its children and its tmpfs folders together (a cgroup
    # limit, so unlike memory_mb a real figure): room for a Keras fit and full scratch folders.
    "total_memory_mb": (environment.SANDBOX_TOTAL_MEMORY_MB, 4096, "MiB"),
}
SANDBOX_CGROUP_VAR = environment.SANDBOX_CGROUP
SANDBOX_CGROUP_MODES = ("auto", "require", "off")
SANDBOX_CGROUP_PARENT_VAR = environment.SANDBOX_CGROUP_PARENT
DASK_SCHEDULER_VAR = "DASK_SCHEDULER_ADDRESS"
EXCHANGE_VAR = environment.EXCHANGE
EXCHANGE_DIR = "exchange"


def _positive_int(environ: Mapping[str, str], name: str, default: int, unit: str) -> int:
    raw = environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name} must be a positive whole number of {unit}, got {raw!r}")
    return value


def cell_timeout(environ: Mapping[str, str] = os.environ) -> int:
    """Seconds one cell may run: ``SONGREC_CELL_TIMEOUT``, else ``CELL_TIMEOUT_S``.

    ``environ``: where to read the variable (the process environment by default).
    Returns a whole number of seconds > 0.
    Raises ValueError when the variable is set to anything else.
    """
    return _positive_int(environ, CELL_TIMEOUT_VAR, CELL_TIMEOUT_S, "seconds")


def grading_cell_timeout(profile: str, environ: Mapping[str, str] = os.environ) -> int:
    """Seconds one cell may run while autograding in notebook profile ``profile``:
    ``SONGREC_CELL_TIMEOUT`` when set, else ``GRADING_CELL_TIMEOUT_S[profile]``.

    Raises ValueError for a bad variable or an unknown profile.
    """
    if profile not in GRADING_CELL_TIMEOUT_S:
        raise ValueError(f"profile must be one of {sorted(GRADING_CELL_TIMEOUT_S)}, got {profile!r}")
    return _positive_int(environ, CELL_TIMEOUT_VAR, GRADING_CELL_TIMEOUT_S[profile], "seconds")


def sandbox_mode(environ: Mapping[str, str] = os.environ) -> str:
    """``SONGREC_SANDBOX``: ``bwrap`` (the default) or ``none``.

    Raises ValueError for any other value.
    """
    value = environ.get(SANDBOX_VAR, SANDBOX_MODES[0])
    if value not in SANDBOX_MODES:
        raise ValueError(f"{SANDBOX_VAR} must be one of {list(SANDBOX_MODES)}, got {value!r}")
    return value


def sandbox_cgroup_mode(environ: Mapping[str, str] = os.environ) -> str:
    """``SONGREC_SANDBOX_CGROUP``: ``auto`` (the default), ``require`` or ``off``.

    Raises ValueError for any other value.
    """
    value = environ.get(SANDBOX_CGROUP_VAR, SANDBOX_CGROUP_MODES[0])
    if value not in SANDBOX_CGROUP_MODES:
        raise ValueError(f"{SANDBOX_CGROUP_VAR} must be one of {list(SANDBOX_CGROUP_MODES)}, got {value!r}")
    return value


def sandbox_limits(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """The sandbox's limits by name (``SANDBOX_LIMITS``), each from its variable or default.

    Raises ValueError when a variable is not a positive whole number.
    """
    return {name: _positive_int(environ, var, default, unit)
            for name, (var, default, unit) in SANDBOX_LIMITS.items()}


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

# The similarity report (tools/instructor/similarity.py) lists pairs of answers whose score
# (how much of the shorter one is in the other, 0..1) is at least this. Answers written
# independently scored at most 0.51 against the references (the instructor's solutions in
# notebooks/, docs/GRADING.md); a reference pasted with its names changed and its layout
# redone scores 1.
SIMILARITY_THRESHOLD = 0.8
SIMILARITY_VAR = environment.SIMILARITY_THRESHOLD
SIMILARITY_HTML = "similarity.html"  # written next to grades.csv: the flagged pairs side by side


def similarity_threshold(environ: Mapping[str, str] = os.environ) -> float:
    """``SONGREC_SIMILARITY_THRESHOLD``, else ``SIMILARITY_THRESHOLD``.

    Raises ValueError unless the value is a number in (0, 1].
    """
    raw = environ.get(SIMILARITY_VAR, str(SIMILARITY_THRESHOLD))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise ValueError(f"{SIMILARITY_VAR} must be a number in (0, 1], got {raw!r}")
    return value


# What running each notebook costs a student, said by its released first cell and the release
# summary: every cell after the setup cell, default profile, on a quiet 2-core CPU, rounded up
# from `make bench BENCH_ARGS=--waits` (bench/RESULTS.md, rows 19: the simulated Colab, where they
# took 3, 6, 10, 48, 7 and 18 s; 38 s and 90 s for parts 5 and 6 without published runs).
COST_CONTEXT = "default profile, 2 CPU cores, after the setup cell; on Colab the setup cell adds about a minute"
STUDENT_COST = {
    "01_mapping": "~5 s",
    "02_skipgrams": "~10 s",
    "03_model": "~15 s (TensorFlow starts)",
    "04_training": "~1 min (your training: 20 epochs, a line per epoch)",
    "05_recommend": "~10 s with the published reference run (~45 s if it must be trained)",
    "06_questions": "~20 s with the published reference runs (~1.5 min if they must be trained)",
}
