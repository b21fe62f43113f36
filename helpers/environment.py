"""The names of the environment variables songrec and its tools read, each declared once
with its default and what it does. Standard library only (``nbgrader_config.py`` and the
notebook runner import it through ``tools.instructor.settings``).

Modules read a variable through the constant here (``environment.PROFILE``), never by
spelling ``"SONGREC_..."`` themselves (tests/project/test_environment.py checks that); the parsing
and checking of a value stays with the module that uses it. ``tools/`` may import this
module; nothing in ``helpers/`` imports ``tools/``.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "SONGREC_"  # every variable of ours; the sandbox passes these to a kernel


@dataclass(frozen=True)
class Variable:
    """``name``: the variable; ``default``: what applies when it is unset (a value, or
    where the default is declared); ``doc``: what it does, in one line."""

    name: str
    default: str  # a value, or the constant holding it (declared there, once)
    doc: str


VARIABLES: dict[str, Variable] = {}


def declare(name: str, default: str, doc: str) -> str:
    """Record variable ``name`` (with its ``default`` and one-line ``doc``); returns ``name``.

    Raises ValueError for a name without the ``SONGREC_`` prefix or declared twice.
    """
    if not name.startswith(PREFIX) or name in VARIABLES:
        raise ValueError(f"environment variable must start with {PREFIX!r} and be declared once, got {name!r}")
    VARIABLES[name] = Variable(name, default, doc)
    return name


# The course package (helpers/).
PROFILE = declare("SONGREC_PROFILE", "default", "the notebooks' profile: default, ci, grading or synthetic")
DATA_DIR = declare("SONGREC_DATA_DIR", "helpers.locations.default_data_dir()", "the Cornell data folder")
CACHE_DIR = declare("SONGREC_CACHE_DIR", "runs/course or the user cache", "the notebooks' cached reference runs")
DATA_URL = declare("SONGREC_DATA_URL", "helpers.fetch's published URL", "where songrec data fetch downloads from")
COURSE_PICKLE = declare("SONGREC_COURSE_PICKLE", "unset", "a course pickle the notebooks load instead of the data")
TRUST_PICKLE = declare("SONGREC_TRUST_PICKLE", "unset", "1: load SONGREC_COURSE_PICKLE without its checksum")
MAX_MEMORY = declare("SONGREC_MAX_MEMORY",
                     "helpers.limits.DEFAULT_MEMORY", "bytes a training run may plan to use (helpers.limits)")
MAX_DATA_BYTES = declare("SONGREC_MAX_DATA_BYTES", "helpers.limits", "bytes of data files songrec reads")
MAX_DOWNLOAD_BYTES = declare("SONGREC_MAX_DOWNLOAD_BYTES", "helpers.limits.unpacked_cap()",
                             "bytes songrec data fetch may download")
REFERENCE_RUNS = declare("SONGREC_REFERENCE_RUNS", "unset (05/06's baked cell sets it)",
                         "URL#sha256=... of the published reference runs' manifest (helpers.published_runs)")
DOWNLOAD_DEADLINE = declare("SONGREC_DOWNLOAD_DEADLINE",
                            "helpers.limits.DEFAULT_DEADLINE", "seconds the whole download may take")

# The instructor tools (tools/instructor/settings.py parses these).
CELL_TIMEOUT = declare("SONGREC_CELL_TIMEOUT", "settings.CELL_TIMEOUT_S",
                       "seconds one notebook cell may run (autograde, validate, run)")
EXCHANGE = declare("SONGREC_EXCHANGE", "exchange/ beside nbgrader_config.py", "nbgrader's exchange folder")
SANDBOX = declare("SONGREC_SANDBOX", "bwrap", "bwrap: autograded kernels in a sandbox; none: without")
SANDBOX_MEMORY_MB = declare("SONGREC_SANDBOX_MEMORY_MB",
                            "settings.SANDBOX_LIMITS", "address space of a sandboxed kernel, MiB")
SANDBOX_CPU_S = declare("SONGREC_SANDBOX_CPU_S", "settings.SANDBOX_LIMITS", "CPU seconds of a sandboxed kernel")
SANDBOX_PROCESSES = declare("SONGREC_SANDBOX_PROCESSES",
                            "settings.SANDBOX_LIMITS", "processes and threads of a sandboxed kernel")
SANDBOX_FILE_MB = declare("SONGREC_SANDBOX_FILE_MB",
                          "settings.SANDBOX_LIMITS", "largest file a sandboxed kernel writes, MiB")
SANDBOX_TMPFS_MB = declare("SONGREC_SANDBOX_TMPFS_MB",
                           "settings.SANDBOX_LIMITS", "each scratch folder of a sandboxed kernel, MiB")
SANDBOX_TOTAL_MEMORY_MB = declare("SONGREC_SANDBOX_TOTAL_MEMORY_MB", "settings.SANDBOX_LIMITS",
                                  "memory of a sandboxed kernel, its children and scratch, MiB")
SANDBOX_CGROUP = declare("SONGREC_SANDBOX_CGROUP", "auto", "auto, require or off: a cgroup per sandboxed kernel")
SANDBOX_CGROUP_PARENT = declare("SONGREC_SANDBOX_CGROUP_PARENT", "the grader's own cgroup",
                                "where the kernels' cgroups are made")
GRADING_GATE_FD = declare("SONGREC_GRADING_GATE_FD", "unset (set by the grader, never by hand)",
                          "a pipe a prefetched autograde waits on before the student's first cell")
STUDENT_VENV = declare("SONGREC_STUDENT_VENV", "unset", "the students' environment a test runs notebooks in")
SIMILARITY_THRESHOLD = declare("SONGREC_SIMILARITY_THRESHOLD", "settings.SIMILARITY_THRESHOLD",
                               "score (0..1) from which the similarity report lists a pair")
COURSE_REPO = declare("SONGREC_COURSE_REPO", "colab.PLACEHOLDER_REPO", "GitHub owner/name of the Colab links")
RELEASE_BRANCH = declare("SONGREC_RELEASE_BRANCH", "colab.DEFAULT_RELEASE_BRANCH",
                         "the branch the Colab badges open")
RELEASE_REF = declare("SONGREC_RELEASE_REF", "v<project version>", "the git ref a release installs songrec from")
PIP_SPEC = declare("SONGREC_PIP_SPEC", "built from the repo and ref", "the pip install spec a release bakes in")
REQUIRE_SANDBOX = declare("SONGREC_REQUIRE_SANDBOX", "unset",
                          "1: the sandbox tests fail, not skip, without bubblewrap (.ci/run)")
PUBLISH_REFERENCE = declare("SONGREC_PUBLISH_REFERENCE", "unset (make release sets 1)",
                            "1: the release trains and publishes the default profile's reference runs")
REFERENCE_URL = declare("SONGREC_REFERENCE_URL", "the student branch's raw folder",
                        "the folder URL released notebooks download the published reference runs from")
CI_CACHE = declare("SONGREC_CI_CACHE", "~/.cache/songrec-ci", "where tools/ci_venv.py keeps its environments")
