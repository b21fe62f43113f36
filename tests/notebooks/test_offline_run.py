"""`make run` without data and without network: the notebooks run on synthetic data and say so.

`songrec demo`'s own fallback is tested in tests/helpers/test_cli.py; this covers the notebook
runner that `make run` calls next (tools/run_notebooks.py).
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "run_notebooks.py"
NOISE_MARKERS = ("absl::InitializeLog", "Could not find cuda drivers", "cuInit", "oneDNN custom operations")


def _runner_module():
    spec = importlib.util.spec_from_file_location("run_notebooks", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_choice(tmp_path, monkeypatch):
    runner = _runner_module()
    monkeypatch.setattr("helpers.data.default_data_dir", lambda repo_root=None: tmp_path / "absent")
    assert runner.choose_profile({"SONGREC_PROFILE": "ci"}) == ("ci", None)
    monkeypatch.delenv("SONGREC_DATA_DIR", raising=False)
    profile, reason = runner.choose_profile({})
    assert profile == "synthetic" and "no Cornell data" in reason
    monkeypatch.setenv("SONGREC_DATA_DIR", str(tmp_path))
    assert runner.choose_profile({}) == ("default", None)


def test_synthetic_profile_always_uses_the_synthetic_corpus(monkeypatch, capsys, tmp_path):
    from helpers import course

    monkeypatch.setenv("SONGREC_PROFILE", "synthetic")
    monkeypatch.setenv("SONGREC_DATA_DIR", str(tmp_path))  # "present", never read
    ds = course.load_dataset()
    assert ds.name == "synthetic"
    assert "NOTICE" in capsys.readouterr().out
    assert course.profile().epochs == course.PROFILES["default"].epochs


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_runner_without_data_or_network_runs_the_notebooks_on_synthetic_data(tmp_path):
    if (ROOT / "data" / "cornell").is_dir():
        pytest.skip("data/cornell exists in this checkout, so 'no data' cannot be simulated here")
    env = {k: v for k, v in os.environ.items() if k not in ("SONGREC_DATA_DIR", "SONGREC_PROFILE",
                                                             "TF_CPP_MIN_LOG_LEVEL")}
    env.update(SONGREC_DATA_URL=f"http://127.0.0.1:{_closed_port()}/dataset.tar.gz",
               SONGREC_CACHE_DIR=str(tmp_path / "cache"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    out = tmp_path / "build"
    notebooks = [ROOT / "notebooks" / "song2vec" / name for name in ("01_mapping.ipynb", "03_model.ipynb")]
    proc = subprocess.run([sys.executable, str(RUNNER), "--out", str(out), *map(str, notebooks)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "synthetic profile" in proc.stdout
    for path in notebooks:
        nb = json.loads((out / path.name).read_text())
        first = nb["cells"][0]
        assert first["cell_type"] == "markdown" and "Synthetic data, not the real playlists" in "".join(first["source"])
        outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
        text = "".join("".join(o.get("text", "")) for o in outputs)
        assert "NOTICE: the synthetic profile" in text
        assert not [o for o in outputs if o["output_type"] == "error"]
        stderr = "".join("".join(o.get("text", "")) for o in outputs if o.get("name") == "stderr")
        assert not [m for m in NOISE_MARKERS if m in stderr], stderr
        assert (out / path.with_suffix(".html").name).exists()
