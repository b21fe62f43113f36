"""Saved training runs: a folder of JSON and ``.npy`` files, never pickles.

Layout of a run folder::

    run.json              settings, metrics, history, vocabulary fingerprint, versions
    vocab.json            the vocabulary (raw IDs, counts, display names)
    target_vectors.npy    float32 (V+1, dim); a session run's query-slot input table
    context_vectors.npy   float32 (V+1, dim), only for separate tables (a session run's output table)
    slot_vectors.npy      float32 ((K-1) * (V+1), dim), a session run's input tables of slots 1..K-1
    bias.npy              float32 (V+1, 1), a session run's learned bias

A session run trained with ``blend_holdout`` also records its blend (:mod:`helpers.blend`)
in ``run.json``: ``blend.weights`` (part -> weight >= 0) and how they were fitted.

The folder is written to a temporary sibling and swapped into place (see
:mod:`helpers.outdir`), so a crash never leaves a half-written run that looks complete,
and ``--overwrite`` replaces only a folder that is recognisably a songrec run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import helpers
from helpers import outdir
from helpers.errors import DataFormatError, RunMismatchError, naming_full_disk
from helpers.sessions import SessionTables
from helpers.sgns import SGNSConfig
from helpers.vocab import MAX_NAME_CHARS, Vocab, vocab_schema


@dataclass
class Run:
    """A loaded run. Vectors are float32 (V+1, dim); context_vectors may be None;
    ``session``: a session run's :class:`helpers.sessions.SessionTables`, else None;
    ``blend``: its blend's weights (part -> weight, :mod:`helpers.blend`), else None."""

    path: Path
    vocab: Vocab
    target_vectors: np.ndarray
    context_vectors: np.ndarray | None
    settings: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    session: SessionTables | None = None
    blend: dict | None = None


# What runs saved before the loop setting called it (``settings.method``).
_OLD_METHODS = {"reference": "fast", "assignment": "keras"}


