"""Reading the playlist data: Cornell's Yes.com files, the course pickle, and our own ``.npz``.

Everything ends up as a :class:`Dataset`: a list of playlists (raw song IDs, ``int64``) and a
song table. Parsers check the format as they go and raise
:class:`~helpers.errors.DataFormatError` naming the file, the line and the bad value.

Cornell layout (``dataset.tar.gz`` unpacks to ``dataset/yes_small``, ``yes_big``,
``yes_complete``), per variant folder:

``train.txt`` / ``test.txt``
    line 1: one external ID per song; line 2: how often each song occurs in the file;
    then one playlist per line, song IDs separated by spaces (each line ends with a space;
    an empty line is an empty playlist). May be gzip-compressed (``train.txt.gz``).
``song_hash.txt``
    ``id<TAB>title<TAB>artist``; fields may carry stray spaces; titles use JSON-style escapes
    (``\\/`` for ``/``).
``tags.txt`` / ``tag_hash.txt``
    line ``i`` lists the tag IDs of song ``i`` (``#`` when it has none); ``id, name``.

yes_complete counts, checked by ``tests/helpers/test_realdata_data.py``: 75,262 songs; 11,137
playlist lines, 44 of them empty; 11,088 playlists with more than one song; 1,876,845
transitions (sum of ``len - 1``). The course's ``training_data.pkl`` is reported to hold
10,738 playlists, which is exactly the number with more than 15 songs, so that pickle was
probably built with ``len(p) > 15`` rather than ``len(p) > 1``; ``load_cornell`` keeps
``len(p) >= min_length`` (default 2) and records what it dropped in ``Dataset.dropped``.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import environment
from helpers.errors import DataFormatError
from helpers.locations import default_data_dir  # defined there once; data.default_data_dir stays
from helpers.validate import INT64_MAX, check_int

DEFAULT_VARIANT = "yes_complete"
DATA_DIR_ENV = environment.DATA_DIR
VARIANTS = ("yes_small", "yes_big", "yes_complete")

_HOW_TO_GET = (
    "Get it with `songrec data fetch`, or download "
    "https://www.cs.cornell.edu/~shuochen/lme/dataset.tar.gz by hand, unpack it and point "
    f"{DATA_DIR_ENV} (or --data-dir) at the folder that holds yes_small/, yes_big/ and "
    "yes_complete/."
)
_VARIANT_FILES = "train.txt (or train.txt.gz), song_hash.txt, tags.txt, tag_hash.txt"

# Only JSON escapes are decoded. A tab or newline inside a title is useless (and would break
# tab-separated output), so those escapes become a space. Any other backslash is left alone:
# the real files contain a lone trailing backslash ("6'1\") that is not an escape at all.
_ESCAPES = {"/": "/", "\\": "\\", '"': '"', "t": " ", "n": " ", "r": " "}
_ESCAPE_RE = re.compile(r'\\([/\\"tnr])')


def unescape(text: str) -> str:
    r"""Decode the JSON-style escapes of Cornell's titles and strip the result.

    ``\/`` -> ``/``, ``\\`` -> ``\``, ``\"`` -> ``"``; ``\t``, ``\n``, ``\r`` -> a space.
    """
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], text).strip()


@dataclass(frozen=True)
class Dataset:
    """Playlists plus the song table they refer to.

    ``playlists``: one int64 array of shape (L,) per playlist, raw song IDs.
    ``songs``: DataFrame indexed by ``song_id`` (int64 raw ID) with ``title`` and
    ``artist`` (str); optional ``tags`` (tuple of tag names) and ``genre`` (synthetic data).
    ``name``: e.g. ``"yes_complete"``, ``"synthetic"``, ``"course_pickle"``. ``source``:
    where the data came from (path, generator call). ``dropped``: what a loader left out,
    e.g. ``{"min_length": 2, "playlists": 49, "empty": 44}``; empty when nothing was
    filtered. Raises ValueError when a field has the wrong type or shape.
    """

    playlists: list[np.ndarray]
    songs: pd.DataFrame
    name: str
    source: str
    dropped: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.playlists, list):
            raise ValueError(f"Dataset.playlists must be a list of int64 arrays, got {type(self.playlists).__name__}")
        for i, p in enumerate(self.playlists):
            if not isinstance(p, np.ndarray) or p.dtype != np.int64 or p.ndim != 1:
                what = f"{p.dtype} array of shape {p.shape}" if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"Dataset.playlists[{i}] must be a 1-D int64 array, got {what}")
        if not isinstance(self.songs, pd.DataFrame):
            raise ValueError(f"Dataset.songs must be a pandas DataFrame, got {type(self.songs).__name__}")
        missing = [c for c in ("title", "artist") if c not in self.songs.columns]
        if missing:
            raise ValueError(f"Dataset.songs lacks column(s) {missing}; expected title and artist")
        if not pd.api.types.is_integer_dtype(self.songs.index.dtype):
            raise ValueError(f"Dataset.songs index must hold integer song IDs, got dtype {self.songs.index.dtype}")

    def describe(self) -> dict[str, int]:
        """Counts: playlists, songs in the table, song occurrences, playlists longer than 1."""
        lengths = np.fromiter((len(p) for p in self.playlists), dtype=np.int64, count=len(self.playlists))
        return {
            "n_playlists": len(self.playlists),
            "n_songs": len(self.songs),
            "n_occurrences": int(lengths.sum()),
            "n_playlists_gt1": int((lengths > 1).sum()),
        }


# --------------------------------------------------------------------------- reading text


def max_text_bytes() -> int:
    """Largest data text file read (after decompression): ``SONGREC_MAX_DATA_BYTES``, by
    default 4 times the largest published Cornell file (yes_complete/train.txt)."""
    from helpers import limits
    from helpers.fetch import KNOWN_FILES

    default = 4 * max(size for size, _ in KNOWN_FILES.values())
    return limits.size_limit(limits.DATA_BYTES_ENV, default)


def _read_capped(fh, cap: int, path: Path) -> bytes:
    blocks, total = [], 0
    for block in iter(lambda: fh.read(1 << 20), b""):
        total += len(block)
        if total > cap:
            from helpers.limits import DATA_BYTES_ENV

            raise DataFormatError(
                f"{path}: more than {cap:,} bytes of text; expected a data file of at most that size "
                f"(4x the largest published Cornell file); set {DATA_BYTES_ENV} to raise the limit")
        blocks.append(block)
    return b"".join(blocks)


def _read_text(path: str | os.PathLike, what: str) -> tuple[Path, str]:
    """Whole file as text (gunzipped when it starts with the gzip magic), strict UTF-8.

    Read in blocks and stopped at :func:`max_text_bytes`, so a gzip bomb costs at most
    that much memory.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    cap = max_text_bytes()
    with open(path, "rb") as fh:
        magic = fh.read(2)
    try:
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                raw = _read_capped(fh, cap, path)
        else:
            with open(path, "rb") as fh:
                raw = _read_capped(fh, cap, path)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: cannot decompress gzip data ({exc})") from exc
    try:
        return path, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = "decompressed byte offset" if magic == b"\x1f\x8b" else "byte offset"
        raise DataFormatError(
            f"{path}: not valid UTF-8 at {where} {exc.start} (byte {raw[exc.start:exc.start + 1]!r}); "
            f"expected a UTF-8 text file"
        ) from exc


