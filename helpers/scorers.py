"""The registry of scorers: every method ``songrec evaluate``, notebooks 05/06 and the
benchmark compare, declared once.

Each :class:`ScorerEntry` has a key, a kind (``"embedding"``: ranks with trained vectors;
``"baseline"``: needs no training) and a ``build`` function that makes the scorer (or a
list of scorers, for a family such as counts over several windows) from
:class:`ScoringInputs`, or returns ``None`` when the inputs lack what it needs (a
target·context score needs a separate context table, the session model's scores its
tables; the anchors of session-based recommendation are built only when asked for, with
``anchors=True``, because the session kNNs need each case's session). :func:`build_scorers`
makes every applicable one, in registry order; :func:`best_first` puts the best score a trained run
supports first (:data:`BEST_FIRST`). Adding a baseline is one :func:`register` call
here; every roster picks it up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.baselines import CooccurrenceScorer, EmbeddingScorer, PopularityScorer, RandomScorer, cooccurrence_matrix
from helpers.blend import BlendScorer, check_weights, describe_weights
from helpers.noise import next_song_tables
from helpers.session_scorers import (
    SR_WINDOW,
    SequenceKNNScorer,
    SequenceMatchScorer,
    SessionKNNScorer,
    SessionScorer,
)
from helpers.validate import Described, bad_argument, check_choice

KINDS = ("embedding", "baseline")
#: The scores of a trained run, best first (bench/README.md): the one `songrec evaluate`
#: ranks the run by is the first its inputs support.
BEST_FIRST = ("blend", "session+prior", "session", "next-song", "dot", "cosine")


@dataclass(frozen=True)
class ScoringInputs:
    """What scorers are built from.

    ``train_encoded``: list of int arrays, the training playlists (song indices 1..V);
    ``vocab_size``: V; ``counts``: int (V+1,), training plays per song index; ``window``:
    the training window (songs on each side); ``target_vectors`` / ``context_vectors``:
    float32 (V+1, d) tables or None; ``power``: the noise exponent of training (0 for
    uniform noise); ``label``: the name embedding scores carry (``"SGNS"``); ``seed``: for
    the random baseline; ``session``: a session model's tables
    (:class:`helpers.sessions.SessionTables`) or None; ``loss``: the loss it was trained with
    (``"sgns"``: its scores add the noise term back; ``"softmax"``: they do not);
    ``anchors``: also build the anchors of session-based recommendation (sequential rules,
    SKNN, V-SKNN, SEQ-KNN; evaluate them with the cases' sessions); ``blend``: a session
    run's blend weights (part -> weight, :mod:`helpers.blend`) or None.
    """

    train_encoded: Sequence[np.ndarray]
    vocab_size: int
    counts: np.ndarray
    window: int
    target_vectors: np.ndarray | None = None
    context_vectors: np.ndarray | None = None
    power: float = 0.0
    label: str = "SGNS"
    seed: int = 0
    session: Any = None
    loss: str = "sgns"
    anchors: bool = False
    blend: Any = None


@dataclass(frozen=True)
class ScorerEntry:
    """One registered method: ``build(inputs, **options)`` -> a scorer, a list of scorers,
    or None when the inputs lack what it needs."""

    key: str
    kind: str
    description: str
    build: Callable[..., Any]


#: Every registered scorer, by key, in the order tables list them.
SCORERS: dict[str, ScorerEntry] = {}


def register(key: str, kind: str, description: str):
    """Decorator adding ``build`` to :data:`SCORERS` under ``key``."""
    check_choice("kind", kind, KINDS)

    def add(build):
        if key in SCORERS:
            raise bad_argument("key", "a key not registered yet", key)
        SCORERS[key] = ScorerEntry(key, kind, description, build)
        return build

    return add


def _sequential_rules(inputs: ScoringInputs):
    return cooccurrence_matrix(inputs.train_encoded, inputs.vocab_size, window=SR_WINDOW, directed=True,
                               inverse_gap=True)


def _session_model(inputs: ScoringInputs, prior=None, name=""):
    power = inputs.power if inputs.loss == "sgns" else 0.0
    return SessionScorer(inputs.session, counts=inputs.counts, power=power, prior=prior,
                         name=f"{inputs.label} (session){name}")


@register("blend", "embedding", "the session model's logit plus log(1 + votes) of SEQ-KNN, SEQ-MATCH and SKNN, "
                              "with the weights the run fitted on playlists it did not train on (helpers.blend): "
                              "the best next-song score songrec has (bench/README.md)")
def _blend(inputs: ScoringInputs):
    if inputs.session is None or inputs.blend is None:
        return None
    power = inputs.power if inputs.loss == "sgns" else 0.0
    return BlendScorer(inputs.session, inputs.train_encoded, inputs.blend, counts=inputs.counts, power=power,
                       name=f"{inputs.label} blend ({describe_weights(check_weights(inputs.blend))})")


@register("session+prior", "embedding", f"the session model's logit plus log(1 + sequential rules within "
                                        f"{SR_WINDOW} songs): its P(next | last songs) times a count prior")
def _session_prior(inputs: ScoringInputs):
    if inputs.session is None:
        return None
    return _session_model(inputs, _sequential_rules(inputs), f" + log(1 + SR w{SR_WINDOW})")


@register("session", "embedding", "the session model's logit: its estimate of log P(next | the last songs)")
def _session(inputs: ScoringInputs):
    return None if inputs.session is None else _session_model(inputs)


@register("cosine", "embedding", "cosine between target vectors: songs with similar neighbourhoods")
def _cosine(inputs: ScoringInputs):
    if inputs.target_vectors is None:
        return None
    return EmbeddingScorer(inputs.target_vectors, mode="cosine", name=f"{inputs.label} cosine")


@register("dot", "embedding", "target·context dot product: the model's own logit for 'next to each other'")
def _dot(inputs: ScoringInputs):
    if inputs.target_vectors is None or inputs.context_vectors is None:
        return None
    return EmbeddingScorer(inputs.target_vectors, inputs.context_vectors, mode="dot",
                           name=f"{inputs.label} target·context")


@register("next-song", "embedding", "target·context plus the noise term power * log count: the model's "
                                    "estimate of log P(next | query) (helpers.noise.next_song_tables)")
def _next_song(inputs: ScoringInputs):
    if inputs.target_vectors is None or inputs.context_vectors is None or inputs.power == 0 \
            or inputs.session is not None:
        # With uniform noise this ranks exactly like the plain dot product; a session
        # model's own scorers handle its noise term (none for the softmax loss).
        return None
    tables = next_song_tables(inputs.target_vectors, inputs.context_vectors, inputs.counts, inputs.power)
    return EmbeddingScorer(*tables, mode="dot", name=f"{inputs.label} next song (target·context + noise)")


@register("seq-knn", "baseline", "SEQ-KNN: the songs after earlier plays of the query, each play weighted by "
                                  "how much of the session preceded it too (helpers.session_scorers)")
def _seq_knn(inputs: ScoringInputs):
    return SequenceKNNScorer(inputs.train_encoded, inputs.vocab_size) if inputs.anchors else None


@register("seq-match", "baseline", "SEQ-MATCH: the songs after earlier plays of the query, each play weighted by "
                                   "how long a run of the session's songs, in order, preceded it "
                                   "(helpers.session_scorers)")
def _seq_match(inputs: ScoringInputs):
    return SequenceMatchScorer(inputs.train_encoded, inputs.vocab_size) if inputs.anchors else None


@register("session-knn", "baseline", "SKNN and V-SKNN (Ludewig & Jannach 2018): songs of the past sessions most "
                                     "like the last songs (V-SKNN weighs recent songs more)")
def _session_knn(inputs: ScoringInputs):
    if not inputs.anchors:
        return None
    return [SessionKNNScorer(inputs.train_encoded, inputs.vocab_size, recency=r) for r in (False, True)]


@register("sr", "baseline", f"sequential rules (Ludewig & Jannach 2018): songs that followed the query within "
                            f"{SR_WINDOW} songs, weight 1/gap")
def _sr(inputs: ScoringInputs):
    if not inputs.anchors:
        return None
    return CooccurrenceScorer(inputs.train_encoded, inputs.vocab_size, window=SR_WINDOW, directed=True,
                              inverse_gap=True, name=f"sequential rules (window {SR_WINDOW})")


@register("cooc-next", "baseline", "how often each song directly followed the query in training")
def _cooc_next(inputs: ScoringInputs):
    return CooccurrenceScorer(inputs.train_encoded, inputs.vocab_size, window=1, directed=True,
                              name="co-occurrence (next song)")


@register("cooc-window", "baseline", "how often each song appeared within w songs of the query, before or "
                                     "after it: for w = 1 (direct neighbours) and w = the training window")
def _cooc_window(inputs: ScoringInputs, windows: Sequence[int] | None = None):
    windows = sorted({1, inputs.window}) if windows is None else windows
    return [CooccurrenceScorer(inputs.train_encoded, inputs.vocab_size, window=w, name=f"co-occurrence (window {w})")
            for w in windows]


@register("popularity", "baseline", "the same chart of most-played training songs for every query")
def _popularity(inputs: ScoringInputs):
    return PopularityScorer(inputs.counts, name="popularity")


@register("random", "baseline", "a fixed random ranking per query: the floor")
def _random(inputs: ScoringInputs):
    return RandomScorer(inputs.vocab_size, seed=inputs.seed, name="random")


def build_keyed(inputs: ScoringInputs, kind: str | None = None, keys: Sequence[str] | None = None,
                options: dict[str, dict] | None = None) -> list[tuple[str, Any]]:
    """Every applicable registered scorer with its registry key, in registry order.

    The arguments of :func:`build_scorers`. Returns a list of ``(key, scorer)``.
    """
    options = options or {}
    if kind is not None:
        check_choice("kind", kind, KINDS)
    unknown = sorted((set(keys or ()) | set(options)) - set(SCORERS))
    if unknown:
        raise bad_argument("keys", f"registered scorer keys ({', '.join(SCORERS)})",
                           Described(", ".join(unknown)))
    out = []
    for entry in SCORERS.values():
        if (kind is None or entry.kind == kind) and (keys is None or entry.key in keys):
            built = entry.build(inputs, **options.get(entry.key, {}))
            out += [(entry.key, b) for b in ([] if built is None else built if isinstance(built, list) else [built])]
    return out


def build_scorers(inputs: ScoringInputs, kind: str | None = None, keys: Sequence[str] | None = None,
                  options: dict[str, dict] | None = None) -> list:
    """Every applicable registered scorer, in registry order.

    ``kind``: only ``"embedding"`` or only ``"baseline"`` scorers (None: both); ``keys``:
    only these registry keys; ``options``: registry key -> keyword arguments of its build
    (e.g. ``{"cooc-window": {"windows": (1, 2, 5, 10)}}``). Returns a list of scorers for
    :func:`helpers.metrics.evaluate_methods`.
    """
    return [scorer for _, scorer in build_keyed(inputs, kind, keys, options)]


def best_first(keyed: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``keyed`` (from :func:`build_keyed`) with the best trained score moved to the front:
    the first key of :data:`BEST_FIRST` present (nothing moves when none is)."""
    for key in BEST_FIRST:
        for i, (k, _) in enumerate(keyed):
            if k == key:
                return [keyed[i], *keyed[:i], *keyed[i + 1:]]
    return list(keyed)
