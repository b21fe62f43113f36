"""Where a notebook's time goes: each code cell's run time, read from the execution
timestamps nbclient records in executed notebooks (``tools/run_notebooks.py --out DIR``).

    python -m bench.cell_times DIR [--top 5]
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import nbformat


def cell_seconds(path: Path) -> list[tuple[int, float, str]]:
    """(cell index, seconds, first line) of each executed code cell of notebook ``path``."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            out.append((i, seconds, (cell.source.strip().splitlines() or [""])[0][:70]))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--top", type=int, default=4)
    args = ap.parse_args(argv)
    for path in sorted(args.folder.glob("*.ipynb")):
        cells = cell_seconds(path)
        total = sum(s for _, s, _ in cells)
        print(f"{path.name}: {total:.0f} s in {len(cells)} code cells")
        for i, s, line in sorted(cells, key=lambda c: -c[1])[:args.top]:
            print(f"  cell {i:>3}  {s:7.1f} s  {line}")


if __name__ == "__main__":
    main()
