"""Shared pieces of the benchmark scripts: data, splits, child-process measurements, CSV.

Every measurement that reports memory runs in a fresh child process (``spawn``), and the
child reports its own peak resident size, so one measurement's allocations (or
TensorFlow's) never inflate another's. The figure includes the interpreter and the
imported libraries (about 0.1 GB for NumPy alone, about 0.7 GB once TensorFlow is loaded).

The peak is read from ``VmHWM`` in ``/proc/self/status``. ``getrusage(RUSAGE_SELF)
.ru_maxrss`` would be wrong here: Linux carries the parent's resident size at ``fork``
over ``exec`` into the child's ``ru_maxrss``, so a child spawned by a parent holding the
full data set would report the parent's size. ``ru_maxrss`` is the fallback where /proc
is missing.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"

ORIGINAL_PLAYLISTS = 200      # the original assignment's setting: first 200 yes_complete playlists
TEST_FRACTION = 0.1           # held-out playlists for HR@10
SPLIT_SEED = 0
FULL_EVAL_CASES = 5000        # held-out next-song cases scored on the full data (sampled)
# The "current path" of issue 19's waits: main as it landed before that issue's changes.
WAIT_BASELINE = "319925c"


def tree_env(tree: Path, **extra: str) -> dict[str, str]:
    """This process's environment with ``extra`` and checkout ``tree`` first on PYTHONPATH, so a
    child runs that tree's ``helpers``, ``tools`` and ``bench`` (a baseline exported with git)."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(tree)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def data_dir() -> Path:
    """The Cornell data: ``SONGREC_DATA_DIR``, else the checkout's ``data/cornell``
    (:func:`helpers.data.find_data_dir`); raises FileNotFoundError when neither exists."""
    from helpers.data import find_data_dir

    found = find_data_dir(None)
    if found is None:
        raise FileNotFoundError("the benchmarks need the Cornell data: set SONGREC_DATA_DIR or run "
                                "`songrec data fetch`")
    return found


def load_playlists(limit: int | None = None) -> list[np.ndarray]:
    """yes_complete playlists with at least 2 songs (raw IDs, int64), first ``limit``."""
    from helpers.data import load_cornell

    playlists = load_cornell(data_dir(), "yes_complete", min_length=2, with_tags=False).playlists
    return playlists[:limit] if limit else playlists


def split(limit: int | None, max_cases: int | None = None, seed: int = SPLIT_SEED):
    """Split by playlist, vocabulary on the training side, held-out next-song cases.

    Returns ``(EvalSplit, queries, answers)``; with ``max_cases`` a sample of the cases
    (:func:`helpers.splits.sample_index`, sorted back into playlist order) keeps the
    ranking cost bounded. ``seed`` seeds both the split and the sample.
    """
    from helpers.splits import sample_index, split_and_encode

    sp = split_and_encode(load_playlists(limit), TEST_FRACTION, seed)
    q, a = sp.queries, sp.answers
    if max_cases and q.size > max_cases:
        pick = sample_index(q.size, max_cases, seed)
        q, a = q[pick], a[pick]
    return sp, q, a


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (see the module docstring)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(fn, args, kwargs):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = fn(*args, **kwargs)
    out = dict(out or {})
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def in_child(fn, *args, **kwargs) -> dict:
    """Run ``fn(*args, **kwargs)`` (returning a dict) in a fresh process; add its peak
    RSS under ``"peak_rss_mb"``. ``fn`` must be importable (a module-level function)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_child, fn, args, kwargs).result()


def write_csv(name: str, rows: list[dict]) -> Path:
    """Write ``rows`` to bench/results/<name>.csv (columns = union of keys, in order)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.csv"
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: _fmt(v) for k, v in r.items()})
    return path


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def say(*parts):
    print(*parts, flush=True)
