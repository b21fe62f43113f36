"""The course's reference runs, trained once by the release and downloaded, verified,
where a notebook would otherwise retrain them (on Colab every notebook starts in a fresh
runtime, so parts 5 and 6 would each retrain them: minutes of the student's wait).

Published layout (next to the released notebooks, ``song2vec/reference/``)::

    manifest.json                     {"format": 1, "runs": {RUN: {FILE: SHA256, ...}, ...}}
    RUN/FILE                          the files of a ``helpers.runs`` folder (JSON and .npy)

RUN is the name of the notebooks' cache folder (``reference-<profile>-<settings hash>``),
so a run is only ever used for the exact settings and vocabulary it was trained with.
A released setup cell names the manifest and its sha256 (``SONGREC_REFERENCE_RUNS`` =
``URL#sha256=HEX``); the manifest holds the sha256 of every file, so one baked hash covers
them all. Anything that does not match is refused with :class:`TamperedReferenceError`;
nothing here reads a pickle (``helpers.runs`` loads .npy with ``allow_pickle=False``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.request
from pathlib import Path

from helpers import environment
from helpers.digest import sha256_bytes
from helpers.errors import TamperedReferenceError

REFERENCE_RUNS_ENV = environment.REFERENCE_RUNS
MANIFEST = "manifest.json"
FORMAT = 1
_RUN_NAME_RE = re.compile(r"^reference-[a-z]+-[0-9a-f]{12}$")
_FILE_NAME_RE = re.compile(r"^[a-z_]+\.(json|npy)$")
_SPEC_RE = re.compile(r"^(?P<url>(https?|file)://[^#\s]+)#sha256=(?P<sha>[0-9a-f]{64})$")
_MAX_BYTES = 200 * 2**20   # a reference run is a few MB; more is not one of ours


def parse_spec(spec: str) -> tuple[str, str]:
    """(manifest URL, sha256) of ``URL#sha256=HEX``; ValueError naming the bad value otherwise."""
    match = _SPEC_RE.match(spec.strip())
    if not match:
        raise ValueError(f"{REFERENCE_RUNS_ENV} must look like 'https://.../manifest.json#sha256=<64 hex>', "
                         f"got {spec!r}")
    return match["url"], match["sha"]


def local_spec(folder: Path) -> str:
    """The spec (``file://.../manifest.json#sha256=HEX``) of the published runs in ``folder``,
    hashed now: it proves each run file is the one the manifest names, not who wrote it."""
    manifest = (Path(folder) / MANIFEST).resolve()
    return f"{manifest.as_uri()}#sha256={sha256_bytes(manifest.read_bytes())}"


def write_published(run_dirs: list[Path], dest: Path) -> str:
    """Copy the run folders ``run_dirs`` into ``dest`` with a manifest; returns the manifest's sha256."""
    dest.mkdir(parents=True, exist_ok=True)
    runs = {}
    for run_dir in run_dirs:
        if not _RUN_NAME_RE.match(run_dir.name):
            raise ValueError(f"not a reference run folder name: {run_dir.name!r}")
        files = {}
        (dest / run_dir.name).mkdir(exist_ok=True)
        for path in sorted(run_dir.iterdir()):
            if path.is_file() and _FILE_NAME_RE.match(path.name):
                data = path.read_bytes()
                files[path.name] = sha256_bytes(data)
                (dest / run_dir.name / path.name).write_bytes(data)
        runs[run_dir.name] = files
    manifest = json.dumps({"format": FORMAT, "runs": runs}, indent=1, sort_keys=True).encode()
    (dest / MANIFEST).write_bytes(manifest)
    return sha256_bytes(manifest)


def _get(url: str, timeout: float = 60) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (scheme checked by parse_spec)
        data = resp.read(_MAX_BYTES + 1)
    if len(data) > _MAX_BYTES:
        raise TamperedReferenceError(f"{url} is larger than {_MAX_BYTES} bytes: not a published reference run")
    return data


def install(run_name: str, dest: Path, spec: str | None = None) -> bool:
    """Download published run ``run_name`` into the folder ``dest`` after verifying every byte.

    ``spec``: default ``$SONGREC_REFERENCE_RUNS``. Returns False (nothing done) when no
    runs are published or the manifest has no run of that name (other settings: the
    caller trains). Raises TamperedReferenceError when the manifest or a file does not
    match its sha256; ``dest`` is then left untouched.
    """
    spec = spec if spec is not None else os.environ.get(REFERENCE_RUNS_ENV, "")
    if not spec.strip():
        return False
    url, want = parse_spec(spec)
    raw = _get(url)
    got = sha256_bytes(raw)
    if got != want:
        raise TamperedReferenceError(
            f"the published reference runs' manifest {url} has sha256 {got}, but this notebook expects {want}: "
            "it was changed after the release. Refusing it; ask your instructor (or unset "
            f"{REFERENCE_RUNS_ENV} to retrain the reference run yourself, which takes minutes).")
    manifest = json.loads(raw)
    files = manifest.get("runs", {}).get(run_name) if manifest.get("format") == FORMAT else None
    if not files:
        return False
    base = url.rsplit("/", 1)[0]
    tmp = Path(tempfile.mkdtemp(prefix=".published-", dir=_parent(dest)))
    try:
        for name, sha in files.items():
            if not _FILE_NAME_RE.match(name):
                raise TamperedReferenceError(f"the manifest names an unexpected file {name!r} in run {run_name}")
            data = _get(f"{base}/{run_name}/{name}")
            if sha256_bytes(data) != sha:
                raise TamperedReferenceError(
                    f"published file {run_name}/{name} does not match the sha256 in the manifest: it was "
                    "changed after the release. Refusing it; ask your instructor.")
            (tmp / name).write_bytes(data)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.replace(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def _parent(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest.parent


__all__ = ["REFERENCE_RUNS_ENV", "TamperedReferenceError", "parse_spec", "local_spec", "write_published", "install"]
