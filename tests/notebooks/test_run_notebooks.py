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
import pytest

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


@pytest.mark.slow
def test_every_cell_of_the_course_runs_in_the_grading_profile(tmp_path):
    # Autograding executes every cell of each student's notebooks in the grading profile (one
    # epoch, synthetic data). A cell written with only the default or ci profile in mind can
    # fail there for every student, and the scores alone do not show it.
    out = tmp_path / "build"
    env = {**os.environ, "SONGREC_PROFILE": "grading"}
    proc = subprocess.run([sys.executable, str(RUNNER), "--out", str(out), "--reference-runs", "retrain"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    executed = sorted(out.glob("*.ipynb"))
    assert [p.name for p in executed] == sorted(p.name for p in (ROOT / "notebooks" / "song2vec").glob("*.ipynb"))
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{path.name}: cells {errors} raised in the grading profile"


# -- where parts 5 and 6 get the reference runs (issue 19) ------------------------------

SPEC = "file:///published/manifest.json#sha256=" + "ab" * 32


def _runner_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks_under_test", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_auto_takes_the_release_manifest_with_its_sha256(tmp_path):
    import hashlib

    manifest = tmp_path / "reference" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_bytes(b'{"format": 1, "runs": {}}')
    spec, where = _runner_module().reference_runs_spec("auto", environ={}, release=tmp_path)
    assert spec == f"{manifest.as_uri()}#sha256={hashlib.sha256(manifest.read_bytes()).hexdigest()}"
    assert "make release" in where


def test_auto_keeps_the_environment_and_retrains_without_a_release(tmp_path):
    runner = _runner_module()
    assert runner.reference_runs_spec("auto", environ={"SONGREC_REFERENCE_RUNS": SPEC}, release=tmp_path)[0] == SPEC
    spec, where = runner.reference_runs_spec("auto", environ={}, release=tmp_path)
    assert spec is None and "trained here" in where
    assert runner.reference_runs_spec("retrain", environ={"SONGREC_REFERENCE_RUNS": SPEC}, release=tmp_path)[0] is None


def _environment_seen_by_the_kernel(tmp_path, *flags, env_spec=None):
    notebook = tmp_path / "01_env.ipynb"
    code = "import os; print(repr(os.environ.get('SONGREC_REFERENCE_RUNS')))"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), notebook)
    env = {**os.environ, "SONGREC_PROFILE": "ci"}
    env.pop("SONGREC_REFERENCE_RUNS", None)
    if env_spec:
        env["SONGREC_REFERENCE_RUNS"] = env_spec
    proc = subprocess.run([sys.executable, str(RUNNER), "--out", str(tmp_path / "build"), *flags, str(notebook)],
                          capture_output=True, text=True, env=env, timeout=300)
    return proc


def test_the_kernels_get_the_spec_given_and_none_with_retrain(tmp_path):
    proc = _environment_seen_by_the_kernel(tmp_path, "--reference-runs", SPEC)
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "build" / "01_env.ipynb").read_text())["cells"][0]["outputs"][0]["text"]
    assert "".join(out).strip() == repr(SPEC)
    proc = _environment_seen_by_the_kernel(tmp_path, "--reference-runs", "retrain", env_spec=SPEC)
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "build" / "01_env.ipynb").read_text())["cells"][0]["outputs"][0]["text"]
    assert "".join(out).strip() == "None"
    assert "--reference-runs retrain" in proc.stdout


def test_a_bad_spec_is_refused_naming_it(tmp_path):
    proc = _environment_seen_by_the_kernel(tmp_path, "--reference-runs", "published-runs.json")
    assert proc.returncode == 2
    assert "--reference-runs" in proc.stderr and "'published-runs.json'" in proc.stderr
    assert not (tmp_path / "build" / "01_env.ipynb").exists()


def test_a_failing_cell_is_named_in_plain_text(tmp_path):
    notebook = tmp_path / "01_fails.ipynb"
    cells = [nbformat.v4.new_code_cell("raise ValueError('expected 3 playlists, got 2')")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)
    proc = subprocess.run([sys.executable, str(RUNNER), "--out", str(tmp_path / "build"), str(notebook)],
                          capture_output=True, text=True, env={**os.environ, "SONGREC_PROFILE": "ci"}, timeout=300)
    assert proc.returncode == 1
    assert "FAILED: 01_fails.ipynb: ValueError: expected 3 playlists, got 2" in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stderr
    assert (tmp_path / "build" / "01_fails.ipynb").is_file()
