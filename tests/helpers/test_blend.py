"""helpers.blend: the learned blend of the session model with the count and kNN methods."""

from dataclasses import replace

import numpy as np
import pytest

from helpers import blend
from helpers.metrics import hit_rate_mrr
from helpers.scorers import ScoringInputs, best_first, build_keyed
from helpers.session_scorers import SequenceKNNScorer, SequenceMatchScorer, SessionKNNScorer, SessionScorer
from helpers.sessions import SessionTables
from helpers.sgns import PRESETS, SGNSConfig, train
from helpers.splits import split_and_encode
from helpers.synthetic import make_synthetic

# The next-song preset at test sizes, with its blend.
SMALL = replace(PRESETS["next_song"], dim=16, negatives=64, negative_group=64, epochs=2)


def random_tables(seed, v, depth=3, d=4):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(depth, v + 1, d)).astype(np.float32)
    inputs[:, 0] = 0
    return SessionTables(inputs, rng.normal(size=(v + 1, d)).astype(np.float32),
                         rng.normal(size=v + 1).astype(np.float32))


def corpus(seed=0, n=40, v=30):
    rng = np.random.default_rng(seed)
    # Songs drift along each playlist, so neighbours and sequences carry signal.
    return [((rng.integers(0, 4) + np.cumsum(rng.integers(0, 3, size=int(rng.integers(4, 16))))) % v + 1)
            .astype(np.int32) for _ in range(n)]


@pytest.fixture(scope="module")
def synthetic_split():
    return split_and_encode(make_synthetic(seed=3), 0.1, 0)


@pytest.fixture(scope="module")
def trained(synthetic_split):
    return train(synthetic_split.train_encoded, synthetic_split.vocab.size, SMALL)


def test_blend_scores_are_the_logit_plus_weighted_log_votes():
    v, playlists = 30, corpus()
    tables = random_tables(0, v)
    sessions = np.array([[5, 4, 3], [7, 0, 0], [12, 11, 9]])
    w = {"seq-knn": 2.0, "seq-match": 0.5, "sknn": 4.0}
    got = blend.BlendScorer(tables, playlists, w).session_scores(sessions)
    want = SessionScorer(tables).session_scores(sessions).astype(np.float64)
    want += 2.0 * np.log1p(SequenceKNNScorer(playlists, v).session_scores(sessions))
    want += 0.5 * np.log1p(SequenceMatchScorer(playlists, v).session_scores(sessions))
    want += 4.0 * np.log1p(SessionKNNScorer(playlists, v).session_scores(sessions))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # A part with weight 0 is not built; no weight at all is the model alone.
    assert set(blend.BlendScorer(tables, playlists, {"sknn": 1.0}).parts.scorers) == {"sknn"}
    np.testing.assert_array_equal(blend.BlendScorer(tables, playlists, {}).session_scores(sessions),
                                  SessionScorer(tables).session_scores(sessions))


def test_the_fit_reports_what_the_scorer_measures_on_the_held_out_cases():
    # The fit ranks only candidate songs; the numbers it reports must be the full ranking's.
    v, playlists = 30, corpus(1, n=60)
    kept, held = playlists[:50], playlists[50:]
    tables = random_tables(2, v)
    fit = blend.fit_weights(tables, kept, held, v, seed=0)
    counts = np.bincount(np.concatenate(kept), minlength=v + 1)
    sessions, answers = blend.heldout_sessions(held, counts)
    assert fit.cases == len(answers) > 20
    for weights, hr, mrr in ((fit.weights, fit.hr, fit.mrr), ({}, fit.start_hr, fit.start_mrr)):
        res = hit_rate_mrr(blend.BlendScorer(tables, kept, weights), sessions[:, 0], answers, sessions=sessions)
        assert (res["hr"], res["mrr"]) == pytest.approx((hr, mrr), abs=1e-9)


def objective(tables, kept, sessions, answers, weights):
    res = hit_rate_mrr(blend.BlendScorer(tables, kept, weights), sessions[:, 0], answers, sessions=sessions)
    return res["hr"] + blend.MRR_WEIGHT * res["mrr"]


def test_no_single_weight_change_on_the_grid_does_better_than_the_fit():
    v, playlists = 30, corpus(4, n=60)
    kept, held = playlists[:50], playlists[50:]
    tables = random_tables(5, v)
    fit = blend.fit_weights(tables, kept, held, v)
    counts = np.bincount(np.concatenate(kept), minlength=v + 1)
    sessions, answers = blend.heldout_sessions(held, counts)
    best = objective(tables, kept, sessions, answers, fit.weights)
    assert best >= fit.start_hr + blend.MRR_WEIGHT * fit.start_mrr
    for part in blend.PARTS:
        for g in blend.GRID:
            assert objective(tables, kept, sessions, answers, {**fit.weights, part: g}) <= best + 1e-12


