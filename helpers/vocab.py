"""Song vocabulary: raw song IDs <-> contiguous indices 1..V, with 0 kept for padding.

An embedding table has one row per index, so raw IDs (arbitrary, sparse integers) must be
mapped to ``1..V`` first. Row 0 is never a song: Keras pads with 0 and the recommender
must never return it.

Display names are "Title by Artist". The Cornell song table re-uses such names for
different IDs (674 names cover 3,191 IDs in yes_complete), so every duplicated name is
shown as "Title by Artist [id 123]". Duplicates are decided over the *whole* song table,
not just the songs in a subset, so a name means the same song in every run.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.digest import sha256_bytes
from helpers.errors import AmbiguousSongError, UnknownSongError

PAD = 0
PAD_NAME = "<pad>"


def display_names(songs: pd.DataFrame) -> pd.Series:
    """"Title by Artist" for every row of a song table, duplicates suffixed "[id N]".

    songs: DataFrame indexed by raw song ID (int) with ``title`` and ``artist`` columns.
    Returns a str Series with the same index.
    """
    for col in ("title", "artist"):
        if col not in songs.columns:
            raise ValueError(f"song table needs a {col!r} column; it has {list(songs.columns)}")
    plain = songs["title"].astype(str) + " by " + songs["artist"].astype(str)
    dup = plain.duplicated(keep=False)
    ids = pd.Series(songs.index, index=songs.index).astype(str)
    return plain.where(~dup, plain + " [id " + ids + "]")


def _plain(name: str) -> str:
    """Strip a trailing " [id N]" disambiguation suffix."""
    if name.endswith("]") and " [id " in name:
        return name[: name.rfind(" [id ")]
    return name


@dataclass
class Vocab:
    """Mapping between raw song IDs and embedding rows.

    raw_ids: int64 (V,), sorted ascending; index ``i`` (1..V) is ``raw_ids[i - 1]``.
    counts:  int64 (V+1,), occurrences per index in the playlists the vocabulary was
             built from; ``counts[0] == 0``.
    names:   list of V+1 str, ``names[0] == "<pad>"``.
    """

    raw_ids: np.ndarray
    counts: np.ndarray
    names: list[str]
    _by_name: dict[str, int] = field(default=None, repr=False, compare=False)
    _by_plain: dict[str, list[int]] = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.raw_ids = np.asarray(self.raw_ids, dtype=np.int64)
        self.counts = np.asarray(self.counts, dtype=np.int64)
        v = len(self.raw_ids)
        if self.raw_ids.ndim != 1 or (v > 1 and np.any(np.diff(self.raw_ids) <= 0)):
            raise ValueError("raw_ids must be a 1-D array of unique IDs in ascending order")
        if self.counts.shape != (v + 1,):
            raise ValueError(f"counts must have shape ({v + 1},) for {v} songs; got {self.counts.shape}")
        if len(self.names) != v + 1 or self.names[0] != PAD_NAME:
            raise ValueError(f"names must hold {v + 1} entries starting with {PAD_NAME!r}")

    # -- sizes and mappings -------------------------------------------------
    @property
    def size(self) -> int:
        """V, the number of songs (the embedding table has V+1 rows)."""
        return len(self.raw_ids)

    def __len__(self) -> int:
        return self.size

    def raw_to_idx(self) -> dict[int, int]:
        """{raw ID: index in 1..V}."""
        return {int(r): i for i, r in enumerate(self.raw_ids, start=1)}

    def idx_to_raw(self) -> dict[int, int]:
        """{index in 1..V: raw ID}."""
        return {i: int(r) for i, r in enumerate(self.raw_ids, start=1)}

    def indices_of_raw(self, raw: np.ndarray) -> np.ndarray:
        """Vectorised raw ID -> index; 0 where the raw ID is not in the vocabulary.

        raw: int array of any shape. Returns int32 of the same shape.
        """
        raw = np.asarray(raw, dtype=np.int64)
        pos = np.searchsorted(self.raw_ids, raw)
        pos_c = np.minimum(pos, max(self.size - 1, 0))
        found = (self.size > 0) & (self.raw_ids[pos_c] == raw) if self.size else np.zeros(raw.shape, bool)
        return np.where(found, pos_c + 1, 0).astype(np.int32)

    def encode(self, playlists: Iterable[Sequence[int]], unknown: str = "error") -> list[np.ndarray]:
        """Rewrite raw-ID playlists as index playlists.

        playlists: iterable of int sequences (raw IDs). unknown: "error" raises
        ``UnknownSongError`` naming the first unknown ID and its playlist; "drop" removes
        unknown songs. Returns a list of int32 arrays with values in 1..V.
        """
        if unknown not in ("error", "drop"):
            raise ValueError(f"unknown must be 'error' or 'drop', got {unknown!r}")
        out = []
        for p, pl in enumerate(playlists):
            idx = self.indices_of_raw(np.asarray(pl, dtype=np.int64))
            if unknown == "error" and np.any(idx == 0):
                bad = int(np.asarray(pl, dtype=np.int64)[idx == 0][0])
                raise UnknownSongError(f"raw ID {bad} (playlist {p})")
            out.append(idx[idx > 0] if unknown == "drop" else idx)
        return out

    def decode(self, encoded: Sequence[int]) -> np.ndarray:
        """Index playlist -> raw IDs, int64. Raises ValueError on 0 or out-of-range."""
        idx = np.asarray(encoded, dtype=np.int64)
        bad = idx[(idx < 1) | (idx > self.size)]
        if bad.size:
            raise ValueError(f"index {int(bad[0])} is not a song index (expected 1..{self.size})")
        return self.raw_ids[idx - 1]

    # -- names --------------------------------------------------------------
    def _index_names(self):
        if self._by_name is None:
            self._by_name = {n: i for i, n in enumerate(self.names) if i}
            plain: dict[str, list[int]] = {}
            for i, n in enumerate(self.names[1:], start=1):
                plain.setdefault(_plain(n), []).append(i)
            self._by_plain = plain

    def name_of(self, idx: int) -> str:
        """Display name of index 1..V; raises ValueError for 0 (padding) or out of range."""
        idx = int(idx)
        if not 1 <= idx <= self.size:
            raise ValueError(f"index {idx} is not a song index (expected 1..{self.size}; 0 is padding)")
        return self.names[idx]

    def index_of(self, name: str) -> int:
        """Index of a display name ("Title by Artist" or "Title by Artist [id N]").

        A plain name shared by several songs raises ``AmbiguousSongError`` listing the
        disambiguated names; an unknown name raises ``UnknownSongError`` with up to five
        close matches.
        """
        if not isinstance(name, str):
            raise ValueError(f"song name must be a str, got {type(name).__name__} {name!r}")
        self._index_names()
        if name in self._by_name:
            return self._by_name[name]
        hits = self._by_plain.get(name, [])
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise AmbiguousSongError(name, [self.names[i] for i in hits])
        folded = name.casefold().strip()
        ci = [i for p, ids in self._by_plain.items() if p.casefold() == folded for i in ids]
        if len(ci) == 1:
            return ci[0]
        if len(ci) > 1:
            raise AmbiguousSongError(name, [self.names[i] for i in ci])
        raise UnknownSongError(name, self.suggest(name))

    def suggest(self, name: str, n: int = 5) -> list[str]:
        """Up to n display names close to ``name`` (difflib ratio >= 0.6)."""
        self._index_names()
        return difflib.get_close_matches(name, list(self._by_name), n=n, cutoff=0.6)

    def most_common(self, n: int = 5) -> list[tuple[int, int, str, int]]:
        """The n most frequent songs as (index, raw ID, name, count); ties by index."""
        order = np.lexsort((np.arange(self.size + 1), -self.counts))
        order = order[order != PAD][:n]
        return [(int(i), int(self.raw_ids[i - 1]), self.names[i], int(self.counts[i])) for i in order]

    # -- persistence ----------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 of the raw IDs, counts and names in row order.

        Two vocabularies with equal fingerprints agree on every row: same song, same
        count, same display name (so swapped names in a saved ``vocab.json`` are caught).
        """
        return sha256_bytes(b"songrec-vocab-v2\0", self.raw_ids.astype("<i8").tobytes(),
                            self.counts.astype("<i8").tobytes(),
                            json.dumps(self.names, ensure_ascii=True).encode("ascii"))

    def to_json(self) -> str:
        return json.dumps(
            {
                "raw_ids": self.raw_ids.tolist(),
                "counts": self.counts.tolist(),
                "names": self.names,
                "fingerprint": self.fingerprint(),
            }
        )

    @classmethod
    def from_dict(cls, d: dict, *, checked: bool = False) -> Vocab:
        """Build from the parsed ``vocab.json``; the content must pass :func:`vocab_schema`
        (``checked=True``: the caller has already checked it).

        Raises ValueError naming the field at fault.
        """
        from helpers.validate import SchemaError

        try:
            if not checked:
                vocab_schema(None).check(d, "")
        except SchemaError as exc:
            raise ValueError(f"field {exc.where.lstrip('.') or 'top level'}: expected {exc.expected}") from None
        if len(d["counts"]) != len(d["raw_ids"]) + 1 or len(d["names"]) != len(d["raw_ids"]) + 1:
            raise ValueError(f"fields counts and names must hold {len(d['raw_ids']) + 1} entries "
                             f"(one per raw ID plus padding), got {len(d['counts'])} and {len(d['names'])}")
        vocab = cls(np.array(d["raw_ids"], dtype=np.int64), np.array(d["counts"], dtype=np.int64), list(d["names"]))
        if "fingerprint" in d and d["fingerprint"] != vocab.fingerprint():
            raise ValueError("saved vocabulary is corrupted: its fingerprint does not match its IDs, counts and names")
        return vocab

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"not a saved vocabulary ({type(exc).__name__})") from None
        return cls.from_dict(d)


