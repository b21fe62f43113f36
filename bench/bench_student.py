"""Target 5: the student path is untouched and stays fast.

* reports the settings the notebooks' reference run trains with (``PRESETS["assignment"]``,
  the original assignment's; ``tests/helpers/test_sgns.py`` checks them value by value);
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

from bench.common import REPO, RESULTS, say, write_csv
from helpers import environment

BUDGET_S = 180.0


def main(notebooks: bool = True) -> dict:
    from helpers.course import PROFILES
    from helpers.sgns import PRESETS

    say("== student path (target 5) ==")
    same = PROFILES["default"].sgns == PRESETS["assignment"]
    say("the default profile trains with PRESETS['assignment']" if same
        else f"the default profile trains with {PROFILES['default'].sgns}, not PRESETS['assignment']")
    row = {"profile_is_assignment": same, "notebooks_ci_seconds": float("nan"),
           "notebooks_ok": None, "budget_s": BUDGET_S}
    if notebooks:
        env = {**os.environ, environment.PROFILE: "ci", "TF_CPP_MIN_LOG_LEVEL": "2"}
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
