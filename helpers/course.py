"""What the notebooks share: the profile, the data, and each part's reference output.

Every notebook must run on its own, so a student stuck in part 2 can still do part 4.
Each part therefore starts from ``reference_*`` functions here, which recompute the
earlier parts with the tested helpers (not with the student's code).

Profiles (environment variable ``SONGREC_PROFILE``):

- ``default`` — the real assignment: first 200 playlists of yes_complete, trained with
  ``helpers.sgns.PRESETS["assignment"]`` (the original assignment's settings).
- ``ci`` — the same pipeline shrunk so all six notebooks execute in a few minutes on
  two CPU cores: fewer playlists, a smaller window, 2 epochs.
- ``synthetic`` — the default settings on the synthetic genre corpus, whether or not the
  Cornell data is present: what ``make run`` uses with no data and no network.
- ``grading`` — what autograding runs (``python -m tools.instructor autograde``): the
  pipeline shrunk further, to one short epoch on 40 playlists of the synthetic corpus.
  The graded test cells build their own small inputs, so scores do not depend on the
  profile; the profile only sizes the cells around them, which every student's notebook
  runs too.

Without the Cornell data the ``ci`` profile falls back to the synthetic corpus (with a
printed notice); ``default`` stops and says how to get the data.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

from helpers import environment, published_runs
from helpers.digest import sha256_bytes
from helpers.locations import course_cache_root
from helpers.sgns import PRESETS, SGNSConfig


@dataclass(frozen=True)
class Profile:
    """Settings for one profile: the data, the split and the training settings.

    ``sgns`` is the :class:`helpers.sgns.SGNSConfig` the reference run trains with (the
    keras loop); its fields read as the profile's own, so ``profile().window`` is
    ``profile().sgns.window``.
    """

    name: str
    num_playlists: int
    val_fraction: float
    sgns: SGNSConfig
    variant: str = "yes_complete"
    synthetic: bool = False   # always the synthetic genre corpus instead of Cornell's data
    synthetic_fallback: bool = False   # the synthetic corpus when Cornell's data is missing

    def __getattr__(self, name):
        # Only reached for names that are not Profile fields: those of the SGNS settings.
        if name != "sgns" and name in SGNSConfig.__dataclass_fields__:
            return getattr(self.sgns, name)
        raise AttributeError(f"Profile has no attribute {name!r}")

    @property
    def compile_options(self) -> dict:
        """``helpers.model.compile_sgns`` keywords for how fast ``model.fit`` runs (XLA,
        train steps per call): they change the speed, and the vectors by float32 rounding only."""
        return {"jit_compile": self.sgns.jit_compile, "steps_per_execution": self.sgns.steps_per_execution}

    def train_config(self, **overrides) -> SGNSConfig:
        """The profile's training settings, with ``overrides`` (SGNSConfig fields) applied."""
        return replace(self.sgns, **overrides)


_ASSIGNMENT = PRESETS["assignment"]
_PLAIN_FIT = {"jit_compile": False, "steps_per_execution": 1}
PROFILES = {
    "default": Profile("default", num_playlists=200, val_fraction=0.1, sgns=_ASSIGNMENT),
    # Two epochs at a larger learning rate and a smaller window: the same pipeline in a
    # few minutes for all six notebooks on two CPU cores. This profile and the next train
    # too few steps for XLA's compile time (about a second) to pay off, so they run plain.
    "ci": Profile("ci", num_playlists=60, val_fraction=0.1, synthetic_fallback=True,
                  sgns=replace(_ASSIGNMENT, window=5, epochs=2, learning_rate=1e-2, **_PLAIN_FIT)),
    # Autograding: every cell of every student's six notebooks runs, so each training run
    # is one epoch on a few playlists of the synthetic corpus (built in well under a
    # second, where reading Cornell's files takes each kernel seconds) with small vectors
    # (docs/GRADING.md, "Time budget").
    "grading": Profile("grading", num_playlists=40, val_fraction=0.2, synthetic=True,
                       sgns=replace(_ASSIGNMENT, window=3, epochs=1, dim=8, learning_rate=1e-2, **_PLAIN_FIT)),
}
PROFILES["synthetic"] = replace(PROFILES["default"], name="synthetic", synthetic=True)