@dataclass(frozen=True)
class RunSettings:
    """The ``settings`` block of ``run.json``, typed: what a run was trained on and how.

    ``playlists``: the first N playlists of at least two songs; ``val_fraction`` and
    ``split_seed``: the split (:func:`helpers.splits.split_playlists`); ``kind``
    (``"synthetic"`` or ``"cornell"``), ``variant`` and ``synthetic_seed``: the dataset, to
    load it again; ``config``: the training settings; ``data``, ``dataset_source``: for
    people. :meth:`to_json` is the layout written to run.json (the config's fields flat
    beside the others); :meth:`from_json` reads it back.
    """

    playlists: int
    val_fraction: float
    split_seed: int
    kind: str
    variant: str
    synthetic_seed: int
    config: SGNSConfig
    data: str = ""
    dataset_source: str = ""

    def to_json(self) -> dict:
        """The run.json ``settings`` of this run."""
        return {"data": self.data, "dataset_source": self.dataset_source, "playlists": self.playlists,
                "dataset": {"kind": self.kind, "variant": self.variant, "synthetic_seed": self.synthetic_seed},
                "val_fraction": self.val_fraction, "split_seed": self.split_seed, **self.config.to_dict()}

    @classmethod
    def from_json(cls, settings: dict, where: str | Path = "run.json") -> RunSettings:
        """Read a run.json ``settings`` block (checked by :func:`load_run`'s schema); raises
        :class:`~helpers.errors.RunMismatchError` naming ``where`` when it lacks what a split
        or a training config needs."""
        info = settings.get("dataset") or {}
        if not info or any(k not in settings for k in ("val_fraction", "playlists", "window")):
            raise RunMismatchError(f"{where} lacks the dataset/split settings needed to rebuild its split")
        names = {f.name for f in dataclasses.fields(SGNSConfig)}
        fields = {k: v for k, v in settings.items() if k in names}
        fields.setdefault("loop", _OLD_METHODS.get(settings.get("method"), "keras"))
        try:
            config = SGNSConfig.from_dict(fields)
        except ValueError as exc:
            raise RunMismatchError(f"{where}: its training settings are not a valid SGNSConfig: {exc}") from exc
        return cls(settings["playlists"], settings["val_fraction"], settings.get("split_seed", settings.get("seed", 0)),
                   info.get("kind", "cornell"), info.get("variant", "yes_complete"), info.get("synthetic_seed", 0),
                   config, settings.get("data", ""), settings.get("dataset_source", ""))


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

    The rule of :mod:`helpers.outdir`: UnsafeOutputError for a protected path or an
    existing folder that is not a songrec run; FileExistsError for an existing run when
    ``overwrite`` is off; UnsafeOutputError or PermissionError when the nearest existing
    parent is not a writable folder. Creates nothing.
    """
    return outdir.check_target(out_dir, kinds=("run",), overwrite=overwrite)


def save_run(
    out_dir: str | Path,
    vocab: Vocab,
    target_vectors: np.ndarray,
    context_vectors: np.ndarray | None = None,
    *,
    settings: RunSettings | dict | None = None,
    metrics: dict | None = None,
    history: dict | None = None,
    overwrite: bool = False,
    session: SessionTables | None = None,
    blend: dict | None = None,
) -> Path:
    """Write a run folder (all or nothing, see :mod:`helpers.outdir`) and return its path.

    ``settings``: a :class:`RunSettings` (what ``songrec train`` writes) or a plain dict.
    ``session``: a session run's tables; its query-slot input table must be
    ``target_vectors`` and its output table ``context_vectors``. ``blend``: a session run's
    fitted blend (:meth:`helpers.blend.BlendFit.to_json`), saved under ``run.json``'s ``blend``.
    """
    out = Path(out_dir)
    if session is not None and not (context_vectors is not None
                                    and np.array_equal(session.inputs[0], target_vectors)
                                    and np.array_equal(session.output, context_vectors)):
        raise RunMismatchError("a session run saves its query-slot table as target_vectors and its output "
                               "table as context_vectors")
    for name, vec in (("target_vectors", target_vectors), ("context_vectors", context_vectors)):
        if vec is None:
            continue
        if np.asarray(vec).shape[0] != vocab.size + 1:
            raise RunMismatchError(
                f"{name} has {np.asarray(vec).shape[0]} rows; the vocabulary needs {vocab.size + 1}"
            )
    meta = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "songrec_version": helpers.__version__,
        "vocab_size": vocab.size,
        "vocab_fingerprint": vocab.fingerprint(),
        "settings": settings.to_json() if isinstance(settings, RunSettings) else settings or {},
        "metrics": metrics or {},
        "history": history or {},
    }
    if blend is not None:
        if session is None:
            raise RunMismatchError("a blend belongs to a session run: pass its session tables too")
        meta["blend"] = blend
    arrays = {"target_vectors.npy": target_vectors, "context_vectors.npy": context_vectors}
    if session is not None and session.depth > 1:
        slots = np.asarray(session.inputs[1:], dtype=np.float32)
        arrays["slot_vectors.npy"] = slots.reshape(-1, slots.shape[2])
    if session is not None and session.bias is not None:
        arrays["bias.npy"] = np.asarray(session.bias, dtype=np.float32)[:, None]
    texts = {"vocab.json": vocab.to_json(), "run.json": json.dumps(_jsonable(meta), indent=2)}
    with outdir.new_folder(out, kind="run", overwrite=overwrite) as tmp:
        for name, array in arrays.items():
            if array is not None:
                with naming_full_disk(out / name):  # numpy's own words for it are "N requested and M written"
                    np.save(tmp / name, np.asarray(array, dtype=np.float32), allow_pickle=False)
        for name, text in texts.items():
            with naming_full_disk(out / name):
                (tmp / name).write_text(text, encoding="utf-8")
    return out


# Limits of what a run folder may hold; far above any real run (Cornell: 75,262 songs).
MAX_VOCAB = 5_000_000
MAX_DIM = 1 << 16
MAX_RUN_JSON_BYTES = 16 << 20
# Per song in vocab.json: an ID and a count of up to 20 digits, a name of up to
# MAX_NAME_CHARS characters written as \uXXXX escapes, separators.
_VOCAB_BYTES_PER_SONG = 64 + 6 * MAX_NAME_CHARS


def _run_schema():
    from helpers.blend import PARTS
    from helpers.data import VARIANTS
    from helpers.sgns import LOOPS, SEED_MAX
    from helpers.validate import INT64_MAX, Bool, Int, List, Num, Obj, Plain, Str

    seed = Int(0, SEED_MAX)
    settings = Obj(
        optional={
            "playlists": Int(2, INT64_MAX), "val_fraction": Num(0, 1, open_lo=True, open_hi=True),
            "seed": seed, "split_seed": seed, "window": Int(1, INT64_MAX), "dim": Int(1, MAX_DIM),
            "negatives": Int(0, INT64_MAX), "shared": Bool(),
            "loop": Str(choices=tuple(LOOPS)),
            # What runs saved before the loop setting called it (reference = fast, assignment = keras).
            "method": Str(choices=("reference", "assignment")),
            "dataset": Obj(optional={"kind": Str(choices=("synthetic", "cornell")),
                                     "variant": Str(choices=(*VARIANTS, "synthetic")),
                                     "synthetic_seed": seed}),
        },
        extra=Plain(),
    )
    return Obj(
        required={"vocab_size": Int(1, MAX_VOCAB), "vocab_fingerprint": Str(hex_len=64)},
        optional={"created": Str(100), "songrec_version": Str(100), "settings": settings,
                  "metrics": Obj(extra=Plain()),
                  "history": Obj(extra=List(Num(allow_nan=True), max_len=1_000_000)),
                  "blend": Obj(required={"weights": Obj(optional={k: Num(0, 1e6) for k in PARTS})},
                               extra=Plain())},
    )


def _raw_id_fingerprint(vocab: Vocab) -> str:
    """The fingerprint of songrec before names and counts were covered (to say so)."""
    from helpers.digest import sha256_bytes

    return sha256_bytes(vocab.raw_ids.astype("<i8").tobytes())


def load_run(run_dir: str | Path) -> Run:
    """Load and cross-check a run folder written by ``save_run``.

    ``run.json`` and ``vocab.json`` are checked against their schemas, and each ``.npy``
    header against the vocabulary size (and ``settings.dim``) before its data is read;
    any mismatch raises :class:`~helpers.errors.DataFormatError` naming the file and field.
    """
    from helpers.validate import read_json, read_vectors

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist (train one with `songrec train --out {run_dir}`)")
    for name in ("run.json", "vocab.json", "target_vectors.npy"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {run_dir} is incomplete: {name} is missing")
    meta = read_json(run_dir / "run.json", _run_schema(), max_bytes=MAX_RUN_JSON_BYTES, what="run.json")
    size = meta["vocab_size"]
    vocab_path = run_dir / "vocab.json"
    raw = read_json(vocab_path, vocab_schema(None), max_bytes=(1 << 16) + size * _VOCAB_BYTES_PER_SONG,
                    what=f"vocab.json of {size} songs (vocab_size in run.json)")
    try:
        vocab = Vocab.from_dict(raw, checked=True)
    except ValueError as exc:
        raise DataFormatError(f"{vocab_path}: {exc}") from exc
    if vocab.size != size:
        raise RunMismatchError(
            f"{run_dir}: vocab.json does not belong to this run: it holds {vocab.size} songs, run.json "
            f"records vocab_size {size}")
    if size < 2:  # nothing to rank a song against; numpy would only report a table shape
        raise DataFormatError(f"run folder {run_dir} holds only one song; recommending and evaluating need at "
                              f"least two: train it again on playlists with more songs")
    if meta["vocab_fingerprint"] == _raw_id_fingerprint(vocab):
        raise RunMismatchError(
            f"{run_dir} was saved by an older songrec whose fingerprint covered raw IDs only, so its "
            f"names and counts cannot be vouched for; expected a run saved by this version: retrain it "
            f"(songrec train --out {run_dir} --overwrite)")
    if meta["vocab_fingerprint"] != vocab.fingerprint():
        raise RunMismatchError(
            f"{run_dir}: vocab.json does not belong to this run (fingerprint {vocab.fingerprint()[:12]} "
            f"!= {meta['vocab_fingerprint'][:12]} recorded in run.json; the fingerprint covers raw IDs, "
            f"counts and names)"
        )
    settings = meta.get("settings", {})
    dim = settings.get("dim") if isinstance(settings.get("dim"), int) else None

    def _load(name, dim):
        path = run_dir / name
        if not path.exists():
            return None
        arr = read_vectors(path, vocab.size + 1, dim)
        # Row 0 is padding and never ranked, so only song rows must be finite.
        bad = ~np.isfinite(arr[1:]).all(axis=1)
        if bad.any():
            raise RunMismatchError(
                f"{path} has NaN or inf in row {int(np.flatnonzero(bad)[0]) + 1} ({int(bad.sum())} row(s) in all); "
                f"expected finite vectors: training diverged, retrain with a smaller learning rate"
            )
        return arr.astype(np.float32, copy=False)

    target = _load("target_vectors.npy", dim)
    context = _load("context_vectors.npy", target.shape[1])
    return Run(
        path=run_dir,
        vocab=vocab,
        target_vectors=target,
        context_vectors=context,
        settings=settings,
        metrics=meta.get("metrics", {}),
        history=meta.get("history", {}),
        session=(session := _load_session(run_dir, settings, vocab.size, target, context)),
        blend=_load_blend(run_dir, meta, session),
    )


def _load_blend(run_dir: Path, meta: dict, session: SessionTables | None) -> dict | None:
    """The blend's weights of a session run (every part, 0 when absent), else None."""
    if "blend" not in meta:
        return None
    if session is None:
        raise DataFormatError(f"{run_dir}/run.json: a blend belongs to a session run, and this run has no session "
                              f"tables (settings.loop {meta.get('settings', {}).get('loop')!r})")
    from helpers.blend import check_weights

    return check_weights(meta["blend"]["weights"])


