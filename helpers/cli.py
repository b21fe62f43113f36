"""The ``songrec`` command (also ``python -m helpers``).

    songrec data fetch [--data-dir DIR]      download and verify Cornell's dataset
    songrec data check [--data-dir DIR]      verify sha256 of every data file
    songrec data build --out FILE.npz        store a dataset in a safe (non-pickle) format
    songrec train [--synthetic] [--loop fast|keras|session] --out DIR   train SGNS, save a run folder
    songrec recommend "Title by Artist" --run DIR -n 10
    songrec evaluate --run DIR               HR@K / MRR@K of the run and baselines
    songrec demo                             what `make run` calls: data, train, recommend

Errors print one line on stderr and exit 2 (bad input) or 1 (I/O, network). Output to a
closed pipe (``songrec ... | head``) ends quietly with status 141, as for other Unix tools.
Every folder or file written follows the rule of :mod:`helpers.outdir`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

from helpers.errors import OfflineError, SongrecError
from helpers.terminal import printable
from helpers.terminal import say as _say  # the one stderr message writer; _say keeps the diff small
from helpers.train_flags import OLD_LOOP_NAMES, add_config_flags, config_from_args

# A few songs most listeners know, used by `songrec demo` and the README.
WELL_KNOWN = [
    "Fade To Black by Metallica",
    "Billie Jean by Michael Jackson",
    "Hotel California by The Eagles",
    "Single Ladies (Put A Ring On It) by Beyonce",
]


# --power outside this range makes count ** power overflow or vanish for real counts.
POWER_RANGE = (-2.0, 2.0)
def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding yes_small/ yes_big/ yes_complete/ "
                   "(default: $SONGREC_DATA_DIR, then data/cornell)")


def _train_args(p: argparse.ArgumentParser) -> None:
    _data_args(p)
    p.add_argument("--synthetic", action="store_true", help="train on the synthetic genre corpus instead")
    p.add_argument("--variant", default="yes_complete", choices=["yes_small", "yes_big", "yes_complete"])
    p.add_argument("--playlists", type=int, default=None,
                   help="use only the first N playlists (the assignment uses 200); default: all")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out playlists for validation")
    add_config_flags(p)
    p.add_argument("--out", default="runs/latest", help="run folder to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run folder (only one songrec wrote)")
    p.add_argument("--max-memory", default=None,
                   help="refuse settings whose estimated memory exceeds this (e.g. 16G; "
                        "default $SONGREC_MAX_MEMORY or 8G)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``songrec`` command and flag."""
    parser = argparse.ArgumentParser(prog="songrec", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="fetch, check or build the Cornell dataset")
    dsub = data.add_subparsers(dest="action", required=True)
    f = dsub.add_parser("fetch", help="download dataset.tar.gz from Cornell and verify it")
    _data_args(f)
    f.add_argument("--url", default=None, help="alternative archive URL (a mirror)")
    c = dsub.add_parser("check", help="verify the sha256 of every data file")
    _data_args(c)
    b = dsub.add_parser("build", help="write a dataset as .npz (safe to load, unlike a pickle)")
    _data_args(b)
    b.add_argument("--variant", default="yes_complete", choices=["yes_small", "yes_big", "yes_complete"])
    b.add_argument("--min-length", type=int, default=2, help="drop playlists shorter than this")
    b.add_argument("--from-pickle", help="convert the course's training_data.pkl instead")
    b.add_argument("--trust-pickle", action="store_true",
                   help="allow unpickling --from-pickle (a pickle can run code: only for files you trust)")
    b.add_argument("--out", required=True, help="output .npz file")
    b.add_argument("--overwrite", action="store_true", help="replace an existing .npz that songrec wrote")

    t = sub.add_parser("train", help="train SGNS embeddings and save a run folder")
    _train_args(t)

    r = sub.add_parser("recommend", help="songs most similar to a song")
    r.add_argument("song", help='"Title by Artist" (add " [id N]" for duplicated names)')
    r.add_argument("--run", required=True, help="run folder written by `songrec train`")
    r.add_argument("-n", "--top", type=int, default=10)

    e = sub.add_parser("evaluate", help="next-song HR@K/MRR@K of a run against baselines")
    e.add_argument("--run", required=True)
    _data_args(e)
    e.add_argument("-k", type=int, default=10)
    e.add_argument("--out", default=None, help="folder for the CSV and PNG (default: the run folder)")

    m = sub.add_parser("demo", help="find data, train with the fast loop, print recommendations")
    _train_args(m)
    m.set_defaults(out="runs/demo", overwrite=True)
    return parser