def profile(name: str | None = None) -> Profile:
    """The active profile (``SONGREC_PROFILE``, default ``default``)."""
    name = name or os.environ.get(environment.PROFILE, "default")
    if name not in PROFILES:
        raise ValueError(f"SONGREC_PROFILE must be one of {sorted(PROFILES)}, got {name!r}")
    return PROFILES[name]


def in_colab() -> bool:
    """True when the notebook runs on Google Colab."""
    return "google.colab" in sys.modules


# -- data ------------------------------------------------------------------------

_DATASET_CACHE: dict = {}


def load_dataset(data_dir: str | Path | None = None, *, allow_synthetic: bool | None = None):
    """The course data as a ``helpers.data.Dataset``.

    Order: the instructor's ``training_data.pkl`` if ``SONGREC_COURSE_PICKLE`` names it
    and ``SONGREC_TRUST_PICKLE=1`` (a pickle can run code, so it is only read on that
    explicit opt-in); else Cornell's yes_complete from ``data_dir`` / ``SONGREC_DATA_DIR``
    / the default data folder (see ``helpers.locations``; on Colab downloaded there from
    ``fetch.data_url()`` if absent); else, only in the ``ci`` profile or with
    ``allow_synthetic=True``, the synthetic corpus with a printed notice. The
    ``synthetic`` profile always uses the synthetic corpus (and says so).
    Playlists with fewer than two songs are dropped (they give no training pair).

    Every call returns a fresh copy of the cached data, so code that changes the arrays in
    place (a student's cell in part 1, say) cannot change what later parts and their
    tests start from.
    """
    from helpers import data
    from helpers.course_pickle import load_course_pickle

    pkl = os.environ.get(environment.COURSE_PICKLE)
    key = (str(data_dir), allow_synthetic, profile().name, pkl, os.environ.get(environment.TRUST_PICKLE),
           os.environ.get(data.DATA_DIR_ENV))
    if key in _DATASET_CACHE:
        return _fresh_copy(_DATASET_CACHE[key])
    if pkl:
        trust = os.environ.get(environment.TRUST_PICKLE) == "1"
        ds = load_course_pickle(pkl, trust=trust)
    elif profile().synthetic:
        ds = _synthetic_stand_in("the synthetic profile (SONGREC_PROFILE=synthetic) uses")
    else:
        found = data.find_data_dir(data_dir)
        if found is None and in_colab():
            found = _download_for_colab(profile().variant)
        if found is None:
            if allow_synthetic is None:
                allow_synthetic = profile().synthetic_fallback
            if not allow_synthetic:
                raise FileNotFoundError(
                    "The Cornell playlist data was not found. Run `songrec data fetch` (or `make data`) "
                    "in a terminal, or set SONGREC_DATA_DIR to the folder holding yes_complete/."
                )
            ds = _synthetic_stand_in("no Cornell data found; using")
        else:
            ds = data.load_cornell(found, profile().variant, min_length=2)
    _DATASET_CACHE[key] = ds
    return _fresh_copy(ds)


def _synthetic_stand_in(why: str):
    from helpers.synthetic import make_synthetic

    print(f"NOTICE: {why} the synthetic genre corpus instead of the real playlists.")
    return make_synthetic(n_genres=6, songs_per_genre=60, n_playlists=400, seed=0)


def _download_for_colab(variant: str) -> Path:
    """Fetch the archive (``fetch.data_url()``: a course mirror or Cornell) into the default
    data folder. Only the files of ``variant`` are required and verified: a course mirror
    may carry just the variant the course reads."""
    from helpers import data, fetch

    dest = data.default_data_dir()
    known = {name: value for name, value in fetch.KNOWN_FILES.items() if name.startswith(variant + "/")}
    url = fetch.data_url()
    print(f"Downloading the playlist data from {url} into {dest} ...")
    fetch.fetch(dest, url, known=known, known_blobs={})
    return dest


def _fresh_copy(ds):
    """A copy of a Dataset whose arrays, table and dicts share no memory with ``ds``."""
    return replace(ds, playlists=[p.copy() for p in ds.playlists], songs=ds.songs.copy(deep=True),
                   dropped=dict(ds.dropped))


# -- reference outputs of each part ----------------------------------------------------

@dataclass
class Mapping:
    """Part 1's output. playlists: raw int64 arrays; encoded: int32 arrays in 1..V."""

    playlists: list
    vocab: object
    encoded: list
    songs: object


