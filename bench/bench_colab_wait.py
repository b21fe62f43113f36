"""Issue 19: the student's wait for parts 5 and 6 in a fresh runtime (as on Colab, where
every notebook starts with an empty cache), with the release's published reference runs
against the current path (retraining them in every runtime).

For each of 05 and 06, in the same run and on the same machine:

* ``retrain``: a fresh cache folder and no ``SONGREC_REFERENCE_RUNS`` (what main does);
* ``published``: a fresh cache folder and ``SONGREC_REFERENCE_RUNS`` pointing at the runs
  that the retrain pass produced, published with ``helpers.published_runs`` (file:// URL,
  so the download is local: on Colab add the fetch of a few MB).

Writes bench/results/colab_wait.csv; prints seconds and the ratio per notebook.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO, RESULTS, say, write_csv
from helpers import environment

NOTEBOOKS = ("05_recommend.ipynb", "06_questions.ipynb")


def _run(notebook: str, cache: Path, out: Path, profile: str, spec: str | None) -> float:
    env = {**os.environ, environment.PROFILE: profile, environment.CACHE_DIR: str(cache), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop(environment.REFERENCE_RUNS, None)
    if spec:
        env[environment.REFERENCE_RUNS] = spec
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "run_notebooks.py"), "--out", str(out),
                           str(REPO / "notebooks" / "song2vec" / notebook)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{notebook} failed ({'published' if spec else 'retrain'}):\n{proc.stdout[-2000:]}"
                           f"\n{proc.stderr[-2000:]}")
    return seconds


def main(profile: str = "default") -> dict:
    from helpers import published_runs

    say(f"== student wait in a fresh runtime, parts 5 and 6 (profile {profile}; issue 19) ==")
    work = RESULTS / "colab_wait"
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for notebook in NOTEBOOKS:
        stem = notebook.split(".")[0]
        retrain_cache = work / f"{stem}-retrain-cache"
        t_old = _run(notebook, retrain_cache, work / f"{stem}-retrain", profile, None)
        runs = sorted(p for p in retrain_cache.iterdir() if p.name.startswith("reference-"))
        pub = work / f"{stem}-published"
        sha = published_runs.write_published(runs, pub)
        spec = f"{(pub / published_runs.MANIFEST).as_uri()}#sha256={sha}"
        t_new = _run(notebook, work / f"{stem}-fresh-cache", work / f"{stem}-new", profile, spec)
        rows.append({"notebook": notebook, "profile": profile, "retrain_s": round(t_old, 1),
                     "published_s": round(t_new, 1), "ratio": round(t_old / t_new, 2)})
        say(f"{notebook}: retrain (current path) {t_old:.0f} s, published runs {t_new:.0f} s "
            f"-> {t_old / t_new:.1f}x less waiting")
    write_csv("colab_wait", rows)
    return {"rows": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default", help="SONGREC_PROFILE of the notebooks (default: default)")
    main(ap.parse_args().profile)