# -- data ---------------------------------------------------------------------

def _resolve_data_dir(value: str | None, *, required: bool = True) -> Path | None:
    from helpers.data import find_data_dir

    path = find_data_dir(value)
    if path is None and required:
        raise FileNotFoundError(
            "no Cornell data found: pass --data-dir DIR, set SONGREC_DATA_DIR, "
            "or run `songrec data fetch` to download it into data/cornell"
        )
    return path


def cmd_data(args) -> int:
    """``songrec data fetch|check|build``; returns the exit status."""
    from helpers import data, fetch, npz
    from helpers.course_pickle import load_course_pickle

    if args.action == "fetch":
        if args.data_dir is not None:
            dest = Path(args.data_dir)
            if not str(args.data_dir).strip():
                raise ValueError("--data-dir is empty; expected the folder to download the data into")
        else:
            dest = data.find_data_dir(None) or data.default_data_dir()
        if (dest / "yes_complete").exists():
            _say(f"{dest} already holds the dataset; checking it instead")
        else:
            url = args.url or fetch.data_url()
            _say(f"downloading {url} into {dest} ...")
            fetch.fetch(dest, url, progress=fetch.stderr_progress, notice=_say)
        return _report_checks(dest)
    if args.action == "check":
        return _report_checks(_resolve_data_dir(args.data_dir))
    if args.action == "build":
        out = Path(args.out)
        if out.suffix != ".npz":
            raise ValueError(f"--out must end in .npz, got {out}")
        npz.check_npz_target(out, overwrite=args.overwrite)
        if args.from_pickle:
            if Path(args.from_pickle).is_dir():
                raise ValueError(f"--from-pickle {str(args.from_pickle)!r} is a folder; expected the course's "
                                 f"training_data.pkl file")
            ds = load_course_pickle(args.from_pickle, trust=args.trust_pickle)
        else:
            ds = data.load_cornell(_resolve_data_dir(args.data_dir), args.variant, min_length=args.min_length)
        npz.write_npz(ds, out, overwrite=args.overwrite)
        print(json.dumps({"written": str(out), **ds.describe(), "dropped": ds.dropped}, indent=2))
        return 0
    raise AssertionError(args.action)


def _report_checks(data_dir: Path) -> int:
    from helpers import fetch

    checks = fetch.verify_dir(data_dir)
    bad = 0
    for chk in checks:
        print(chk.describe())
        if chk.status not in ("ok", "missing"):
            bad += 1
    present = [c for c in checks if c.ok]
    if bad:
        _say(f"songrec: error: {bad} file(s) found in {data_dir} failed their checksum (see MISMATCH above): "
             f"delete them and run `songrec data fetch` again")
        return 1
    if not present:
        _say(f"songrec: error: no known data file found in {data_dir} (expected yes_small/, yes_big/ or yes_complete/ "
             f"with train.txt, song_hash.txt, ...)")
        return 1
    print(f"all {len(present)} present files match their published sha256")
    return 0


# -- training -----------------------------------------------------------------

def _load_training_data(args):
    """Returns (dataset, note) for train/demo; synthetic when asked."""
    from helpers.data import load_cornell

    if args.synthetic:
        from helpers.synthetic import make_synthetic

        return make_synthetic(seed=args.seed), "synthetic genre corpus"
    ds = load_cornell(_resolve_data_dir(args.data_dir), args.variant)
    return ds, f"Cornell {args.variant}"


def resolve_loop(args) -> str:
    """The training loop the flags ask for; an old name (``--method``, ``reference``,
    ``assignment``) prints one notice line and still works."""
    loop, method = getattr(args, "loop", None), getattr(args, "method", None)
    if method is not None:
        new = OLD_LOOP_NAMES.get(method, method)
        _say(f"songrec: notice: --method {method} is an old spelling of --loop {new}; it will go away")
        if loop is not None and OLD_LOOP_NAMES.get(loop, loop) != new:
            raise ValueError(f"--method {method} contradicts --loop {loop}; give --loop only")
        return new
    if loop in OLD_LOOP_NAMES:
        _say(f"songrec: notice: --loop {loop} is the old name of --loop {OLD_LOOP_NAMES[loop]}; it will go away")
        return OLD_LOOP_NAMES[loop]
    return loop or "fast"


