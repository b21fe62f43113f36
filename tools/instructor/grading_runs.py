"""The course's reference runs for the grading profile, trained once by the grader and read
by every sandboxed kernel instead of trained in each one (issue 19).

Part 5's setup cell (and part 6's, when that notebook runs) asks
``helpers.course.reference_run`` for the course's reference run. In a fresh kernel that
meant importing TensorFlow and training: about 4.5 s of every submission, the same work for
every student. Here the grader trains the runs once, in a child process (so the grader
itself never imports TensorFlow), outside the sandbox, with the job's own variables
(profile, data folder), into the grader's cache (``<user cache>/grading-runs/<key>``, the
key a digest of those variables, of ``helpers``' source and of the Python, NumPy, Keras and
TensorFlow versions, so a changed course or library trains anew and a later grading run of
the same course reuses them). The kernels then get
``SONGREC_REFERENCE_RUNS=file://<folder>/manifest.json#sha256=<hash>`` and the folder
read-only (:func:`tools.instructor.sandbox.policy._ro_paths`), and
``helpers.published_runs`` verifies every file against that hash and copies it into the
kernel's own cache, as it does on Colab.

Scores never depend on it: the test cells build their own inputs. Where the training fails
(no data for the profile, a broken environment) the kernels train as before, and the
grading log says why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from helpers import environment
from helpers.digest import sha256_bytes
from helpers.published_runs import MANIFEST, local_spec
from tools.instructor.nbgrader_calls import course_env
from tools.instructor.paths import REPO_ROOT
from tools.instructor.settings import GRADING_PROFILE

PREPARE_TIMEOUT_S = 1800  # the default profile trains the full assignment's two runs
RESULT_PREFIX = "REFERENCE-SHA256 "
RESULT_RE = re.compile(rf"^{RESULT_PREFIX}[0-9a-f]{{64}}$", re.MULTILINE)  # "" when the data is missing
# Runs in the child: the grading profile's runs, trained from the job's data, into argv[1].
CHILD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from tools.instructor.reference_release import write_reference_runs\n"
    "sha = write_reference_runs(Path(sys.argv[1]), sys.argv[2], sys.stdout)\n"
    f"print({RESULT_PREFIX!r} + sha)\n"
)

_lock = threading.Lock()
_prepared: dict[tuple, tuple[str, str]] = {}  # job variables -> (spec or "", why not)


def _job_key(env: dict[str, str]) -> tuple:
    """The variables that decide which runs a kernel asks for: the course's own."""
    skipped = {environment.REFERENCE_RUNS, environment.CACHE_DIR}
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(environment.PREFIX) and k not in skipped))


def _store(key: tuple) -> Path:
    """The cache folder for runs trained with the job variables ``key`` by this code."""
    from importlib import metadata

    from helpers import locations

    parts = [repr(key), sys.version]
    for dist in ("numpy", "keras", "tensorflow"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} absent")
    for path in sorted((locations.PACKAGE_PARENT / "helpers").rglob("*.py")):
        parts.append(f"{path.relative_to(locations.PACKAGE_PARENT).as_posix()} {sha256_bytes(path.read_bytes())}")
    return locations.user_cache_dir() / "grading-runs" / sha256_bytes("\n".join(parts).encode())[:16]


def train_published(env: dict[str, str], profile: str, store: Path) -> tuple[str, str]:
    """The spec of the runs in ``store``, trained there first if missing: (spec, "") or
    ("", why not). Trained into a temporary sibling and renamed, so a worker never sees a
    half-written folder, and two workers racing both end with the same complete one."""
    if (store / MANIFEST).is_file():
        return local_spec(store), ""
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".training-", dir=store.parent))
    try:
        child_env = dict(env)
        child_env.pop(environment.REFERENCE_RUNS, None)
        child_env[environment.CACHE_DIR] = str(tmp / "cache")   # trained here, never taken from another cache
        try:
            proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp / "published"), profile],
                                  cwd=str(REPO_ROOT), env=child_env, capture_output=True, text=True,
                                  timeout=PREPARE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return "", f"training them failed: {exc}"
        if proc.returncode != 0 or not RESULT_RE.search(proc.stdout):
            tail = (proc.stdout.strip().splitlines() + proc.stderr.strip().splitlines())[-3:]
            return "", f"training them exited with {proc.returncode}: {' | '.join(tail) or 'no output'}"
        try:
            os.replace(tmp / "published", store)
        except OSError:
            if not (store / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return local_spec(store), ""


def reference_runs_env(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """``env`` (a grading job's variables) with ``SONGREC_REFERENCE_RUNS`` pointing at the
    grader's copy of the profile's reference runs (trained first when the cache has none for
    these variables and this code); and a note for the grading log ("" when it worked).

    Returns ``env`` unchanged, with the note saying why, when the runs could not be made.
    Thread-safe: the jobs of one Dask worker share one copy.
    """
    full = course_env(env)
    key = _job_key(full)
    with _lock:
        if key not in _prepared:
            profile = full.get(environment.PROFILE) or GRADING_PROFILE
            _prepared[key] = train_published(full, profile, _store(key))
        spec, why = _prepared[key]
    if not spec:
        return dict(env), (f"the course's reference runs were not prepared for the kernels ({why}); "
                           "parts 5 and 6 train them in every kernel instead")
    return {**env, environment.REFERENCE_RUNS: spec}, ""
