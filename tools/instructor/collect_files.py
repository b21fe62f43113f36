"""The files of an LMS download (a zip or a folder), read without trusting a name in it.

nbgrader's ``ExtractorPlugin`` unzips straight to disk; here every member is checked
first (no absolute path, no ``..``, no link, no file or total over the limits) and
nothing is written: the caller gets the bytes, and writes them only once all of the
download has passed its checks.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 50 << 20     # one notebook, outputs included
MAX_TOTAL_BYTES = 2 << 30     # the whole download, unpacked
MAX_FILES = 20000
JUNK_PARTS = ("__MACOSX", ".DS_Store", "Thumbs.db")


def safe_member(name: str, where: str) -> str | None:
    """``name`` as a relative ``/``-path; None for a folder entry or the junk an OS adds.

    Raises ValueError for an absolute path, a ``..`` part, a drive or a backslash.
    """
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
        raise ValueError(f"{where}: unsafe file name {name!r} in the download (absolute, or a Windows path)")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ValueError(f"{where}: unsafe file name {name!r} in the download (it climbs out with '..')")
    if name.endswith("/") or not parts:
        return None
    if any(p in JUNK_PARTS for p in parts):
        return None
    return "/".join(p for p in parts if p != ".")


def check_size(name: str, size: int, total: int, where: str) -> int:
    """``total + size``; raises ValueError when the file or the total is over the limit."""
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{where}: {name!r} is {size} bytes, over the {MAX_FILE_BYTES} bytes one submitted file "
                         "may have")
    if total + size > MAX_TOTAL_BYTES:
        raise ValueError(f"{where}: the download unpacks to more than {MAX_TOTAL_BYTES} bytes")
    return total + size


def read_zip(path: Path) -> dict[str, bytes]:
    """name -> bytes of every file in the zip ``path``.

    Raises ValueError for a file that is no zip, an unsafe name, a link, too many or too
    large files.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: not a zip file ({exc})") from None
    out: dict[str, bytes] = {}
    total = 0
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_FILES:
            raise ValueError(f"{path}: {len(infos)} files, more than the {MAX_FILES} a download may have")
        for info in infos:
            name = safe_member(info.filename, str(path))
            if name is None:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ValueError(f"{path}: {info.filename!r} is a symbolic link; a download holds plain files only")
            total = check_size(name, info.file_size, total, str(path))
            with archive.open(info) as member:
                data = member.read(MAX_FILE_BYTES + 1)  # the header's size may lie
            check_size(name, len(data), 0, str(path))
            if name in out:
                raise ValueError(f"{path}: {name!r} is in the zip twice")
            out[name] = data
    return out


def read_folder(path: Path) -> dict[str, bytes]:
    """name -> bytes of every file under the folder ``path`` (links not followed).

    Raises ValueError for a link, too many or too large files.
    """
    root = Path(path)
    out: dict[str, bytes] = {}
    total = 0
    for item in sorted(root.rglob("*")):
        rel = item.relative_to(root).as_posix()
        if item.is_symlink():
            raise ValueError(f"{root}: {rel!r} is a symbolic link; a download holds plain files only")
        if not item.is_file() or safe_member(rel, str(root)) is None:
            continue
        total = check_size(rel, item.stat().st_size, total, str(root))
        out[rel] = item.read_bytes()
        if len(out) > MAX_FILES:
            raise ValueError(f"{root}: more than the {MAX_FILES} files a download may have")
    return out


def read_download(path: Path) -> dict[str, bytes]:
    """The files of a download: a ``.zip`` or a folder (see :func:`read_zip`, :func:`read_folder`).

    Raises ValueError when ``path`` is neither.
    """
    path = Path(path)
    if path.is_dir():
        return read_folder(path)
    if path.is_file():
        return read_zip(path)
    raise ValueError(f"download {str(path)!r} not found; expected the LMS's .zip or the folder it unpacks to")
