"""Execute the six source notebooks and write executed copies and HTML under build/.

Used by `make run` (default profile: the real assignment) and usable with
SONGREC_PROFILE=ci for a quick pass. Stops at the first notebook that fails and names it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "song2vec"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build", help="output folder (default: build)")
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("SONGREC_CELL_TIMEOUT", "1800")),
                        help="seconds allowed per cell")
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: all in notebooks/song2vec)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    paths = [Path(p) for p in args.notebooks] or sorted(SOURCE.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks found in {SOURCE}", file=sys.stderr)
        return 1
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    profile = os.environ.get("SONGREC_PROFILE", "default")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        print(f"executing {path.name} (profile {profile}) ...", flush=True)
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            nbformat.write(nb, out / path.name)
            print(f"FAILED: {path.name}: {str(exc).splitlines()[-1] if str(exc) else exc}\n"
                  f"  the partly executed notebook is in {out / path.name}", file=sys.stderr)
            return 1
        nbformat.write(nb, out / path.name)
        html, _ = exporter.from_notebook_node(nb)
        (out / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
        print(f"  done in {time.perf_counter() - started:.1f} s -> {out / path.name}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
