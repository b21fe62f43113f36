"""tools/ci_venv.py: the cached extra environments are reused only while their pins hold."""

import io
import sys
from pathlib import Path

import pytest

from tools import ci_venv, colab_pins

ROOT = Path(__file__).resolve().parents[2]


def _spec_in(tmp_path: Path, pins: str) -> ci_venv.VenvSpec:
    (tmp_path / "req.txt").write_text("numpy\n")
    (tmp_path / "pins.txt").write_text(pins)
    return ci_venv.VenvSpec(name="t", python=(sys.executable,), requirements=("req.txt",),
                            constraints=("pins.txt",))


def test_key_follows_the_pins(tmp_path):
    spec = _spec_in(tmp_path, "numpy==1.26.0\n")
    first = ci_venv.venv_key(spec, sys.executable, tmp_path)
    assert ci_venv.venv_key(spec, sys.executable, tmp_path) == first
    (tmp_path / "pins.txt").write_text("numpy==2.0.0\n")
    assert ci_venv.venv_key(spec, sys.executable, tmp_path) != first


def test_complete_venv_is_reused_and_an_unfinished_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGREC_CI_CACHE", str(tmp_path / "cache"))
    spec = _spec_in(tmp_path, "numpy==1.26.0\n")
    target = tmp_path / "cache" / f"t-{ci_venv.venv_key(spec, sys.executable, tmp_path)}"
    target.mkdir(parents=True)
    (target / ci_venv.MARKER).write_text("done\n")
    log = io.StringIO()
    assert ci_venv.ensure_venv(spec, root=tmp_path, log=log) == target
    assert "reusing" in log.getvalue()

    (target / ci_venv.MARKER).unlink()  # as after an interrupted build
    calls = []

    def refuse(cmd, what, log):
        calls.append(what)
        raise ci_venv.VenvUnavailable(f"{what} failed (test)")

    monkeypatch.setattr(ci_venv, "_run", refuse)
    with pytest.raises(ci_venv.VenvUnavailable, match="create venv failed"):
        ci_venv.ensure_venv(spec, root=tmp_path, log=io.StringIO())
    assert calls == ["create venv"] and not target.exists()  # nothing half-built is kept


def test_missing_interpreter_names_what_was_tried():
    spec = ci_venv.VenvSpec(name="x", python=("/nonexistent/python3.99", "python3.99-nowhere"),
                            requirements=())
    with pytest.raises(ci_venv.VenvUnavailable, match="python3.99-nowhere"):
        ci_venv.find_python(spec)


def test_failed_step_reports_the_command_and_its_output(tmp_path):
    with pytest.raises(ci_venv.VenvUnavailable) as info:
        ci_venv._run([sys.executable, "-c", "import sys; print('no such pin'); sys.exit(3)"], "install", io.StringIO())
    assert "exit 3" in str(info.value) and "no such pin" in str(info.value)


def test_pin_files_exist_for_every_spec():
    for spec in ci_venv.SPECS.values():
        for rel in spec.requirements + spec.constraints:
            assert (ROOT / rel).is_file(), rel


def test_colab_freeze_keeps_pins_and_drops_links():
    kept, dropped = colab_pins.split_freeze(
        "# comment\nkeras==3.13.2\ntorch @ https://download.example/torch.whl\n"
        "jupyter_kernel_gateway @ git+https://example/kg@abc\n-e .\nnumpy==2.1.3\n\n")
    assert kept == ["keras==3.13.2", "numpy==2.1.3"]
    assert [d.split(" @ ")[0] for d in dropped] == ["torch", "jupyter_kernel_gateway", "-e ."]


@pytest.mark.parametrize("freeze_name, pins_name, numpy_pin", [
    ("colab-freeze-py313-a724079.txt", "colab-py313.txt", "numpy==2.1.3"),
    ("colab-freeze-py312-1764c36.txt", "colab-py312.txt", "numpy==2.0.2"),
])
def test_stored_colab_pins_come_from_the_published_freeze(freeze_name, pins_name, numpy_pin):
    freeze = ROOT.parent / "shared" / "colab" / freeze_name
    if not freeze.is_file():
        pytest.skip(f"{freeze} is not here to compare with")
    kept, _ = colab_pins.split_freeze(freeze.read_text())
    stored = [line for line in (ROOT / "tests" / "colab" / pins_name).read_text().splitlines()
              if line and not line.startswith("#")]
    assert stored == kept
    assert {"tensorflow==2.20.0", "keras==3.13.2", numpy_pin, "pandas==2.2.3",
            "ipykernel==6.17.1", "pip==24.1.2"} <= set(stored)
