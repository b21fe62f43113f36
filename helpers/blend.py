"""A learned blend of the session model with the kNN methods (issue 23).

The session model (:mod:`helpers.session_model`) generalises across songs through its
vectors; the kNN methods of :mod:`helpers.session_scorers` remember what was played:
SEQ-KNN the songs that followed earlier plays of the query after some of the same songs,
SEQ-MATCH those that followed the same songs *in the same order* (radio stations repeat
their running orders: the exact sequences a 64-dimensional model cannot store), SKNN the
songs of past sessions sharing many of the current one's songs. Their worth differs by
setting (the sequences on the full data, the neighbourhoods on 200 playlists), so the blend
learns how much of each to add to the model's logit:

    score(x | session) = logit(x | session) + sum_k  w_k * log(1 + part_k(x | session))

with ``part_k`` one of :data:`PARTS` and ``w_k >= 0``: a product of experts, each factor
(1 + the part's votes) to the power w_k. Sequential rules and V-SKNN are left out: SEQ-KNN
and SKNN hold what they know (SEQ-KNN without its overlap weight *is* the sequential rules),
and every extra weight is fitted on the same few held-out playlists.

The weights are fitted on playlists the model never saw: the session loop holds out
``SGNSConfig.blend_holdout`` of the training playlists (:func:`split_for_blend`), trains on
the rest, builds the parts on the rest, and :func:`fit_weights` picks the weights that
maximise HR@10 + :data:`MRR_WEIGHT` x MRR@10 on the held-out playlists' next-song cases
(coordinate ascent over :data:`GRID`, starting from the model alone). At scoring time
(:class:`BlendScorer`) the parts are rebuilt on every training playlist.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from helpers.session_scorers import (
    SequenceKNNScorer,
    SequenceMatchScorer,
    SessionKNNScorer,
    SessionScorer,
    check_sessions,
)
from helpers.validate import Described, bad_argument, check_int, check_real

#: The parts a blend may add, in the order names and weights list them.
PARTS = ("seq-knn", "seq-match", "sknn")
PART_NAMES = {"seq-knn": "SEQ-KNN", "seq-match": "SEQ-MATCH", "sknn": "SKNN"}
#: Weights tried for each part. 0 leaves a part out; the top value lets a part dominate
#: the logit (log(1 + votes) is a few units, a logit spread some tens).
GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
#: MRR@10 runs at about a third of HR@10 on this data: weighting it 3x puts the two
#: criteria of the evaluation on the same footing when the weights are chosen.
MRR_WEIGHT = 3.0
#: Held-out cases the weights are fitted on (a seeded sample when there are more).
FIT_CASES = 3000
#: Songs of the logit's own top list kept as candidates beside every song a part votes
#: for; a song outside both cannot reach the top 10 (see :func:`_candidates`).
CANDIDATES = 100
SWEEPS = 3


def check_weights(weights) -> dict[str, float]:
    """``weights``: a mapping part -> weight >= 0 with keys from :data:`PARTS` (missing = 0).
    Returns a dict over every part; ValueError naming the bad key or value."""
    if not isinstance(weights, Mapping):
        raise bad_argument("weights", f"a mapping of {', '.join(PARTS)} to weights >= 0",
                           Described(f"a {type(weights).__name__}"))
    unknown = sorted(set(weights) - set(PARTS))
    if unknown:
        raise bad_argument("weights", f"keys among {', '.join(PARTS)}", Described(", ".join(map(str, unknown))))
    return {k: check_real(f"weights[{k!r}]", weights.get(k, 0.0), 0) for k in PARTS}


def describe_weights(weights: Mapping[str, float]) -> str:
    """``"SEQ-KNN 2, SKNN 2"``: the parts in use with their weights (``"none"`` when none)."""
    used = [f"{PART_NAMES[k]} {weights[k]:g}" for k in PARTS if weights.get(k, 0) > 0]
    return ", ".join(used) or "none"


class _Parts:
    """The parts with a weight > 0, built on ``train_encoded``; ``log_votes(sessions)``
    gives ``{part: float32 (B, V+1) log(1 + votes)}``."""

    def __init__(self, train_encoded: Sequence[np.ndarray], vocab_size: int, keys: Sequence[str]):
        self.keys = tuple(keys)
        build = {"seq-knn": lambda: SequenceKNNScorer(train_encoded, vocab_size),
                 "seq-match": lambda: SequenceMatchScorer(train_encoded, vocab_size),
                 "sknn": lambda: SessionKNNScorer(train_encoded, vocab_size)}
        self.scorers = {key: build[key]() for key in self.keys}

    def log_votes(self, sessions: np.ndarray) -> dict[str, np.ndarray]:
        return {key: np.log1p(np.maximum(scorer.session_scores(sessions), 0)).astype(np.float32)
                for key, scorer in self.scorers.items()}


class BlendScorer:
    """The session model's logit plus the weighted parts; a session scorer (see
    :mod:`helpers.session_scorers`).

    ``tables``: :class:`helpers.sessions.SessionTables`; ``train_encoded``: list of int
    arrays, the training playlists the parts count (song indices 1..V); ``weights``: part ->
    weight (:func:`check_weights`); ``counts`` / ``power``: as for
    :class:`helpers.session_scorers.SessionScorer` (the SGNS loss's noise term).
    """

    def __init__(self, tables, train_encoded: Sequence[np.ndarray], weights: Mapping[str, float], *,
                 counts: np.ndarray | None = None, power: float = 0.0, name: str | None = None):
        self.weights = check_weights(weights)
        self.model = SessionScorer(tables, counts=counts, power=power)
        self.vocab_size = self.model.vocab_size
        self.parts = _Parts(train_encoded, self.vocab_size, [k for k in PARTS if self.weights[k] > 0])
        self.name = name or f"session blend ({describe_weights(self.weights)})"

    def session_scores(self, sessions) -> np.ndarray:
        """float32 (B, V+1) for int (B, H) sessions (column 0 = the query)."""
        s = check_sessions(sessions, self.vocab_size)
        out = self.model.session_scores(s)
        for key, votes in self.parts.log_votes(s).items():
            out += np.float32(self.weights[key]) * votes
        return out

    def scores(self, queries) -> np.ndarray:
        """float32 (B, V+1): the query alone as the session."""
        from helpers.ranking import check_queries

        return self.session_scores(check_queries(queries, self.vocab_size)[:, None])


def split_for_blend(playlists: Sequence[np.ndarray], holdout: float, seed: int) -> tuple[list, list]:
    """``(kept, held_out)`` playlists: the model and the parts learn from ``kept``, the
    weights are fitted on ``held_out`` (:func:`helpers.splits.split_playlists`, seeded)."""
    from helpers.splits import split_playlists

    return split_playlists(playlists, holdout, seed)


def heldout_sessions(held_out: Sequence[np.ndarray], kept_counts: np.ndarray, cases: int = FIT_CASES,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The next-song cases of ``held_out`` (encoded playlists) whose query and answer were
    played in the kept playlists (``kept_counts``: int (V+1,)): ``(sessions int32 (M, H),
    answers int32 (M,))``, a seeded sample of at most ``cases``."""
    from helpers.splits import heldout_cases, sample_index

    known_songs = np.flatnonzero(np.asarray(kept_counts)[1:] > 0) + 1
    queries, answers, sessions, _ = heldout_cases(held_out, dict(zip(known_songs.tolist(), known_songs.tolist())))
    keep = sample_index(len(queries), check_int("cases", cases, 1), seed) if len(queries) else slice(None)
    return sessions[keep], answers[keep]


@dataclass(frozen=True)
class BlendFit:
    """What :func:`fit_weights` found: ``weights`` (part -> weight), the ``cases`` it was
    fitted on, HR@10 / MRR@10 there with those weights (``hr``, ``mrr``) and with the model
    alone (``start_hr``, ``start_mrr``), and the ``seconds`` it took."""

    weights: dict
    cases: int
    hr: float
    mrr: float
    start_hr: float
    start_mrr: float
    seconds: float

    def to_json(self) -> dict:
        return {"weights": dict(self.weights), "cases": self.cases, "hr10": self.hr, "mrr10": self.mrr,
                "start_hr10": self.start_hr, "start_mrr10": self.start_mrr, "seconds": self.seconds}


def _candidates(model: SessionScorer, parts: _Parts, sessions: np.ndarray, answers: np.ndarray,
                batch: int = 256) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The songs that can reach a case's top 10 under any weights >= 0: the logit's top
    :data:`CANDIDATES`, every song a part votes for, and the answer. (A song outside them
    scores its logit, below the logit of all :data:`CANDIDATES` top songs, which score at
    least their logits: if it beats the answer, so do they, and the answer is out of the
    top 10 either way.) Returns flat arrays over all cases: ``case`` int64, ``logit``
    float32, ``{part: log votes float32}``, ``is_answer`` bool; query and padding excluded."""
    cases, logits, is_answer, votes = [], [], [], {k: [] for k in parts.keys}
    for start in range(0, len(answers), batch):
        s, a = sessions[start:start + batch], answers[start:start + batch]
        rows = np.arange(len(a))
        logit = model.session_scores(s)
        logit[:, 0] = -np.inf
        logit[rows, s[:, 0]] = -np.inf
        mask = np.zeros(logit.shape, dtype=bool)
        if logit.shape[1] > CANDIDATES:
            top = np.argpartition(-logit, CANDIDATES - 1, axis=1)[:, :CANDIDATES]
            mask[rows[:, None], top] = True
        else:
            mask[:] = True
        lv = parts.log_votes(s)
        for v in lv.values():
            mask |= v > 0
        mask[:, 0] = False
        mask[rows, s[:, 0]] = False
        mask[rows, a] = True
        r, c = np.nonzero(mask)
        cases.append(r + start)
        logits.append(logit[r, c])
        is_answer.append(c == a[r])
        for k in parts.keys:
            votes[k].append(lv[k][r, c])
    cat = np.concatenate
    return cat(cases), cat(logits), {k: cat(v) for k, v in votes.items()}, cat(is_answer)


def _hr_mrr(case, score, is_answer, n_cases: int) -> tuple[float, float]:
    """HR@10 and MRR@10 from the candidates' scores (ties: the answer ranks below, the
    pessimistic side of :mod:`helpers.ranking`'s index rule, which differs only on exact ties)."""
    answer_score = np.full(n_cases, np.inf, dtype=np.float64)
    answer_score[case[is_answer]] = score[is_answer]
    above = (score >= answer_score[case]) & ~is_answer
    rank = 1 + np.bincount(case[above], minlength=n_cases)
    hit = rank <= 10
    return float(hit.mean()), float(np.where(hit, 1.0 / rank, 0.0).mean())


def fit_weights(tables, kept: Sequence[np.ndarray], held_out: Sequence[np.ndarray], vocab_size: int, *,
                power: float = 0.0, seed: int = 0, cases: int = FIT_CASES, progress: bool = False) -> BlendFit:
    """Choose the blend's weights on ``held_out`` (encoded playlists the model was not
    trained on) with the parts built on ``kept`` (the playlists it was trained on).

    ``tables``: the trained :class:`helpers.sessions.SessionTables`; ``power``: the noise
    term of the SGNS loss (0 for softmax); ``seed``: for the sample of ``cases``. Coordinate
    ascent from the model alone (every weight 0) over :data:`GRID`, at most :data:`SWEEPS`
    sweeps, maximising HR@10 + :data:`MRR_WEIGHT` x MRR@10; a tie keeps the current weight,
    then prefers the smaller one. Raises ValueError when the held-out playlists give no case.
    """
    start_time = time.perf_counter()
    counts = np.bincount(np.concatenate([np.asarray(p, dtype=np.int64) for p in kept]), minlength=vocab_size + 1)
    sessions, answers = heldout_sessions(held_out, counts, cases, seed)
    if len(answers) == 0:
        raise bad_argument("held_out", "playlists with at least one next-song case among known songs",
                           Described(f"{len(held_out)} playlist(s) without one"))
    model = SessionScorer(tables, counts=counts, power=power)
    case, logit, votes, is_answer = _candidates(model, _Parts(kept, vocab_size, PARTS),
                                                sessions.astype(np.int64), answers.astype(np.int64))
    n = len(answers)
    seen: dict[tuple, tuple[float, float]] = {}

    def measure(w: dict) -> tuple[float, float]:
        key = tuple(w[k] for k in PARTS)
        if key not in seen:
            score = logit.astype(np.float64)
            for k in PARTS:
                if w[k]:
                    score += w[k] * votes[k]
            seen[key] = _hr_mrr(case, score, is_answer, n)
        return seen[key]

    def objective(w: dict) -> float:
        hr, mrr = measure(w)
        return hr + MRR_WEIGHT * mrr

    start = dict.fromkeys(PARTS, 0.0)
    w = dict(start)
    for _ in range(SWEEPS):
        changed = False
        for k in PARTS:
            best_value, best_obj = w[k], objective(w)
            for g in GRID:  # ascending: on a tie the current weight stays, else the smaller one wins
                obj = objective({**w, k: g})
                if obj > best_obj:
                    best_value, best_obj = g, obj
            if best_value != w[k]:
                w[k], changed = best_value, True
        if not changed:
            break
    hr, mrr = measure(w)
    fit = BlendFit(w, n, hr, mrr, *measure(start), time.perf_counter() - start_time)
    if progress:
        print(f"blend: {describe_weights(w)} on {n:,} held-out cases (HR@10 {fit.start_hr:.4f} -> {hr:.4f}, "
              f"MRR@10 {fit.start_mrr:.4f} -> {mrr:.4f}), {fit.seconds:.0f} s", flush=True)
    return fit
