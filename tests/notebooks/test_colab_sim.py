"""The released notebooks on a simulated Colab runtime (marker ``colab``; `make test-colab`).

What is simulated, and how:

- Colab's package versions: both of Colab's 2026 runtimes, each a venv with Colab's
  published pins and pip 24.1.2, built once and cached (tools/ci_venv.py): Python 3.13
  (tests/colab/colab-py313.txt, numpy 2.1.3) and Python 3.12 (tests/colab/colab-py312.txt,
  numpy 2.0.2); every test runs on each;
- Colab's kernel: ``google.colab`` (a stub) imported at kernel start;
- a student opening one notebook: each notebook runs in a fresh runtime (songrec not
  installed, an empty home and working folder, a new kernel);
- the course: `python -m tools.instructor release` with the install spec pointing at a wheel built
  from this checkout and the data URL at a local HTTP server on 127.0.0.1 that serves
  Cornell's archive layout (``dataset.tar.gz``), built from the real data.

The notebooks run in the ``ci`` profile. With the solutions put back into the released
notebooks every cell must pass; the untouched release may fail only with
NotImplementedError (the stubs students replace).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest

from tools import ci_venv, colab_sim
from tools.colab_sim import Mirror, build_archive, build_wheel, inject_solutions
from tools.instructor import colab
from tools.instructor.release import run_release

pytestmark = [pytest.mark.colab, pytest.mark.slow]

REPO_ROOT = toy.REPO_ROOT


def _skip(reason: str):
    print(f"\nsimulated-Colab test SKIPPED: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def data_server(tmp_path_factory):
    data = os.environ.get("SONGREC_DATA_DIR")
    if not data or not (Path(data) / "yes_complete").is_dir():
        _skip("SONGREC_DATA_DIR does not point at the Cornell data; the Colab notebooks need it")
    root = tmp_path_factory.mktemp("mirror")
    build_archive(Path(data), root / "dataset.tar.gz")
    with Mirror(root) as mirror:
        yield mirror, f"{mirror.url}/dataset.tar.gz"


@pytest.fixture(scope="module", params=["colab", "colab312"])
def colab_python(request):  # requested after the data, so a missing data folder skips before any install
    try:
        venv = ci_venv.ensure_venv(ci_venv.SPECS[request.param])
    except ci_venv.VenvUnavailable as exc:
        _skip(f"the Colab venv cannot be built here: {exc}")
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def colab_release(tmp_path_factory, data_server):
    _, url = data_server
    work = tmp_path_factory.mktemp("colab_release")
    try:
        wheel = build_wheel(work / "wheel")
    except ci_venv.VenvUnavailable as exc:
        _skip(str(exc))
    root = work / "course"
    toy.copy_course_with_real_notebooks(root, toy.REAL_SOURCE)
    settings = colab.ColabSettings(str(wheel), url, "test-org/songrec", "student")
    httpd, _ = data_server
    # The release trains the ci profile's reference runs once and publishes them; the
    # mirror serves them where the baked URL points (the release branch, on GitHub).
    saved = os.environ.get("SONGREC_REFERENCE_URL")
    os.environ["SONGREC_REFERENCE_URL"] = url.rsplit("/", 1)[0] + "/reference"
    try:
        run_release(root, env=toy.course_env_for_tests(600), settings=settings, out=io.StringIO(),
                    reference_profile="ci")
    finally:
        if saved is None:
            os.environ.pop("SONGREC_REFERENCE_URL")
        else:
            os.environ["SONGREC_REFERENCE_URL"] = saved
    release = root / "release" / toy.ASSIGNMENT
    shutil.copytree(release / "reference", httpd.root / "reference", dirs_exist_ok=True)
    solved = inject_solutions(release, root / "notebooks" / toy.ASSIGNMENT, work / "solved")
    return {"release": release, "solved": solved, "wheel": wheel, "work": work}


def run_on_colab(python: Path, notebooks: Path, runtimes: Path) -> list[dict]:
    results = colab_sim.run_on_colab(python, notebooks, runtimes.with_name(f"{runtimes.name}-py{_python_tag(python)}"))
    for r in results:
        print(f"{r['notebook']}: {len(r['errors'])} error(s), {r['seconds']} s "
              f"({r['after_setup_seconds']} s after the setup cell)")
    return results


def _report(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r['notebook']}: {len(r['errors'])} error(s)")
        lines += [f"  cell {e['cell']} ({e['grade_id']}): {e['ename']}: {e['evalue']}\n{e['traceback']}"
                  for e in r["errors"]]
    return "\n".join(lines)


def _python_tag(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import sys; print(f'{sys.version_info[0]}{sys.version_info[1]}')"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _site_packages(python: Path) -> Path:
    return Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())


# --------------------------------------------------------------------------- tests


def test_solved_release_passes_every_cell_on_colab(data_server, colab_release, colab_python):
    httpd, _ = data_server
    before = len(httpd.paths)
    results = run_on_colab(colab_python, colab_release["solved"], colab_release["work"] / "run-solved")
    assert [r["notebook"] for r in results] == sorted(p.name for p in colab_release["release"].glob("*.ipynb"))
    assert all(not r["errors"] for r in results), _report(results)
    assert all(not r["unexecuted"] for r in results), [(r["notebook"], r["unexecuted"]) for r in results]
    # Every runtime downloaded the data from the course mirror, once.
    fetched = httpd.paths[before:]
    assert [p for p in fetched if not p.startswith("/reference/")] == ["/dataset.tar.gz"] * len(results)
    for r in results:
        home = Path(r["home"])
        assert (home / ".local" / "share" / "songrec" / "cornell" / "yes_complete" / "song_hash.txt").is_file()
    # Parts 5 and 6 downloaded the release's reference runs (verified) instead of training them.
    assert fetched.count("/reference/manifest.json") >= 2, fetched
    assert any(p.endswith("/target_vectors.npy") for p in fetched), fetched
    print("seconds per notebook in a fresh runtime:", {r["notebook"]: r["seconds"] for r in results})
    # The reference run is cached in the runtime's user cache folder, not in site-packages.
    for name in ("05_recommend", "06_questions"):
        home = next(Path(r["home"]) for r in results if r["notebook"].startswith(name))
        assert list((home / ".cache" / "songrec" / "course").glob("reference-ci-*/"))
    site = _site_packages(colab_python)
    assert not (site / "data").exists() and not (site / "runs").exists()


def test_untouched_release_fails_only_with_not_implemented(colab_release, colab_python):
    results = run_on_colab(colab_python, colab_release["release"], colab_release["work"] / "run-blank")
    enames = {e["ename"] for r in results for e in r["errors"]}
    assert enames == {"NotImplementedError"}, _report(results)
    with_stubs = {r["notebook"] for r in results if r["errors"]}
    expected = {p.name for p in colab_release["release"].glob("*.ipynb")
                if "raise NotImplementedError()" in p.read_text()}
    assert with_stubs == expected
    assert all(not r["unexecuted"] for r in results)


def test_tampered_reference_run_is_refused_on_colab(data_server, colab_release, colab_python):
    """A published run changed after the release (same manifest, other bytes) stops part 5
    with a message saying so; nothing of it is used."""
    httpd, _ = data_server
    tampered = httpd.root / "tampered"
    shutil.copytree(httpd.root / "reference", tampered, dirs_exist_ok=True)
    for npy in tampered.glob("reference-*/target_vectors.npy"):
        body = bytearray(npy.read_bytes())
        body[-1] ^= 1
        npy.write_bytes(bytes(body))
    nb = nbformat.read(colab_release["solved"] / "05_recommend.ipynb", as_version=4)
    baked = next(c for c in nb.cells if c.cell_type == "code" and "REFERENCE_RUNS = " in c.source)
    assert "/reference/manifest.json#sha256=" in baked.source
    baked.source = baked.source.replace("/reference/manifest.json#", "/tampered/manifest.json#")
    one = colab_release["work"] / "tampered-nb"
    one.mkdir(exist_ok=True)
    nbformat.write(nb, one / "05_recommend.ipynb")
    (result,) = run_on_colab(colab_python, one, colab_release["work"] / "run-tampered")
    first = result["errors"][0]
    assert first["ename"] == "TamperedReferenceError", _report([result])
    assert "changed after the release" in first["evalue"]
    home = Path(result["home"])
    assert not list((home / ".cache" / "songrec" / "course").glob("reference-*/target_vectors.npy"))


XLA_RUNTIME_CHILD = r"""
import json, os
os.environ.pop("XLA_FLAGS", None)
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np
import tensorflow as tf
from helpers.model import build_sgns, compile_sgns, embeddings_of
from helpers.testkit import tiny_data
import keras