def reference_mapping(num_playlists: int | None = None, dataset=None) -> Mapping:
    """The first ``num_playlists`` playlists (profile default), their vocabulary and encoding."""
    from helpers.vocab import build_vocab

    ds = dataset if dataset is not None else load_dataset()
    n = num_playlists or profile().num_playlists
    playlists = [p for p in ds.playlists if len(p) >= 2][:n]
    vocab = build_vocab(playlists, ds.songs)
    return Mapping(playlists, vocab, vocab.encode(playlists), ds.songs)


def reference_pairs(mapping: Mapping | None = None, **overrides):
    """Part 2's output: (targets int32, contexts int32, labels float32) with the profile's settings."""
    from helpers.skipgrams import skipgram_pairs

    mapping = mapping or reference_mapping()
    p = profile()
    kw = dict(window=p.window, negatives=p.negatives, max_pairs_per_playlist=p.max_pairs_per_playlist,
              seed=p.seed)
    kw.update(overrides)
    return skipgram_pairs(mapping.encoded, vocab_size=mapping.vocab.size, **kw)


def reference_split(mapping: Mapping | None = None):
    """Held-out playlists for validation: (train_encoded, val_encoded), split by playlist."""
    from helpers.splits import split_playlists

    mapping = mapping or reference_mapping()
    return split_playlists(mapping.encoded, profile().val_fraction, seed=profile().seed)


def _cache_dir(tag: str, settings: dict) -> Path:
    digest = sha256_bytes(json.dumps(settings, sort_keys=True, default=str).encode())[:12]
    return course_cache_root() / f"{tag}-{profile().name}-{digest}"


def reference_run(mapping: Mapping | None = None, **overrides):
    """Part 4's output as a ``helpers.runs.Run``: trained once, then loaded from a cache.

    The cache key covers the data (vocabulary fingerprint) and every setting, so a
    changed profile or dataset retrains instead of reusing stale vectors.
    """
    from helpers.runs import load_run, save_run
    from helpers.sgns import train

    mapping = mapping or reference_mapping()
    config = profile().train_config(**overrides)
    settings = {"config": config.to_dict(), "vocab": mapping.vocab.fingerprint(),
                "val_fraction": profile().val_fraction}
    path = _cache_dir("reference", settings)
    if path.exists():
        try:
            return load_run(path)
        except Exception:  # a damaged cache is rebuilt, never trusted
            pass  # save_run below replaces it, under the output-folder rule (helpers.outdir)
    if published_runs.install(path.name, path):
        # Trained once by the release for exactly these settings and this vocabulary
        # (the folder name is their hash); every file's sha256 was checked on download.
        print(f"Using the course's published reference run ({config.epochs} epochs, sha256 verified) "
              "instead of training it here.")
        return load_run(path)
    train_split, val = reference_split(mapping)
    print(f"Training the reference model ({config.epochs} epochs); the next notebooks reuse it.")
    result = train(train_split, mapping.vocab.size, config, val or None, progress=True)
    save_run(path, mapping.vocab, result.target_vectors, result.context_vectors,
             settings=settings, metrics={"pairs": result.n_pairs, "seconds": result.seconds},
             history=result.history, overwrite=True)
    return load_run(path)


# The reference runs the notebooks ask for (05: the first; 06: both), as reference_run
# overrides: what a release trains once and publishes (helpers.published_runs).
PUBLISHED_REFERENCE_OVERRIDES = ({}, {"shared": False})


def describe_profile() -> str:
    """One line of the active profile's settings: its data and split, then the SGNS settings
    every loop has and those its loop sets away from their defaults."""
    p = profile()
    shown = {f.name: getattr(p, f.name) for f in fields(Profile) if f.name != "sgns"}
    for f in fields(SGNSConfig):
        value = getattr(p.sgns, f.name)
        if f.metadata["common"] or value != f.default:
            shown[f.name] = value
    return ", ".join(f"{k}={v}" for k, v in shown.items())


__all__ = ["PROFILES", "Profile", "profile", "in_colab", "load_dataset", "Mapping",
           "reference_mapping", "reference_pairs", "reference_split", "reference_run",
           "describe_profile", "replace", "PUBLISHED_REFERENCE_OVERRIDES"]