def _lines(text: str) -> list[str]:
    # A final newline ends the last line; it does not start an extra (empty) one.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def is_uint(token: str) -> bool:
    """True when ``token`` is a non-negative integer written in ASCII digits only."""
    return token.isascii() and token.isdigit()


def _explain_bad_tokens(path: Path, lineno: int, tokens: list[str], what: str) -> DataFormatError:
    for pos, tok in enumerate(tokens, start=1):
        if not is_uint(tok):
            kind = "is negative" if tok.startswith("-") and is_uint(tok[1:]) else "is not an integer"
            return DataFormatError(
                f"{path}, line {lineno}: {what} {tok!r} (token {pos}) {kind}; "
                f"expected non-negative integers separated by spaces"
            )
        if int(tok) >= 2**63:
            return DataFormatError(f"{path}, line {lineno}: {what} {tok!r} (token {pos}) does not fit in int64")
    return DataFormatError(f"{path}, line {lineno}: cannot parse {what}s")


def read_train(path: str | os.PathLike) -> list[np.ndarray]:
    """Read a Cornell playlist file (``train.txt``/``test.txt``, optionally gzip-compressed).

    Returns one ``int64`` array of shape ``(L,)`` per playlist line, empty playlists included
    (callers decide what to drop). The two header lines are checked, not returned.
    """
    path, text = _read_text(path, "playlist")
    if not text.isascii():
        # int() would take non-ASCII digits such as "٣"; the format is plain ASCII.
        pos = next(i for i, ch in enumerate(text) if not ch.isascii())
        lineno = text.count("\n", 0, pos) + 1
        raise DataFormatError(
            f"{path}, line {lineno}: non-ASCII character {text[pos]!r}; expected song IDs made of digits 0-9"
        )
    lines = _lines(text)
    for lineno, label in ((1, "external song IDs"), (2, "per-song counts")):
        if len(lines) < lineno:
            raise DataFormatError(
                f"{path}: header line {lineno} ({label}) is missing; expected line 1 = song IDs, "
                f"line 2 = counts, then one playlist per line"
            )
        tokens = lines[lineno - 1].split()
        if not tokens:
            raise DataFormatError(f"{path}, line {lineno}: header ({label}) is empty; expected integers")
        bad = next((t for t in tokens if not is_uint(t)), None)
        if bad is not None:
            raise DataFormatError(
                f"{path}, line {lineno}: header ({label}) holds {bad!r}; expected non-negative integers"
            )
    n_ids, n_counts = len(lines[0].split()), len(lines[1].split())
    if n_ids != n_counts:
        raise DataFormatError(
            f"{path}, line 2: {n_counts} counts for {n_ids} songs in line 1; expected one count per song"
        )
    playlists = []
    for lineno, line in enumerate(lines[2:], start=3):
        tokens = line.split()
        try:
            arr = np.array(tokens, dtype=np.int64)
        except (ValueError, OverflowError):
            raise _explain_bad_tokens(path, lineno, tokens, "song ID") from None
        if arr.size and arr.min() < 0:
            raise _explain_bad_tokens(path, lineno, tokens, "song ID")
        playlists.append(arr)
    return playlists


