"""Run every benchmark (``make bench``) and regenerate bench/RESULTS.md.

Order: pair generation (target 1), training throughput (2), quality on the original
assignment's 200 playlists and on the full data with the fast loop's timings (3, 4), the
full-data fast-loop training on every playlist (4), the next-song model against the
session anchors on both settings and two split seeds, with its time to quality vs gensim
(issue 14), the student path (5), autograding a class sequentially and with ``--jobs 2``
(6). Every ratio is measured in this run, on this machine. Each script also writes its CSV
under bench/results/.

``--quick``: training throughput over 3 epochs instead of 20, no full-data quality (next
song: 200 playlists only, no time to quality), no notebooks, no single-student profile
timings (a smoke run of a few minutes). ``--waits``: only issue 19's waits (the student's:
six notebooks in the default profile and each on a simulated Colab; the instructor's:
per submission and a class of 30), each against ``bench.common.WAIT_BASELINE`` or the
retraining path in the same run; their rows replace rows 7 and 19 of bench/RESULTS.md.
``--next-song``: only the next-song study (issues 14 and 23: both settings, both split seeds,
the blend against every anchor, paired; the time to quality); its tables replace the old ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time

from bench import (
    bench_autograde,
    bench_colab_wait,
    bench_full,
    bench_instructor_wait,
    bench_next_song,
    bench_pairs,
    bench_quality,
    bench_student,
    bench_training,
)
from bench.common import BENCH_DIR, RESULTS, say

TARGETS = {"pairs": 300.0, "training": 10.0, "full_s": 600.0, "notebooks_s": 180.0}


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def _f(x, fmt="{:.4f}"):
    try:
        return fmt.format(x)
    except (TypeError, ValueError):
        return str(x)


def wait_rows(res: dict) -> list[str]:
    """Issue 19's rows: the student's wait (six notebooks; each on a simulated Colab) and the
    instructor's (row 7), each against the current path, measured in the same run."""
    lines = []
    if "student_wait" in res:
        lines.append(bench_student.render_wait_row(res["student_wait"]))
    if "colab_wait" in res:
        lines += bench_colab_wait.render_rows(res["colab_wait"])
    if "instructor_wait" in res:
        lines.append(bench_instructor_wait.render_row(res["instructor_wait"]))
    return lines


def waits_only(reuse: bool = False) -> dict:
    """``--waits``: issue 19's three measurements alone; their rows replace the old ones in
    bench/RESULTS.md (rows 7 and 19), with a line saying when and under what load. Each
    result is also saved as bench/results/<name>.json; ``reuse`` takes a saved one instead of
    measuring it again (each comparison is still within one measurement)."""
    start = time.perf_counter()
    res, loads = {}, []
    for name, run in (("student_wait", bench_student.default_wait), ("colab_wait", bench_colab_wait.main),
                      ("instructor_wait", bench_instructor_wait.main)):
        saved = RESULTS / f"{name}.json"
        if reuse and saved.exists():
            res[name] = json.loads(saved.read_text(encoding="utf-8"))
            say(f"{name}: reusing {saved} ({dt.datetime.fromtimestamp(saved.stat().st_mtime):%Y-%m-%d %H:%M})")
            continue
        loads.append(os.getloadavg()[0])
        say(f"(1-minute load average {loads[-1]:.1f})")
        res[name] = run()
        saved.write_text(json.dumps(res[name], indent=1), encoding="utf-8")
    rows = wait_rows(res)
    path = BENCH_DIR / "RESULTS.md"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
             if not ln.startswith(("| 7 |", "| 19 |", WAITS_NOTE))]
    header = next(i for i, ln in enumerate(lines) if ln.startswith("| # | what |"))
    last = next(i for i, ln in enumerate(lines) if i > header and ln.startswith("| ") and lines[i + 1:i + 2] == [""])
    note = (f"{WAITS_NOTE} `make bench BENCH_ARGS=--waits` ({dt.date.today().isoformat()}, {os.cpu_count()} CPU "
            f"cores, {(time.perf_counter() - start) / 60:.0f} min; 1-minute load average before each: "
            f"{', '.join(f'{x:.1f}' for x in loads)}).")
    lines[last + 1:last + 1] = rows + ["", note]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    say("\n".join(["", *rows, "", note]))
    return res


WAITS_NOTE = "Rows 7 and 19 (issue 19, the waits) are from"
NEXT_NOTE = "The next-song tables below (issues 14 and 23) are from"


def next_song_only() -> dict:
    """``--next-song``: the next-song study alone (both settings, both split seeds, the time
    to quality); its tables replace the old ones in bench/RESULTS.md, after a line saying
    when and under what load."""
    start = time.perf_counter()
    load = os.getloadavg()[0]
    res = bench_next_song.main(("original200", "full"), ttq=True)
    path = BENCH_DIR / "RESULTS.md"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith(NEXT_NOTE)]
    first = next(i for i, ln in enumerate(lines) if ln.startswith("Next song, "))
    last = next(i for i, ln in enumerate(lines) if ln.startswith("Time to quality (full"))
    note = (f"{NEXT_NOTE} `make bench BENCH_ARGS=--next-song` ({dt.date.today().isoformat()}, {os.cpu_count()} CPU "
            f"cores, {(time.perf_counter() - start) / 60:.0f} min; 1-minute load average before it: {load:.1f}).")
    new = [note, *bench_next_song.render(res)[1:]]
    lines[first:last + 1] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    say("\n".join(new))
    return res