# A display name longer than this is not a song title (Cornell's longest is 178).
MAX_NAME_CHARS = 1000


def vocab_schema(size: int | None):
    """Schema of ``vocab.json`` for ``size`` songs (None: any size)."""
    from helpers.validate import INT64_MAX, Int, List, Obj, Str

    rows = None if size is None else size + 1
    return Obj(
        required={"raw_ids": List(Int(0, INT64_MAX), length=size),
                  "counts": List(Int(0, INT64_MAX), length=rows),
                  "names": List(Str(MAX_NAME_CHARS), length=rows)},
        optional={"fingerprint": Str(hex_len=64)},
    )


def build_vocab(playlists: Iterable[Sequence[int]], songs: pd.DataFrame | None = None) -> Vocab:
    """Vocabulary of every raw ID that occurs in ``playlists``, sorted by raw ID.

    playlists: iterable of int sequences of raw song IDs.
    songs: optional song table (index = raw ID, columns title/artist) for display names;
    without it a song is named "song <raw ID>". A playlist ID missing from ``songs``
    raises ``UnknownSongError``.
    """
    arrays = [np.asarray(p, dtype=np.int64).ravel() for p in playlists]
    flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    raw_ids, counts = np.unique(flat, return_counts=True)
    if songs is None:
        names = [f"song {r}" for r in raw_ids]
    else:
        missing = ~np.isin(raw_ids, songs.index.to_numpy())
        if missing.any():
            raise UnknownSongError(f"raw ID {int(raw_ids[missing][0])} (not in the song table)")
        names = display_names(songs).loc[raw_ids].tolist()
    return Vocab(raw_ids, np.concatenate([[0], counts]).astype(np.int64), [PAD_NAME, *names])