vocab, _, (t, c, y), _ = tiny_data()

def vectors(jit):
    keras.utils.set_random_seed(3)
    model = compile_sgns(build_sgns(vocab.size, 8, seed=3), 0.02, jit_compile=jit, steps_per_execution=4)
    model.fit({"target": t, "context": c}, y, batch_size=100, epochs=3, shuffle=True, verbose=0)
    return embeddings_of(model)

a, b, plain = vectors(True), vectors(True), vectors(False)
print("XLA-RUNTIME " + json.dumps({"tf": tf.__version__, "flags": os.environ.get("XLA_FLAGS", ""),
                                    "same": bool(np.array_equal(a, b)),
                                    "gap": float(np.abs(a - plain).max())}))
"""


def test_xla_runs_with_the_legacy_cpu_runtime_on_colab_tensorflow(colab_python, tmp_path):
    # compile_sgns adds --xla_cpu_use_thunk_runtime=false under Colab's TensorFlow 2.20 (part 4
    # trains about 1.7x faster there). An XLA that did not know the flag would stop the process;
    # this runs Colab's own TensorFlow with it: XLA fits, deterministic, rounding-close to a plain fit.
    from helpers.model import LEGACY_XLA_CPU_FLAG, xla_flags_for_speed

    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": str(REPO_ROOT), "HOME": str(tmp_path)}
    proc = subprocess.run([str(colab_python), "-c", XLA_RUNTIME_CHILD], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("XLA-RUNTIME ")), None)
    assert proc.returncode == 0 and line, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    got = json.loads(line.split(" ", 1)[1])
    assert got["flags"] == xla_flags_for_speed(got["tf"], "")
    assert got["tf"].startswith("2.20.") and LEGACY_XLA_CPU_FLAG in got["flags"], got
    assert got["same"], "two XLA fits with one seed gave different vectors"
    assert got["gap"] < 1e-4, f"XLA's vectors differ from a plain fit's by {got['gap']}"
