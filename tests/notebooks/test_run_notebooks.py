"""tools/run_notebooks.py (what `make run` executes the notebooks with) talks to its kernels
over private Unix sockets, so the terminal shows no "running over TCP without encryption"
warning (issue 20), and still writes the executed notebook and its HTML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "run_notebooks.py"


def test_kernels_run_without_the_tcp_warning(tmp_path):
    notebook = tmp_path / "01_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), notebook)
    out = tmp_path / "build"
    env = {**os.environ, "SONGREC_PROFILE": "ci"}
    proc = subprocess.run([sys.executable, str(RUNNER), "--out", str(out), str(notebook)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    terminal = proc.stdout + proc.stderr
    assert "without encryption" not in terminal, terminal
    assert "TCP" not in terminal, terminal
    executed = json.loads((out / notebook.name).read_text())
    assert "".join(executed["cells"][0]["outputs"][0]["text"]) == "42\n"
    assert (out / "01_tiny.html").is_file()
