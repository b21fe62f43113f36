"""Saved training runs: a folder of JSON and ``.npy`` files, never pickles.

Layout of a run folder::

    run.json              settings, metrics, history, vocabulary fingerprint, versions
    vocab.json            the vocabulary (raw IDs, counts, display names)
    target_vectors.npy    float32 (V+1, dim)
    context_vectors.npy   float32 (V+1, dim), only for separate tables

The folder is written to a temporary sibling and renamed into place, so a crash never
leaves a half-written run that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import helpers
from helpers.errors import RunMismatchError
from helpers.vocab import Vocab


@dataclass
class Run:
    """A loaded run. Vectors are float32 (V+1, dim); context_vectors may be None."""

    path: Path
    vocab: Vocab
    target_vectors: np.ndarray
    context_vectors: np.ndarray | None
    settings: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def check_run_target(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Raise before any work is done if ``save_run(out_dir)`` could not succeed.

    FileExistsError when the folder exists and ``overwrite`` is off; NotADirectoryError or
    PermissionError when the nearest existing parent is not a writable folder. Creates
    nothing, so a refused command leaves no empty folders behind.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"run folder {out} already exists; pass overwrite=True (CLI: --overwrite) or pick another --out")
    parent = out.parent if str(out.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write the run folder {out}: {parent} is a file, expected a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write the run folder {out}: {parent} is not writable")
    return out


def save_run(
    out_dir: str | Path,
    vocab: Vocab,
    target_vectors: np.ndarray,
    context_vectors: np.ndarray | None = None,
    *,
    settings: dict | None = None,
    metrics: dict | None = None,
    history: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a run folder atomically and return its path."""
    out = Path(out_dir)
    for name, vec in (("target_vectors", target_vectors), ("context_vectors", context_vectors)):
        if vec is None:
            continue
        if np.asarray(vec).shape[0] != vocab.size + 1:
            raise RunMismatchError(
                f"{name} has {np.asarray(vec).shape[0]} rows; the vocabulary needs {vocab.size + 1}"
            )
    check_run_target(out, overwrite=overwrite)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise OSError(f"cannot write the run folder {out}: {exc.strerror or exc}") from exc
    try:
        np.save(tmp / "target_vectors.npy", np.asarray(target_vectors, dtype=np.float32), allow_pickle=False)
        if context_vectors is not None:
            np.save(tmp / "context_vectors.npy", np.asarray(context_vectors, dtype=np.float32), allow_pickle=False)
        (tmp / "vocab.json").write_text(vocab.to_json(), encoding="utf-8")
        meta = {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "songrec_version": helpers.__version__,
            "vocab_size": vocab.size,
            "vocab_fingerprint": vocab.fingerprint(),
            "settings": settings or {},
            "metrics": metrics or {},
            "history": history or {},
        }
        (tmp / "run.json").write_text(json.dumps(_jsonable(meta), indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_run(run_dir: str | Path) -> Run:
    """Load and cross-check a run folder written by ``save_run``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist (train one with `songrec train --out {run_dir}`)")
    for name in ("run.json", "vocab.json", "target_vectors.npy"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {run_dir} is incomplete: {name} is missing")
    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunMismatchError(f"{run_dir / 'run.json'} is not valid JSON: {exc}") from exc
    try:
        vocab = Vocab.from_json((run_dir / "vocab.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunMismatchError(f"{run_dir / 'vocab.json'}: {exc}") from exc
    if meta.get("vocab_fingerprint") != vocab.fingerprint():
        raise RunMismatchError(
            f"{run_dir}: vocab.json does not belong to this run (fingerprint {vocab.fingerprint()[:12]} "
            f"!= {str(meta.get('vocab_fingerprint'))[:12]} recorded in run.json)"
        )

    def _load(name):
        path = run_dir / name
        if not path.exists():
            return None
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, EOFError) as exc:  # EOFError: an empty file
            raise RunMismatchError(f"{path} is not a plain .npy array: {exc}") from exc
        if arr.ndim != 2 or arr.shape[0] != vocab.size + 1:
            raise RunMismatchError(
                f"{path} has shape {arr.shape}; expected ({vocab.size + 1}, dim) for this run's vocabulary"
            )
        if not np.issubdtype(arr.dtype, np.floating):
            raise RunMismatchError(f"{path} holds {arr.dtype}; expected float vectors")
        # Row 0 is padding and never ranked, so only song rows must be finite.
        bad = ~np.isfinite(arr[1:]).all(axis=1)
        if bad.any():
            raise RunMismatchError(
                f"{path} has NaN or inf in row {int(np.flatnonzero(bad)[0]) + 1} ({int(bad.sum())} row(s) in all); "
                f"expected finite vectors: training diverged, retrain with a smaller learning rate"
            )
        return arr.astype(np.float32, copy=False)

    return Run(
        path=run_dir,
        vocab=vocab,
        target_vectors=_load("target_vectors.npy"),
        context_vectors=_load("context_vectors.npy"),
        settings=meta.get("settings", {}),
        metrics=meta.get("metrics", {}),
        history=meta.get("history", {}),
    )
