"""Recommendations (helpers.recommend) and their agreement with the evaluation's ranking."""

import numpy as np
import pandas as pd
import pytest

from helpers.baselines import EmbeddingScorer
from helpers.errors import RunMismatchError, UnknownSongError
from helpers.ranking import top_k
from helpers.recommend import Recommender, top_n
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
    idx, s = top_n(table(), 1, n=4)
    by_index = dict(zip(idx.tolist(), s.tolist()))
    assert by_index[5] == pytest.approx(1.0)
    assert by_index[2] == pytest.approx(0.9 / np.hypot(0.9, 0.1), rel=1e-6)
    assert by_index[3] == pytest.approx(0.0)
    assert by_index[4] == pytest.approx(-1.0)
    assert s.dtype == np.float32


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
    with pytest.raises(ValueError, match="query must be an int in 1..5, got 0"):
        top_n(table(), 0)
    with pytest.raises(ValueError, match="query must be an int in 1..5, got 9"):
        top_n(table(), 9)
    nan = table()
    nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        top_n(nan, 1)
    with pytest.raises(ValueError, match="exclude must be song indices in 1..5"):
        top_n(table(), 1, n=1, exclude=[7])
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


def test_zero_norm_rows_score_zero_and_never_let_padding_in():
    # found by the notebook author: with a zero row filling the list, padding once won a tie.
    # A zero row has no direction: cosine 0 with everything, like an orthogonal row; the
    # tie with song 2 (orthogonal to the query) goes to the lower index.
    v = np.array([[3, 0], [1, 0], [0, 2], [1, 1], [-1, 0], [2, .2], [0, 0]], dtype=np.float32)
    idx, scores = top_n(v, 1, 5)
    assert idx.tolist() == [5, 3, 2, 6, 4]
    assert scores[2] == scores[3] == 0.0 and 0 not in idx


def test_recommend_and_evaluate_rank_alike():
    # songrec recommend (top_n) and songrec evaluate (EmbeddingScorer + top_k) must give the
    # same list for the same vectors: zero rows, exact ties and near ties included.
    rng = np.random.default_rng(0)
    v = rng.normal(size=(60, 3)).astype(np.float32)
    v[7] = 0.0
    v[20] = v[21] = v[22]   # exact ties
    v[30] = v[31] * 1.0000001  # a tie up to float32 rounding
    scorer = EmbeddingScorer(v)
    queries = np.array([q for q in range(1, 60) if q != 7])
    from_eval = top_k(scorer.scores(queries), queries, 58)
    for row, q in zip(from_eval, queries):
        assert top_n(v, int(q), 58)[0].tolist() == row.tolist()
