"""Execute the six source notebooks and write executed copies and HTML under build/.

Used by `make run` (default profile: the real assignment) and usable with
SONGREC_PROFILE=ci for a quick pass. Stops at the first notebook that fails and names it.

Parts 5 and 6 start from the course's reference runs. Where `make release` has published
them (release/song2vec/reference/, issue 19) and no SONGREC_REFERENCE_RUNS is set, the
notebooks take them from there, every file checked against the manifest's sha256, instead
of retraining them (minutes); ``--reference-runs retrain`` trains them here instead.

With no Cornell data (none found, and `songrec demo` could not download it) and no
SONGREC_PROFILE chosen, the notebooks run in the `synthetic` profile instead of failing,
and each executed copy opens with a note saying so.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _repo_importable() -> None:
    # Run as a script, this file's folder is on sys.path and the repository root is not.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def source_notebooks() -> list[Path]:
    """The course's source notebooks (``NN_*.ipynb``), sorted."""
    _repo_importable()
    from tools.instructor.paths import course_paths

    return sorted(course_paths(ROOT).source.glob("[0-9][0-9]_*.ipynb"))


def synthetic_note(no_data: bool) -> str:
    """The markdown cell that opens every notebook executed in the synthetic profile."""
    why = ("No Cornell playlist data was found (nor downloaded), so `make run` executed this "
           "notebook" if no_data else "SONGREC_PROFILE=synthetic: this notebook ran")
    return (f"**Synthetic data, not the real playlists.** {why} in the `synthetic` profile: the "
            "assignment's settings on a small synthetic corpus of made-up songs in six genres. "
            "The code is the real code; the numbers and recommendations say nothing about real "
            "playlists. Run `make data` (or set `SONGREC_DATA_DIR`) and `make run` again for "
            "the real assignment.")


def choose_profile(environ=os.environ) -> tuple[str, str | None]:
    """(profile, reason): the chosen SONGREC_PROFILE, else default, or synthetic without data."""
    _repo_importable()
    from helpers import environment

    if environ.get(environment.PROFILE):
        return environ[environment.PROFILE], None
    if environ.get(environment.COURSE_PICKLE):
        return "default", None
    _repo_importable()
    from helpers.data import find_data_dir

    if find_data_dir(None) is None:
        return "synthetic", ("no Cornell data found (set SONGREC_DATA_DIR or run `make data`): "
                             "running the notebooks in the synthetic profile")
    return "default", None


def reference_runs_spec(choice: str, environ=os.environ, release: Path | None = None) -> tuple[str | None, str]:
    """(SONGREC_REFERENCE_RUNS value or None to leave it unset, the line that says where the
    reference runs come from) for ``--reference-runs`` ``choice``: ``auto``, ``retrain``
    or a spec ``URL#sha256=HEX``. ``auto`` keeps a spec the environment already sets, else
    takes the manifest in ``release`` (default: the course's release folder; hashed now: a
    check that each run file is the one the release wrote, not that the release was honest),
    else retrains. Raises ValueError naming a ``choice`` that is none of these."""
    _repo_importable()
    from helpers import environment, published_runs
    from tools.instructor.paths import course_paths
    from tools.instructor.reference_release import FOLDER

    if choice == "retrain":
        return None, "reference runs: trained here where parts 5 and 6 need them (--reference-runs retrain)"
    if choice != "auto":
        published_runs.parse_spec(choice)  # ValueError naming the value
        return choice, f"reference runs: {choice.split('#')[0]} (--reference-runs)"
    if environ.get(environment.REFERENCE_RUNS, "").strip():
        return environ[environment.REFERENCE_RUNS], f"reference runs: {environment.REFERENCE_RUNS} from the environment"
    folder = (release or course_paths(ROOT).release) / FOLDER
    if (folder / published_runs.MANIFEST).is_file():
        return published_runs.local_spec(folder), (f"reference runs: the ones `make release` published in {folder} "
                                                   "where their settings match (--reference-runs retrain to train "
                                                   "them here)")
    return None, "reference runs: trained here where parts 5 and 6 need them (no release/song2vec/reference yet)"


def local_kernel_manager(socket_dir: str):
    """A kernel manager class whose kernels talk over Unix sockets in ``socket_dir``.

    Over TCP, ipykernel warns on the terminal that the kernel's traffic is unencrypted; a
    newcomer running `make run` reads that as a security problem. The kernels here are
    local children of this process, so IPC sockets in a private folder are the right
    transport (and reachable only by this user), and the warning has nothing to say.
    """
    from jupyter_client.manager import AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(socket_dir, "kernel"))
            super().__init__(**kwargs)

    return LocalKernelManager


def main(argv=None) -> int:
    """Execute the notebooks; returns 1 at the first one that fails (the partly executed copy is kept)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build", help="output folder (default: build)")
    parser.add_argument("--timeout", type=int,
                        help="seconds per cell (default: SONGREC_CELL_TIMEOUT, see tools/instructor/settings.py)")
    parser.add_argument("--reference-runs", default="auto", metavar="auto|retrain|URL#sha256=HEX",
                        help="where parts 5 and 6 get the course's reference runs (default: auto, see above)")
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: all of the course's source notebooks)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _repo_importable()
    from tools.instructor.settings import cell_timeout

    timeout = args.timeout or cell_timeout()

    from nbconvert import HTMLExporter

    paths = [Path(p) for p in args.notebooks] or source_notebooks()
    if not paths:
        print("run_notebooks: error: no notebooks given or found in the course's source folder", file=sys.stderr)
        return 1
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    profile, reason = choose_profile()
    if reason:
        print(f"NOTICE: {reason}", flush=True)
    from helpers import environment  # choose_profile made the repository importable

    os.environ[environment.PROFILE] = profile  # inherited by the kernels
    try:
        spec, where = reference_runs_spec(args.reference_runs)
    except ValueError as exc:
        print(f"run_notebooks: error: --reference-runs: {exc}", file=sys.stderr)
        return 2
    if spec is None:
        os.environ.pop(environment.REFERENCE_RUNS, None)
    else:
        os.environ[environment.REFERENCE_RUNS] = spec
    print(where, flush=True)
    with tempfile.TemporaryDirectory(prefix="songrec-kernels-") as socket_dir:
        return _execute_all(paths, out, profile, reason, timeout, exporter,
                            local_kernel_manager(socket_dir))


def _execute_all(paths, out, profile, reason, timeout, exporter, kernel_manager_class) -> int:
    """Execute each notebook in turn; 1 at the first failure (its partial copy is kept)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if profile == "synthetic":
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(synthetic_note(reason is not None)))
        started = time.perf_counter()
        print(f"executing {path.name} (profile {profile}) ...", flush=True)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                kernel_manager_class=kernel_manager_class,
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            nbformat.write(nb, out / path.name)
            last = str(exc).splitlines()[-1] if str(exc) else repr(exc)
            # IPython colours the exception's name; a log file or CI page shows the codes as text.
            print(f"FAILED: {path.name}: {ANSI_COLOUR.sub('', last)}\n"
                  f"  the partly executed notebook is in {out / path.name}", file=sys.stderr)
            return 1
        nbformat.write(nb, out / path.name)
        html, _ = exporter.from_notebook_node(nb)
        (out / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
        print(f"  done in {time.perf_counter() - started:.1f} s -> {out / path.name}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
