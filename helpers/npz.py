"""songrec's own dataset file: a ``.npz`` that loads without pickle.

:func:`write_npz` stores a :class:`helpers.data.Dataset` as plain arrays (playlists back to
back with their offsets, the song table column by column) and :func:`read_npz` reads it
back with ``allow_pickle=False``, checking every array's header, dtype and shape before
it is used. ``songrec data build`` writes these files.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data import Dataset
from helpers.errors import DataFormatError

NPZ_FORMAT = "songrec-dataset-v1"
# ASCII "unit separator": cannot occur in a Last.fm tag name, so it can join a song's tags.
TAG_SEPARATOR = "\x1f"

_NPZ_REQUIRED = ("format", "name", "source", "playlist_ids", "playlist_offsets",
                 "song_id", "title", "artist", "dropped_keys", "dropped_values")


def _str_array(values: list[str], what: str) -> np.ndarray:
    for v in values:
        if not isinstance(v, str):
            raise ValueError(f"{what} must hold str, got {type(v).__name__} {v!r}")
        # Fixed-width numpy strings drop trailing NULs, so a NUL would not survive the round trip.
        if "\x00" in v:
            raise ValueError(f"{what} value {v!r} contains a NUL character, which .npz strings cannot keep")
    return np.array(values, dtype=np.str_) if values else np.empty(0, dtype="<U1")


def _dataset_arrays(ds: Dataset) -> dict[str, np.ndarray]:
    songs = ds.songs
    extra = [c for c in songs.columns if c not in ("title", "artist", "tags", "genre")]
    if extra:
        raise ValueError(f"cannot save song column(s) {extra}; supported: title, artist, tags, genre")
    lengths = np.array([len(p) for p in ds.playlists], dtype=np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(ds.playlists).astype(np.int64) if ds.playlists else np.empty(0, np.int64)
    for k, v in ds.dropped.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"Dataset.dropped must map str to int to be saved, got {k!r}: {v!r}")
    arrays = {
        "format": np.array(NPZ_FORMAT),
        "name": np.array(str(ds.name)),
        "source": np.array(str(ds.source)),
        "playlist_ids": flat,
        "playlist_offsets": offsets,
        "song_id": songs.index.to_numpy().astype(np.int64),
        "title": _str_array(list(songs["title"]), "songs.title"),
        "artist": _str_array(list(songs["artist"]), "songs.artist"),
        "dropped_keys": _str_array(list(ds.dropped), "Dataset.dropped keys"),
        "dropped_values": np.array(list(ds.dropped.values()), dtype=np.int64),
    }
    if "tags" in songs.columns:
        joined = []
        for sid, tags in zip(songs.index, songs["tags"]):
            plain = all(isinstance(t, str) and t and TAG_SEPARATOR not in t for t in tags) if isinstance(tags, tuple) \
                else False
            if not plain:
                raise ValueError(
                    f"songs.tags of song {sid} is {tags!r}; expected a tuple of non-empty tag names "
                    f"without the character {TAG_SEPARATOR!r}"
                )
            joined.append(TAG_SEPARATOR.join(tags))
        arrays["tags"] = _str_array(joined, "songs.tags")
    if "genre" in songs.columns:
        genre = songs["genre"]
        if pd.api.types.is_integer_dtype(genre.dtype):
            arrays["genre"] = genre.to_numpy().astype(np.int64)
        else:
            arrays["genre"] = _str_array(list(genre), "songs.genre")
    return arrays


def is_songrec_dataset(path: str | os.PathLike) -> bool:
    """True when ``path`` is a ``.npz`` written by :func:`write_npz` (its ``format``
    array says so); reads only that small array, never unpickles."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("format.npy")
            if info.file_size > 4096:
                return False
            with zf.open(info) as fh:
                value = np.lib.format.read_array(fh, allow_pickle=False)
        return value.ndim == 0 and value.dtype.kind == "U" and str(value) == NPZ_FORMAT
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        return False


def check_npz_target(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Raise before any work if ``write_npz(ds, path, overwrite=...)`` would be refused
    (the rule of :mod:`helpers.outdir`: an existing file is replaced only with ``overwrite``
    and only when it is a songrec dataset)."""
    from helpers import outdir

    return outdir.check_file_target(path, overwrite=overwrite, recognise=is_songrec_dataset,
                                    kind="dataset file")


def write_npz(ds: Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` as a compressed ``.npz`` that loads without pickle.

    Arrays: ``playlist_ids`` int64 ``(N,)`` (all playlists back to back) and
    ``playlist_offsets`` int64 ``(P+1,)``; ``song_id`` int64 ``(S,)`` with ``title``,
    ``artist`` (and optional ``tags``, joined by ``\\x1f``; ``genre``) unicode ``(S,)``;
    ``name``/``source``/``format`` 0-d unicode. Written to a temporary file in the same
    folder and renamed into place, so a failure never leaves a half-written file. An
    existing ``path`` is replaced only with ``overwrite`` and only when it is a songrec
    dataset (:mod:`helpers.outdir`).
    """
    if not isinstance(ds, Dataset):
        raise ValueError(f"ds must be a Dataset, got {type(ds).__name__}")
    from helpers import outdir

    path = Path(path)
    arrays = _dataset_arrays(ds)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())

    return outdir.write_file(path, write, overwrite=overwrite, recognise=is_songrec_dataset,
                             kind="dataset file")


