"""The registry of scorers: every method ``songrec evaluate``, notebooks 05/06 and the
benchmark compare, declared once.

Each :class:`ScorerEntry` has a key, a kind (``"embedding"``: ranks with trained vectors;
``"baseline"``: needs no training) and a ``build`` function that makes the scorer (or a
list of scorers, for a family such as counts over several windows) from
:class:`ScoringInputs`, or returns ``None`` when the inputs lack what it needs (a
target·context score needs a separate context table). :func:`build_scorers` makes every
applicable one, in registry order. Adding a baseline is one :func:`register` call here;
every roster picks it up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.baselines import CooccurrenceScorer, EmbeddingScorer, PopularityScorer, RandomScorer
from helpers.noise import next_song_tables
from helpers.validate import Described, bad_argument, check_choice

KINDS = ("embedding", "baseline")


@dataclass(frozen=True)
class ScoringInputs:
    """What scorers are built from.

    ``train_encoded``: list of int arrays, the training playlists (song indices 1..V);
    ``vocab_size``: V; ``counts``: int (V+1,), training plays per song index; ``window``:
    the training window (songs on each side); ``target_vectors`` / ``context_vectors``:
    float32 (V+1, d) tables or None; ``power``: the noise exponent of training (0 for
    uniform noise); ``label``: the name embedding scores carry (``"SGNS"``); ``seed``: for
    the random baseline.
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
    if inputs.target_vectors is None or inputs.context_vectors is None or inputs.power == 0:
        return None  # with uniform noise this ranks exactly like the plain dot product
    tables = next_song_tables(inputs.target_vectors, inputs.context_vectors, inputs.counts, inputs.power)
    return EmbeddingScorer(*tables, mode="dot", name=f"{inputs.label} next song (target·context + noise)")


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


def build_scorers(inputs: ScoringInputs, kind: str | None = None, keys: Sequence[str] | None = None,
                  options: dict[str, dict] | None = None) -> list:
    """Every applicable registered scorer, in registry order.

    ``kind``: only ``"embedding"`` or only ``"baseline"`` scorers (None: both); ``keys``:
    only these registry keys; ``options``: registry key -> keyword arguments of its build
    (e.g. ``{"cooc-window": {"windows": (1, 2, 5, 10)}}``). Returns a list of scorers for
    :func:`helpers.metrics.evaluate_methods`.
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
            out += [] if built is None else built if isinstance(built, list) else [built]
    return out
