"""Checksums: every sha256 (and git blob id) songrec computes, in one place.

Files are read in 1 MiB blocks, so a checksum never holds a whole file in memory; with
``decompress`` the gunzipped content is hashed instead of the file's bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20


def sha256_bytes(*chunks: bytes) -> str:
    """Hex sha256 of the chunks laid end to end.

    ``chunks``: bytes-like objects (e.g. ``array.tobytes()``, encoded JSON).
    Returns 64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _open(path: Path, decompress: bool):
    return gzip.open(path, "rb") if decompress else open(path, "rb")


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", *, decompress: bool = False,
                git_blob: bool = False) -> tuple[int, str]:
    """Size and hex digest of a file, streamed.

    ``algorithm``: a :mod:`hashlib` name (``"sha256"``, ``"sha1"``). ``git_blob``: hash
    ``b"blob <size>\\0"`` first, as git does for a blob id (the size is found first).
    Returns ``(size in bytes of what was hashed, hex digest)``. Raises OSError (and
    ``EOFError``/``zlib.error`` for broken gzip data) when the file cannot be read.
    """
    path = Path(path)
    if git_blob:
        if decompress:
            with _open(path, True) as fh:
                size = sum(len(block) for block in iter(lambda: fh.read(_BLOCK), b""))
        else:
            size = path.stat().st_size
        digest = hashlib.new(algorithm, f"blob {size}\0".encode())
    else:
        digest = hashlib.new(algorithm)
    counted = 0
    with _open(path, decompress) as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
            counted += len(block)
    return (size if git_blob else counted), digest.hexdigest()


def sha256_file(path: str | os.PathLike, *, decompress: bool = False) -> str:
    """Hex sha256 of a file (of its gunzipped content with ``decompress``)."""
    return file_digest(path, "sha256", decompress=decompress)[1]


def git_blob_sha1(path: str | os.PathLike, *, decompress: bool = False) -> str:
    """Git blob id (what ``git hash-object`` prints) of a file; with ``decompress`` of its
    gunzipped content."""
    return file_digest(path, "sha1", decompress=decompress, git_blob=True)[1]