def read_song_hash(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``song_hash.txt`` into a DataFrame indexed by ``song_id`` (int64, sorted).

    Columns ``title`` and ``artist`` (str) are stripped and unescaped (see :func:`unescape`).
    IDs must be unique non-negative integers.
    """
    path, text = _read_text(path, "song table")
    lines = _lines(text)
    if not lines:
        raise DataFormatError(f"{path}: file is empty; expected one line per song: id<TAB>title<TAB>artist")
    ids: list[int] = []
    titles: list[str] = []
    artists: list[str] = []
    first_line: dict[int, int] = {}
    for lineno, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataFormatError(
                f"{path}, line {lineno}: {len(fields)} tab-separated field(s); expected 3 (id, title, artist)"
            )
        sid = fields[0].strip()
        if not is_uint(sid):
            raise DataFormatError(f"{path}, line {lineno}: song ID {sid!r} is not a non-negative integer")
        if len(sid) > 19 or int(sid) > INT64_MAX:
            raise DataFormatError(
                f"{path}, line {lineno}: song ID {sid[:30]!r} does not fit in int64; expected an integer "
                f"in 0..{INT64_MAX}")
        value = int(sid)
        if value in first_line:
            raise DataFormatError(
                f"{path}, line {lineno}: song ID {value} already appeared on line {first_line[value]}; "
                f"expected each ID once"
            )
        first_line[value] = lineno
        ids.append(value)
        titles.append(unescape(fields[1]))
        artists.append(unescape(fields[2]))
    songs = pd.DataFrame(
        {"title": titles, "artist": artists},
        index=pd.Index(np.array(ids, dtype=np.int64), name="song_id"),
    )
    return songs.sort_index()


def read_tags(tags_path: str | os.PathLike, tag_hash_path: str | os.PathLike) -> pd.Series:
    """Read ``tags.txt`` (line ``i`` = tag IDs of song ``i``, ``#`` = none) and ``tag_hash.txt``.

    Returns a Series named ``tags`` indexed by ``song_id`` (int64, ``0..n-1``) whose values are
    tuples of tag names, in file order (empty tuple for ``#``).
    """
    hash_path, hash_text = _read_text(tag_hash_path, "tag table")
    names: dict[int, str] = {}
    for lineno, line in enumerate(_lines(hash_text), start=1):
        tid, sep, name = line.partition(",")
        tid, name = tid.strip(), name.strip()
        if not sep or not is_uint(tid) or not name:
            raise DataFormatError(f"{hash_path}, line {lineno}: {line!r} is not 'id, name'")
        if int(tid) in names:
            raise DataFormatError(f"{hash_path}, line {lineno}: tag ID {tid} appears twice")
        names[int(tid)] = name
    if not names:
        raise DataFormatError(f"{hash_path}: file is empty; expected one 'id, name' line per tag")

    tags_path, tags_text = _read_text(tags_path, "song tags")
    lines = _lines(tags_text)
    if not lines:
        raise DataFormatError(f"{tags_path}: file is empty; expected one line of tag IDs (or '#') per song")
    values: list[tuple[str, ...]] = []
    for lineno, line in enumerate(lines, start=1):
        line = line.strip()
        if line == "#":
            values.append(())
            continue
        # Cornell separates tag IDs by spaces; commas are accepted too.
        tokens = [t for t in re.split(r"[\s,]+", line) if t]
        if not tokens:
            raise DataFormatError(f"{tags_path}, line {lineno}: empty line; expected tag IDs or '#' for none")
        row = []
        for tok in tokens:
            if not is_uint(tok) or int(tok) not in names:
                raise DataFormatError(
                    f"{tags_path}, line {lineno}: tag ID {tok!r} is not in {hash_path} "
                    f"(IDs {min(names)}..{max(names)})"
                )
            row.append(names[int(tok)])
        values.append(tuple(row))
    index = pd.Index(np.arange(len(values), dtype=np.int64), name="song_id")
    return pd.Series(values, index=index, name="tags", dtype=object)


# --------------------------------------------------------------------------- Cornell folders


def _variant_dir(data_dir: str | os.PathLike, variant: str) -> Path:
    if not isinstance(variant, str) or not variant or Path(variant).name != variant or variant in (".", ".."):
        raise ValueError(f"variant must be a folder name such as {VARIANTS}, got {variant!r}")
    base = Path(data_dir)
    if not base.is_dir():
        raise FileNotFoundError(
            f"data folder {str(base)!r} does not exist; expected a folder holding {variant}/ "
            f"with {_VARIANT_FILES}. {_HOW_TO_GET}"
        )
    candidates = [base / variant, base / "dataset" / variant]
    if base.name == variant:
        candidates.insert(0, base)
    for cand in candidates:
        if cand.is_dir():
            return cand
    present = sorted(p.name for p in (*base.glob("yes_*"), *base.glob("dataset/yes_*")) if p.is_dir())
    raise FileNotFoundError(
        f"no {variant}/ folder in {str(base)!r} (looked for {', '.join(str(c) for c in candidates)}; "
        f"variants found: {present or 'none'}); expected {variant}/ with {_VARIANT_FILES}. {_HOW_TO_GET}"
    )


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def load_cornell(
    data_dir: str | os.PathLike,
    variant: str = DEFAULT_VARIANT,
    min_length: int = 2,
    with_tags: bool = True,
) -> Dataset:
    """Load one Cornell variant's training playlists and song table.

    ``data_dir`` is the folder holding the ``yes_*`` folders, or its parent holding
    ``dataset/`` (the archive's layout), or the variant folder itself. Playlists with fewer
    than ``min_length`` songs are dropped and counted in ``Dataset.dropped``. Every playlist
    ID must be in ``song_hash.txt``. With ``with_tags`` the song table gains a ``tags`` column.
    """
    min_length = check_int("min_length", min_length, 0)
    folder = _variant_dir(data_dir, variant)
    train_path = _first_existing(folder, ("train.txt", "train.txt.gz"))
    hash_path = _first_existing(folder, ("song_hash.txt",))
    needed = {"train.txt (or train.txt.gz)": train_path, "song_hash.txt": hash_path}
    if with_tags:
        needed["tags.txt"] = _first_existing(folder, ("tags.txt",))
        needed["tag_hash.txt"] = _first_existing(folder, ("tag_hash.txt",))
    missing = [name for name, p in needed.items() if p is None]
    if missing:
        hint = " (or pass with_tags=False)" if any("tag" in m for m in missing) else ""
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}{hint}; expected {_VARIANT_FILES}. {_HOW_TO_GET}"
        )

    playlists = read_train(train_path)
    songs = read_song_hash(hash_path)
    if with_tags:
        tags = read_tags(needed["tags.txt"], needed["tag_hash.txt"])
        if len(tags) != len(songs) or not tags.index.equals(songs.index):
            raise DataFormatError(
                f"{needed['tags.txt']} has {len(tags)} lines but {hash_path} lists {len(songs)} songs "
                f"(IDs {songs.index.min()}..{songs.index.max()}); expected one tags line per song ID 0..n-1"
            )
        songs = songs.assign(tags=tags)

    used = np.unique(np.concatenate(playlists)) if playlists else np.empty(0, np.int64)
    unknown = used[~np.isin(used, songs.index.to_numpy())]
    if unknown.size:
        bad = int(unknown[0])
        lineno = next(i for i, p in enumerate(playlists, start=3) if (p == bad).any())
        raise DataFormatError(
            f"{train_path}, line {lineno}: song ID {bad} is not in {hash_path} "
            f"({len(songs)} songs, IDs {songs.index.min()}..{songs.index.max()}); "
            f"{unknown.size} unknown ID(s) in all; are the files from the same variant?"
        )

    kept = [p for p in playlists if len(p) >= min_length]
    n_empty = sum(1 for p in playlists if len(p) == 0)
    dropped = {
        "min_length": int(min_length),
        "playlists": len(playlists) - len(kept),
        "empty": n_empty if min_length > 0 else 0,
    }
    source = (
        f"Cornell {variant}: {train_path} ({len(kept)} of {len(playlists)} playlists kept; "
        f"{dropped['playlists']} with fewer than {min_length} songs dropped)"
    )
    return Dataset(playlists=kept, songs=songs, name=variant, source=source, dropped=dropped)


def find_data_dir(cli_value: str | os.PathLike | None = None, *,
                  repo_root: str | os.PathLike | None = None) -> Path | None:
    """Where the Cornell data lives: ``--data-dir``, else ``$SONGREC_DATA_DIR``, else :func:`default_data_dir`.

    A flag or environment value that does not exist raises FileNotFoundError naming it and
    where it came from. Returns None when nothing is configured and the default is absent.
    """
    given = ((cli_value, "--data-dir"), (os.environ.get(DATA_DIR_ENV), f"environment variable {DATA_DIR_ENV}"))
    for value, origin in given:
        if value is None or str(value) == "":
            continue
        path = Path(value).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"data folder {str(value)!r} (from {origin}) does not exist; expected the folder that "
                f"holds yes_small/, yes_big/, yes_complete/. {_HOW_TO_GET}"
            )
        if not path.is_dir():
            raise NotADirectoryError(f"data folder {str(value)!r} (from {origin}) is not a folder")
        return path
    default = default_data_dir(repo_root)
    return default if default.is_dir() else None
