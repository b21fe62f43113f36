"""Refresh the outputs that nbval compares (cells starting with `# NBVAL_CHECK_OUTPUT`).

Executes each notebook in the CI profile on the real data, keeps the outputs of the
pinned cells only (execution_count 1, as nbval requires) and clears every other output,
so the committed notebooks stay small and free of noisy output.

    SONGREC_DATA_DIR=../shared/data/cornell .venv/bin/python tools/pin_outputs.py [NB ...]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "# NBVAL_CHECK_OUTPUT"


def main(argv=None) -> int:
    """Refresh the pinned outputs of the notebooks in ``argv`` (default: all six); 2 without the data."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if str(ROOT) not in sys.path:  # run as a script, only tools/ is on sys.path
        sys.path.insert(0, str(ROOT))
    from helpers import environment

    if not os.environ.get(environment.DATA_DIR):
        print("pin_outputs: error: SONGREC_DATA_DIR must name the Cornell data (pinned outputs are computed "
              "on the real data), got nothing", file=sys.stderr)
        return 2
    os.environ[environment.PROFILE] = "ci"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import nbformat
    from nbclient import NotebookClient

    from tools.run_notebooks import source_notebooks

    paths = [Path(p) for p in argv] or source_notebooks()
    for path in paths:
        original = nbformat.read(path, as_version=4)
        executed = nbformat.read(path, as_version=4)
        NotebookClient(executed, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        pinned = 0
        for cell, done in zip(original.cells, executed.cells):
            if cell.cell_type != "code":
                continue
            if cell.source.lstrip().startswith(MARK):
                cell.outputs = [o for o in done.outputs
                                if o.get("output_type") != "stream" or o.get("name") == "stdout"]
                cell.execution_count = 1
                pinned += 1
            else:
                cell.outputs = []
                cell.execution_count = None
        nbformat.write(original, path)
        print(f"{path.name}: {pinned} pinned cell(s) refreshed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
