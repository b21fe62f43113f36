"""``songrec evaluate``: score a saved run and the baselines on the run's own held-out playlists.

The orchestration only: load the run (:mod:`helpers.runs`), rebuild its split
(:mod:`helpers.splits`), build every registered scorer (:mod:`helpers.scorers`, the
anchors of session-based recommendation included), score them with each case's session
(:mod:`helpers.metrics`) and write the table and its chart (:mod:`helpers.outdir`,
:mod:`helpers.plots`). The first row is the best score the run supports
(:data:`helpers.scorers.BEST_FIRST`: the session model's learned blend for a session run,
its count prior alone for one saved without a blend, target·context plus the noise term
for a skip-gram run); the run's cosine and plain dot product follow for teaching.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers import environment, outdir, plots
from helpers.errors import RunMismatchError
from helpers.metrics import evaluate_methods
from helpers.run_data import load_run_dataset, prepare
from helpers.runs import RunSettings, load_run
from helpers.scorers import ScoringInputs, best_first, build_keyed
from helpers.sgns import LOOPS
from helpers.splits import sample_index


def noise_power(settings: dict) -> float:
    """The noise exponent a run was trained with, from its saved settings: ``power`` under
    unigram noise, 0 under uniform noise. Runs saved before the ``noise`` setting was
    common to both loops (fast-loop runs, ``method: "reference"``) stored ``power`` only,
    0 meaning uniform."""
    if "noise" in settings:
        return float(settings.get("power", 0.0)) if settings["noise"] == "unigram" else 0.0
    return float(settings.get("power", 0.0))


def evaluate_run(
    run_dir: Any,
    data_dir: Any = None,
    k: int = 10,
    out_dir: Any = None,
    max_pairs: int | None = 20_000,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Score a saved ``songrec train`` run and the baselines on the run's own held-out playlists.

    The split is rebuilt from the settings stored in ``run.json`` (same playlists, same
    fraction, same seed), and the rebuilt training vocabulary must match the run's
    fingerprint, so the embeddings are never scored on playlists they were trained on.
    ``max_pairs`` caps the held-out cases with a seeded sample (ranking 75k songs per case
    is the slow part). Writes ``evaluation.csv`` and ``evaluation.png`` to ``out_dir``
    (default: the run folder), both or neither, under the rule of :mod:`helpers.outdir`
    (a new folder, or one songrec wrote), and returns the table (method, HR@k, MRR@k, coverage,
    seconds), the run's best score first, with the number of cases, the skipped pairs and
    the best score's name (``"best"``) in ``table.attrs``. ``progress``: print a line
    after each method.
    """
    # Refuse an unusable output folder before the slow part.
    out = outdir.check_target(out_dir if out_dir is not None else run_dir, kinds=("evaluation", "run"),
                              overwrite=True, what="--out")
    outdir.check_files(out, ("evaluation.csv", "evaluation.png"))
    run = load_run(run_dir)
    st = run.settings
    settings = RunSettings.from_json(st, f"{run.path}/run.json")
    data = prepare(load_run_dataset(settings, data_dir), settings.playlists, settings.val_fraction, settings.split_seed)
    if data.vocab.fingerprint() != run.vocab.fingerprint():
        raise RunMismatchError(
            f"the rebuilt training vocabulary ({data.vocab.size} songs) differs from the run's "
            f"({run.vocab.size} songs): the data under {data_dir or environment.DATA_DIR} is not the data it was "
            f"trained on"
        )
    queries, answers, sessions, skipped = data.heldout()
    keep = sample_index(len(queries), max_pairs, seed) if max_pairs is not None else slice(None)
    queries, answers, sessions = queries[keep], answers[keep], sessions[keep]
    inputs = ScoringInputs(data.train_encoded, run.vocab.size, run.vocab.counts, settings.config.window,
                           run.target_vectors, run.context_vectors, power=noise_power(st), seed=seed,
                           label=LOOPS[settings.config.loop].label,
                           session=run.session, loss=settings.config.loss, anchors=True, blend=run.blend)
    keyed = best_first(build_keyed(inputs))
    table = evaluate_methods([scorer for _, scorer in keyed], queries, answers, k=k, progress=progress,
                             sessions=sessions)
    table.attrs.update({"cases": int(len(queries)), "skipped": dict(skipped),
                        "best": keyed[0][1].name})
    # Both files or neither: each is written to a temporary name, then both are renamed.
    outdir.write_output_files(out, {
        "evaluation.csv": lambda path: table.to_csv(path, index=False),
        "evaluation.png": lambda path: plots.plot_method_comparison(table, metric=f"HR@{k}", path=path),
    }, kinds=("evaluation", "run"), kind="evaluation", what="--out")
    return table