def _check_flags(args) -> None:
    """Flags whose bad values would otherwise surface deep inside NumPy or Keras."""
    from helpers.sgns import SEED_MAX

    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed must be an integer in 0..{SEED_MAX}, got {args.seed}")
    lo, hi = POWER_RANGE
    if args.power is not None and not (math.isfinite(args.power) and lo <= args.power <= hi):
        raise ValueError(f"--power must be a number in [{lo:g}, {hi:g}] (noise ∝ count ** power; "
                         f"0.75 is word2vec's), got {args.power:g}")


def _check_memory(args, config, train_enc, val_enc, vocab_size: int) -> None:
    from helpers import limits
    from helpers.sgns import training_memory

    parts = training_memory(config, [len(p) for p in train_enc], [len(p) for p in val_enc], vocab_size)
    limit = limits.size_limit(limits.MEMORY_ENV, limits.DEFAULT_MEMORY, args.max_memory, "--max-memory")
    limits.check_training_memory(parts, limit, flags="--dim, --negatives, --window, --batch-size or --playlists")


def train_run(args, dataset, note: str) -> Path:
    """Split by playlist, build the vocabulary on the training side (helpers.run_data), train, save."""
    from helpers.run_data import prepare
    from helpers.runs import RunSettings, check_run_target, save_run
    from helpers.sgns import schedule_notes, train

    if args.playlists is not None and args.playlists < 2:
        raise ValueError(f"--playlists must be at least 2, got {args.playlists}")
    if not 0 < args.val_fraction < 1:
        raise ValueError(f"--val-fraction must be strictly between 0 and 1, got {args.val_fraction}")
    _check_flags(args)
    config = config_from_args(args)
    # Refuse an unusable --out now rather than after minutes of training.
    check_run_target(args.out, overwrite=args.overwrite)
    data = prepare(dataset, args.playlists, args.val_fraction, args.seed)
    vocab = data.vocab
    if vocab.size < 2:
        raise ValueError(f"the {len(data.train_raw)} training playlists of {note} hold only one song; embeddings "
                         f"need at least two to compare: use more (or other) playlists")
    val_enc = data.val_encoded()
    _check_memory(args, config, data.train_encoded, val_enc, vocab.size)
    if data.short:
        _say(f"{note}: left out {data.short} playlist(s) with fewer than 2 songs (they give no pairs)")
    _say(f"{note}: {len(data.train_raw)} training / {len(data.val_raw)} held-out playlists, {vocab.size} songs; "
         f"training ({config.loop} loop) ...")
    started = time.perf_counter()
    result = train(data.train_encoded, vocab.size, config, val_enc or None, progress=True)
    seconds = time.perf_counter() - started
    metrics = {
        "seconds": round(seconds, 2),
        "pairs": int(result.n_pairs),
        "pairs_per_second": round(float(result.pairs_per_second), 1),
        "final": {k: float(v[-1]) for k, v in result.history.items() if v},
    }
    settings = RunSettings(data.playlists, args.val_fraction, args.seed,
                           "synthetic" if dataset.name == "synthetic" else "cornell", dataset.name, args.seed,
                           config, note, dataset.source)
    if result.schedule:
        metrics["schedule"] = dict(result.schedule)
        for line in schedule_notes({"epochs": args.epochs, "batch_size": args.batch_size}, config, result.schedule):
            _say(line)
    out = save_run(args.out, vocab, result.target_vectors, result.context_vectors,
                   settings=settings, metrics=metrics, history=result.history, overwrite=args.overwrite,
                   session=result.session, blend=result.blend.to_json() if result.blend is not None else None)
    _say(f"saved run to {out} ({metrics['pairs']:,} pairs, {seconds:.1f} s)")
    return out


def _preflight(args) -> None:
    """Every check that needs no data, before data is loaded or downloaded."""
    from helpers.runs import check_run_target

    _check_flags(args)
    config_from_args(args)
    check_run_target(args.out, overwrite=args.overwrite)
    if args.max_memory is not None:
        from helpers.limits import parse_size

        parse_size(args.max_memory, "--max-memory")


def cmd_train(args) -> int:
    """``songrec train``: check every flag, load the data, train, save the run; returns 0."""
    _preflight(args)
    dataset, note = _load_training_data(args)
    train_run(args, dataset, note)
    return 0


def _print_recommendations(rec, song: str, n: int) -> None:
    table = rec.recommend(song, n)
    print(f"\nSongs like {printable(song)}:")
    for row in table.itertuples():
        print(f"  {row.rank:2d}. {printable(row.name)}  (cosine {row.similarity:.3f})")


