"""The output-folder rule (helpers.outdir): replacing runs, crashes at the rename step,
leftovers of killed runs, all-or-nothing evaluation output; and the hardening that is
not an error (skipped archive members, escaped titles, a closed pipe, data check lines).

The refusals themselves (``.``, ``''``, the current folder, a folder that is not a run,
``demo`` into an existing folder, ...) are cases of tests/helpers/test_bad_input_matrix.py.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from test_bad_input_matrix import ARCHIVE_FILES, ARCHIVE_KNOWN, cornell, make_run, tarball, tree, write

from helpers import fetch, outdir
from helpers.cli import main
from helpers.errors import DiskFullError
from helpers.runs import load_run, save_run

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = ["--synthetic", "--epochs", "1", "--dim", "4", "--window", "2", "--batch-size", "256", "--seed", "5"]


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("name", ["", " ", ".", "..", "/"])
def test_protected_targets_are_refused_before_anything_exists(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(outdir.UnsafeOutputError):
        outdir.check_target(name, overwrite=True)
    assert list(tmp_path.iterdir()) == []


def test_a_run_saved_before_markers_existed_still_counts_as_a_run(tmp_path):
    run = make_run(tmp_path / "run")
    (run / outdir.MARKER).unlink()
    assert outdir.folder_kind(run) == "run"
    write(run / "notes.txt", "mine")
    assert outdir.folder_kind(run) is None


def test_overwrite_replaces_a_run_through_the_cli_and_leaves_nothing_else(tmp_path, capsys):
    old = make_run(tmp_path / "run")
    assert main(["train", *TINY, "--out", str(old), "--overwrite"]) == 0
    new = load_run(old)
    assert new.settings["loop"] == "fast" and new.vocab.size > 5
    assert siblings(old) == ["run"]
    assert (old / outdir.MARKER).read_text().startswith("songrec-run\n")


def test_crash_at_the_rename_step_keeps_the_old_run_byte_for_byte(tmp_path, monkeypatch, capsys):
    old = make_run(tmp_path / "run")
    before = tree(tmp_path)

    def no_exchange(a, b):
        raise OSError(errno.ENOSYS, "renameat2 not supported")

    real_replace = os.replace

    def failing_replace(src, dst):
        if outdir._TAGS["tmp"] in str(src):  # the new run moving into place
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(outdir, "_exchange", no_exchange)
    monkeypatch.setattr(outdir.os, "replace", failing_replace)
    capsys.readouterr()
    assert main(["train", *TINY, "--out", str(old), "--overwrite"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("songrec: error:") and "Input/output error" in err[-1]
    assert tree(tmp_path) == before  # the old run as it was, no temporary folder


def test_failed_exchange_falls_back_and_a_failed_build_changes_nothing(tmp_path, monkeypatch):
    old = make_run(tmp_path / "run")
    before = tree(tmp_path)
    vocab = load_run(old).vocab
    with pytest.raises(RuntimeError, match="half way"):
        with outdir.new_folder(old, kind="run", overwrite=True) as tmp:
            (tmp / "run.json").write_text("{")
            raise RuntimeError("half way")
    assert tree(tmp_path) == before

    monkeypatch.setattr(outdir, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError(errno.EINVAL, "no")))
    save_run(old, vocab, np.ones((vocab.size + 1, 2), np.float32), overwrite=True)
    assert load_run(old).target_vectors.shape == (vocab.size + 1, 2)
    assert siblings(old) == ["run"]


def test_two_trainings_into_one_out_without_overwrite_keep_the_first_finished_run(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "run")
    real_marker = outdir.write_marker
    calls = []

    def second_training_finishes_first(folder, kind):
        # The first training has built its run and is about to swap it in: right here, a
        # second training into the same --out runs from start to end.
        calls.append(folder)
        if len(calls) == 1:
            assert main(["train", *TINY[:-1], "6", "--out", out]) == 0
            # The first training's own temporary folder is there now and must go.
            snapshot.update((k, v) for k, v in tree(tmp_path).items() if not k.startswith(".run.songrec-tmp-"))
        real_marker(folder, kind)

    snapshot = {}
    monkeypatch.setattr(outdir, "write_marker", second_training_finishes_first)
    assert main(["train", *TINY, "--out", out]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("songrec: error: --out") and repr(out) in err
    assert "written by another process" in err and "--overwrite" in err
    assert tree(tmp_path) == snapshot  # the second run as it finished, no temporary folder
    assert load_run(out).settings["seed"] == 6


def test_two_overwriting_writers_end_with_one_complete_folder(tmp_path, monkeypatch):
    target = make_run(tmp_path / "run")
    # The two-rename swap leaves a moment in which the target is missing: writer A stops
    # there, inside the lock, until writer B has reached the lock and found it held.
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError(errno.ENOSYS, "no")))
    a_in_swap, b_blocked = threading.Event(), threading.Event()
    monkeypatch.setattr(outdir, "_waiting", lambda path: b_blocked.set())
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if threading.current_thread().name == "A" and outdir._TAGS["old"] in str(dst):
            a_in_swap.set()
            assert b_blocked.wait(20), "writer B was not held at the lock"

    monkeypatch.setattr(outdir.os, "replace", replace)
    failures = []

    def writer(label):
        try:
            with outdir.new_folder(target, kind="run", overwrite=True) as tmp:
                for name in ("run.json", "vocab.json", "target_vectors.npy"):
                    (tmp / name).write_text(label)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append((label, exc))

    a = threading.Thread(target=writer, args=("A",), name="A")
    a.start()
    assert a_in_swap.wait(20)
    b = threading.Thread(target=writer, args=("B",), name="B")
    b.start()
    a.join(30)
    b.join(30)
    assert failures == []
    assert siblings(target) == ["run"]
    assert sorted(p.name for p in target.iterdir()) == [outdir.MARKER, "run.json", "target_vectors.npy",
                                                          "vocab.json"]
    assert {(target / n).read_text() for n in ("run.json", "vocab.json", "target_vectors.npy")} == {"B"}


def test_a_folder_only_named_like_a_run_is_not_one(tmp_path):
    run = make_run(tmp_path / "run")
    assert outdir.folder_kind(run) == "run"
    (run / outdir.MARKER).unlink()  # a run from before markers: judged by its entries
    (run / "evaluation.png").mkdir()
    write(run / "evaluation.png" / "figure.svg", "mine")
    assert outdir.folder_kind(run) is None
    with pytest.raises(outdir.UnsafeOutputError, match="is not a songrec run folder"):
        outdir.check_target(run, overwrite=True)
    (run / "evaluation.png" / "figure.svg").unlink()
    (run / "evaluation.png").rmdir()
    (run / "vocab.json").unlink()
    (run / "vocab.json").symlink_to(tmp_path / "elsewhere.json")
    assert outdir.folder_kind(run) is None


KILLED_BETWEEN_RENAMES = """
    import os, numpy as np
    from helpers import outdir
    from helpers.runs import load_run, save_run

    def no_exchange(a, b):
        raise OSError(38, "renameat2 not supported")

    real = os.replace
    def replace(src, dst):
        if outdir._TAGS["tmp"] in str(src):
            os._exit(137)  # killed: the old run is already moved aside, the new one not yet in
        return real(src, dst)

    outdir._exchange = no_exchange
    outdir.os.replace = replace
    vocab = load_run("run").vocab
    save_run("run", vocab, np.zeros((vocab.size + 1, 2), np.float32), overwrite=True)
