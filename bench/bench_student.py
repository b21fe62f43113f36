"""Target 5: the student path is untouched and stays fast.

* checks that ``TrainConfig()`` still holds the seed's settings (the notebooks rely on
  them; the fast path has its own ``fast_sgns.REFERENCE_SETTINGS``);
* times the six notebooks under the CI profile (``SONGREC_PROFILE=ci
  tools/run_notebooks.py``, executed copies under bench/results/notebooks_ci); the budget
  is 3 minutes. ``--skip-notebooks`` leaves this out.

Writes bench/results/student.csv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from common import REPO, RESULTS, say, write_csv

SEED_SETTINGS = {"window": 10, "negatives": 5, "noise": "uniform",
                 "max_pairs_per_playlist": 10_000, "dim": 32, "shared": True,
                 "learning_rate": 1e-3, "batch_size": 2048, "epochs": 20}
BUDGET_S = 180.0


def main(notebooks: bool = True) -> dict:
    from helpers.training import TrainConfig

    say("== student path (target 5) ==")
    cfg = TrainConfig().to_dict()
    changed = {k: (cfg[k], v) for k, v in SEED_SETTINGS.items() if cfg[k] != v}
    say("TrainConfig defaults = seed settings" if not changed
        else f"TrainConfig defaults differ from the seed's: {changed}")
    row = {"trainconfig_is_seed": not changed, "notebooks_ci_seconds": float("nan"),
           "notebooks_ok": None, "budget_s": BUDGET_S}
    if notebooks:
        env = {**os.environ, "SONGREC_PROFILE": "ci", "TF_CPP_MIN_LOG_LEVEL": "2"}
        out = RESULTS / "notebooks_ci"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(REPO / "tools" / "run_notebooks.py"),
                               "--out", str(out.relative_to(REPO))], cwd=REPO, env=env,
                              capture_output=True, text=True)
        row["notebooks_ci_seconds"] = time.perf_counter() - start
        row["notebooks_ok"] = proc.returncode == 0
        if proc.returncode:
            say(proc.stdout[-2000:], proc.stderr[-2000:])
        say(f"six notebooks, CI profile: {row['notebooks_ci_seconds']:.0f} s "
            f"({'ok' if row['notebooks_ok'] else 'FAILED'}; budget {BUDGET_S:.0f} s)")
    write_csv("student", [row])
    return {"row": row}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-notebooks", action="store_true")
    main(not ap.parse_args().skip_notebooks)