def test_the_model_never_sees_the_playlists_its_blend_is_fitted_on(synthetic_split, trained):
    sp = synthetic_split
    kept, held = blend.split_for_blend(sp.train_encoded, SMALL.blend_holdout, SMALL.seed)
    assert len(held) == round(0.1 * len(sp.train_encoded))
    alone = train(kept, sp.vocab.size, replace(SMALL, blend_holdout=0.0))
    np.testing.assert_array_equal(alone.session.inputs, trained.session.inputs)
    np.testing.assert_array_equal(alone.session.output, trained.session.output)
    again = blend.fit_weights(alone.session, kept, held, sp.vocab.size, seed=SMALL.seed)
    assert again.weights == trained.blend.weights and again.hr == trained.blend.hr


def test_training_without_a_holdout_fits_no_blend(synthetic_split):
    sp = synthetic_split
    res = train(sp.train_encoded, sp.vocab.size, replace(SMALL, blend_holdout=0.0, epochs=1))
    assert res.blend is None


def test_the_blend_ranks_first_and_beats_the_model_on_synthetic_data(synthetic_split, trained):
    sp = synthetic_split
    inputs = ScoringInputs(sp.train_encoded, sp.vocab.size, np.asarray(sp.vocab.counts), SMALL.window,
                           trained.target_vectors, trained.context_vectors, session=trained.session,
                           loss=SMALL.loss, anchors=True, blend=trained.blend.weights)
    keyed = best_first(build_keyed(inputs))
    assert keyed[0][0] == "blend" and "blend" in keyed[0][1].name
    scores = dict(keyed)
    got = {k: hit_rate_mrr(scores[k], sp.queries, sp.answers, sessions=sp.sessions)
           for k in ("blend", "session", "session+prior")}
    assert got["blend"]["hr"] + got["blend"]["mrr"] >= got["session"]["hr"] + got["session"]["mrr"]
    # Without weights (a run saved before blends) the count prior leads, as before.
    old = replace(inputs, blend=None)
    assert best_first(build_keyed(old))[0][0] == "session+prior"


@pytest.mark.parametrize("weights, match", [
    ({"seqknn": 1.0}, "seqknn"),
    ({"seq-knn": -1.0}, "-1.0"),
    ([("sknn", 1.0)], "list"),
    ({"sknn": float("nan")}, "nan"),
])
def test_bad_weights_are_refused_with_the_value(weights, match):
    with pytest.raises(ValueError, match=match):
        blend.check_weights(weights)


def test_bad_holdouts_are_refused():
    with pytest.raises(ValueError, match="blend_holdout"):
        replace(PRESETS["next_song"], blend_holdout=1.0)
    with pytest.raises(ValueError, match="blend_holdout"):
        SGNSConfig(loop="fast", blend_holdout=0.1)
    v, playlists = 30, corpus()
    with pytest.raises(ValueError, match="held_out"):
        blend.fit_weights(random_tables(0, v), playlists, [np.array([3], np.int32)], v)


def test_the_same_seed_gives_the_same_weights(synthetic_split, trained):
    sp = synthetic_split
    again = train(sp.train_encoded, sp.vocab.size, SMALL)
    assert again.blend == replace(trained.blend, seconds=again.blend.seconds)


def test_a_run_keeps_its_blend_and_refuses_a_tampered_one(tmp_path):
    import json

    from helpers.errors import DataFormatError, RunMismatchError
    from helpers.runs import load_run, save_run
    from helpers.validate import SchemaError
    from helpers.vocab import build_vocab

    vocab = build_vocab([[1, 2, 3]], None)
    tables = random_tables(0, vocab.size)
    fit = blend.BlendFit({"seq-knn": 2.0, "seq-match": 0.0, "sknn": 0.5}, 10, 0.5, 0.2, 0.4, 0.1, 1.0)
    settings = {"loop": "session", "window": 3, "dim": 4}
    out = save_run(tmp_path / "run", vocab, tables.inputs[0], tables.output, session=tables, blend=fit.to_json(),
                   settings=settings)
    assert load_run(out).blend == fit.weights
    assert load_run(out).session.depth == 3
    meta = json.loads((out / "run.json").read_text())
    for weights in ({"seq-knn": -1.0}, {"sr": 1.0}, {"sknn": "4"}):
        meta["blend"]["weights"] = weights
        (out / "run.json").write_text(json.dumps(meta))
        with pytest.raises((DataFormatError, SchemaError, ValueError), match="blend"):
            load_run(out)
    with pytest.raises(RunMismatchError, match="session run"):
        save_run(tmp_path / "skipgram", vocab, tables.inputs[0], tables.output, blend=fit.to_json())
    # A blend written into a skip-gram run's run.json is refused too.
    plain = save_run(tmp_path / "plain", vocab, tables.inputs[0], tables.output, settings={"loop": "fast"})
    meta = json.loads((plain / "run.json").read_text())
    meta["blend"] = fit.to_json()
    (plain / "run.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match="blend belongs to a session run"):
        load_run(plain)
