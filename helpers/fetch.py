"""Download, unpack and verify Cornell's playlist archive.

:func:`fetch` downloads ``dataset.tar.gz`` to a temporary file next to the destination,
streams it through tar once, writing only the published files (each no larger than its
published size) into a temporary folder and refusing absolute paths, ``..``, links and
devices; checks every published file, and only then renames the folder into place.
The download has an overall deadline and a size bound, and unpacking stops at the size
every published file together can have. Whatever fails, the temporary files go away and
the destination is left as it was.

The checksums are those of the files as shared by six independent public repositories
(their list is in the course's data notes, ``data/README.md``). ``test.txt`` has no published sha256; its git blob id
(sha1 of ``b"blob <size>\\0" + content``) is known instead and checked the same way.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from helpers import environment
from helpers.digest import file_digest, sha256_file
from helpers.errors import ArchiveTooLargeError, ChecksumError, NotAnArchiveError, OfflineError, UnsafeArchiveError

CORNELL_URL = "https://www.cs.cornell.edu/~shuochen/lme/dataset.tar.gz"
DATA_URL_ENV = environment.DATA_URL


def data_url() -> str:
    """The archive to download: a course mirror named by ``SONGREC_DATA_URL``, else Cornell's.

    The CLI and the notebooks both ask this function, so one setting moves every download.
    """
    return os.environ.get(DATA_URL_ENV, "").strip() or CORNELL_URL


# relative path inside Cornell's dataset/ folder -> (size in bytes, sha256 of the content).
# yes_complete/train.txt may be stored gzip-compressed; the values are for the plain bytes.
KNOWN_FILES: dict[str, tuple[int, str]] = {
    "README": (4492, "7ce77a372da0a96ad09ed0635845bb82df95a0acb1c898c33edff3fbc7d8988b"),
    "yes_small/train.txt": (875657, "55c0e28d201b523f50ea9db31d17cf4ffd90cf720559f0da057fcb143dfee025"),
    "yes_small/song_hash.txt": (110979, "1fcac8519c96cb91e96d53c93be74a80163e833e85eb31c59162551b1bc96723"),
    "yes_small/tags.txt": (204763, "486740a3f36005e14b72db8021ff3c4829a4a8bf83f3a0a0c7b378f1b4848981"),
    "yes_small/tag_hash.txt": (3644, "32e03068eda27f50741889c9b7126b8319ce2ac8df7e77ce9ad87f0a601febe7"),
    "yes_big/train.txt": (1027502, "259805e3a409dc889c74159bc4e2d4b24d10d683f030bbf62191f7c844d72628"),
    "yes_big/song_hash.txt": (354829, "0152950dfe75ea4190fee0dec70cf54eb1c99afbcd2f7d8538e22352f9bd08d6"),
    "yes_big/tags.txt": (470314, "cc7bd5959e9d0befc2f3821490bdc00ac17f1b7ca4669f9860ce25b5bf095122"),
    "yes_big/tag_hash.txt": (3625, "17390cff3c2354acb7d7f18005fdaf4fb50764f042444f607c06c59b2cd5c0de"),
    "yes_complete/train.txt": (10825402, "71e70f024a28f7ac4126c78127ceda38954c2ff05945291ab33aabc72d53d882"),
    "yes_complete/song_hash.txt": (2891781, "2cc3f2d3b8b57ffef97dda5c02b6034394858ad6464ac972f47fe4e7f5a78d3d"),
    "yes_complete/tags.txt": (1898928, "896dbfbdfb2f70b11c67b31aadbcfdd266d3458b93d73197246d682e24121d74"),
    "yes_complete/tag_hash.txt": (3501, "d9c933b4eae7eae73fe419e80fe5014fedec3033bcd118be52410bd1ce7554ce"),
}

# relative path -> git blob id. Used for files without a published sha256 (test.txt);
# the others are listed too so that either value can be cross-checked by hand.
KNOWN_GIT_BLOBS: dict[str, str] = {
    "README": "9cd3574a1ecc34fc9ac161fd9083c8bb6639da90",
    "yes_small/train.txt": "a44c47ce8c405a33262e351c79932802aec936f9",
    "yes_small/test.txt": "d37460fb6b8856f210354976ad8645099b6a5d45",
    "yes_small/song_hash.txt": "a16aa297849505c2482c8b8597c2c62b174a27c9",
    "yes_small/tags.txt": "4a963ad4de4d1f1b5e40523d795d247c9bcd2df0",
    "yes_small/tag_hash.txt": "79d6430b9b2a28d08e4b4711dd2dbfaf074adf33",
    "yes_big/train.txt": "999495f4e2c16faaacef527aff720bc50e6825cd",
    "yes_big/test.txt": "df102ff806f435135a4bf2aed582136ddd4fc834",
    "yes_big/song_hash.txt": "ea81394a84cad46293b24a8f1d8864268ea54ef1",
    "yes_big/tags.txt": "c0fdc008b50c3af0d4878639aa5b690031a47bb2",
    "yes_big/tag_hash.txt": "e5404f0b10b30e1bb7d75fd3e7f92c0930a1b5d1",
    "yes_complete/train.txt": "ee714ce617fdb6f0aa56ed47fced955ba3b3917c",
    "yes_complete/test.txt": "c43b6b175854b775f383a317b8d753dee5dfa7f5",
    "yes_complete/song_hash.txt": "2b80c3bd0a0ca60150a20ce99e20768afa56f782",
    "yes_complete/tags.txt": "2b986e21b6a17eefa4457c055f66de463cd03943",
    "yes_complete/tag_hash.txt": "c41bbbae1e35cf124caa5ea95b91a3e1e0d73eb6",
}

_BLOCK = 1 << 20

OFFLINE_ADVICE = (
    f"To get the data without network access here: on a machine with internet, download "
    f"{CORNELL_URL}, unpack it (tar xzf dataset.tar.gz) and point SONGREC_DATA_DIR (or "
    f"--data-dir) at the unpacked dataset/ folder, then run `songrec data check`. "
    f"To try everything without the real data, run the synthetic demo: `songrec train --synthetic`."
)



@dataclass(frozen=True)
class FileCheck:
    """Outcome of checking one published file.

    ``status`` is ``"ok"``, ``"missing"`` or ``"mismatch"``; ``method`` is ``"sha256"`` or
    ``"git-blob"``; ``path`` is the file actually read (``None`` when missing), possibly a
    ``.gz`` whose decompressed bytes were checked.
    """

    name: str
    status: str
    method: str
    expected: str
    actual: str | None = None
    path: Path | None = None
    expected_size: int | None = None
    actual_size: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """One line for humans, e.g. for ``songrec data check``."""
        if self.status == "ok":
            return f"ok       {self.name} ({self.method} {self.expected[:12]}…)"
        if self.status == "missing":
            return f"missing  {self.name}"
        got = self.actual or "unreadable"
        extra = f"; {self.detail}" if self.detail else ""
        return f"MISMATCH {self.name}: {self.method} {got}, expected {self.expected}{extra}"


def check(path: str | os.PathLike, expected_sha256: str, *, decompress: bool = False) -> str:
    """Return the file's sha256 (of the gunzipped content with ``decompress``), or raise
    ChecksumError naming the file, the expected and the actual value."""
    path = Path(path)
    actual = sha256_file(path, decompress=decompress)
    if actual != expected_sha256.lower():
        raise ChecksumError(
            f"{path}: sha256 is {actual}, expected {expected_sha256.lower()}; the file is corrupt "
            f"or a different version. Delete it and run `songrec data fetch` again."
        )
    return actual


def _check_one(root: Path, name: str, known: Mapping, known_blobs: Mapping) -> FileCheck:
    if name in known:
        size, expected = known[name]
        method = "sha256"
    else:
        size, expected = None, known_blobs[name]
        method = "git-blob"
    expected = expected.lower()
    candidates = [(root / name, False), (root / (name + ".gz"), True)]
    found = next(((p, gz) for p, gz in candidates if p.is_file()), None)
    if found is None:
        return FileCheck(name, "missing", method, expected, expected_size=size)
    path, gz = found
    try:
        if method == "sha256":
            actual_size, actual = file_digest(path, "sha256", decompress=gz)
        else:
            actual_size, actual = file_digest(path, "sha1", decompress=gz, git_blob=True)
    except (OSError, EOFError, zlib.error) as exc:
        return FileCheck(name, "mismatch", method, expected, None, path, size, None, f"cannot read: {exc}")
    bad_size = size is not None and actual_size != size
    status = "mismatch" if actual != expected or bad_size else "ok"
    detail = f"size {actual_size} bytes, expected {size}" if bad_size else ""
    return FileCheck(name, status, method, expected, actual, path, size, actual_size, detail)


def verify_dir(
    data_dir: str | os.PathLike,
    *,
    known: Mapping[str, tuple[int, str]] | None = None,
    known_blobs: Mapping[str, str] | None = None,
) -> list[FileCheck]:
    """Check every known file under ``data_dir`` (the folder holding ``yes_*``, or its parent with ``dataset/``).

    Files with a sha256 in ``known`` are checked by sha256 and size; the rest of
    ``known_blobs`` by git blob id. ``name.gz`` stands in for ``name`` (decompressed bytes).
    Returns one :class:`FileCheck` per known name, sorted by name.
    """
    known = KNOWN_FILES if known is None else known
    known_blobs = KNOWN_GIT_BLOBS if known_blobs is None else known_blobs
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {str(root)!r} does not exist")
    names = sorted(set(known) | set(known_blobs))
    if not any((root / n).exists() or (root / (n + ".gz")).exists() for n in names) and (root / "dataset").is_dir():
        root = root / "dataset"
    return [_check_one(root, n, known, known_blobs) for n in names]


def stderr_progress(done: int, total: int | None) -> None:
    """A ``progress`` callback for :func:`fetch` that prints a percentage on stderr."""
    msg = f"{100 * done // total:3d}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)" if total else f"{done / 1e6:.1f} MB"
    print(f"\rdownloading: {msg}", end="", file=sys.stderr, flush=True)


def _offline(url: str, reason: str) -> OfflineError:
    return OfflineError(f"could not download {url}: {reason}. {OFFLINE_ADVICE}")


_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError)

# A test.txt has no published size, only its git blob id; every copy seen is 4-10 MB.
UNKNOWN_SIZE_CAP = 64 << 20




def member_caps(known: Mapping[str, tuple[int, str]], known_blobs: Mapping[str, str]) -> dict[str, int]:
    """Largest size each archive member may have: the published size for files with a
    sha256, :data:`UNKNOWN_SIZE_CAP` for the others; ``name.gz`` gets the same bound plus
    gzip's overhead on incompressible data."""
    caps = {}
    for name in sorted(set(known) | set(known_blobs)):
        size = known[name][0] if name in known else UNKNOWN_SIZE_CAP
        caps[name] = size
        caps[name + ".gz"] = size + size // 100 + 1024
    return caps


