"""A run's data, prepared one way for training it and for evaluating it.

``songrec train`` and ``songrec evaluate`` must see the same playlists, split and
vocabulary: :func:`prepare` is the one place that keeps the playlists of two songs or
more, takes the first N, splits them by playlist (:func:`helpers.splits.split_playlists`)
and builds the vocabulary on the training side. :func:`load_run_dataset` loads a saved run's
dataset again from its :class:`helpers.runs.RunSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.splits import heldout_cases, split_playlists
from helpers.vocab import Vocab, build_vocab


@dataclass(frozen=True)
class RunData:
    """The playlists of a run, split and encoded.

    ``playlists``: how many playlists were kept (two songs or more, the first N);
    ``short``: how many the dataset had with fewer than two songs (its loader's drops
    included); ``train_raw`` / ``val_raw``: raw-ID playlists; ``vocab``: built on the
    training playlists; ``train_encoded``: the training playlists as song indices.
    """

    playlists: int
    short: int
    train_raw: list
    val_raw: list
    vocab: Vocab
    train_encoded: list

    def val_encoded(self) -> list:
        """The held-out playlists as song indices, songs unknown to training dropped, then
        playlists shorter than two songs dropped (what validation losses are computed on)."""
        return [p for p in self.vocab.encode(self.val_raw, unknown="drop") if len(p) >= 2]

    def heldout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """The held-out next-song cases ``(queries, answers, sessions, skipped)`` of
        :func:`helpers.splits.heldout_cases`, over the songs seen in training."""
        counts = np.asarray(self.vocab.counts)
        known = {raw: i for raw, i in self.vocab.raw_to_idx().items() if counts[i] > 0}
        return heldout_cases(self.val_raw, known)


def prepare(dataset: Any, playlists: int | None, val_fraction: float, split_seed: int) -> RunData:
    """Keep ``dataset``'s playlists of two songs or more, the first ``playlists`` of them
    (None: all), split off ``val_fraction`` of them with ``split_seed`` and build the
    vocabulary on the rest (named from ``dataset.songs``)."""
    kept = [p for p in dataset.playlists if len(p) >= 2]
    short = len(dataset.playlists) - len(kept) + int(dataset.dropped.get("playlists", 0))
    kept = kept if playlists is None else kept[:playlists]
    train_raw, val_raw = split_playlists(kept, val_fraction, seed=split_seed)
    vocab = build_vocab(train_raw, dataset.songs)
    return RunData(len(kept), short, train_raw, val_raw, vocab, vocab.encode(train_raw))


def load_run_dataset(settings: Any, data_dir: Any = None, *, where: str = "this run") -> Any:
    """The dataset a run was trained on, from its :class:`helpers.runs.RunSettings`: the
    synthetic corpus again, or the Cornell variant under ``data_dir`` (else
    SONGREC_DATA_DIR)."""
    if settings.kind == "synthetic":
        from helpers.synthetic import make_synthetic

        return make_synthetic(seed=settings.synthetic_seed)
    from helpers.data import find_data_dir, load_cornell

    found = find_data_dir(data_dir)
    if found is None:
        raise FileNotFoundError(f"{where} was trained on the Cornell data: pass --data-dir or set SONGREC_DATA_DIR")
    return load_cornell(found, settings.variant)
