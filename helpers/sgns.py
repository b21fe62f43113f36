"""One seam for training SGNS: one config, named presets, one ``train`` and its result.

:class:`SGNSConfig` holds every setting of a training run, each declared once below with
its default and its check. Its ``loop`` field picks how the model is trained:

* ``"keras"`` (:mod:`helpers.keras_loop`): every (target, context, label) row is
  materialised by :func:`helpers.skipgrams.skipgram_pairs` and fed to ``model.fit``; what
  the students write in notebook 04, and the original assignment's pipeline;
* ``"fast"`` (:mod:`helpers.fast_loop`): positives are regenerated every epoch in NumPy,
  negatives drawn inside the TensorFlow graph and updates applied to the touched rows only;
  what ``songrec train`` uses by default;
* ``"session"`` (:mod:`helpers.session_loop`): the next-song model. It reads the last
  ``window`` songs of a playlist (one input table per slot) and predicts the song after
  them, with a sampled softmax (or the SGNS loss) and an optional learned per-song bias;
  the fast loop's machinery (in-graph negatives, lazy Adam, per-epoch examples).

Settings fall in two kinds. *Common* ones (pairs, model size, optimisation) mean the same
in every loop. *Loop-specific* ones default to "off" (no cap, no exclusion, no plateau
schedule, plain Adam, ...), and a loop that cannot honour one raises ValueError when it is
set away from its default: nothing is silently ignored. :data:`LOOPS` says which loop
honours which, in one table.

Defaults are the original assignment's sizes with every extra off. :data:`PRESETS` names
complete settings: ``"assignment"`` (the original assignment: the defaults plus its
per-playlist row cap and learning-rate plateau), ``"fast"`` (the fast loop's settings,
chosen on held-out playlists by ``bench/bench_quality.py``) and ``"next_song"`` (the
session loop's settings, chosen by the issue-14 experiments, bench/experiments/RESULTS.md). The notebooks' profiles
(:mod:`helpers.course`) and the CLI start from these.

Adding a training variant: write a module with ``run(...)`` (the contract of
:func:`train`), add one :data:`LOOPS` entry naming it, the loop-specific settings it
honours, its preset, its memory estimate and its own checks, and add any new setting
below with its default, check and doc (``songrec train`` gets a flag for it).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers import limits
from helpers.noise import DEFAULT_NOISE, DEFAULT_POWER, NOISE_KINDS
from helpers.validate import (
    Described,
    bad_argument,
    check_bool,
    check_choice,
    check_encoded,
    check_int,
    check_real,
    check_vocab_size,
)

# NumPy's legacy seeding, which Keras uses, takes seeds up to this.
SEED_MAX = 2**32 - 1
OPTIMIZERS = ("lazy_adam", "sgd", "adam")
LOSSES = ("sgns", "softmax")


@dataclass(frozen=True)
class Loop:
    """A training loop and everything the package knows about it, in one entry.

    ``module``: the module whose ``run`` trains (the contract of :func:`train`).
    ``honours``: the loop-specific settings it honours (every other one must stay at its
    default). ``preset``: the key of :data:`PRESETS` that ``songrec train --loop NAME``
    starts from. ``memory``: its memory estimate (``helpers.limits.*_memory``; called as
    ``memory(train_lengths, val_lengths, vocab_size, **settings)``). ``check``: the checks of
    a whole config that only this loop needs (raises ValueError naming the setting), or
    None. ``label``: what the evaluation table calls its run. ``session_tables``: its runs
    save the next-song model's tables (:mod:`helpers.runs`).
    """

    module: str
    description: str
    honours: frozenset[str]
    preset: str
    memory: Callable[..., dict[str, int]]
    check: Callable[[Any], None] | None = None
    label: str = "SGNS"
    session_tables: bool = False


def _needs_negatives(config) -> None:
    if config.negatives < 1:
        raise bad_argument("SGNSConfig.negatives", f"an int >= 1 with loop={config.loop!r}", config.negatives)


def _check_session(config) -> None:
    _needs_negatives(config)
    if config.shared:
        raise bad_argument("SGNSConfig.shared", "False with loop='session' (input and output tables differ)",
                           config.shared)
    if config.optimizer == "adam":
        raise bad_argument("SGNSConfig.optimizer", "'lazy_adam' or 'sgd' with loop='session' (hand-written "
                                                   "gradients)", config.optimizer)


#: Every training loop, by name. The one place a new loop is registered.
LOOPS: dict[str, Loop] = {
    "keras": Loop("helpers.keras_loop",
                  "model.fit on materialised (target, context, label) rows: the original assignment's "
                  "pipeline, what the notebooks teach",
                  frozenset({"max_pairs_per_playlist", "exclude_target", "exclude_context", "dense_head",
                             "reduce_lr_patience", "early_stopping_patience", "verbose",
                             "steps_per_execution", "jit_compile"}),
                  preset="assignment", memory=limits.keras_memory),
    "fast": Loop("helpers.fast_loop",
                 "positives regenerated per epoch, negatives drawn in the graph, updates on touched rows "
                 "only (about 20x the pair updates per second of the keras loop)",
                 frozenset({"dynamic_window", "subsample", "negative_group", "optimizer", "lr_decay",
                            "steps_per_execution", "jit_compile", "auto_schedule"}),
                 preset="fast", memory=limits.fast_memory, check=_needs_negatives),
    "session": Loop("helpers.session_loop",
                    "the next-song model: the last `window` songs (one input table per slot) -> the next "
                    "song, sampled softmax or SGNS loss, optional learned bias; the fast loop's machinery",
                    frozenset({"negative_group", "optimizer", "lr_decay", "steps_per_execution", "auto_schedule",
                               "loss", "bias", "slot_dropout", "blend_holdout"}),
                    preset="next_song", memory=limits.session_memory, check=_check_session,
                    label="next-song model", session_tables=True),
}


def loop_named(name: Any, what: str = "loop") -> Loop:
    """The :data:`LOOPS` entry of ``name``; ValueError naming ``what``, the value and the
    known loops when there is none."""
    if not isinstance(name, str) or name not in LOOPS:
        raise bad_argument(what, f"one of the training loops {', '.join(map(repr, LOOPS))}", name)
    return LOOPS[name]


def _setting(default: Any, check: Callable[[str, Any], Any] | None, doc: str, *, common: bool = False,
             choices: tuple | None = None, flag: str | tuple[str, str] | None = None):
    """One setting: its default, its check (called with the field's name and value; with
    ``choices``, the check that the value is one of them) and what it means. ``common``:
    every loop honours it. ``flag``: its ``songrec train`` flag when not ``--field-name``
    (for a bool, the pair of flags that turn it on and off). The CLI's flags and their
    ``--help`` are made from these (:mod:`helpers.cli`)."""
    if choices is not None:
        def check(name, value):
            return check_choice(name, value, choices)
    return field(default=default, metadata={"check": check, "doc": doc, "common": common, "choices": choices,
                                            "flag": flag})


def _int(low, **kw):
    return lambda name, value: check_int(name, value, low, **kw)


@dataclass(frozen=True)
class SGNSConfig:
    """Every setting of one training run; see each field's ``doc`` in :func:`describe`.

    Invalid values raise ValueError naming the field and the value; a loop-specific
    setting away from its default raises ValueError unless ``loop`` honours it.
    ``dataclasses.replace(config, field=value)`` gives a changed, re-checked copy.
    """

    loop: str = _setting("keras", lambda n, v: check_choice(n, v, tuple(LOOPS)),
                         "training loop: a key of LOOPS", common=True)
    # -- pairs
    window: int = _setting(10, _int(1), "songs on each side of the target (session loop: songs read before the "
                                        "next song, the query included)", common=True)
    negatives: int = _setting(5, _int(0), "noise contexts per positive pair (the fast loop needs >= 1)",
                              common=True)
    noise: str = _setting(DEFAULT_NOISE, None, choices=NOISE_KINDS,
                          doc="noise distribution: 'uniform' over songs 1..V or 'unigram' (counts ** power), "
                          "see helpers.noise", common=True)
    power: float = _setting(DEFAULT_POWER, check_real, "exponent of unigram noise (0 = uniform)", common=True)
    # -- model
    dim: int = _setting(32, _int(1), "length of each song vector", common=True)
    shared: bool = _setting(True, check_bool, "one table for targets and contexts (else two tables)",
                            common=True, flag=("--shared-table", "--separate-tables"))
    # -- optimisation
    learning_rate: float = _setting(1e-3, lambda n, v: check_real(n, v, 0, low_open=True),
                                    "learning rate at the start", common=True, flag="--lr")
    batch_size: int = _setting(2048, _int(1), "rows per step (keras) / positive pairs per step (fast)",
                               common=True)
    epochs: int = _setting(20, _int(1), "passes over the training pairs", common=True)
    seed: int = _setting(42, lambda n, v: check_int(n, v, 0, SEED_MAX),
                         "seeds every random draw: pairs, initial weights, shuffling", common=True)
    # -- keras loop
    max_pairs_per_playlist: int | None = _setting(
        None, _int(1, allow_none=True), "cap on the rows (real + noise) one playlist gives; None (on the command "
                                        "line: 0) = no cap", flag="--max-pairs")
    exclude_target: bool = _setting(False, check_bool, "redraw a negative equal to its target")
    exclude_context: bool = _setting(False, check_bool, "redraw a negative found in its target's window")
    dense_head: bool = _setting(False, check_bool, "Dense(1) between dot product and sigmoid "
                                                   "(helpers.model.build_sgns)")
    reduce_lr_patience: int | None = _setting(
        None, _int(0, allow_none=True), "epochs without improvement before the learning rate is halved "
                                        "(down to 1e-6); None = off")
    early_stopping_patience: int | None = _setting(
        None, _int(0, allow_none=True), "epochs without improvement before stopping (best weights "
                                        "restored); None = off")
    verbose: int = _setting(0, None, "Keras fit verbosity", choices=(0, 1, 2))
    # -- fast loop
    dynamic_window: bool = _setting(False, check_bool, "word2vec's shrinking window: each target draws "
                                                       "its reach from 1..window every epoch")
    subsample: float = _setting(0.0, lambda n, v: check_real(n, v, 0),
                                "word2vec's frequent-song threshold t (0 = off); see "
                                "helpers.fast_loop.keep_probabilities")
    negative_group: int = _setting(1, _int(1), "consecutive positives sharing their noise contexts")
    optimizer: str = _setting("adam", None, choices=OPTIMIZERS,
                              doc="'adam' (Keras' dense Adam), 'lazy_adam' (Adam on the touched rows only) "
                                  "or 'sgd' (plain SGD on the touched rows)")
    lr_decay: bool = _setting(False, check_bool, "linear decay of the learning rate to 1e-4 of the start")
    steps_per_execution: int = _setting(1, _int(1), "train steps per Python call")
    jit_compile: bool = _setting(False, check_bool, "XLA for the train step (not with lazy_adam)")
    auto_schedule: bool = _setting(False, check_bool, "size the batch to the data (about 100 steps per epoch, "
                                                      "at least 64 rows) and, when that shrinks it, train the fast "
                                                      "loop at least 20 epochs; see helpers.fast_loop.fitted")
    # -- session loop
    loss: str = _setting("sgns", None, choices=LOSSES,
                         doc="'sgns' (binary loss against the noise songs) or 'softmax' (sampled softmax over "
                             "the next song and the noise songs, log Q corrected); see helpers.session_model")
    bias: bool = _setting(False, check_bool, "a learned per-song bias in the logit")
    slot_dropout: float = _setting(0.0, lambda n, v: check_real(n, v, 0, 1, high_open=True),
                                   "probability of dropping each song before the query from an example, "
                                   "drawn afresh every epoch")
    blend_holdout: float = _setting(0.0, lambda n, v: check_real(n, v, 0, 1, high_open=True),
                                    "share of the training playlists held out to fit the weights of the learned "
                                    "blend with SEQ-KNN, SEQ-MATCH and SKNN (helpers.blend): the model trains on "
                                    "the rest; 0: no blend")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            f.metadata["check"](f"SGNSConfig.{f.name}", getattr(self, f.name))
        honoured = LOOPS[self.loop].honours
        for f in dataclasses.fields(self):
            if f.metadata["common"] or f.name in honoured:
                continue
            value = getattr(self, f.name)
            if value != f.default or type(value) is not type(f.default):
                others = [name for name, loop in LOOPS.items() if f.name in loop.honours]
                raise bad_argument(f"SGNSConfig.{f.name}", f"{f.default!r} with loop={self.loop!r} (a setting "
                                                           f"of the {' and '.join(others)} loop only)", value)
        check = LOOPS[self.loop].check
        if check is not None:
            check(self)
        if self.jit_compile and self.optimizer == "lazy_adam":
            # tf.unique (merging duplicate rows) has a data-dependent shape XLA cannot compile.
            raise bad_argument("SGNSConfig.jit_compile", "False with optimizer='lazy_adam'", self.jit_compile)

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SGNSConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults, unknown ones raise."""
        if not isinstance(values, dict):
            raise bad_argument("values", "a dict of SGNSConfig fields", Described(f"a {type(values).__name__}"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise bad_argument("values", f"a dict of SGNSConfig fields ({', '.join(sorted(known))})",
                               Described(f"unknown field(s) {', '.join(unknown)}"))
        return cls(**values)


def describe() -> dict[str, str]:
    """What every setting means: ``{field name: doc}``, in declaration order."""
    return {f.name: f.metadata["doc"] for f in dataclasses.fields(SGNSConfig)}


def honours(loop: str, name: str) -> bool:
    """Whether ``loop`` honours the setting ``name`` (common settings: always)."""
    f = {f.name: f for f in dataclasses.fields(SGNSConfig)}[name]
    return f.metadata["common"] or name in loop_named(loop).honours


def training_memory(config: SGNSConfig, train_lengths: Sequence[int], val_lengths: Sequence[int],
                    vocab_size: int) -> dict[str, int]:
    """Bytes one training run with ``config`` needs, by its loop's estimate
    (:mod:`helpers.limits`): ``{"tables", "pairs", "validation", "step", "total"}``."""
    return loop_named(config.loop, "SGNSConfig.loop").memory(
        train_lengths, val_lengths, vocab_size, **config.to_dict())


#: Complete named settings. Change one here and every user follows (CLI, notebooks, bench).
PRESETS: dict[str, SGNSConfig] = {
    # The original course assignment: the defaults, its cap of 10,000 rows per playlist and
    # ReduceLROnPlateau with patience 2. XLA and 16 steps per call change how fast model.fit
    # runs, not what it computes: a step of this small model is mostly per-call overhead, so
    # the 20 epochs take about half the time on CPU; the vectors differ from a plain fit by
    # float32 rounding only (XLA's fused arithmetic), the same every run (issue 19).
    "assignment": SGNSConfig(max_pairs_per_playlist=10_000, reduce_lr_patience=2, jit_compile=True,
                             steps_per_execution=16),
    # Chosen on held-out playlists of the full yes_complete (bench/bench_quality.py measures
    # them; the settings tried are listed in bench/README.md). Next-song prediction wants
    # near neighbours, so a short fixed window; noise count ** 0.75 trains better than
    # uniform noise at this vocabulary size (helpers.noise.next_song_tables adds the noise
    # term back when ranking). Larger dims (128, 256), more negatives (25), more epochs (8,
    # 20), shrinking windows of 3..10 and other learning rates scored the same or lower.
    #
    # auto_schedule only changes small corpora (fewer than ~820,000 positives per epoch):
    # the synthetic demo and the first 200 playlists get ~100 steps per epoch and 20 epochs.
    "fast": SGNSConfig(loop="fast", window=2, noise="unigram", dim=64, shared=False, learning_rate=0.01,
                       batch_size=8192, epochs=5, negative_group=8, optimizer="lazy_adam", lr_decay=True,
                       steps_per_execution=32, auto_schedule=True),
    # The next-song model (issue 14; bench/experiments/RESULTS.md lists every variant tried):
    # the last 5 songs, sampled softmax against 1024 noise songs shared by groups of 1024
    # examples (log Q corrected), a learned bias, dim 64, lazy Adam 0.01 with linear decay,
    # 5 epochs of batches of 8,192. More epochs, dimensions or songs overfit on the full data.
    # On a small corpus auto_schedule shrinks the batch (about 100 steps per epoch) and keeps
    # the 5 epochs.
    # A tenth of the training playlists is held out to fit the blend's weights (issue 23,
    # helpers.blend): the blend beats every anchor on both settings, the model alone does not.
    "next_song": SGNSConfig(loop="session", window=5, negatives=1024, noise="unigram", dim=64, shared=False,
                            learning_rate=0.01, batch_size=8192, epochs=5, negative_group=1024,
                            optimizer="lazy_adam", lr_decay=True, steps_per_execution=8, loss="softmax",
                            bias=True, auto_schedule=True, blend_holdout=0.1),
}


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history``: metric name -> one float per epoch run (``"loss"``; ``"val_loss"`` with
    validation data; ``"lr"`` = the learning rate in force during that epoch; the keras
    loop adds ``"accuracy"``/``"val_accuracy"``). ``target_vectors``: float32 (V+1, dim),
    the shared table or the target table, row 0 = padding. ``context_vectors``: the
    context table of the same shape, or ``None`` when the table is shared. ``model``: the
    trained model. ``n_pairs``: pair updates (real + noise) per epoch.
    ``seconds``: wall time of training (validation included). ``pairs_per_second``:
    ``n_pairs * epochs_run / seconds``. ``epochs_run``: epochs actually run (early
    stopping may cut them; ``auto_schedule`` may add some). ``pairs_seconds``: time spent
    making pairs. ``config``: the settings. ``schedule``: the batch size, noise group and
    epochs the fast and session loops trained with (``auto_schedule`` may change them;
    empty for the keras loop). ``session``: the session loop's tables
    (:class:`helpers.sessions.SessionTables`), else None; then ``target_vectors`` is its
    query-slot input table and ``context_vectors`` its output table. ``blend``: with
    ``config.blend_holdout > 0``, the fitted blend (:class:`helpers.blend.BlendFit`), else None.
    """

    history: dict[str, list[float]]
    target_vectors: np.ndarray = field(repr=False)
    context_vectors: np.ndarray | None = field(repr=False)
    model: Any = field(repr=False)
    n_pairs: int
    seconds: float
    pairs_per_second: float
    epochs_run: int
    pairs_seconds: float
    config: SGNSConfig
    schedule: dict[str, int] = field(default_factory=dict)
    session: Any = field(default=None, repr=False)
    blend: Any = None


def _playlists(name: str, encoded, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    flat, lengths = check_encoded(name, encoded, vocab_size)
    if lengths.size == 0:
        raise bad_argument(name, "a non-empty list of playlists", Described("an empty list"))
    if not (lengths >= 2).any():
        raise bad_argument(name, "playlists of which at least one has 2 songs or more (shorter ones give "
                                 "no pairs)", Described(f"{lengths.size} playlist(s) of at most 1 song"))
    return flat, lengths


def train(train_encoded: Sequence[np.ndarray], vocab_size: int, config: SGNSConfig,
          val_encoded: Sequence[np.ndarray] | None = None, *, progress: bool = False,
          callbacks: Sequence = ()) -> TrainResult:
    """Train SGNS embeddings with the loop ``config.loop`` names.

    ``train_encoded`` / ``val_encoded``: lists of int arrays of song indices
    ``1..vocab_size``, one per playlist (e.g. from :func:`helpers.splits.split_playlists`).
    Unigram noise and subsampling use the song counts of the *training* playlists.
    ``progress``: print one line per epoch with the time left (:mod:`helpers.progress`).
    ``callbacks``: extra Keras callbacks (keras loop), or callables ``f(epoch, model)``
    called after each epoch, outside the timed part (fast and session loops). Every random draw comes from
    ``config.seed``: on CPU, two runs with the same arguments give bit-identical vectors.
    Raises ValueError for a bad argument (naming it) or a setting the loop cannot honour.
    """
    if not isinstance(config, SGNSConfig):
        raise bad_argument("config", "an SGNSConfig (e.g. helpers.sgns.PRESETS['fast'])",
                           Described(f"a {type(config).__name__}"))
    vocab_size = check_vocab_size(vocab_size)
    train_data = _playlists("train_encoded", train_encoded, vocab_size)
    val_data = None if val_encoded is None else _playlists("val_encoded", val_encoded, vocab_size)
    if config.loop != "keras" and not all(callable(c) for c in callbacks):
        raise bad_argument("callbacks", f"callables f(epoch, model) with loop={config.loop!r} (Keras callbacks "
                                        f"need the keras loop)", Described(f"{len(callbacks)} callback(s)"))
    loop = importlib.import_module(loop_named(config.loop, "SGNSConfig.loop").module)
    out = loop.run(train_data, val_data, vocab_size, config, progress=progress, callbacks=tuple(callbacks))
    return TrainResult(**out, config=config)


def schedule_notes(given: dict[str, int | None], config: SGNSConfig, schedule: dict[str, int]) -> list[str]:
    """One line per setting the user gave (``given``: ``{"epochs": 1, "batch_size": None}``,
    None for not given) that training changed, as reported in ``TrainResult.schedule``:
    which setting, the value asked for, the value used, why, and how to keep it."""
    flags = {"epochs": "--epochs", "batch_size": "--batch-size"}
    why = (f"the {config.loop} loop's auto_schedule (helpers.sgns.PRESETS) sizes the batch to this small "
           f"corpus, about 100 steps per epoch" if config.auto_schedule else "the batch is cut to what the data holds")
    notes = []
    for name, flag in flags.items():
        asked, used = given.get(name), schedule.get(name)
        if asked is None or used is None or asked == used:
            continue
        if name == "epochs":
            keep = (f"to keep {flag} {asked}, also pass --batch-size {schedule['batch_size']}"
                    if given.get("batch_size") is None else "")
            reason = f"{why}, and with a batch shrunk that way it trains at least {used} epochs"
        else:
            keep = "a larger batch leaves too few steps per epoch to learn" if used < asked else ""
            reason = f"{why} and a whole number of noise groups"
        notes.append(f"songrec: note: {flag} {asked} was changed to {used}: {reason}" + (f"; {keep}" if keep else ""))
    return notes
