"""The songrec command, called in-process (same code path as the console script)."""

import json
import re
import shutil
import socket

import pytest

from helpers.cli import main

FAST = ["--epochs", "2", "--dim", "8", "--window", "2", "--batch-size", "256", "--seed", "3"]


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "synth"
    assert main(["train", "--synthetic", "--out", str(out), *FAST]) == 0
    return out


def test_train_writes_a_complete_run(synth_run):
    meta = json.loads((synth_run / "run.json").read_text())
    assert meta["settings"]["epochs"] == 2 and meta["settings"]["dim"] == 8
    assert meta["settings"]["loop"] == "fast" and "method" not in meta["settings"]
    assert meta["metrics"]["pairs"] > 0
    assert {"vocab.json", "target_vectors.npy", "run.json"} <= {p.name for p in synth_run.iterdir()}


def test_recommend_prints_n_songs_without_query_or_padding(synth_run, capsys):
    assert main(["recommend", "Song 3 by Artist 3", "--run", str(synth_run), "-n", "5"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert len(lines) == 5
    assert not any("Song 3 by Artist 3 " in line or "<pad>" in line for line in lines)


def test_unknown_song_exits_2_with_suggestions(synth_run, capsys):
    assert main(["recommend", "Song 3 by Artist 33", "--run", str(synth_run)]) == 2
    err = capsys.readouterr().err
    assert "Song 3 by Artist 33" in err and "Did you mean" in err


@pytest.mark.parametrize("flag, value", [("--window", "0"), ("--negatives", "-1"), ("--dim", "0")])
def test_bad_hyper_parameter_exits_2_and_writes_nothing(tmp_path, capsys, flag, value):
    out = tmp_path / "run"
    assert main(["train", "--synthetic", "--out", str(out), *FAST, flag, value]) == 2
    assert value in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_top_n_and_missing_run(synth_run, tmp_path, capsys):
    assert main(["recommend", "Song 3 by Artist 3", "--run", str(synth_run), "-n", "0"]) == 2
    assert "got 0" in capsys.readouterr().err
    assert main(["recommend", "Song 3 by Artist 3", "--run", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_existing_run_is_not_overwritten(synth_run, capsys):
    assert main(["train", "--synthetic", "--out", str(synth_run), *FAST]) == 1
    assert "--overwrite" in capsys.readouterr().err


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_offline_falls_back_to_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SONGREC_DATA_DIR", raising=False)
    monkeypatch.setenv("SONGREC_DATA_URL", f"http://127.0.0.1:{_closed_port()}/dataset.tar.gz")
    monkeypatch.setattr("helpers.data.default_data_dir", lambda repo_root=None: tmp_path / "cornell")
    monkeypatch.setattr("helpers.data.find_data_dir", lambda cli_value=None, repo_root=None: None)
    assert main(["demo", "--out", str(tmp_path / "demo"), *FAST]) == 0
    captured = capsys.readouterr()
    assert "NOTICE" in captured.err and "synthetic" in captured.err
    assert "Songs like Song" in captured.out
    assert not (tmp_path / "cornell").exists()


@pytest.mark.realdata
def test_data_check_passes_on_real_data_and_fails_on_corruption(real_data_dir, tmp_path, capsys):
    assert main(["data", "check", "--data-dir", str(real_data_dir)]) == 0
    copy = tmp_path / "cornell"
    shutil.copytree(real_data_dir / "yes_small", copy / "yes_small")
    target = copy / "yes_small" / "tag_hash.txt"
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["data", "check", "--data-dir", str(copy)]) == 1
    assert "MISMATCH yes_small/tag_hash.txt" in capsys.readouterr().out


@pytest.mark.realdata
def test_real_data_recommendations_for_the_seed_example(real_data_dir, tmp_path, capsys):
    out = tmp_path / "real"
    args = ["train", "--data-dir", str(real_data_dir), "--playlists", "300", "--out", str(out),
            "--epochs", "1", "--window", "3", "--max-pairs", "2000", "--loop", "keras"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["recommend", "Fade To Black by Metallica", "--run", str(out), "-n", "10"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert len(lines) == 10
    assert not any("Fade To Black by Metallica " in line or "<pad>" in line for line in lines)


def test_evaluate_writes_table_csv_and_chart(synth_run, tmp_path, capsys):
    assert main(["evaluate", "--run", str(synth_run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for method in ("SGNS cosine", "co-occurrence (next song)", "popularity", "random"):
        assert method in out
    import pandas as pd

    table = pd.read_csv(tmp_path / "evaluation.csv")
    assert list(table.columns) == ["method", "HR@10", "MRR@10", "coverage", "seconds"]
    assert table["HR@10"].between(0, 1).all()
    # on the genre corpus every informed method must beat random guessing
    rnd = table.loc[table.method == "random", "HR@10"].item()
    assert (table.loc[table.method != "random", "HR@10"] > rnd).all()
    assert (tmp_path / "evaluation.png").stat().st_size > 1000


def test_synthetic_demo_learns_genres_with_spread_cosines_and_beats_random_by_far(tmp_path, capsys):
    # The default settings on the synthetic corpus (what `make run` offline and `songrec
    # demo` train): the batch rule gives ~100 steps per epoch, so the tables learn.
    import numpy as np
    import pandas as pd

    from helpers.recommend import top_n
    from helpers.runs import load_run
    from helpers.synthetic import make_synthetic

    out = tmp_path / "demo"
    assert main(["train", "--synthetic", "--out", str(out)]) == 0
    run = load_run(out)
    assert run.metrics["schedule"]["epochs"] >= 20 and run.metrics["schedule"]["batch_size"] < 8192
    genre_of_raw = make_synthetic(seed=42).songs["genre"].to_numpy()
    genre = np.concatenate([[-1], genre_of_raw[np.asarray(run.vocab.raw_ids)]])
    shares, spreads, tops = [], [], []
    for q in range(1, run.vocab.size + 1):
        idx, cos = top_n(run.target_vectors, q, 10)
        shares.append(np.mean(genre[idx] == genre[q]))
        spreads.append(cos[0] - cos[-1])
        tops.append(cos[0])
    assert np.mean(shares) > 0.8  # chance: about 1 in 4 genres
    assert np.median(spreads) > 0.03 and max(tops) < 0.95  # not every cosine near 1
    capsys.readouterr()
    assert main(["evaluate", "--run", str(out), "--out", str(tmp_path / "eval")]) == 0
    assert "ranked by its best score: SGNS next song" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "eval" / "evaluation.csv")
    assert table["method"].iloc[0] == "SGNS next song (target·context + noise)"
    rnd = table.loc[table.method == "random", "HR@10"].item()
    assert table["HR@10"].iloc[0] > 5 * rnd
    assert table.loc[table.method == "SGNS target·context", "HR@10"].item() > 5 * rnd


def test_session_loop_trains_saves_and_evaluates_a_session_run(tmp_path, capsys):
    out = tmp_path / "session"
    assert main(["train", "--synthetic", "--loop", "session", "--out", str(out), "--epochs", "1",
                 "--dim", "8", "--window", "3", "--negatives", "32"]) == 0
    from helpers.runs import load_run

    run = load_run(out)
    assert run.session is not None and run.session.depth == 3 and run.session.bias is not None
    capsys.readouterr()
    assert main(["evaluate", "--run", str(out), "--out", str(tmp_path / "eval")]) == 0
    text = capsys.readouterr().out
    assert "ranked by its best score: next-song model blend (" in text
    assert run.blend is not None and set(run.blend) == {"seq-knn", "seq-match", "sknn"}
    for method in ("next-song model cosine", "next-song model target·context", "sequential rules (window 5)",
                   "SKNN", "V-SKNN", "SEQ-KNN"):
        assert method in text


def test_keras_loop_uses_the_original_assignments_settings_unless_overridden(tmp_path, capsys):
    out = tmp_path / "assign"
    assert main(["train", "--synthetic", "--loop", "keras", "--out", str(out), "--epochs", "1"]) == 0
    st = json.loads((out / "run.json").read_text())["settings"]
    assert (st["window"], st["negatives"], st["dim"], st["batch_size"], st["noise"]) == (10, 5, 32, 2048, "uniform")
    assert st["max_pairs_per_playlist"] == 10_000 and st["epochs"] == 1 and st["loop"] == "keras"
    assert "notice" not in capsys.readouterr().err


@pytest.mark.parametrize("old, new", [(["--method", "assignment"], "keras"), (["--loop", "reference"], "fast")])
def test_old_loop_names_still_work_with_one_notice(tmp_path, capsys, old, new):
    out = tmp_path / "old"
    assert main(["train", "--synthetic", *old, "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert err.count("notice") == 1 and f"--loop {new}" in err
    assert json.loads((out / "run.json").read_text())["settings"]["loop"] == new


def test_contradicting_loop_flags_exit_2(tmp_path, capsys):
    assert main(["train", "--synthetic", "--method", "reference", "--loop", "keras",
                 "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "contradicts" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_fast_loop_rejects_keras_only_flags(tmp_path, capsys):
    assert main(["train", "--synthetic", "--out", str(tmp_path / "r"), "--max-pairs", "10"]) == 2
    assert "--max-pairs applies to --loop keras only" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_setting_the_user_gave_and_training_changed_is_named_with_how_to_keep_it(tmp_path, capsys):
    small = ["train", "--synthetic", "--playlists", "60", "--dim", "4", "--window", "2", "--seed", "3"]
    assert main([*small, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 1, notes
    note = re.fullmatch(r"songrec: note: --epochs 1 was changed to (\d+): the fast loop's auto_schedule "
                        r"\(helpers.sgns.PRESETS\) sizes the batch to this small corpus.*; to keep --epochs 1, "
                        r"also pass --batch-size (\d+)", notes[0])
    assert note, notes[0]
    schedule = json.loads((tmp_path / "a" / "run.json").read_text())["metrics"]["schedule"]
    assert schedule["epochs"] == int(note[1]) > 1 and schedule["batch_size"] == int(note[2])

    # The advice works: with that batch, the one epoch asked for is the one trained, and no note.
    assert main([*small, "--epochs", "1", "--batch-size", note[2], "--out", str(tmp_path / "b")]) == 0
    assert "note:" not in capsys.readouterr().err
    assert json.loads((tmp_path / "b" / "run.json").read_text())["metrics"]["schedule"]["epochs"] == 1

    # Nothing given, nothing to note, though the schedule differs from the preset.
    assert main([*small, "--out", str(tmp_path / "c")]) == 0
    assert "note:" not in capsys.readouterr().err