def unpacked_cap(caps: Mapping[str, int]) -> int:
    """Bytes an archive of these members can unpack to, tar headers included: the bound at
    which unpacking stops, and the default bound on the download itself."""
    return sum(caps.values()) + 1024 * len(caps) + (1 << 20)


def _download(url: str, out, timeout: float, progress: Callable[[int, int | None], None] | None,
              deadline: float, max_bytes: int) -> str:
    """Stream ``url`` into ``out``; return the Content-Type. The whole download must end
    within ``deadline`` seconds (checked after every read, and no read waits longer than
    the time left) and bring at most ``max_bytes``."""
    from helpers.limits import DEADLINE_ENV, DOWNLOAD_BYTES_ENV

    started = time.monotonic()

    def left() -> float:
        return deadline - (time.monotonic() - started)

    def too_slow(done: int) -> OfflineError:
        return _offline(url, f"the download did not finish within the {deadline:g} s deadline "
                             f"(got {done:,} bytes; the server is stalled or too slow). Set "
                             f"{DEADLINE_ENV} to allow longer")

    def too_big(size: int) -> ArchiveTooLargeError:
        return ArchiveTooLargeError(
            f"{url} sends {size:,} bytes or more; the dataset archive is at most {max_bytes:,}, so this is "
            f"not it: nothing was written. Check the URL, or set {DOWNLOAD_BYTES_ENV} to raise the limit")

    _refuse_special_file(url)
    request = urllib.request.Request(url, headers={"User-Agent": "songrec (course data fetch)"})
    try:
        resp = urllib.request.urlopen(request, timeout=max(min(timeout, left()), 0.001))  # noqa: S310
    except urllib.error.HTTPError as exc:  # urllib's text for a redirect loop spans lines
        said = f"HTTP {exc.code} {(str(exc.reason).splitlines() or [''])[-1].strip()}"
        loop = "infinite loop" in str(exc.reason)
        raise _offline(url, f"the server redirects in a loop (its last answer: {said})" if loop
                       else f"the server answered {said}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError) and left() <= 0:
            raise too_slow(0) from exc
        raise _offline(url, f"{exc.reason}") from exc
    except _NETWORK_ERRORS as exc:
        if left() <= 0:
            raise too_slow(0) from exc
        raise _offline(url, f"{type(exc).__name__}: {exc}") from exc
    with resp:
        header = resp.headers.get("Content-Length")
        total = int(header) if header and header.strip().isdigit() else None
        if total is not None and total > max_bytes:
            raise too_big(total)
        content_type = resp.headers.get_content_type() if hasattr(resp.headers, "get_content_type") else ""
        # read1 returns what has arrived (one read), so a server that trickles bytes cannot
        # keep one call waiting past the deadline.
        read = getattr(resp, "read1", resp.read)
        done = 0
        while True:
            if left() <= 0:
                raise too_slow(done)
            try:
                block = read(_BLOCK)
            except _NETWORK_ERRORS as exc:
                if left() <= 0:
                    raise too_slow(done) from exc
                raise _offline(url, f"the download broke off after {done} bytes ({type(exc).__name__}: {exc})") from exc
            if not block:
                break
            done += len(block)
            if done > max_bytes:
                raise too_big(done)
            out.write(block)
            if progress is not None:
                progress(done, total)
    if total is not None and done != total:
        raise _offline(url, f"the download broke off: got {done} of {total} bytes")
    return content_type


def _refuse_special_file(url: str) -> None:
    """A ``file://`` URL must name a regular file: reading a FIFO or a device could wait
    forever, past the download deadline, so it is refused before it is opened."""
    parts = urllib.parse.urlsplit(url)
    try:  # a missing file: urlopen says so
        mode = os.stat(urllib.request.url2pathname(parts.path)).st_mode if parts.scheme == "file" else 0
    except OSError:
        mode = 0
    if mode and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device"
        raise NotAnArchiveError(f"{url} (--url or {DATA_URL_ENV}) is {kind}, not a regular file; expected "
                                f"the dataset's .tar.gz archive: nothing was read or written")


def _sniff(archive: Path, url: str, content_type: str) -> None:
    """One clear line when the download is not a .tar.gz (an HTML page, an error text)."""
    with open(archive, "rb") as fh:
        head = fh.read(512)
    if head[:2] == b"\x1f\x8b":
        return
    start = head.lstrip()[:14].lower()
    advice = "check the URL (--url or SONGREC_DATA_URL); nothing was written"
    if content_type in ("text/html", "application/xhtml+xml") or start.startswith((b"<!doctype", b"<html", b"<")):
        raise NotAnArchiveError(
            f"{url} sent an HTML page (Content-Type {content_type or 'not given'}), not the dataset's "
            f".tar.gz archive: {advice}")
    raise NotAnArchiveError(
        f"{url} sent {archive.stat().st_size:,} bytes that are not a gzip-compressed tar archive "
        f"(they start with {head[:8]!r}): {advice}")


class _Capped:
    """A reader that raises once more than ``cap`` bytes have come through it."""

    def __init__(self, raw, cap: int):
        self.raw, self.cap, self.count = raw, cap, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        if self.count > self.cap:
            raise ArchiveTooLargeError(
                f"the archive unpacks to more than {self.cap:,} bytes, more than every published file "
                f"together: refusing it (a decompression bomb or not the dataset); nothing was written")
        return data


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path; refusing to unpack the archive")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise UnsafeArchiveError(f"archive member {name!r} contains '..'; refusing to unpack the archive")
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"archive member {name!r} is a link (to {member.linkname!r}); refusing to unpack "
                                 f"the archive")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"archive member {name!r} is not a regular file or folder (tar type "
                                 f"{member.type!r}); refusing to unpack the archive")


