"""The bad-input matrix: every file or value the package can be handed by mistake (or
by someone hostile), one case each, in one table.

Each case is a small function below, registered with ``@case(...)``; its name is the
test id. It sets up the bad input under ``ctx.tmp`` and returns either the ``songrec``
arguments (the case then runs through the CLI, in-process) or a zero-argument callable
(for inputs no CLI command reads; the case runs through the library). Every case must

* fail with the stated exit code (CLI: 2 = bad input, 1 = I/O or network) or exception,
  with one message that contains every ``expect`` fragment: the file or value at fault
  and what was expected instead, and no traceback;
* leave the folder it worked in exactly as it was: no output, no half-written or
  temporary file, nothing changed (compared file by file, by content).

Two behaviours that are not errors sit after the table: empty and one-song playlists
are kept out of the pairs and reported, and a pickle is unpickled only on opt-in.

The unit tests of each module (test_data.py, test_fetch.py, ...) check the parsers in
more detail; this file checks that each failure reaches the user whole.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import fetch as fetch_module
from helpers.cli import main
from helpers.errors import DataFormatError, UntrustedPickleError
from helpers.outdir import REPO_ROOT
from helpers.runs import save_run
from helpers.vocab import build_vocab

# --------------------------------------------------------------------------- fixtures of data

# A Cornell variant folder small enough to read by eye: four songs, two usable playlists.
SONG_HASH = "0\tFade To Black\tMetallica\n1\tOne\tMetallica\n2\tJump\tVan Halen\n3\tHalo\tBeyonce\n"
TRAIN = "11 12 13 14 \n2 2 2 1 \n0 1 2 \n2 3 0 1 \n"
TAGS = "0\n#\n1\n#\n"
TAG_HASH = "0, metal\n1, rock\n"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def cornell(root: Path, **override: str | bytes) -> Path:
    """``root/yes_small/`` with the four files; ``override`` replaces one by name (None drops it)."""
    files = {"train.txt": TRAIN, "song_hash.txt": SONG_HASH, "tags.txt": TAGS, "tag_hash.txt": TAG_HASH}
    files.update(override)
    for name, content in files.items():
        if content is not None:
            write(root / "yes_small" / name, content)
    return root


class Armed:
    """Unpickling this object creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def course_pickle(path: Path, **changes) -> Path:
    """A course-style ``training_data.pkl``; ``changes`` replace or (value ...) remove keys."""
    content = {
        "train_playlists": [["0", "1", "2"], ["2", "3"]],
        "songs_info": pd.DataFrame({"title": list("ABCD"), "artist": list("WXYZ")}, index=list("0123")),
    }
    for key, value in changes.items():
        if value is ...:
            del content[key]
        else:
            content[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content))
    return path


def make_run(folder: Path, *, titles="ABCDE", vectors=None, first_id=10) -> Path:
    """A run folder written without training: songs "A by Band".. with raw IDs
    ``first_id``.., dim 3, seeded random vectors."""
    songs = pd.DataFrame(
        {"title": list(titles), "artist": ["Band"] * len(titles)},
        index=pd.Index(np.arange(first_id, first_id + len(titles), dtype=np.int64), name="song_id"),
    )
    vocab = build_vocab([songs.index.to_numpy()], songs)
    if vectors is None:
        vectors = np.random.default_rng(0).normal(size=(vocab.size + 1, 3)).astype(np.float32)
    return save_run(folder, vocab, vectors)