def _check(cond: bool, path: Path, message: str) -> None:
    if not cond:
        raise DataFormatError(f"{path}: {message}; not a valid songrec dataset file (rebuild it with "
                              f"`songrec data build`)")


# yes_complete as .npz is about 70 MB unpacked; a larger member is not a songrec dataset.
MAX_NPZ_BYTES = 1 << 30


def _check_npz_sizes(path: Path) -> None:
    """Read every member's .npy header and refuse, before loading anything, a member whose
    header promises more data than the member holds, or a file over MAX_NPZ_BYTES."""
    try:
        with zipfile.ZipFile(path) as zf:
            total = 0
            for info in zf.infolist():
                total += info.file_size
                _check(total <= MAX_NPZ_BYTES, path, f"unpacks to more than {MAX_NPZ_BYTES:,} bytes")
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = header(fh)
                    offset = fh.tell()
                need = offset + math.prod(shape) * dtype.itemsize
                _check(dtype.hasobject or need == info.file_size, path,
                       f"{info.filename} declares shape {shape} of {dtype} ({need:,} bytes) but holds "
                       f"{info.file_size:,} bytes")
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError, SyntaxError) as exc:
        raise DataFormatError(
            f"{path}: cannot read as .npz ({type(exc).__name__}: {exc}); the file is truncated, corrupt "
            f"or not a songrec dataset"
        ) from exc


def read_npz(path: str | os.PathLike) -> Dataset:
    """Read a file written by :func:`write_npz` (``allow_pickle=False``), checking every array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {str(path)!r} does not exist (create it with `songrec data build`)")
    _check_npz_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _NPZ_REQUIRED if k not in npz.files]
            _check(not missing, path, f"missing array(s) {missing}")
            arrays = {k: npz[k] for k in npz.files}
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as exc:
        raise DataFormatError(
            f"{path}: cannot read as .npz ({type(exc).__name__}: {exc}); the file is truncated, corrupt "
            f"or not a songrec dataset"
        ) from exc

    def one_d(key: str, kind: str) -> np.ndarray:
        a = arrays[key]
        _check(a.ndim == 1 and a.dtype.kind == kind, path,
               f"{key} is {a.dtype} with shape {a.shape}, expected 1-D {kind!r}")
        return a

    for key in ("format", "name", "source"):
        a = arrays[key]
        _check(a.ndim == 0 and a.dtype.kind == "U", path,
               f"{key} is {a.dtype} with shape {a.shape}, expected a 0-d string")
    _check(str(arrays["format"]) == NPZ_FORMAT, path, f"format is {str(arrays['format'])!r}, expected {NPZ_FORMAT!r}")
    flat, offsets = one_d("playlist_ids", "i"), one_d("playlist_offsets", "i")
    _check(len(offsets) >= 1 and offsets[0] == 0 and offsets[-1] == len(flat) and bool(np.all(np.diff(offsets) >= 0)),
           path, f"playlist_offsets do not partition the {len(flat)} playlist IDs")
    song_id = one_d("song_id", "i")
    n = len(song_id)
    _check(len(np.unique(song_id)) == n, path, "song_id has duplicates")
    columns = {"title": one_d("title", "U"), "artist": one_d("artist", "U")}
    if "tags" in arrays:
        columns["tags"] = one_d("tags", "U")
    if "genre" in arrays:
        g = arrays["genre"]
        _check(g.ndim == 1 and g.dtype.kind in "iU", path, f"genre is {g.dtype} with shape {g.shape}")
        columns["genre"] = g
    for key, col in columns.items():
        _check(len(col) == n, path, f"{key} has {len(col)} entries but song_id has {n}")
    keys, values = one_d("dropped_keys", "U"), one_d("dropped_values", "i")
    _check(len(keys) == len(values), path, "dropped_keys and dropped_values differ in length")

    index = pd.Index(song_id.astype(np.int64), name="song_id")
    songs = pd.DataFrame({"title": columns["title"].tolist(), "artist": columns["artist"].tolist()}, index=index)
    if "tags" in columns:
        tags = [tuple(s.split(TAG_SEPARATOR)) if s else () for s in columns["tags"].tolist()]
        songs["tags"] = pd.Series(tags, index=index, dtype=object)
    if "genre" in columns:
        g = columns["genre"]
        songs["genre"] = g.astype(np.int64) if g.dtype.kind == "i" else g.tolist()
    flat = flat.astype(np.int64)
    playlists = [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    return Dataset(
        playlists=playlists,
        songs=songs,
        name=str(arrays["name"]),
        source=str(arrays["source"]),
        dropped={str(k): int(v) for k, v in zip(keys.tolist(), values.tolist())},
    )