def _relative(name: str) -> str:
    """Member name inside the dataset: ``dataset/yes_small/train.txt`` -> ``yes_small/train.txt``."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if parts and parts[0] == "dataset":
        parts = parts[1:]
    return "/".join(parts)


def _safe_extract(archive: Path, target: Path, caps: Mapping[str, int]) -> list[str]:
    """Stream the archive once, writing only the known files into ``target``.

    Members with absolute paths, ``..``, links or devices make the whole archive refused;
    a known file larger than its cap too; other files are skipped and their names returned.
    The decompressed stream is cut off at :func:`unpacked_cap`, so a decompression bomb
    costs at most that much reading and nothing beyond the caps is written.
    """
    skipped = []
    try:
        with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw) as gz:
            with tarfile.open(fileobj=_Capped(gz, unpacked_cap(caps)), mode="r|") as tar:
                for member in tar:
                    _check_member(member)
                    if member.isdir():
                        continue
                    rel = _relative(member.name)
                    if rel not in caps:
                        skipped.append(member.name)
                        continue
                    if member.size > caps[rel]:
                        raise ArchiveTooLargeError(
                            f"archive member {member.name!r} is {member.size:,} bytes; expected at most "
                            f"{caps[rel]:,} for {rel}: refusing the archive; nothing was written")
                    out = target / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    with src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, _BLOCK)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ChecksumError(
            f"the downloaded archive is not a readable tar.gz ({type(exc).__name__}: {exc}); "
            f"it may be corrupt or truncated. Try again, or download it by hand."
        ) from exc
    return skipped


def fetch(
    dest_dir: str | os.PathLike,
    url: str = CORNELL_URL,
    *,
    timeout: float = 60,
    progress: Callable[[int, int | None], None] | None = None,
    known: Mapping[str, tuple[int, str]] | None = None,
    known_blobs: Mapping[str, str] | None = None,
    deadline: float | None = None,
    max_bytes: int | None = None,
    notice: Callable[[str], None] | None = None,
) -> Path:
    """Download Cornell's archive, unpack it safely, verify it, and move it to ``dest_dir``.

    Afterwards ``dest_dir`` holds ``README``, ``yes_small/``, ``yes_big/``, ``yes_complete/``
    (the archive's ``dataset/`` folder, known files only) and songrec's marker.
    ``dest_dir`` must not exist or be empty, and follows the rule of :mod:`helpers.outdir`.
    ``progress(done_bytes, total_bytes_or_None)`` is called per block (see
    :func:`stderr_progress`). ``known``/``known_blobs`` default to :data:`KNOWN_FILES` and
    :data:`KNOWN_GIT_BLOBS`; every file they name must be in the archive and match; other
    members are skipped and named through ``notice`` (default: stderr). ``deadline``
    (seconds, default ``$SONGREC_DOWNLOAD_DEADLINE`` or 900) bounds the whole download;
    ``max_bytes`` (default ``$SONGREC_MAX_DOWNLOAD_BYTES`` or :func:`unpacked_cap`) its size.

    Raises OfflineError (network failure, broken-off or too slow download), ChecksumError
    (corrupt archive or file; UnsafeArchiveError for dangerous members, NotAnArchiveError,
    ArchiveTooLargeError), FileExistsError.
    """
    from helpers import limits, outdir, terminal

    known = KNOWN_FILES if known is None else dict(known)
    known_blobs = KNOWN_GIT_BLOBS if known_blobs is None else dict(known_blobs)
    if not known and not known_blobs:
        raise ValueError("fetch needs at least one known checksum to verify the download against")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"url must be http(s):// or file://, got {url!r}")
    caps = member_caps(known, known_blobs)
    if deadline is None:
        deadline = limits.seconds_limit(limits.DEADLINE_ENV, limits.DEFAULT_DEADLINE)
    if max_bytes is None:
        max_bytes = limits.size_limit(limits.DOWNLOAD_BYTES_ENV, unpacked_cap(caps))
    dest = Path(dest_dir)
    if str(dest_dir).strip() and dest.is_dir() and not dest.is_symlink() and any(dest.iterdir()) \
            and outdir.folder_kind(dest) is None:
        outdir.refuse_protected(dest, "data folder")
        raise FileExistsError(f"{dest} already exists and is not empty; run `songrec data check` to verify it, "
                              f"or remove it to download again")
    say = notice or terminal.say
    with outdir.new_folder(dest, kind="dataset", what="data folder") as staging:
        archive = staging / ".download.tar.gz"
        try:
            try:
                with open(archive, "wb") as out:
                    content_type = _download(url, out, timeout, progress, deadline, max_bytes)
            finally:
                if progress is stderr_progress:
                    # End the carriage-return progress line, also when the download broke
                    # off, so an error message starts on a line of its own.
                    print(file=sys.stderr)
            _sniff(archive, url, content_type)
            skipped = _safe_extract(archive, staging, caps)
        finally:
            outdir.remove_path(archive)
        failed = [c for c in verify_dir(staging, known=known, known_blobs=known_blobs) if not c.ok]
        if failed:
            lines = "; ".join(c.describe() for c in failed)
            raise ChecksumError(
                f"the archive from {url} does not match the published checksums ({len(failed)} file(s)): "
                f"{lines}. Nothing was written to {dest}."
            )
    if skipped:
        shown = ", ".join(repr(n) for n in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        say(f"skipped {len(skipped)} archive member(s) that are not published dataset files: {shown}")
    return dest