def render(res: dict, seconds: float, quick: bool, loads=()) -> str:
    from helpers.sgns import PRESETS

    lines = ["<!-- bench:start -->",
             f"Benchmarks from `make bench` ({dt.date.today().isoformat()}, "
             f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
             f"whole run {seconds / 60:.0f} min{', --quick' if quick else ''}; 1-minute load "
             f"average before each script: {', '.join(f'{x:.1f}' for x in loads)}). Every "
             "ratio compares two measurements of the same run; other work on the machine "
             "slows the multi-threaded fast paths more than the single-threaded original loop, so "
             "ratios are lower on a busy machine. Peak memory is the peak RSS of the child "
             "process that ran the measurement (interpreter and libraries included).", "",
             "| # | what | baseline | fast path | result | target |",
             "|---|---|---|---|---|---|"]
    if "pairs" in res:
        rows = {r["method"]: r for r in res["pairs"]["rows"]}
        original = rows["original loop (bench/original_pipeline.py)"]
        fast = rows["fast_skipgram_rows"]
        one = rows.get("fast_skipgram_rows (1 thread)")
        ok = fast["speedup_vs_original"] >= TARGETS["pairs"] and fast["same_rows"]
        lines.append(
            f"| 1 | pair generation, 200 playlists ({fast['rows']:,} rows, positives "
            f"{fast['positive_share']:.3f} vs {original['positive_share']:.3f}) | original loop "
            f"{original['seconds']:.1f} s, {original['peak_rss_mb']:.0f} MiB | "
            f"{fast['seconds'] * 1000:.0f} ms (median of {bench_pairs.REPEATS}), "
            f"{fast['peak_rss_mb']:.0f} MiB, 2 threads"
            + (f" (1 thread: {one['seconds'] * 1000:.0f} ms, x{one['speedup_vs_original']:,.0f})"
               if one else "")
            + f" | x{fast['speedup_vs_original']:,.0f} (x{fast['speedup_vs_original_best']:,.0f} best "
            f"run) | >= x300: {_mark(ok)} |")
    if "training" in res:
        base, fast = res["training"]["rows"]
        base_hr = (base["hr10_sgns cosine"], base["hr10_sgns dot"])
        fast_hr = fast["hr10_sgns target·context"]
        ok = fast["speedup_vs_original"] >= TARGETS["training"] and fast_hr >= max(base_hr)
        lines.append(
            f"| 2 | training, dim 32, {base['epochs']} epochs, 180 playlists | keras loop "
            f"`model.fit`: {base['pair_updates_per_s']:,.0f} pair updates/s, HR@10 "
            f"{base_hr[0]:.4f} (cosine) / {base_hr[1]:.4f} (dot), "
            f"{base['peak_rss_mb']:.0f} MiB | {fast['pair_updates_per_s']:,.0f} pair "
            f"updates/s, HR@10 {fast_hr:.4f}, "
            f"{fast['peak_rss_mb']:.0f} MiB | x{fast['speedup_vs_original']:.1f} | >= x10 "
            f"and HR@10 not lower: {_mark(ok)} |")
    for name in ("original200", "full"):
        if name not in res.get("quality", {}):
            continue
        s = res["quality"][name]["summary"]
        ok = s["sgns_hr10"] > s["best_cooc_hr10"] and s["sgns_hr10"] > s["gensim_best_hr10"]
        label = "200 playlists" if name == "original200" else "full yes_complete"
        lines.append(
            f"| 3 | HR@10, {label} ({s['cases']:,} held-out cases) | best co-occurrence "
            f"({s['best_cooc']}) {s['best_cooc_hr10']:.4f}; gensim skip-gram (best "
            f"scoring) {s['gensim_best_hr10']:.4f} | fast-loop SGNS "
            f"{s['sgns_hr10']:.4f} | {'beats both' if ok else 'does not beat both'} | "
            f"beat both: {_mark(ok)} |")
    if "full" in res:
        r = res["full"]["row"]
        lines.append(
            f"| 4 | fast-loop training on all {r['playlists']:,} playlists "
            f"({r['songs']:,} songs, V={r['vocab']:,}) | keras loop: cannot run | "
            f"{r['wall_seconds']:.0f} s wall, {r['pair_updates_per_s']:,.0f} pair "
            f"updates/s, {r['peak_rss_mb']:.0f} MiB | {r['epochs']} epochs | <= 600 s: "
            f"{_mark(r['within_budget'])} |")
    if "student" in res:
        r = res["student"]["row"]
        t = r["notebooks_ci_seconds"]
        ok = None if t != t else (t <= TARGETS["notebooks_s"] and bool(r["notebooks_ok"]))
        lines.append(
            f"| 5 | student path | default profile = `PRESETS['assignment']`: "
            f"{'yes' if r['profile_is_assignment'] else 'NO'} | six notebooks, CI profile: "
            f"{_f(t, '{:.0f}')} s | "
            f"{'ok' if r['notebooks_ok'] else 'not run' if ok is None else 'FAILED'}"
            f" | <= 180 s: {_mark(ok)} |")
    lines += wait_rows(res)
    if "autograde" in res:
        lines.append(bench_autograde.render_row(res["autograde"]))
    for name, q in res.get("quality", {}).items():
        label = "first 200 playlists" if name == "original200" else "full yes_complete"
        lines += ["", f"HR@10 on held-out playlists, {label} ({q['summary']['cases']:,} "
                  f"next-song cases, V={q['summary']['vocab']:,}):", "",
                  "| method | HR@10 | MRR@10 | coverage |", "|---|---|---|---|"]
        for _, row in q["table"].iterrows():
            lines.append(f"| {row['method']} | {row['HR@10']:.4f} | {row['MRR@10']:.4f} | "
                         f"{row['coverage']:.4f} |")
        ref = q["fast"]
        lines.append("")
        lines.append(f"Fast-loop SGNS training here: {ref['train_seconds']:.0f} s, "
                     f"{ref['pair_updates_per_s']:,.0f} pair updates/s, peak RSS "
                     f"{ref['peak_rss_mb']:.0f} MiB"
                     + (f"; gensim: {q['gensim']['train_seconds']:.0f} s, peak RSS "
                        f"{q['gensim']['peak_rss_mb']:.0f} MiB." if q.get("gensim") else "."))
    if "next_song" in res:
        lines += bench_next_song.render(res["next_song"])
    lines += ["", "`sgns next song` ranks by target . context plus `power * log count` (the "
              "model's estimate of log P(next | query), see `helpers.noise.next_song_tables`); "
              "`target·context` is the plain logit; `cosine` compares target vectors. gensim runs "
              "with the same window, shrinking window, negatives, noise exponent, subsampling, "
              "dimension and epochs, and its own SGD learning rate.", "",
              "Fast-loop settings (`helpers.sgns.PRESETS['fast']`): "
              + ", ".join(f"`{k}={v!r}`" for k, v in PRESETS["fast"].to_dict().items()) + ".",
              "<!-- bench:end -->", ""]
    return "\n".join(lines)