"""

KILLED_AFTER_EXCHANGE = """
    import os, numpy as np
    from helpers import outdir
    from helpers.runs import load_run, save_run

    outdir.remove_path = lambda path: os._exit(137)  # killed before the old run is deleted
    vocab = load_run("run").vocab
    save_run("run", vocab, np.zeros((vocab.size + 1, 2), np.float32), overwrite=True)
"""


def test_killed_between_the_two_renames_the_next_run_restores_the_old_folder(tmp_path, capsys):
    make_run(tmp_path / "run")
    before = tree(tmp_path / "run")
    done = run_python(KILLED_BETWEEN_RENAMES, tmp_path)
    assert done.returncode == 137, done.stderr
    assert not (tmp_path / "run").exists()
    left = [n for n in os.listdir(tmp_path) if n != "run"]
    assert len(left) == 2 and all(n.startswith(".run.songrec-") for n in left)

    lines = outdir.clean_leftovers(tmp_path / "run")
    assert any(line.startswith("restored") for line in lines) and any(line.startswith("removed") for line in lines)
    assert os.listdir(tmp_path) == ["run"]
    assert tree(tmp_path / "run") == before
    assert "interrupted run" in capsys.readouterr().err


def test_killed_after_the_swap_the_new_run_is_complete_and_the_next_run_tidies(tmp_path, capsys):
    make_run(tmp_path / "run")
    done = run_python(KILLED_AFTER_EXCHANGE, tmp_path)
    assert done.returncode == 137, done.stderr
    assert load_run(tmp_path / "run").target_vectors.shape[1] == 2  # the new run, whole
    assert len(os.listdir(tmp_path)) == 2

    # The next command that writes there removes what the killed one left, and says so.
    capsys.readouterr()
    assert main(["train", *TINY, "--out", str(tmp_path / "run"), "--overwrite"]) == 0
    assert "left by an interrupted run" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["run"]


def test_leftovers_of_a_running_process_are_named_not_removed(tmp_path):
    busy = tmp_path / f".run{outdir._TAGS['tmp']}{os.getppid()}-abcd1234"
    busy.mkdir()
    lines = outdir.clean_leftovers(tmp_path / "run")
    assert busy.exists() and lines == [f"left {busy} alone: process {os.getppid()} that wrote it is still running"]


# --------------------------------------------------------------------------- several files


def test_write_files_is_all_or_nothing_when_a_rename_fails(tmp_path, monkeypatch):
    folder = tmp_path / "eval"
    outdir.write_output_files(folder, {"a.csv": lambda p: p.write_text("old a"),
                                       "b.png": lambda p: p.write_text("old b")},
                              kinds=("evaluation",), kind="evaluation")
    before = tree(tmp_path)
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("b.png") and outdir._TAGS["tmp"] in str(src):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(outdir.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        outdir.write_files(folder, {"a.csv": lambda p: p.write_text("new a"), "b.png": lambda p: p.write_text("new b")})
    assert tree(tmp_path) == before


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "synth"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("where", ["run folder", "new folder"])
def test_evaluate_writes_csv_and_png_or_neither(synth_run, tmp_path, monkeypatch, capsys, where):
    import helpers.plots

    out_args = [] if where == "run folder" else ["--out", str(tmp_path / "eval")]
    base = synth_run if where == "run folder" else tmp_path
    before = tree(base)

    def disk_full(table, *, metric, path):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(helpers.plots, "plot_method_comparison", disk_full)
    capsys.readouterr()
    assert main(["evaluate", "--run", str(synth_run), *out_args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0]
    assert "the disk is full: could not write" in err[0] and "evaluation.png" in err[0]
    assert tree(base) == before

    monkeypatch.undo()
    assert main(["evaluate", "--run", str(synth_run), *out_args]) == 0
    written = synth_run if where == "run folder" else tmp_path / "eval"
    assert {"evaluation.csv", "evaluation.png"} <= set(os.listdir(written))
    assert not [n for n in os.listdir(written.parent) if ".songrec-" in n]


# --------------------------------------------------------------------------- not errors


def test_fetch_installs_only_published_files_and_names_the_rest(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "dataset.tar.gz"
    archive.write_bytes(tarball(dict(ARCHIVE_FILES, **{"evil.pkl": b"cos\nsystem\n", "yes_small/x.sh": b"rm"})))
    monkeypatch.setattr(fetch, "KNOWN_FILES", ARCHIVE_KNOWN)
    monkeypatch.setattr(fetch, "KNOWN_GIT_BLOBS", {})
    dest = tmp_path / "cornell"
    assert main(["data", "fetch", "--data-dir", str(dest), "--url", archive.as_uri()]) == 0
    captured = capsys.readouterr()
    assert "skipped 2 archive member(s)" in captured.err
    assert "'dataset/evil.pkl'" in captured.err and "'dataset/yes_small/x.sh'" in captured.err
    installed = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert installed == {*ARCHIVE_FILES, outdir.MARKER}
    assert sorted(os.listdir(tmp_path)) == ["cornell", "dataset.tar.gz"]


def test_data_check_tells_a_failed_checksum_from_no_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fetch, "KNOWN_FILES", ARCHIVE_KNOWN)
    monkeypatch.setattr(fetch, "KNOWN_GIT_BLOBS", {})
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "check", "--data-dir", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("songrec: error: no known data file found in") and str(empty) in err
    assert "checksum" not in err and len(err.splitlines()) == 1

    bad = cornell(tmp_path / "bad", **{"train.txt": "11 12\n1 1\n0 1\n"})
    before = tree(tmp_path)
    assert main(["data", "check", "--data-dir", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH yes_small/train.txt" in captured.out
    assert captured.err.startswith("songrec: error: 1 file(s) found in") and "failed their checksum" in captured.err
    assert "no known data file" not in captured.err and len(captured.err.splitlines()) == 1
    assert tree(tmp_path) == before


def test_a_full_disk_names_the_file_and_changes_nothing(tmp_path, monkeypatch, capsys):
    old = make_run(tmp_path / "run")
    before = tree(tmp_path)
    real = np.save

    def short_write(file, arr, **kwargs):
        if Path(file).name == "context_vectors.npy":
            raise OSError("12864 requested and 10208 written")  # numpy's words for a full disk
        return real(file, arr, **kwargs)

    monkeypatch.setattr(np, "save", short_write)
    assert main(["train", *TINY, "--out", str(old), "--overwrite"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("songrec: error: the disk is full: could not write ")
    assert str(old / "context_vectors.npy") in err and "10,208 of 12,864 bytes written" in err
    assert "requested and" not in err
    assert tree(tmp_path) == before

    def no_space(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outdir, "write_marker", no_space)
    with pytest.raises(DiskFullError, match=f"the disk is full: could not write --out {re.escape(str(old))}"):
        save_run(old, load_run(old).vocab, np.zeros((6, 2), np.float32), overwrite=True)
    assert tree(tmp_path) == before


def test_titles_reach_the_terminal_with_control_characters_escaped(tmp_path, capsys):
    run = make_run(tmp_path / "run", titles=["A", "\x1b]0;pwned\x07B", "C\u202eD", "E\nF", "G"])
    assert main(["recommend", "A by Band", "--run", str(run), "-n", "4"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07B by Band" in out and "C\\u202eD by Band" in out and "E\\x0aF by Band" in out


def test_a_closed_pipe_ends_quietly(tmp_path):
    run = make_run(tmp_path / "run")
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited
    try:
        done = subprocess.run([sys.executable, "-m", "helpers", "recommend", "A by Band", "--run", str(run), "-n", "4"],
                              cwd=REPO_ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == ""


def test_a_large_window_costs_no_more_than_the_longest_playlist():
    from helpers.fast_loop import epoch_positives

    flat = np.arange(1, 13, dtype=np.int32)
    lengths = np.array([5, 7])
    a = epoch_positives(flat, lengths, 6, np.random.default_rng(1))
    b = epoch_positives(flat, lengths, 10**12, np.random.default_rng(1))
    assert np.array_equal(a, b) and len(a) == 2 * (4 + 3 + 2 + 1) + 2 * (6 + 5 + 4 + 3 + 2 + 1)