def cmd_recommend(args) -> int:
    """``songrec recommend``: print the songs most similar to one song; returns 0."""
    from helpers.recommend import Recommender
    from helpers.runs import load_run

    run = load_run(args.run)
    _print_recommendations(Recommender(run.vocab, run.target_vectors), args.song, args.top)
    return 0


def cmd_evaluate(args) -> int:
    """``songrec evaluate``: score a run and the baselines, print and save the table; returns 0."""
    from helpers.evaluate import evaluate_run

    table = evaluate_run(args.run, data_dir=_resolve_data_dir(args.data_dir, required=False),
                         k=args.k, out_dir=args.out, progress=True)
    print(table.to_string(index=False))
    print(f"\nthe run ranked by its best score: {table.attrs['best']}")
    skipped = ", ".join(f"{k} {v}" for k, v in table.attrs.get("skipped", {}).items())
    print(f"\n{table.attrs.get('cases', '?')} held-out next-song pairs scored (skipped: {skipped or 'none'})")
    return 0


def cmd_demo(args) -> int:
    """The main job: real data when it can be had, else the synthetic demo with a notice."""
    from helpers.errors import AmbiguousSongError, UnknownSongError
    from helpers.recommend import Recommender
    from helpers.runs import load_run

    _preflight(args)
    dataset = None
    if not args.synthetic:
        try:
            data_dir = _resolve_data_dir(args.data_dir, required=False)
            if data_dir is None:
                from helpers import data, fetch

                data_dir = data.default_data_dir()
                _say(f"no data configured; downloading the Cornell dataset into {data_dir} ...")
                fetch.fetch(data_dir, fetch.data_url(), progress=fetch.stderr_progress, notice=_say)
            dataset, note = _load_training_data(args)
        except OfflineError as exc:
            _say(f"NOTICE: {exc}")
            _say("NOTICE: running the synthetic demo instead (songs named 'Song N by Artist M').")
    if dataset is None:
        args.synthetic = True
        dataset, note = _load_training_data(args)
    out = train_run(args, dataset, note)
    run = load_run(out)
    rec = Recommender(run.vocab, run.target_vectors)
    queries = WELL_KNOWN if not args.synthetic else [run.vocab.most_common(3)[i][2] for i in range(3)]
    shown = 0
    for song in queries:
        try:
            _print_recommendations(rec, song, 10)
            shown += 1
        except (UnknownSongError, AmbiguousSongError) as exc:
            print(printable(f"\n{song}: {exc}"))
    if shown == 0:
        for _, _, name, _ in run.vocab.most_common(2):
            _print_recommendations(rec, name, 10)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one ``songrec`` command (``argv``: its arguments, default ``sys.argv[1:]``).

    Returns the exit status: 0, 1 (I/O, network), 2 (bad input), 130 (interrupted) or 141
    (closed pipe); errors are printed as one line on stderr.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if args.command in ("train", "demo"):
        try:
            args.loop, args.method = resolve_loop(args), None
        except ValueError as exc:
            _say(f"songrec: error: {exc}")
            return 2
    handler = {"data": cmd_data, "train": cmd_train, "recommend": cmd_recommend,
               "evaluate": cmd_evaluate, "demo": cmd_demo}[args.command]
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except OfflineError as exc:
        _say(f"songrec: offline: {exc}")
        return 1
    except (SongrecError, ValueError, TypeError, KeyError) as exc:
        _say(f"songrec: error: {exc}")
        return 2
    except (OverflowError, RecursionError) as exc:  # a value no check above caught
        _say(f"songrec: error: a value is out of range ({type(exc).__name__}: {exc})")
        return 2
    except MemoryError:
        _say("songrec: error: out of memory; lower the sizes (--dim, --negatives, --window, --batch-size)")
        return 1
    except (FileNotFoundError, FileExistsError, PermissionError, OSError) as exc:
        _say(f"songrec: error: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("songrec: interrupted")
        return 130


def _closed_pipe() -> int:
    """The reader went away (``songrec ... | head``): stop quietly, as ``cat`` would.

    stdout is pointed at /dev/null so that Python's final flush cannot complain again;
    the status is the one of a process ended by SIGPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (e.g. captured by pytest)
    return 128 + getattr(signal, "SIGPIPE", 13)


if __name__ == "__main__":
    raise SystemExit(main())