def main(quick: bool = False) -> dict:
    start = time.perf_counter()
    res: dict = {}
    loads = []

    def load():
        loads.append(os.getloadavg()[0])
        say(f"(1-minute load average {loads[-1]:.1f})")

    load()
    res["pairs"] = bench_pairs.main()
    load()
    res["training"] = bench_training.main(3 if quick else bench_training.ORIGINAL_EPOCHS)
    load()
    res["quality"] = bench_quality.main(("original200",) if quick else ("original200", "full"))
    if not quick:
        load()
        res["full"] = bench_full.main()
    load()
    res["next_song"] = bench_next_song.main(("original200",) if quick else ("original200", "full"), ttq=not quick)
    load()
    res["student"] = bench_student.main(notebooks=not quick)
    if not quick:
        load()
        res["student_wait"] = bench_student.default_wait()
        load()
        res["colab_wait"] = bench_colab_wait.main()
    load()
    res["autograde"] = bench_autograde.main(() if quick else ("ci", "default"))
    load()
    res["instructor_wait"] = bench_instructor_wait.main(class_size=4 if quick else bench_instructor_wait.CLASS_SIZE)
    seconds = time.perf_counter() - start
    text = render(res, seconds, quick, loads)
    # Prose written by hand below the generated table (bench:end) survives a rerun.
    old = (BENCH_DIR / "RESULTS.md").read_text(encoding="utf-8") if (BENCH_DIR / "RESULTS.md").exists() else ""
    if "<!-- bench:end -->" in old:
        text += old.split("<!-- bench:end -->", 1)[1].lstrip("\n")
    (BENCH_DIR / "RESULTS.md").write_text(text, encoding="utf-8")
    say(f"\nwrote {BENCH_DIR / 'RESULTS.md'} after {seconds / 60:.1f} min\n")
    say(text)
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--waits", action="store_true", help="only issue 19's waits (student and instructor); "
                                                         "replaces rows 7 and 19 of bench/RESULTS.md")
    ap.add_argument("--next-song", action="store_true", help="only the next-song study (issues 14 and 23); "
                                                             "replaces its tables in bench/RESULTS.md")
    ap.add_argument("--reuse", action="store_true", help="with --waits: take the waits saved in bench/results/ "
                                                         "instead of measuring them again")
    args = ap.parse_args()
    if args.waits:
        waits_only(args.reuse)
    elif args.next_song:
        next_song_only()
    else:
        main(args.quick)
