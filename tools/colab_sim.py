"""A simulated Colab course: what `make test-colab` (tests/notebooks/test_colab_sim.py) and
the student-wait benchmark (bench/bench_colab_wait.py) both build.

* :func:`build_archive`: Cornell's ``dataset.tar.gz`` layout, made from a local copy;
* :class:`Mirror`: a local HTTP server on 127.0.0.1 serving that archive (and the release's
  published reference runs), counting the paths asked for;
* :func:`build_wheel`: a wheel of a checkout, which the released setup cells pip-install;
* :func:`inject_solutions`: released notebooks with the source's solutions put back;
* :func:`run_on_colab`: every notebook of a folder in its own fresh runtime
  (tests/colab/run_notebooks.py, run by the simulated-Colab venv of tools/ci_venv.py).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from helpers import environment
from tools.ci_venv import VenvUnavailable

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNNER = REPO_ROOT / "tests" / "colab" / "run_notebooks.py"
STUB = REPO_ROOT / "tests" / "colab" / "stub"
VARIANTS = ("README", "yes_small", "yes_big", "yes_complete")


def build_archive(data_dir: Path, target: Path) -> Path:
    """``dataset.tar.gz`` as Cornell publishes it (``dataset/<variant>/<file>``, plain
    ``train.txt``) from the files in ``data_dir``; a ``.gz`` copy is stored unpacked."""
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(data_dir)
            if rel.parts[0] not in VARIANTS:
                continue  # SOURCE.md and other notes are not part of Cornell's archive
            if path.suffix == ".gz":
                body = gzip.decompress(path.read_bytes())
                rel = rel.with_suffix("")
            else:
                body = path.read_bytes()
            info = tarfile.TarInfo(f"dataset/{rel.as_posix()}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return target


class _Counting(SimpleHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


class Mirror:
    """The course's data mirror on 127.0.0.1: ``root`` is served; ``paths`` lists every GET.

    ``with Mirror(root) as mirror:`` starts it; ``mirror.url`` is its base URL.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Counting, directory=str(self.root)))
        self.httpd.paths = []
        self.paths = self.httpd.paths
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Mirror:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def build_wheel(out: Path, tree: Path = REPO_ROOT) -> Path:
    """A wheel of the checkout ``tree``, built from a copy so no build files land in it.
    Raises :class:`tools.ci_venv.VenvUnavailable` when pip cannot build it here."""
    src = out / "src"
    shutil.copytree(tree / "helpers", src / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(tree / name, src / name)
    # The venv's own setuptools saves a download; without one, pip fetches the build backend.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
                           "-w", str(out / "dist"), str(src)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise VenvUnavailable(f"could not build a wheel of {tree}: {proc.stderr[-500:]}")
    (wheel,) = (out / "dist").glob("songrec-*.whl")
    return wheel


def inject_solutions(release: Path, source: Path, out: Path) -> Path:
    """Copies of the released notebooks whose solution cells hold the source's solutions."""
    import nbformat

    from tools.instructor.cells import grade_id, nbgrader_meta

    out.mkdir(parents=True)
    for path in sorted(release.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        solved = {grade_id(c): c.source for c in nbformat.read(source / path.name, as_version=4).cells
                  if nbgrader_meta(c).get("solution") and c.cell_type == "code"}
        for cell in nb.cells:
            if grade_id(cell) in solved:
                cell.source = solved.pop(grade_id(cell))
        if solved:
            raise ValueError(f"{path.name}: solution cells missing from the release: {sorted(solved)}")
        nbformat.write(nb, out / path.name)
    return out


def run_on_colab(python: Path, notebooks: Path, runtimes: Path, profile: str = "ci",
                 timeout: int = 1800) -> list[dict]:
    """Run every notebook of ``notebooks`` in its own fresh runtime of the Colab venv
    ``python``, in profile ``profile``; one result dict per notebook (errors, seconds, the
    setup cell's seconds, the seconds after it: see tests/colab/run_notebooks.py)."""
    out = runtimes / "results.json"
    runtimes.mkdir(parents=True)
    env = {environment.PROFILE: profile, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(python), str(RUNNER), "--notebooks", str(notebooks), "--runtimes", str(runtimes),
                           "--stub", str(STUB), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"the simulated Colab run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())
