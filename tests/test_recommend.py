import numpy as np
import pandas as pd
import pytest

from helpers.errors import RunMismatchError, UnknownSongError
from helpers.recommend import Recommender, cosine_scores, top_n
from helpers.runs import load_run, save_run
from helpers.vocab import build_vocab


def table():
    # row 0 is padding and deliberately points exactly along the query
    return np.array([
        [1.0, 0.0],   # 0 pad
        [1.0, 0.0],   # 1 query
        [0.9, 0.1],   # 2 close
        [0.0, 1.0],   # 3 orthogonal
        [-1.0, 0.0],  # 4 opposite
        [2.0, 0.0],   # 5 same direction, longer
    ], dtype=np.float32)


def test_cosine_values_by_hand():
    s = cosine_scores(table(), 1)
    assert s[0] == -np.inf
    assert s[1] == pytest.approx(1.0)
    assert s[2] == pytest.approx(0.9 / np.hypot(0.9, 0.1), rel=1e-6)
    assert s[3] == pytest.approx(0.0)
    assert s[4] == pytest.approx(-1.0)


def test_top_n_excludes_query_and_padding():
    idx, scores = top_n(table(), 1, n=4)
    assert idx.tolist() == [5, 2, 3, 4]
    assert 0 not in idx and 1 not in idx
    assert np.all(np.diff(scores) <= 0)


def test_top_n_ties_break_on_lower_index_and_respects_exclude():
    v = np.array([[0, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    assert top_n(v, 1, n=2)[0].tolist() == [2, 3]
    assert top_n(v, 1, n=2, exclude=[2])[0].tolist() == [3, 4]


@pytest.mark.parametrize("n", [0, -1, 5, 2.5])
def test_bad_n(n):
    with pytest.raises(ValueError, match=repr(n).replace(".", r"\.")):
        top_n(table(), 1, n=n)


def test_bad_query_and_vectors():
    with pytest.raises(ValueError, match="query index 0"):
        top_n(table(), 0)
    with pytest.raises(ValueError, match="query index 9"):
        top_n(table(), 9)
    nan = table()
    nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        top_n(nan, 1)
    zero = table()
    zero[1] = 0
    with pytest.raises(ValueError, match="zero norm"):
        top_n(zero, 1)


def make_vocab():
    songs = pd.DataFrame({"title": ["A", "B", "C", "D", "E"], "artist": ["x"] * 5},
                         index=pd.Index([10, 11, 12, 13, 14], name="song_id"))
    return build_vocab([[10, 11, 12, 13, 14]], songs)


def test_recommender_by_name_and_saved_run(tmp_path):
    vocab = make_vocab()
    rec = Recommender(vocab, table())
    out = rec.recommend("A by x", n=3)
    assert out["name"].tolist() == ["E by x", "B by x", "C by x"]
    assert out["raw_id"].tolist() == [14, 11, 12]
    with pytest.raises(UnknownSongError):
        rec.recommend("Z by y")
    path = save_run(tmp_path / "run", vocab, table(), settings={"dim": 2}, metrics={"loss": 0.5})
    run = load_run(path)
    assert run.settings == {"dim": 2}
    again = Recommender(run.vocab, run.target_vectors).recommend("A by x", n=3)
    pd.testing.assert_frame_equal(out, again)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_run_from_other_vocabulary_is_refused(tmp_path):
    vocab = make_vocab()
    with pytest.raises(ValueError, match="different vocabulary"):
        Recommender(vocab, table()[:4])
    path = save_run(tmp_path / "run", vocab, table())
    other = build_vocab([[10, 11, 12]])
    (path / "vocab.json").write_text(other.to_json())
    with pytest.raises(RunMismatchError, match="does not belong"):
        load_run(path)


def test_run_folder_not_overwritten_by_default(tmp_path):
    vocab = make_vocab()
    path = save_run(tmp_path / "run", vocab, table())
    with pytest.raises(FileExistsError, match="overwrite"):
        save_run(path, vocab, table())
    with pytest.raises(RunMismatchError, match="rows"):
        save_run(tmp_path / "bad", vocab, table()[:3])
    assert not (tmp_path / "bad").exists()


def test_zero_norm_rows_never_let_padding_in():
    # found by the notebook author: with a zero row filling the list, padding won the -inf tie
    v = np.array([[3, 0], [1, 0], [0, 2], [1, 1], [-1, 0], [2, .2], [0, 0]], dtype=np.float32)
    idx, scores = top_n(v, 1, 5)
    assert idx.tolist() == [5, 3, 2, 4, 6]
    assert scores[-1] == -np.inf
