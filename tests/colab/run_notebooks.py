"""Execute notebooks as Colab would: each in a fresh runtime, alone, from an empty folder.

Run with the simulated-Colab venv's Python (tools/ci_venv.py colab), by
tests/notebooks/test_colab_sim.py:

    python run_notebooks.py --notebooks DIR --runtimes DIR --stub DIR --out results.json

A "fresh runtime" here is: songrec uninstalled from the venv (the setup cell installs it,
as on Colab), a new empty home folder (so no data or cache survives from the notebook
before), an IPython startup file there that imports ``google.colab`` (the stub in
``--stub``) when the kernel starts, and a new kernel whose working folder is empty.
Every error output is recorded; nothing is judged here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# Colab's kernel environment carries little; the test passes what the course may read.
KEPT = ("SONGREC_PROFILE", "LANG", "LC_ALL", "TZ")


def fresh_runtime(base: Path, stub: Path) -> dict[str, str]:
    home = base / "home"
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does at start\n")
    (base / "content").mkdir()
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "songrec"],
                   check=True, capture_output=True)
    env = {k: os.environ[k] for k in KEPT if k in os.environ}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
               PYTHONPATH=str(stub), PYTHONDONTWRITEBYTECODE="1")
    return env


def run_one(path: Path, base: Path, stub: Path, timeout: int) -> dict:
    env = fresh_runtime(base, stub)
    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    started = time.monotonic()
    try:
        NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": str(base / "content")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    seconds = time.monotonic() - started
    nbformat.write(nb, base / path.name)
    cells, errors = 0, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cells += 1
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append({"cell": index, "grade_id": cell.metadata.get("nbgrader", {}).get("grade_id"),
                               "ename": out.ename, "evalue": out.evalue[:300],
                               "traceback": "\n".join(out.traceback)[-2000:]})
    unexecuted = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
    setup = setup_seconds(nb)
    return {"notebook": path.name, "code_cells": cells, "errors": errors, "unexecuted": unexecuted,
            "seconds": round(seconds, 1), "setup_seconds": round(setup, 1),
            "after_setup_seconds": round(seconds - setup, 1), "home": str(base / "home")}


def setup_seconds(nb) -> float:
    """Seconds the setup cell (the one that pip-installs the course on Colab) ran, from the
    execution times nbclient records in each cell's metadata; 0 when there is none."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "PIP_SPEC = " in cell.source:
            times = cell.metadata.get("execution", {})
            start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
            if start and end:
                return (datetime.fromisoformat(end.replace("Z", "+00:00"))
                        - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notebooks", type=Path, required=True)
    parser.add_argument("--runtimes", type=Path, required=True, help="a new folder per notebook goes here")
    parser.add_argument("--stub", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    results = []
    for path in sorted(args.notebooks.glob("*.ipynb")):
        result = run_one(path, args.runtimes / path.stem, args.stub, args.timeout)
        print(f"{result['notebook']}: {result['code_cells']} code cells, {len(result['errors'])} error(s), "
              f"{result['seconds']} s ({result['after_setup_seconds']} s after the setup cell)", flush=True)
        results.append(result)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
