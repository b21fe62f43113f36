"""helpers.fetch against a real HTTP server on 127.0.0.1 serving archives built here."""

import gzip
import hashlib
import io
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers.digest import git_blob_sha1, sha256_file
from helpers.errors import ChecksumError, OfflineError
from helpers.fetch import (
    CORNELL_URL,
    KNOWN_FILES,
    KNOWN_GIT_BLOBS,
    UnsafeArchiveError,
    check,
    fetch,
    verify_dir,
)

FILES = {
    "README": b"fake dataset readme\n",
    "yes_small/train.txt": b"7 8 \n1 1 \n0 1 \n",
    "yes_small/song_hash.txt": b"0\tA\tX\n1\tB\tY\n",
    "yes_small/test.txt": b"7 8 \n2 2 \n1 0 \n0 1 \n",
}
SHA256_CHECKED = ("README", "yes_small/train.txt", "yes_small/song_hash.txt")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


KNOWN = {name: (len(FILES[name]), sha256(FILES[name])) for name in SHA256_CHECKED}
BLOBS = {"yes_small/test.txt": blob(FILES["yes_small/test.txt"])}


def tarball(files: dict[str, bytes], prefix: str = "dataset/", extra: list[tarfile.TarInfo] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        entry = self.server.routes.get(self.path)
        if entry is None:
            self.send_error(404)
            return
        body, declared = entry
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """Yields serve(path, body, declared_length=None) -> URL on a live local server."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def serve(path: str, body: bytes, declared: int | None = None) -> str:
        httpd.routes[path] = (body, len(body) if declared is None else declared)
        return f"http://127.0.0.1:{httpd.server_address[1]}{path}"

    yield serve
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def run_fetch(dest: Path, url: str, **kw):
    return fetch(dest, url, timeout=10, known=KNOWN, known_blobs=BLOBS, **kw)


@pytest.mark.parametrize("prefix", ["dataset/", ""])
def test_fetch_good_archive(tmp_path, server, prefix):
    url = server("/dataset.tar.gz", tarball(FILES, prefix))
    dest = tmp_path / "data" / "cornell"
    seen = []
    assert run_fetch(dest, url, progress=lambda done, total: seen.append((done, total))) == dest
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data
    assert all(c.ok for c in verify_dir(dest, known=KNOWN, known_blobs=BLOBS))
    assert leftovers(dest.parent) == ["cornell"]
    size = len(tarball(FILES, prefix))
    assert seen and seen[-1] == (size, size)


def test_fetch_into_existing_empty_dir(tmp_path, server):
    dest = tmp_path / "cornell"
    dest.mkdir()
    run_fetch(dest, server("/a.tgz", tarball(FILES)))
    assert (dest / "yes_small" / "train.txt").read_bytes() == FILES["yes_small/train.txt"]


def test_fetch_refuses_non_empty_dest(tmp_path, server):
    dest = tmp_path / "cornell"
    (dest / "mine").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="songrec data check"):
        run_fetch(dest, server("/a.tgz", tarball(FILES)))
    assert leftovers(dest) == ["mine"] and leftovers(tmp_path) == ["cornell"]


def test_fetch_corrupted_content(tmp_path, server):
    bad = dict(FILES, **{"yes_small/song_hash.txt": b"0\tA\tX\n1\tC\tY\n"})
    dest = tmp_path / "cornell"
    with pytest.raises(ChecksumError) as info:
        run_fetch(dest, server("/bad.tgz", tarball(bad)))
    message = str(info.value)
    assert "yes_small/song_hash.txt" in message and KNOWN["yes_small/song_hash.txt"][1] in message
    assert sha256(bad["yes_small/song_hash.txt"]) in message
    assert leftovers(tmp_path) == []


def test_fetch_corrupted_blob_checked_file(tmp_path, server):
    bad = dict(FILES, **{"yes_small/test.txt": b"7 8 \n2 2 \n1 0 \n0 0 \n"})
    with pytest.raises(ChecksumError, match="yes_small/test.txt"):
        run_fetch(tmp_path / "cornell", server("/b.tgz", tarball(bad)))
    assert leftovers(tmp_path) == []


def test_fetch_archive_missing_a_file(tmp_path, server):
    partial = {k: v for k, v in FILES.items() if k != "README"}
    with pytest.raises(ChecksumError, match="missing +README"):
        run_fetch(tmp_path / "cornell", server("/p.tgz", tarball(partial)))
    assert leftovers(tmp_path) == []


def test_fetch_html_page_instead_of_archive(tmp_path, server):
    with pytest.raises(ChecksumError, match="sent an HTML page"):
        run_fetch(tmp_path / "cornell", server("/junk.tgz", b"<html>moved</html>"))
    assert leftovers(tmp_path) == []


def test_fetch_interrupted_download(tmp_path, server):
    body = tarball(FILES)
    url = server("/cut.tgz", body[: len(body) // 2], declared=len(body))
    with pytest.raises((OfflineError, ChecksumError)) as info:
        run_fetch(tmp_path / "cornell", url)
    assert f"of {len(body)} bytes" in str(info.value)
    assert leftovers(tmp_path) == []


def test_fetch_unreachable_server(tmp_path):
    with socket.socket() as sock:  # grab a free port, then close it so nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OfflineError) as info:
        run_fetch(tmp_path / "cornell", f"http://127.0.0.1:{port}/dataset.tar.gz")
    message = str(info.value)
    for fragment in (CORNELL_URL, "SONGREC_DATA_DIR", "--data-dir", "songrec train --synthetic"):
        assert fragment in message
    assert leftovers(tmp_path) == []


def test_fetch_http_error(tmp_path, server):
    server("/exists", b"")
    url = server("/exists", b"").replace("/exists", "/gone")
    with pytest.raises(OfflineError, match="404"):
        run_fetch(tmp_path / "cornell", url)
    assert leftovers(tmp_path) == []


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    return info


@pytest.mark.parametrize(
    "make",
    [
        lambda root: _member("dataset/../../evil", size=4),
        lambda root: _member(str(root / "abs_evil"), size=4),
        lambda root: _member("dataset/yes_small/link", tarfile.SYMTYPE, str(root / "evil")),
        lambda root: _member("dataset/yes_small/hard", tarfile.LNKTYPE, "dataset/README"),
        lambda root: _member("dataset/dev", tarfile.CHRTYPE),
        lambda root: _member("dataset/fifo", tarfile.FIFOTYPE),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_fetch_refuses_unsafe_members(tmp_path, server, make):
    root = tmp_path / "outside"
    root.mkdir()
    (tmp_path / "work").mkdir()
    evil = make(root)
    # The bad member comes last: nothing may be written even for the good ones before it.
    url = server("/evil.tgz", tarball(FILES, extra=[evil]))
    with pytest.raises(UnsafeArchiveError) as info:
        run_fetch(tmp_path / "work" / "cornell", url)
    assert evil.name in str(info.value)
    assert isinstance(info.value, ChecksumError)
    assert leftovers(tmp_path / "work") == [] and leftovers(root) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "work"]


def test_fetch_rejects_other_schemes(tmp_path):
    with pytest.raises(ValueError, match="ftp://"):
        run_fetch(tmp_path / "c", "ftp://example.org/dataset.tar.gz")


# --------------------------------------------------------------------------- verify / hashing


def make_tree(root: Path, files=FILES) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_verify_dir_reports_ok_missing_mismatch(tmp_path):
    root = make_tree(tmp_path / "d")
    (root / "README").unlink()
    (root / "yes_small" / "train.txt").write_bytes(b"7 8 \n1 1 \n0 0 \n")
    checks = {c.name: c for c in verify_dir(root, known=KNOWN, known_blobs=BLOBS)}
    assert sorted(checks) == sorted(FILES)
    assert checks["README"].status == "missing"
    bad = checks["yes_small/train.txt"]
    assert bad.status == "mismatch" and bad.method == "sha256"
    assert bad.expected == KNOWN["yes_small/train.txt"][1] and bad.actual == sha256(b"7 8 \n1 1 \n0 0 \n")
    assert checks["yes_small/song_hash.txt"].ok
    assert checks["yes_small/test.txt"].ok and checks["yes_small/test.txt"].method == "git-blob"


def test_verify_dir_size_mismatch_with_same_hash_is_caught(tmp_path):
    root = make_tree(tmp_path / "d")
    known = dict(KNOWN, README=(999, KNOWN["README"][1]))
    check_ = {c.name: c for c in verify_dir(root, known=known, known_blobs={})}["README"]
    assert check_.status == "mismatch" and "999" in check_.detail


def test_verify_dir_reads_gz_and_dataset_parent(tmp_path):
    make_tree(tmp_path / "dataset")
    train = tmp_path / "dataset" / "yes_small" / "train.txt"
    train.with_suffix(".txt.gz").write_bytes(gzip.compress(train.read_bytes()))
    train.unlink()
    checks = {c.name: c for c in verify_dir(tmp_path, known=KNOWN, known_blobs=BLOBS)}
    assert all(c.ok for c in checks.values())
    assert checks["yes_small/train.txt"].path.name == "train.txt.gz"


def test_verify_dir_corrupt_gz_is_a_mismatch(tmp_path):
    root = make_tree(tmp_path / "d")
    (root / "yes_small" / "train.txt").unlink()
    (root / "yes_small" / "train.txt.gz").write_bytes(b"\x1f\x8bgarbage")
    checks = {c.name: c for c in verify_dir(root, known=KNOWN, known_blobs=BLOBS)}
    assert checks["yes_small/train.txt"].status == "mismatch"


def test_verify_dir_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        verify_dir(tmp_path / "nothere")


def test_hashes_match_hashlib(tmp_path):
    data = b"hello\nworld\n" * 1000
    plain = tmp_path / "f.txt"
    plain.write_bytes(data)
    packed = tmp_path / "f.txt.gz"
    packed.write_bytes(gzip.compress(data))
    assert sha256_file(plain) == sha256(data) == sha256_file(packed, decompress=True)
    assert sha256_file(packed) == sha256(packed.read_bytes())
    assert git_blob_sha1(plain) == blob(data) == git_blob_sha1(packed, decompress=True)
    # git's own value for b"hello\n", as printed by `git hash-object`.
    (tmp_path / "h").write_bytes(b"hello\n")
    assert git_blob_sha1(tmp_path / "h") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_check_names_file_expected_and_actual(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"abc")
    assert check(path, sha256(b"abc")) == sha256(b"abc")
    with pytest.raises(ChecksumError) as info:
        check(path, "f" * 64)
    message = str(info.value)
    assert "x.txt" in message and "f" * 64 in message and sha256(b"abc") in message


def test_known_tables_match_source_md():
    # Values copied by hand from /work/shared/data/cornell/SOURCE.md.
    assert KNOWN_FILES["yes_complete/train.txt"] == (
        10825402, "71e70f024a28f7ac4126c78127ceda38954c2ff05945291ab33aabc72d53d882")
    assert KNOWN_FILES["yes_small/tag_hash.txt"] == (
        3644, "32e03068eda27f50741889c9b7126b8319ce2ac8df7e77ce9ad87f0a601febe7")
    assert KNOWN_GIT_BLOBS["yes_complete/test.txt"] == "c43b6b175854b775f383a317b8d753dee5dfa7f5"
    assert len(KNOWN_FILES) == 13
    assert {n for n in KNOWN_GIT_BLOBS if n.endswith("test.txt")} == {
        f"{v}/test.txt" for v in ("yes_small", "yes_big", "yes_complete")}
    assert all(len(sha) == 64 and size > 0 for size, sha in KNOWN_FILES.values())
    assert set(KNOWN_FILES) <= set(KNOWN_GIT_BLOBS)
