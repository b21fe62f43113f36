"""Issue 19: the student's wait on Colab, one notebook per fresh runtime, default profile.

The simulated Colab of `make test-colab` (tools/colab_sim.py): Colab's Python 3.13 and pins
(tools/ci_venv.py ``colab``), a wheel of this checkout that each released setup cell
pip-installs, Cornell's archive served by a local mirror, and a release that publishes the
default profile's reference runs there. The six solved notebooks run one after another, each
in a fresh runtime (empty home and cache, songrec uninstalled first).

Measured in the same run:

* ``published``: every notebook, the reference runs downloaded and verified (this checkout);
* ``retrain``: parts 5 and 6 once more with the published spec taken out of their setup
  cells, so each retrains its reference runs in the runtime: what every runtime did before
  the release published them (issue 19's current path).

The goal is each notebook at most 60 s after its setup cell (the setup cell is the pip
install and, in parts 1-6, the data download of the first ``course`` call comes after it).
Writes bench/results/colab_wait.csv.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

from bench.common import say, write_csv
from helpers import environment

TARGET_S = 60.0
BAKED = re.compile(r'^REFERENCE_RUNS = "[^"\n]+"', re.M)
RETRAINED = ("05_recommend.ipynb", "06_questions.ipynb")


def _release(work, mirror, wheel):
    """A Colab release of a copy of this course whose reference runs the mirror serves."""
    from bench.bench_autograde import copy_course
    from tools.instructor.colab import ColabSettings
    from tools.instructor.release import run_release
    from tools.instructor.settings import ASSIGNMENT

    root = work / "course"
    source = copy_course(root)
    settings = ColabSettings(str(wheel), f"{mirror.url}/dataset.tar.gz", "bench/songrec", "student")
    saved = os.environ.get(environment.REFERENCE_URL)
    os.environ[environment.REFERENCE_URL] = f"{mirror.url}/reference"
    try:
        run_release(root, env={environment.PROFILE: "default"}, settings=settings, out=io.StringIO(),
                    reference_profile="default")
    finally:
        if saved is None:
            os.environ.pop(environment.REFERENCE_URL)
        else:
            os.environ[environment.REFERENCE_URL] = saved
    release = root / "release" / ASSIGNMENT
    shutil.copytree(release / "reference", mirror.root / "reference")
    return source, release


def _without_published_runs(solved, out):
    """Copies of parts 5 and 6 whose setup cells name no published runs."""
    import nbformat

    out.mkdir(parents=True)
    for name in RETRAINED:
        nb = nbformat.read(solved / name, as_version=4)
        baked = [c for c in nb.cells if c.cell_type == "code" and BAKED.search(c.source)]
        if len(baked) != 1:
            raise ValueError(f"{name}: expected one cell with a baked REFERENCE_RUNS, got {len(baked)}")
        baked[0].source = BAKED.sub('REFERENCE_RUNS = ""', baked[0].source)
        nbformat.write(nb, out / name)
    return out


def main(keep: Path | None = None) -> dict:
    """Measure; ``keep``: a folder to copy the executed notebooks of the published run into
    (for ``python -m bench.cell_times``)."""
    from tools import ci_venv

    say("== student wait on a simulated Colab, default profile, one fresh runtime per notebook (issue 19) ==")
    venv = ci_venv.ensure_venv(ci_venv.SPECS["colab"])
    python = venv / "bin" / "python"
    # The course copy, wheel and runtimes go to a temporary folder: a copy of helpers/ under
    # bench/ would be scanned by the architecture tests.
    work = Path(tempfile.mkdtemp(prefix="songrec-colab-wait-"))
    (work / "mirror").mkdir(parents=True)
    try:
        return _measure(python, work, keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(python, work, keep=None) -> dict:
    from bench.common import data_dir
    from tools import colab_sim

    colab_sim.build_archive(data_dir(), work / "mirror" / "dataset.tar.gz")
    with colab_sim.Mirror(work / "mirror") as mirror:
        wheel = colab_sim.build_wheel(work / "wheel")
        source, release = _release(work, mirror, wheel)
        solved = colab_sim.inject_solutions(release, source, work / "solved")
        published = colab_sim.run_on_colab(python, solved, work / "run-published", profile="default")
        retrain = colab_sim.run_on_colab(python, _without_published_runs(solved, work / "unpublished"),
                                         work / "run-retrain", profile="default")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for path in (work / "run-published").rglob("*.ipynb"):
            if ".ipynb_checkpoints" not in path.parts:
                shutil.copy2(path, keep / path.name)
    errors = [(r["notebook"], e["ename"]) for r in published + retrain for e in r["errors"]]
    if errors:
        raise RuntimeError(f"notebooks failed on the simulated Colab: {errors}")
    before = {r["notebook"]: r for r in retrain}
    rows = []
    for r in published:
        old = before.get(r["notebook"])
        row = {"notebook": r["notebook"], "setup_s": r["setup_seconds"], "after_setup_s": r["after_setup_seconds"],
               "retrain_after_setup_s": old["after_setup_seconds"] if old else None,
               "ratio": round(old["after_setup_seconds"] / r["after_setup_seconds"], 2) if old else None}
        rows.append(row)
        say(f"{r['notebook']}: setup cell {r['setup_seconds']:.0f} s, then {r['after_setup_seconds']:.0f} s"
            + (f" (retraining the reference runs in the runtime: {old['after_setup_seconds']:.0f} s, "
               f"x{row['ratio']:.1f})" if old else "")
            + f"; <= {TARGET_S:.0f} s: {'met' if r['after_setup_seconds'] <= TARGET_S else 'NOT met'}")
    write_csv("colab_wait", rows)
    return {"rows": rows}


def render_rows(res: dict) -> list[str]:
    """Rows of the results table, one per notebook."""
    lines = []
    for r in res["rows"]:
        old = (f"retrains the reference runs in the runtime: {r['retrain_after_setup_s']:.0f} s"
               if r["retrain_after_setup_s"] is not None else "same path")
        ratio = f"x{r['ratio']:.1f} less waiting" if r["ratio"] else ""
        mark = "met" if r["after_setup_s"] <= TARGET_S else "**not met**"
        lines.append(f"| 19 | simulated Colab, fresh runtime, {r['notebook']} (default profile) | {old} | "
                     f"{r['after_setup_s']:.0f} s after the setup cell ({r['setup_s']:.0f} s: pip install) | "
                     f"{ratio} | <= 60 s: {mark} |")
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="copy the executed notebooks (published run) into this folder")
    main(ap.parse_args().keep)