def _load_session(run_dir: Path, settings: dict, vocab_size: int, target: np.ndarray,
                  context: np.ndarray | None) -> SessionTables | None:
    """A session run's tables from its files (checked against ``settings``), else None."""
    from helpers.sgns import loop_named
    from helpers.validate import read_vectors

    if "loop" not in settings:  # saved before the loop setting: a skip-gram run
        return None
    if not loop_named(settings["loop"], f"{run_dir}/run.json settings.loop").session_tables:
        return None
    depth = settings.get("window")
    if not isinstance(depth, int) or context is None:
        raise DataFormatError(f"{run_dir}/run.json: a session run needs settings.window and context_vectors.npy")
    for name, needed in (("slot_vectors.npy", depth > 1), ("bias.npy", bool(settings.get("bias")))):
        if needed and not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {run_dir} is incomplete: {name} is missing")
    inputs = [target]
    if depth > 1:
        slots = read_vectors(run_dir / "slot_vectors.npy", (depth - 1) * (vocab_size + 1), target.shape[1])
        inputs += list(slots.astype(np.float32).reshape(depth - 1, vocab_size + 1, -1))
    bias = None
    if settings.get("bias"):
        bias = read_vectors(run_dir / "bias.npy", vocab_size + 1, 1)[:, 0].astype(np.float32)
    for name, arr in (("slot_vectors.npy", inputs[1:]), ("bias.npy", [] if bias is None else [bias])):
        if any(not np.isfinite(a[1:]).all() for a in arr):
            raise RunMismatchError(f"{run_dir / name} has NaN or inf; expected finite values: retrain the run")
    return SessionTables(np.stack(inputs), context, bias)
