"""Extra virtual environments for CI, built once and reused while their pins are unchanged.

    python tools/ci_venv.py colab     # Colab's Python 3.13 runtime (tests/colab/), prints the venv path
    python tools/ci_venv.py colab312  # Colab's Python 3.12 runtime
    python tools/ci_venv.py min       # pyproject.toml's lower bounds (tests/min/)

A venv lives in ``$SONGREC_CI_CACHE`` (default ``~/.cache/songrec-ci``) under
``<name>-<key>``, where the key hashes the interpreter's version and every file that
decides what gets installed. Changing a pin changes the key, so the old venv is removed
and a new one is built; an unchanged key reuses the venv (seconds instead of minutes).
A venv counts only once its ``.complete`` marker is written, so an interrupted build is
rebuilt rather than trusted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = ".complete"


class VenvUnavailable(RuntimeError):
    """The environment could not be built here; the message says which step failed and why."""


@dataclass(frozen=True)
class VenvSpec:
    """What goes into one CI venv.

    ``python``: interpreters to try, first existing one wins. ``pip``: the pip version to
    install first (Colab's, say) or None for the venv's own. ``requirements`` and
    ``constraints``: files relative to the repository root, passed as ``-r`` and ``-c``.
    """

    name: str
    python: tuple[str, ...]
    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()
    pip: str | None = None
    notes: tuple[str, ...] = field(default=())


SPECS = {
    # Colab (2026-08): Python 3.13, pip 24.1.2; the packages the course touches, pinned to
    # Colab's published versions. 3.13.0 is the 3.13 interpreter available here.
    "colab": VenvSpec(
        name="colab",
        python=("/root/.pyenv/versions/3.13.0/bin/python", "python3.13"),
        requirements=("tests/colab/requirements.txt",),
        constraints=("tests/colab/colab-py313.txt",),
        pip="24.1.2",
    ),
    # Colab's Python 3.12 runtime (its last freeze, 2026-08-14): numpy 2.0.2 instead of
    # 2.1.3, the rest of the course's packages at the same versions. Colab ran 3.12.13; the
    # 3.12 interpreter here is 3.12.1, which these wheels accept alike.
    "colab312": VenvSpec(
        name="colab312",
        python=("/root/.pyenv/versions/3.12.1/bin/python", "python3.12"),
        requirements=("tests/colab/requirements.txt",),
        constraints=("tests/colab/colab-py312.txt",),
        pip="24.1.2",
    ),
    # The oldest versions pyproject.toml and environment.yml accept.
    "min": VenvSpec(
        name="min",
        python=("/root/.pyenv/versions/3.11.7/bin/python", "python3.11"),
        requirements=("tests/min/requirements.txt",),
        constraints=("tests/min/lower-bounds.txt",),
    ),
}


def cache_root() -> Path:
    """Where the venvs live: ``SONGREC_CI_CACHE``, else ``~/.cache/songrec-ci``."""
    return Path(os.environ.get("SONGREC_CI_CACHE") or Path.home() / ".cache" / "songrec-ci")


def find_python(spec: VenvSpec) -> str:
    """The first interpreter of ``spec.python`` that exists here.

    Raises VenvUnavailable, naming every candidate, when none does.
    """
    for candidate in spec.python:
        found = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    raise VenvUnavailable(f"no interpreter for the {spec.name!r} venv: tried {', '.join(spec.python)}")


def venv_key(spec: VenvSpec, python: str, root: Path = REPO_ROOT) -> str:
    """16 hex digits over the interpreter's version and the contents of every input file."""
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True,
                             text=True, check=True).stdout
    digest = hashlib.sha256()
    digest.update(f"{spec.name}\0{version}\0{spec.pip}\0".encode())
    for rel in spec.requirements + spec.constraints:
        digest.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(cmd: list[str], what: str, log) -> None:
    """Run ``cmd`` (step ``what``), logging one line; raises VenvUnavailable with its output's tail."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise VenvUnavailable(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    print(f"  {what}: ok", file=log, flush=True)


def ensure_venv(spec: VenvSpec, *, root: Path = REPO_ROOT, log=sys.stderr) -> Path:
    """The venv for ``spec``: reused when its key matches, otherwise (re)built.

    ``root``: the repository whose pin files ``spec`` names; ``log``: where progress goes.
    Returns the venv's folder.
    Raises VenvUnavailable when a step fails; nothing half-built is left behind.
    """
    python = find_python(spec)
    key = venv_key(spec, python, root)
    base = cache_root()
    target = base / f"{spec.name}-{key}"
    if (target / MARKER).is_file():
        print(f"{spec.name} venv: reusing {target}", file=log, flush=True)
        return target
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob(f"{spec.name}-*"):  # stale pins or an interrupted build
        shutil.rmtree(old, ignore_errors=True)
    print(f"{spec.name} venv: building {target} with {python} (pins changed or first run)",
          file=log, flush=True)
    started = time.monotonic()
    try:
        _run([python, "-m", "venv", str(target)], "create venv", log)
        bin_python = str(target / "bin" / "python")
        if spec.pip:
            _run([bin_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"pip=={spec.pip}"],
                 f"pip {spec.pip}", log)
        cmd = [bin_python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        for rel in spec.requirements:
            cmd += ["-r", str(root / rel)]
        for rel in spec.constraints:
            cmd += ["-c", str(root / rel)]
        _run(cmd, "install pinned packages", log)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    (target / MARKER).write_text(key + "\n")
    print(f"{spec.name} venv: built in {time.monotonic() - started:.0f} s", file=log, flush=True)
    return target


def main(argv=None) -> int:
    """Build or reuse the venv named on the command line and print its path; 2 when it cannot be built."""
    parser = argparse.ArgumentParser(description="build or reuse a cached CI venv; prints its path")
    parser.add_argument("name", choices=sorted(SPECS))
    args = parser.parse_args(argv)
    try:
        path = ensure_venv(SPECS[args.name])
    except VenvUnavailable as exc:
        print(f"ci_venv {args.name}: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