def tarball(files: dict[str, bytes], extra: tarfile.TarInfo | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("dataset/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"evil") if extra.isfile() else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = 4 if kind == tarfile.REGTYPE else 0
    return info


# What a download must contain in these tests: the published-checksum table is replaced
# by this one, hashed here with hashlib (not with helpers.fetch).
ARCHIVE_FILES = {"README": b"toy dataset\n", "yes_small/train.txt": TRAIN.encode(),
                 "yes_small/song_hash.txt": SONG_HASH.encode()}
ARCHIVE_KNOWN = {n: (len(b), hashlib.sha256(b).hexdigest()) for n, b in ARCHIVE_FILES.items()}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body, declared, kind = self.server.routes[self.path]
        if kind == "loop":  # a redirect back to itself
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if kind == "html" else "application/gzip")
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        if kind == "trickle":
            # One byte at a time, slowly: each read sees progress, only a deadline ends it.
            for i in range(len(body)):
                try:
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                except OSError:
                    break
                time.sleep(0.05)
        else:
            self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.routes = {}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@dataclass
class Ctx:
    tmp: Path
    out: Path  # an empty folder that outputs are asked to go to
    server: ThreadingHTTPServer
    monkeypatch: pytest.MonkeyPatch
    marker: Path | None = None  # set by cases with a hostile pickle: must never appear

    def serve(self, body: bytes, declared: int | None = None, kind: str = "archive") -> str:
        path = f"/{len(self.server.routes)}/dataset.tar.gz"
        self.server.routes[path] = (body, len(body) if declared is None else declared, kind)
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def fetch_args(self, body: bytes, declared: int | None = None, kind: str = "archive") -> list[str]:
        self.monkeypatch.setattr(fetch_module, "KNOWN_FILES", ARCHIVE_KNOWN)
        self.monkeypatch.setattr(fetch_module, "KNOWN_GIT_BLOBS", {})
        return ["data", "fetch", "--data-dir", str(self.out / "cornell"), "--url", self.serve(body, declared, kind)]

    def mine(self) -> Path:
        """A folder of the user's own files, made the current folder."""
        folder = self.tmp / "mine"
        write(folder / "notes.txt", "my notes")
        write(folder / "thesis" / "chapter1.tex", "\\section{One}")
        self.monkeypatch.chdir(folder)
        return folder

    def build_args(self, *extra: str) -> list[str]:
        return ["data", "build", *extra, "--out", str(self.out / "data.npz")]

    def cornell_args(self, **override) -> list[str]:
        return self.build_args("--data-dir", str(cornell(self.tmp / "cornell", **override)), "--variant", "yes_small")

    def train_args(self, *extra: str, out: str | None = None) -> list[str]:
        return ["train", "--synthetic", "--epochs", "1", "--dim", "4", "--window", "2",
                "--out", str(self.out / "run") if out is None else out, *extra]


# --------------------------------------------------------------------------- the table

CASES = []


def case(*expect: str, code: int = 2, raises: type[BaseException] | None = None, marks=()):
    """Register a case: ``expect`` fragments must all be in the message; ``code`` is the
    CLI exit code, ``raises`` the exception type of a library case."""

    def register(fn):
        CASES.append(pytest.param(fn, expect, code, raises, id=fn.__name__, marks=marks))
        return fn

    return register


# -- the data folder (songrec data build) ---------------------------------------------------

@case("nowhere", "--data-dir", "does not exist", "expected the folder that holds", code=1)
def data_dir_missing(ctx):
    return ctx.build_args("--data-dir", str(ctx.tmp / "nowhere"))


@case("nowhere", "SONGREC_DATA_DIR", "does not exist", code=1)
def data_dir_from_env_missing(ctx):
    ctx.monkeypatch.setenv("SONGREC_DATA_DIR", str(ctx.tmp / "nowhere"))
    return ctx.build_args("--variant", "yes_small")


@case("no yes_big/ folder", "variants found: ['yes_small']", "expected yes_big/", code=1)
def variant_folder_missing(ctx):
    return ctx.build_args("--data-dir", str(cornell(ctx.tmp / "cornell")), "--variant", "yes_big")


@case("lacks song_hash.txt", "yes_small", "expected train.txt", code=1)
def song_hash_file_missing(ctx):
    return ctx.cornell_args(**{"song_hash.txt": None})


@case("lacks train.txt (or train.txt.gz)", code=1)
def train_file_missing(ctx):
    return ctx.cornell_args(**{"train.txt": None})


@case("train.txt", "header line 1", "is missing", "expected line 1 = song IDs")
def train_file_empty(ctx):
    return ctx.cornell_args(**{"train.txt": ""})


@case("song_hash.txt", "file is empty", "expected one line per song")
def song_hash_file_empty(ctx):
    return ctx.cornell_args(**{"song_hash.txt": ""})


@case("train.txt", "line 1", "'songs'", "expected non-negative integers")
def train_header_not_numbers(ctx):
    return ctx.cornell_args(**{"train.txt": "songs 12 13 14\n2 2 2 1\n0 1 2\n"})


@case("train.txt", "line 2", "3 counts for 4 songs", "expected one count per song")
def train_header_counts_disagree(ctx):
    return ctx.cornell_args(**{"train.txt": "11 12 13 14\n2 2 2\n0 1 2\n"})


@case("train.txt", "line 4", "'2x'", "is not an integer", "expected non-negative integers")
def song_id_not_an_integer(ctx):
    return ctx.cornell_args(**{"train.txt": "11 12 13 14\n2 2 2 1\n0 1 2\n2x 3\n"})


@case("train.txt", "line 3", "'-1'", "is negative", "expected non-negative integers")
def song_id_negative(ctx):
    return ctx.cornell_args(**{"train.txt": "11 12 13 14\n2 2 2 1\n0 -1 2\n"})


@case("train.txt", "line 3", "'99999999999999999999'", "does not fit in int64")
def song_id_beyond_int64(ctx):
    return ctx.cornell_args(**{"train.txt": "11 12 13 14\n2 2 2 1\n0 99999999999999999999\n"})


@case("train.txt", "line 4", "song ID 9 is not in", "song_hash.txt", "IDs 0..3")
def song_id_absent_from_song_hash(ctx):
    return ctx.cornell_args(**{"train.txt": "11 12 13 14\n2 2 2 1\n0 1 2\n2 9\n"})


@case("train.txt.gz", "cannot decompress gzip")
def train_gzip_truncated(ctx):
    packed = gzip.compress((TRAIN * 50).encode())
    return ctx.cornell_args(**{"train.txt": None, "train.txt.gz": packed[: len(packed) // 2]})


@case("song_hash.txt", "line 2", "2 tab-separated field(s); expected 3")
def song_hash_wrong_column_count(ctx):
    return ctx.cornell_args(**{"song_hash.txt": "0\tA\tX\n1\tB only\n2\tC\tY\n3\tD\tZ\n"})


@case("song_hash.txt", "not valid UTF-8", "byte offset 3", "expected a UTF-8 text file")
def song_hash_bad_encoding(ctx):
    return ctx.cornell_args(**{"song_hash.txt": SONG_HASH.encode().replace(b"Fade", b"F\xe9de")})


@case("song_hash.txt", "line 3", "song ID 1 already appeared on line 2", "expected each ID once")
def song_hash_duplicate_id(ctx):
    return ctx.cornell_args(**{"song_hash.txt": "0\tA\tX\n1\tB\tY\n1\tC\tZ\n3\tD\tW\n"})


@case("tags.txt", "has 2 lines", "lists 4 songs", "expected one tags line per song")
def tags_do_not_cover_every_song(ctx):
    return ctx.cornell_args(**{"tags.txt": "0\n#\n"})


@case("--out must end in .npz", "data.txt")
def build_output_not_npz(ctx):
    args = ctx.cornell_args()
    args[-1] = str(ctx.out / "data.txt")
    return args


@case("--out", "data.npz", "is a folder", "expected a file name")
def build_output_is_a_folder(ctx):
    (ctx.out / "data.npz").mkdir()
    return ctx.cornell_args()


@case("cannot write --out", "plain.txt", "is a file, expected a folder")
def build_output_under_a_file(ctx):
    write(ctx.out / "plain.txt", "a file")
    args = ctx.cornell_args()
    args[-1] = str(ctx.out / "plain.txt" / "data.npz")
    return args


@case("data folder", "plain.txt", "is a file, expected a folder")
def fetch_into_a_folder_under_a_file(ctx):
    write(ctx.out / "plain.txt", "a file")
    args = ctx.fetch_args(tarball(ARCHIVE_FILES))
    args[3] = str(ctx.out / "plain.txt" / "sub")
    return args


@case("the disk is full", "could not write", "data.npz", "nothing was changed", code=1)
def build_onto_a_full_disk(ctx):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    ctx.monkeypatch.setattr(np, "savez_compressed", full)
    return ctx.cornell_args()


# -- the course pickle (songrec data build --from-pickle) --------------------------------------

@case("refusing to unpickle", "evil.pkl", "arbitrary code", "--trust-pickle")
def pickle_not_trusted(ctx):
    ctx.marker = ctx.tmp / "MARKER"
    path = ctx.tmp / "evil.pkl"
    path.write_bytes(pickle.dumps(Armed(ctx.marker)))
    return ctx.build_args("--from-pickle", str(path))


@case("old.pkl", "missing ['songs_info']", "expected exactly ['songs_info', 'train_playlists']")
def pickle_wrong_keys(ctx):
    path = course_pickle(ctx.tmp / "old.pkl", songs_info=...)
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


@case("old.pkl", "train_playlists[1][0]", "1.5", "expected a song ID")
def pickle_wrong_types(ctx):
    path = course_pickle(ctx.tmp / "old.pkl", train_playlists=[["0", "1"], [1.5, "2"]])
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


@case("old.pkl", "songs_info is a dict", "expected a pandas DataFrame")
def pickle_songs_info_not_a_dataframe(ctx):
    path = course_pickle(ctx.tmp / "old.pkl", songs_info={"title": list("ABCD"), "artist": list("WXYZ")})
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


@case("old.pkl", "holds a list", "expected a dict")
def pickle_not_a_dict(ctx):
    path = ctx.tmp / "old.pkl"
    path.write_bytes(pickle.dumps([["0", "1"]]))
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


@case("old.pkl", "song ID 7 occurs in train_playlists but not in songs_info")
def pickle_song_id_absent_from_songs_info(ctx):
    path = course_pickle(ctx.tmp / "old.pkl", train_playlists=[["0", "7"]])
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


@case("half.pkl", "cannot unpickle")
def pickle_truncated(ctx):
    whole = course_pickle(ctx.tmp / "whole.pkl").read_bytes()
    path = write(ctx.tmp / "half.pkl", whole[: len(whole) // 2])
    (ctx.tmp / "whole.pkl").unlink()
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


@case("--from-pickle", "course", "is a folder", "expected the course's training_data.pkl file")
def pickle_is_a_folder(ctx):
    (ctx.tmp / "course").mkdir()
    return ctx.build_args("--from-pickle", str(ctx.tmp / "course"), "--trust-pickle")


@case("absent.pkl", "does not exist", code=1)
def pickle_missing(ctx):
    return ctx.build_args("--from-pickle", str(ctx.tmp / "absent.pkl"), "--trust-pickle")


# -- training settings (songrec train) ---------------------------------------------------------

@case("hold only one song", "at least two", "use more")
def training_playlists_of_one_song(ctx):
    data = cornell(ctx.tmp / "cornell", **{"train.txt": "11 12 13 14 \n1 1 1 1 \n2 2 2 \n2 2 \n2 2 2 2 \n2 2 \n"})
    return ["train", "--data-dir", str(data), "--variant", "yes_small", "--val-fraction", "0.3",
            "--epochs", "1", "--dim", "4", "--out", str(ctx.out / "run")]


@case("run folder", "holds only one song", "at least two")
def recommend_from_a_run_of_one_song(ctx):
    return ["recommend", "A by Band", "--run", str(make_run(ctx.tmp / "run", titles="A"))]


@case("Config.window", "an int >= 1", "got 0")
def window_zero(ctx):
    return ctx.train_args("--window", "0")


@case("Config.window", "an int >= 1", "got -3")
def window_negative(ctx):
    return ctx.train_args("--window", "-3")


@case("Config.negatives", "must be an int >=", "got -1")
def negatives_negative(ctx):
    return ctx.train_args("--negatives", "-1")


@case("Config.dim", "an int >= 1", "got 0")
def embedding_dim_zero(ctx):
    return ctx.train_args("--dim", "0")


@case("Config.learning_rate", "a finite number > 0", "got 0.0")
def learning_rate_zero(ctx):
    return ctx.train_args("--lr", "0")


@case("--playlists", "at least 2", "got 1")
def too_few_playlists(ctx):
    return ctx.train_args("--playlists", "1")


@case("--val-fraction", "between 0 and 1", "got 1.5")
def validation_fraction_out_of_range(ctx):
    return ctx.train_args("--val-fraction", "1.5")


@case("already exists", "--overwrite", code=1)
def run_folder_exists(ctx):
    make_run(ctx.out / "run")
    return ctx.train_args()


@case("blocker", "is a file, expected a folder")
def output_parent_is_a_file(ctx):
    write(ctx.tmp / "blocker", "a file, not a folder")
    return ctx.train_args()[:-2] + ["--out", str(ctx.tmp / "blocker" / "run")]


@case("locked", "Permission denied", code=1, marks=pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions"))
def output_folder_not_writable(ctx):
    locked = ctx.tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return ctx.build_args("--data-dir", str(cornell(ctx.tmp / "cornell")), "--variant", "yes_small")[:-2] + [
        "--out", str(locked / "data.npz")]


@case("vocab_size=3", "rule out all 3 songs", "use a larger vocabulary", raises=ValueError)
def vocabulary_too_small_for_exclusion(ctx):
    from helpers.skipgrams import skipgram_pairs

    # Target 1 at position 0 has 2 and 3 in its window: with its own song excluded too,
    # nothing in a 3-song vocabulary is left to draw as a negative.
    return lambda: skipgram_pairs([np.array([1, 2, 3], np.int32)], window=2, negatives=1, vocab_size=3,
                                  exclude_target=True, exclude_context=True, seed=0)


# -- recommendations from a run folder (songrec recommend) ---------------------------------------

@case("'B by Bnad'", "not in the vocabulary", "Did you mean", "'B by Band'")
def unknown_song_name(ctx):
    return ["recommend", "B by Bnad", "--run", str(make_run(ctx.tmp / "run"))]


@case("'B by Band'", "belongs to 2 different song IDs", "'B by Band [id 11]'", "'B by Band [id 13]'")
def duplicate_song_name(ctx):
    return ["recommend", "B by Band", "--run", str(make_run(ctx.tmp / "run", titles="ABCBE"))]


@case("n must be an int in 1..4", "got 0")
def top_n_zero(ctx):
    return ["recommend", "A by Band", "--run", str(make_run(ctx.tmp / "run")), "-n", "0"]


@case("n must be an int in 1..4", "got 5")
def top_n_above_vocabulary(ctx):
    return ["recommend", "A by Band", "--run", str(make_run(ctx.tmp / "run")), "-n", "5"]


@case("target_vectors.npy", "NaN or inf in row 3", "expected finite")
def nan_embedding(ctx):
    vectors = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    vectors[3, 1] = np.nan
    return ["recommend", "A by Band", "--run", str(make_run(ctx.tmp / "run", vectors=vectors))]


@case("'A by Band'", "zero norm", "must be a non-zero vector")
def zero_norm_embedding(ctx):
    vectors = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    vectors[1] = 0.0
    return ["recommend", "A by Band", "--run", str(make_run(ctx.tmp / "run", vectors=vectors))]


@case("vocab.json does not belong to this run", "fingerprint")
def run_with_vocabulary_of_another_run(ctx):
    run = make_run(ctx.tmp / "run")
    # Same size, other song IDs: only the fingerprint can tell the two apart.
    other = make_run(ctx.tmp / "other", first_id=500)
    (run / "vocab.json").write_bytes((other / "vocab.json").read_bytes())
    return ["recommend", "A by Band", "--run", str(run)]


@case("target_vectors.npy", "has shape (4, 3)", "expected (6, dim)")
def run_with_vectors_of_another_vocabulary(ctx):
    run = make_run(ctx.tmp / "run")
    np.save(run / "target_vectors.npy", np.ones((4, 3), np.float32))
    return ["recommend", "A by Band", "--run", str(run)]


@case("target_vectors.npy", "is not a plain .npy array")
def run_vectors_file_empty(ctx):
    run = make_run(ctx.tmp / "run")
    (run / "target_vectors.npy").write_bytes(b"")
    return ["recommend", "A by Band", "--run", str(run)]


@case("target_vectors.npy", "is not a plain .npy array", "allow_pickle=False")
def run_vectors_hide_a_pickle(ctx):
    ctx.marker = ctx.tmp / "MARKER"
    run = make_run(ctx.tmp / "run")
    np.save(run / "target_vectors.npy", np.array([Armed(ctx.marker)], dtype=object), allow_pickle=True)
    return ["recommend", "A by Band", "--run", str(run)]


@case("incomplete", "target_vectors.npy is missing", code=1)
def run_folder_incomplete(ctx):
    run = make_run(ctx.tmp / "run")
    (run / "target_vectors.npy").unlink()
    return ["recommend", "A by Band", "--run", str(run)]


@case("nope", "does not exist", "songrec train", code=1)
def run_folder_missing(ctx):
    return ["recommend", "A by Band", "--run", str(ctx.tmp / "nope")]


# -- downloading (songrec data fetch) ---------------------------------------------------------

@case("does not match the published checksums", "MISMATCH yes_small/train.txt",
      ARCHIVE_KNOWN["yes_small/train.txt"][1], "Nothing was written")
def download_corrupted(ctx):
    files = dict(ARCHIVE_FILES, **{"yes_small/train.txt": TRAIN.replace("0 1 2", "0 1 3").encode()})
    return ctx.fetch_args(tarball(files))


@case("does not match the published checksums", "missing  yes_small/song_hash.txt")
def download_lacks_a_file(ctx):
    files = {n: b for n, b in ARCHIVE_FILES.items() if n != "yes_small/song_hash.txt"}
    return ctx.fetch_args(tarball(files))


@case("not a readable tar.gz", "corrupt or truncated")
def download_archive_truncated(ctx):
    body = tarball(ARCHIVE_FILES)
    return ctx.fetch_args(body[: len(body) // 2])


@case("broke off", "got 100 of", code=1)
def download_interrupted(ctx):
    body = tarball(ARCHIVE_FILES)
    return ctx.fetch_args(body[:100], declared=len(body))


@case("songrec: interrupted", code=130)
def download_cancelled_with_ctrl_c(ctx):
    def press_ctrl_c(done, total):
        raise KeyboardInterrupt

    args = ctx.fetch_args(tarball(ARCHIVE_FILES))
    ctx.monkeypatch.setattr(fetch_module, "stderr_progress", press_ctrl_c)
    return args


@case("offline", "could not download", "SONGREC_DATA_DIR", code=1)
def download_server_unreachable(ctx):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ctx.fetch_args(b"")
    args[-1] = f"http://127.0.0.1:{port}/dataset.tar.gz"
    return args


@case("already exists and is not empty", "songrec data check", code=1)
def download_into_non_empty_folder(ctx):
    write(ctx.out / "cornell" / "notes.txt", "my own notes")
    return ctx.fetch_args(tarball(ARCHIVE_FILES))


@case("has an absolute path", "refusing to unpack")
def archive_member_absolute(ctx):
    return ctx.fetch_args(tarball(ARCHIVE_FILES, member(str(ctx.tmp / "outside" / "evil"))))


@case("'dataset/../../evil'", "contains '..'", "refusing to unpack")
def archive_member_dotdot(ctx):
    return ctx.fetch_args(tarball(ARCHIVE_FILES, member("dataset/../../evil")))


@case("'dataset/yes_small/link'", "is a link", "refusing to unpack")
def archive_member_symlink(ctx):
    return ctx.fetch_args(tarball(ARCHIVE_FILES, member("dataset/yes_small/link", tarfile.SYMTYPE, "/etc/passwd")))


@case("'dataset/hard'", "is a link", "refusing to unpack")
def archive_member_hardlink(ctx):
    return ctx.fetch_args(tarball(ARCHIVE_FILES, member("dataset/hard", tarfile.LNKTYPE, "dataset/README")))


# -- where output goes (train, demo, data build, evaluate: helpers.outdir) ------------------------

@case("--out '.'", "is the current folder", "never writes into or replaces it")
def out_is_dot_with_overwrite(ctx):
    ctx.mine()
    return ctx.train_args("--overwrite", out=".")


@case("--out is empty", "expected a new folder name")
def out_is_empty_string(ctx):
    ctx.mine()
    return ctx.train_args("--overwrite", out="")


@case("is the current folder", "never writes into or replaces it")
def out_is_the_cwd_by_its_full_path(ctx):
    folder = ctx.mine()
    return ctx.train_args("--overwrite", out=str(folder))


@case("'..'", "holds the current folder")
def out_holds_the_cwd(ctx):
    ctx.mine()
    return ctx.train_args("--overwrite", out="..")


@case("is your home folder")
def out_is_home(ctx):
    home = ctx.tmp / "home"
    write(home / ".bashrc", "export PS1='$ '")
    ctx.monkeypatch.setenv("HOME", str(home))
    return ctx.train_args("--overwrite", out=str(home))


@case("'/'", "is the root folder")
def out_is_root(ctx):
    return ctx.train_args(out="/")


@case("is the songrec repository")
def out_is_the_repository(ctx):
    return ctx.train_args(out=str(REPO_ROOT))


@case("'mine'", "is not a songrec run folder", "no .songrec marker", "nothing was changed")
def overwrite_of_a_folder_that_is_not_a_run(ctx):
    ctx.mine()
    ctx.monkeypatch.chdir(ctx.tmp)
    return ctx.train_args("--overwrite", out="mine")


@case("is not a songrec run folder", "'notes.txt'", "songrec did not write")
def overwrite_of_a_run_holding_the_users_files(ctx):
    run = make_run(ctx.out / "run")
    write(run / "notes.txt", "why this run matters")
    return ctx.train_args("--overwrite")


@case("is not a songrec run folder", "'evaluation.png' (a folder, where songrec writes a file)", "nothing was changed")
def overwrite_of_user_folders_named_like_run_files(ctx):
    run = make_run(ctx.tmp / "real")
    user = ctx.out / "run"
    user.mkdir()
    for name in (".songrec", "run.json"):  # copied from a real run
        write(user / name, (run / name).read_bytes())
    write(user / "evaluation.png" / "holiday.jpg", b"\xff\xd8 my photo")
    write(user / "vocab.json" / "words.txt", "my words")
    return ctx.train_args("--overwrite")


@case("is not a songrec run folder", "'vocab.json' (a symbolic link, where songrec writes a file)")
def overwrite_of_a_run_whose_file_is_a_link(ctx):
    run = make_run(ctx.out / "run")
    write(ctx.tmp / "thesis.json", "my thesis")
    (run / "vocab.json").unlink()
    (run / "vocab.json").symlink_to(ctx.tmp / "thesis.json")
    return ctx.train_args("--overwrite")


@case("is a symbolic link")
def out_is_a_symlink(ctx):
    make_run(ctx.tmp / "real")
    (ctx.out / "run").symlink_to(ctx.tmp / "real")
    return ctx.train_args("--overwrite")


@case("'mine'", "is not a songrec run folder")
def demo_into_an_existing_folder(ctx):
    ctx.mine()
    ctx.monkeypatch.chdir(ctx.tmp)
    return ["demo", "--synthetic", "--epochs", "1", "--dim", "4", "--out", "mine"]


@case("data.npz", "is not a songrec dataset file", "nothing was changed")
def build_overwrite_of_a_foreign_npz(ctx):
    np.savez(ctx.out / "data.npz", weights=np.arange(3))
    return ctx.cornell_args() + ["--overwrite"]


@case("data.npz", "already exists", "--overwrite", code=1)
def build_onto_an_existing_dataset(ctx):
    assert main(ctx.cornell_args()) == 0
    return ctx.cornell_args()


@case("elsewhere", "is not a songrec evaluation or run folder")
def evaluate_into_a_foreign_folder(ctx):
    write(ctx.tmp / "elsewhere" / "paper.md", "draft")
    return ["evaluate", "--run", str(make_run(ctx.tmp / "run")), "--out", str(ctx.tmp / "elsewhere")]


@case("'evaluation.png' (a folder, where songrec writes a file)", "nothing was changed")
def evaluate_png_path_is_a_folder(ctx):
    run = make_run(ctx.tmp / "run")
    (run / "evaluation.png").mkdir()
    return ["evaluate", "--run", str(run)]


# -- run files read back (recommend, evaluate: helpers.validate) ----------------------------------

def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    value = json.loads(path.read_text())
    value = change(value) or value
    path.write_text(json.dumps(value))


@case("run.json", "top level is a list of 0", "expected a JSON object")
def run_json_is_a_list(ctx):
    run = make_run(ctx.tmp / "run")
    (run / "run.json").write_text("[]")
    return ["recommend", "A by Band", "--run", str(run)]


@case("run.json", "field settings is a list of 2", "expected a JSON object")
def run_json_settings_is_a_list(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "run.json", lambda m: m.update(settings=[1, 2]))
    return ["recommend", "A by Band", "--run", str(run)]


@case("run.json", "nested too deeply", "expected a run.json")
def run_json_nested_beyond_the_parser(ctx):
    run = make_run(ctx.tmp / "run")
    text = (run / "run.json").read_text()
    (run / "run.json").write_text(text.replace('"settings": {}', '"settings": ' + "[" * 100_000 + "]" * 100_000))
    return ["recommend", "A by Band", "--run", str(run)]


@case("run.json", "levels of nesting")
def run_json_nested_deeper_than_any_run(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "run.json", lambda m: m["metrics"].update(x=json.loads("[" * 40 + "]" * 40)))
    return ["recommend", "A by Band", "--run", str(run)]


@case("run.json", "field vocab_size is '5'", "expected an integer in 1..")
def run_json_vocab_size_is_text(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "run.json", lambda m: m.update(vocab_size="5"))
    return ["recommend", "A by Band", "--run", str(run)]


@case("run.json", "field settings.val_fraction is 1.5", "expected a number in (0, 1)")
def run_json_split_fraction_out_of_range(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "run.json", lambda m: m.update(settings={"val_fraction": 1.5}))
    return ["evaluate", "--run", str(run)]


@case("vocab.json", "field names[2] is 7", "expected a string")
def vocab_name_is_not_a_string(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "vocab.json", lambda v: v["names"].__setitem__(2, 7))
    return ["recommend", "A by Band", "--run", str(run)]


@case("vocab.json", "field raw_ids[4] is 18446744073709551616", "expected an integer in 0..9223372036854775807")
def vocab_raw_id_of_2_to_the_64(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "vocab.json", lambda v: v["raw_ids"].__setitem__(4, 2**64))
    return ["recommend", "A by Band", "--run", str(run)]


@case("vocab.json does not belong to this run", "fingerprint", "names")
def vocab_names_swapped(ctx):
    run = make_run(ctx.tmp / "run")

    def swap(v):
        v["names"][1], v["names"][2] = v["names"][2], v["names"][1]
        del v["fingerprint"]  # as if written by hand: only run.json can tell now
    edit_json(run / "vocab.json", swap)
    return ["recommend", "A by Band", "--run", str(run)]


@case("vocab.json", "fingerprint does not match")
def vocab_names_swapped_fingerprint_kept(ctx):
    run = make_run(ctx.tmp / "run")
    edit_json(run / "vocab.json", lambda v: v.update(names=[v["names"][0], *reversed(v["names"][1:])]))
    return ["recommend", "A by Band", "--run", str(run)]


@case("saved by an older songrec", "raw IDs only", "retrain it")
def run_saved_before_names_were_fingerprinted(ctx):
    run = make_run(ctx.tmp / "run")
    ids = json.loads((run / "vocab.json").read_text())["raw_ids"]
    old_print = hashlib.sha256(np.array(ids, dtype="<i8").tobytes()).hexdigest()
    edit_json(run / "run.json", lambda m: m.update(vocab_fingerprint=old_print))
    return ["recommend", "A by Band", "--run", str(run)]


def npy_with_header(path: Path, shape: tuple, body: bytes, dtype: str = "<f4") -> None:
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": dtype, "fortran_order": False, "shape": shape})
        fh.write(body)


@case("target_vectors.npy", "has shape (1000000000000, 3)", "expected (6, dim)")
def npy_header_declares_10_to_the_12_rows(ctx):
    run = make_run(ctx.tmp / "run")
    npy_with_header(run / "target_vectors.npy", (10**12, 3), b"\0" * 72)
    return ["recommend", "A by Band", "--run", str(run)]


@case("target_vectors.npy", "is 150 bytes", "expected 200", "truncated")
def npy_data_cut_short(ctx):
    run = make_run(ctx.tmp / "run")
    whole = (run / "target_vectors.npy").read_bytes()
    (run / "target_vectors.npy").write_bytes(whole[:150])
    return ["recommend", "A by Band", "--run", str(run)]


@case("target_vectors.npy", "holds int64 data", "expected float32")
def npy_of_integers(ctx):
    run = make_run(ctx.tmp / "run")
    np.save(run / "target_vectors.npy", np.ones((6, 3), np.int64))
    return ["recommend", "A by Band", "--run", str(run)]


@case("context_vectors.npy", "has shape (6, 5)", "expected (6, 3)")
def npy_tables_of_different_widths(ctx):
    run = make_run(ctx.tmp / "run")
    np.save(run / "context_vectors.npy", np.ones((6, 5), np.float32))
    return ["recommend", "A by Band", "--run", str(run)]


@case("song_hash.txt", "line 2", "'18446744073709551616'", "does not fit in int64")
def song_hash_id_of_2_to_the_64(ctx):
    return ctx.cornell_args(**{"song_hash.txt": SONG_HASH.replace("1\tOne", "18446744073709551616\tOne")})


@case("old.pkl", "'18446744073709551616'", "expected a song ID")
def pickle_song_id_of_2_to_the_64(ctx):
    path = course_pickle(ctx.tmp / "old.pkl", train_playlists=[["0", "18446744073709551616"]])
    return ctx.build_args("--from-pickle", str(path), "--trust-pickle")


# -- resource limits (helpers.limits) -------------------------------------------------------------

@case("training would need about", "TiB", "over the limit of 8.0 GiB", "--negatives", "--max-memory")
def negatives_absurd(ctx):
    return ctx.train_args("--negatives", "1000000000")


@case("training would need about", "over the limit of 8.0 GiB", "--dim", "SONGREC_MAX_MEMORY")
def dim_absurd(ctx):
    return ctx.train_args("--dim", "100000000")


@case("training would need about", "over the limit of 8.0 GiB")
def batch_and_dim_absurd_for_the_assignment_method(ctx):
    return ctx.train_args("--method", "assignment", "--dim", "2000000", "--batch-size", "100000000")


@case("training would need about", "over the limit of 100.0 KiB")
def memory_limit_lowered_by_flag(ctx):
    return ctx.train_args("--max-memory", "100K")


@case("over the limit of 1.0 KiB")
def memory_limit_lowered_by_environment(ctx):
    ctx.monkeypatch.setenv("SONGREC_MAX_MEMORY", "1K")
    return ctx.train_args()


@case("--max-memory must be a size such as 8G", "'lots'")
def memory_limit_not_a_size(ctx):
    return ctx.train_args("--max-memory", "lots")


@case("train.txt.gz", "more than 1,000 bytes of text", "SONGREC_MAX_DATA_BYTES")
def train_gzip_bomb(ctx):
    ctx.monkeypatch.setenv("SONGREC_MAX_DATA_BYTES", "1000")
    bomb = gzip.compress(b"11 12 13 14 \n2 2 2 1 \n" + b"0 1 2 " * 100_000 + b"\n")
    return ctx.cornell_args(**{"train.txt": None, "train.txt.gz": bomb})


@case("did not finish within the 0.3 s deadline", "SONGREC_DOWNLOAD_DEADLINE", code=1)
def download_trickles(ctx):
    ctx.monkeypatch.setenv("SONGREC_DOWNLOAD_DEADLINE", "0.3")
    return ctx.fetch_args(tarball(ARCHIVE_FILES), kind="trickle")


@case("sends 5,000 bytes or more", "at most 1,000", "SONGREC_MAX_DOWNLOAD_BYTES")
def download_larger_than_the_dataset(ctx):
    ctx.monkeypatch.setenv("SONGREC_MAX_DOWNLOAD_BYTES", "1000")
    return ctx.fetch_args(b"\x1f\x8b" + b"\0" * 4998)


@case("'dataset/README'", "is 5,000,000 bytes", "expected at most 12", "nothing was written")
def archive_member_larger_than_published(ctx):
    files = dict(ARCHIVE_FILES, README=b"\0" * 5_000_000)
    return ctx.fetch_args(tarball(files))


@case("unpacks to more than", "decompression bomb", "nothing was written")
def archive_decompression_bomb(ctx):
    # 50 MB of zeros in an unknown member: skipped, but unpacking stops at the bound.
    return ctx.fetch_args(tarball(dict(ARCHIVE_FILES, **{"yes_small/padding.bin": b"\0" * 50_000_000})))


# -- messages ---------------------------------------------------------------------------------

@case("--power must be a number in [-2, 2]", "got 1e+308")
def power_absurd(ctx):
    return ctx.train_args("--power", "1e308")


@case("--power must be a number in [-2, 2]", "got nan")
def power_not_a_number(ctx):
    return ctx.train_args("--method", "assignment", "--power", "nan")


@case("--seed must be an integer in 0..4294967295", "got -1")
def seed_negative(ctx):
    return ctx.train_args("--seed", "-1")


@case("sent an HTML page", "Content-Type text/html", "check the URL")
def download_is_an_html_page(ctx):
    return ctx.fetch_args(b"<!DOCTYPE html><html><body>Moved to a new page</body></html>", kind="html")


@case("are not a gzip-compressed tar archive", "b'PK", "check the URL")
def download_is_a_zip(ctx):
    return ctx.fetch_args(b"PK\x03\x04" + b"\0" * 100)


@case("redirects in a loop", "its last answer: HTTP 302 Found", code=1)
def download_redirects_in_a_loop(ctx):
    return ctx.fetch_args(b"", kind="loop")


def unblock_later(fifo: Path) -> None:
    """Should a fetch open ``fifo`` after all, a writer comes and goes after a few seconds,
    so the case fails instead of hanging."""

    def writer():
        time.sleep(5)
        for _ in range(50):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:
                time.sleep(0.1)

    threading.Thread(target=writer, daemon=True).start()


@case("pipe.tar.gz", "SONGREC_DATA_URL", "is a named pipe (FIFO), not a regular file", "nothing was read")
def download_url_is_a_fifo(ctx):
    fifo = ctx.tmp / "pipe.tar.gz"
    os.mkfifo(fifo)
    unblock_later(fifo)
    ctx.monkeypatch.setenv("SONGREC_DOWNLOAD_DEADLINE", "1")
    ctx.monkeypatch.setenv("SONGREC_DATA_URL", fifo.as_uri())
    return ctx.fetch_args(b"")[:4]


@case("--data-dir is empty")
def fetch_into_an_empty_name(ctx):
    ctx.mine()
    return ctx.fetch_args(tarball(ARCHIVE_FILES))[:2] + ["--data-dir", ""]


@case("data folder '.'", "is the current folder")
def fetch_into_the_cwd(ctx):
    ctx.mine()
    args = ctx.fetch_args(tarball(ARCHIVE_FILES))
    args[3] = "."
    return args


# -- files no command reads (library) ------------------------------------------------------------

@case("data.npz", "cannot read as .npz", "truncated, corrupt", raises=DataFormatError)
def dataset_npz_truncated(ctx):
    from helpers.npz import read_npz, write_npz
    from helpers.synthetic import make_synthetic

    path = write_npz(make_synthetic(n_genres=2, songs_per_genre=5, n_playlists=10, seed=0), ctx.tmp / "data.npz")
    path.write_bytes(path.read_bytes()[:200])
    return lambda: read_npz(path)


@case("data.npz", "cannot read as .npz", "allow_pickle=False", raises=DataFormatError)
def dataset_npz_hides_a_pickle(ctx):
    from helpers.npz import read_npz, write_npz
    from helpers.synthetic import make_synthetic

    ctx.marker = ctx.tmp / "MARKER"
    path = write_npz(make_synthetic(n_genres=2, songs_per_genre=5, n_playlists=10, seed=0), ctx.tmp / "data.npz")
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["title"] = np.array([Armed(ctx.marker)] * len(arrays["title"]), dtype=object)
    np.savez(path, **arrays)
    return lambda: read_npz(path)


@case("refusing to unpickle", "course.pkl", "not marked as trusted", raises=UntrustedPickleError)
def notebook_course_pickle_without_opt_in(ctx):
    from helpers import course

    ctx.marker = ctx.tmp / "MARKER"
    path = ctx.tmp / "course.pkl"
    path.write_bytes(pickle.dumps(Armed(ctx.marker)))
    ctx.monkeypatch.setenv("SONGREC_COURSE_PICKLE", str(path))
    ctx.monkeypatch.delenv("SONGREC_TRUST_PICKLE", raising=False)
    ctx.monkeypatch.setattr(course, "_DATASET_CACHE", {})
    return lambda: course.load_dataset()


# --------------------------------------------------------------------------- the test


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` -> its content hash ("dir" for folders)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root)] = "dir"
        for f in files:
            path = os.path.join(folder, f)
            out[os.path.relpath(path, root)] = (
                "link" if os.path.islink(path) else "special" if not os.path.isfile(path)  # a FIFO: never read
                else hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return out


@pytest.mark.parametrize(("make", "expect", "code", "raises"), CASES)
def test_bad_input(make: Callable, expect, code, raises, tmp_path, http, monkeypatch, capsys):
    monkeypatch.delenv("SONGREC_DATA_DIR", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    ctx = Ctx(tmp_path, out, http, monkeypatch)
    action = make(ctx)
    before = tree(tmp_path)
    capsys.readouterr()

    if callable(action):
        with pytest.raises(raises) as info:
            action()
        message = str(info.value)
    else:
        assert main(action) == code
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and captured.out == ""
        # Progress lines may come first; the error itself is the one last line.
        message = captured.err.rstrip("\n").split("\n")[-1]
        assert message.startswith("songrec: "), captured.err

    for fragment in expect:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    assert tree(tmp_path) == before, "the failed command left files behind or changed some"
    if ctx.marker is not None:
        assert not ctx.marker.exists(), "a hostile pickle was executed"


def test_matrix_is_complete():
    assert len(CASES) >= 100
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- not errors


def test_empty_and_one_song_playlists_are_dropped_and_reported(tmp_path, capsys):
    from helpers.npz import read_npz
    from helpers.skipgrams import pair_stats, skipgram_pairs

    # Header, then: an empty playlist, a one-song playlist, a 3-song one, a 2-song one.
    data = cornell(tmp_path / "cornell", **{"train.txt": "11 12 13 14\n2 2 2 1\n\n3\n0 1 2\n2 3\n"})
    out = tmp_path / "data.npz"
    assert main(["data", "build", "--data-dir", str(data), "--variant", "yes_small", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dropped"] == {"min_length": 2, "playlists": 2, "empty": 1}
    assert [p.tolist() for p in read_npz(out).playlists] == [[0, 1, 2], [2, 3]]

    # Given to the pair generator directly, they produce no rows and are counted.
    encoded = [np.array([], np.int32), np.array([4], np.int32), np.array([1, 2, 3], np.int32)]
    stats = pair_stats(encoded, window=1)
    assert stats["skipped"] == 2 and stats["positives"] == 4  # (1,2) (2,1) (2,3) (3,2)
    t, c, _ = skipgram_pairs(encoded, window=1, negatives=0, vocab_size=4, seed=0)
    assert list(zip(t.tolist(), c.tolist())) == [(1, 2), (2, 1), (2, 3), (3, 2)]


def test_pickle_loads_once_the_user_opts_in(tmp_path, capsys):
    path = course_pickle(tmp_path / "training_data.pkl")
    out = tmp_path / "data.npz"
    assert main(["data", "build", "--from-pickle", str(path), "--out", str(out)]) == 2
    assert "--trust-pickle" in capsys.readouterr().err and not out.exists()
    assert main(["data", "build", "--from-pickle", str(path), "--trust-pickle", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["n_playlists"] == 2
