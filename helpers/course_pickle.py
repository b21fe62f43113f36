"""The course's ``training_data.pkl``: read only when the user vouches for it.

The original assignment shipped its data as a pickle holding ``train_playlists`` (lists
of song IDs) and ``songs_info`` (a DataFrame of titles and artists). Unpickling can run
any code the file's author chose, so :func:`load_course_pickle` refuses unless the caller
passes ``trust=True`` or the file's sha256; ``songrec data build --from-pickle`` converts
a trusted pickle once into the safe ``.npz`` format of :mod:`helpers.npz`.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.data import Dataset, is_uint, unescape
from helpers.digest import sha256_file
from helpers.errors import DataFormatError, UntrustedPickleError
from helpers.validate import INT64_MAX

_PICKLE_KEYS = {"train_playlists", "songs_info"}


def _song_id(value: Any, where: str, path: Path) -> int:
    if isinstance(value, str) and is_uint(value.strip()) and len(value.strip()) <= 19 \
            and int(value.strip()) <= INT64_MAX:
        return int(value.strip())
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return int(value)
    raise DataFormatError(f"{path}: {where} is {value!r}; expected a song ID (non-negative int or digit string)")


def load_course_pickle(
    path: str | os.PathLike, *, trust: bool = False, expected_sha256: str | None = None
) -> Dataset:
    """Load the course's ``training_data.pkl`` (keys ``train_playlists``, ``songs_info``).

    Unpickling can run arbitrary code, so the file is only unpickled when ``trust=True`` or
    its sha256 equals ``expected_sha256`` (a given checksum is enforced even with
    ``trust=True``); otherwise :class:`UntrustedPickleError`. The
    content is validated and converted: playlists -> int64 arrays, ``songs_info`` index ->
    ``song_id`` (int64), titles/artists unescaped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"course pickle {str(path)!r} does not exist")
    if expected_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", str(expected_sha256)):
        raise ValueError(f"expected_sha256 must be 64 hex digits, got {expected_sha256!r}")
    advice = (
        "Unpickling a file can run arbitrary code, so songrec only does it when you vouch for "
        "the file: pass trust=True (CLI: --trust-pickle) if you know where it came from, or "
        "convert it once with `songrec data build`, which writes a safe .npz you can load "
        "without pickle."
    )
    if expected_sha256 is not None:
        # A stated checksum is always enforced, even together with trust=True.
        actual = sha256_file(path)
        if actual != expected_sha256.lower():
            raise UntrustedPickleError(
                f"refusing to unpickle {path}: its sha256 is {actual}, expected {expected_sha256.lower()}. {advice}"
            )
    elif not trust:
        raise UntrustedPickleError(f"refusing to unpickle {path}: it is not marked as trusted. {advice}")
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - guarded by trust / checksum above
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot unpickle ({type(exc).__name__}: {exc})") from exc
    return _dataset_from_course_dict(obj, path)


def _dataset_from_course_dict(obj: Any, path: Path) -> Dataset:
    if not isinstance(obj, dict):
        raise DataFormatError(
            f"{path}: holds a {type(obj).__name__}; expected a dict with keys {sorted(_PICKLE_KEYS)}"
        )
    keys = {k for k in obj}
    missing, extra = sorted(_PICKLE_KEYS - keys), sorted(map(repr, keys - _PICKLE_KEYS))
    if missing or extra:
        raise DataFormatError(
            f"{path}: keys do not match; missing {missing}, unexpected {extra}; "
            f"expected exactly {sorted(_PICKLE_KEYS)}"
        )
    raw_playlists, info = obj["train_playlists"], obj["songs_info"]
    if not isinstance(raw_playlists, (list, tuple)):
        raise DataFormatError(f"{path}: train_playlists is a {type(raw_playlists).__name__}; expected a list of lists")
    playlists = []
    for i, pl in enumerate(raw_playlists):
        if not isinstance(pl, (list, tuple)):
            raise DataFormatError(
                f"{path}: train_playlists[{i}] is a {type(pl).__name__}; expected a list of song IDs"
            )
        ids = [_song_id(v, f"train_playlists[{i}][{j}]", path) for j, v in enumerate(pl)]
        playlists.append(np.array(ids, dtype=np.int64))
    if not isinstance(info, pd.DataFrame):
        raise DataFormatError(f"{path}: songs_info is a {type(info).__name__}; expected a pandas DataFrame")
    lacking = [c for c in ("title", "artist") if c not in info.columns]
    if lacking:
        raise DataFormatError(
            f"{path}: songs_info lacks column(s) {lacking}; it has {list(info.columns)}, expected title and artist"
        )
    ids = np.array([_song_id(v, "songs_info index value", path) for v in info.index], dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        dup = pd.Index(ids)[pd.Index(ids).duplicated()][0]
        raise DataFormatError(f"{path}: songs_info lists song ID {dup} more than once")

    def text(col: str) -> list[str]:
        # Missing titles exist in Cornell's data (empty fields); keep them as "".
        return [unescape(v) if isinstance(v, str) else ("" if pd.isna(v) else unescape(str(v))) for v in info[col]]

    songs = pd.DataFrame(
        {"title": text("title"), "artist": text("artist")},
        index=pd.Index(ids, name="song_id"),
    ).sort_index()
    used = np.unique(np.concatenate(playlists)) if playlists else np.empty(0, np.int64)
    unknown = used[~np.isin(used, ids)]
    if unknown.size:
        raise DataFormatError(
            f"{path}: song ID {int(unknown[0])} occurs in train_playlists but not in songs_info "
            f"({unknown.size} such ID(s))"
        )
    return Dataset(playlists=playlists, songs=songs, name="course_pickle", source=str(path))


