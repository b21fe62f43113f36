"""Instructor tooling for the song2vec nbgrader course.

    python tools/course.py check       # metadata + convention checks, points per notebook
    python tools/course.py release     # check, generate_assignment, Colab setup + badge, zip
    python tools/course.py publish     # commit the release to the branch the badges open
    python tools/course.py autograde   # every submitted/<student>/song2vec/, grades.csv
    python tools/course.py feedback    # HTML feedback under feedback/
    python tools/course.py export      # grades.csv from the gradebook (after manual grading)

Every step is also a function taking ``course_root`` (the folder holding
``nbgrader_config.py``), so tests can drive a throw-away course. nbgrader itself always
runs as ``sys.executable -m nbgrader`` with ``course_root`` as its working directory.
The conventions enforced by ``check`` are documented in docs/GRADING.md.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence, TextIO

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
try:  # the package may not be installed when the tool runs from a checkout
    from helpers.errors import SongrecError
except ImportError:  # pragma: no cover - depends on how the tool is started
    sys.path.insert(0, str(REPO_ROOT))
    from helpers.errors import SongrecError

ASSIGNMENT = "song2vec"
SETUP_TAG = "setup"
BADGE_TAG = "colab-badge"
PLACEHOLDER_REPO = "YOUR-ORG/songrec"
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
GRADES_CSV = "grades.csv"

# Text that only ever belongs to the instructor's version of a notebook.
SECRET_DELIMITERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)
NOTEBOOK_NAME_RE = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
GRADE_ID_RE = re.compile(r"^\d{2}_[a-z0-9]+(?:_[a-z0-9]+)*$")
# A test cell belongs to solution <id> when it is named <id>_test, <id>_test2 (any
# number) or <id>_test_<suffix>.
TEST_SUFFIX_RE = re.compile(r"_test\d*(?:_[a-z0-9]+)*$")
OWNER_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# The branch students open the notebooks from (see publish_release); its files sit under
# song2vec/, so a Colab link is .../blob/<branch>/song2vec/<notebook>.
DEFAULT_RELEASE_BRANCH = "student"
BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
# The two lines of every setup cell that `release` fills in (see bake_setup_source).
SETUP_VALUE_RE = {
    name: re.compile(rf"""^({name} = )("[^"\n]*"|'[^'\n]*')""", re.M)
    for name in ("PIP_SPEC", "DATA_URL")
}
NOT_FOR_COLAB_NOTE = (
    "NOTE: no Colab install spec was given (SONGREC_PIP_SPEC, or SONGREC_COURSE_REPO with "
    "SONGREC_RELEASE_REF): this release installs nothing on Colab, and its setup cell tells "
    "students there that this copy was not prepared for Colab. That is fine where the "
    "package is preinstalled (JupyterHub, lab machines)."
)


class CourseToolError(SongrecError):
    """A course step cannot go on; the message says what is wrong and what to do."""


# --------------------------------------------------------------------------- paths


def course_paths(course_root: Path) -> dict[str, Path]:
    """Folders of the course layout fixed in nbgrader_config.py."""
    root = Path(course_root).resolve()
    return {
        "root": root,
        "source": root / "notebooks" / ASSIGNMENT,
        "release": root / "release" / ASSIGNMENT,
        "release_zip": root / "release" / f"{ASSIGNMENT}.zip",
        "submitted": root / "submitted",
        "autograded": root / "autograded",
        "feedback": root / "feedback",
        "grades_csv": root / GRADES_CSV,
    }


def _require_config(course_root: Path) -> Path:
    cfg = Path(course_root) / "nbgrader_config.py"
    if not cfg.is_file():
        raise CourseToolError(
            f"course root {str(course_root)!r} has no nbgrader_config.py; expected the "
            "repository root (or a copy of its course layout)"
        )
    return cfg


def load_course_config(course_root: Path):
    """The traitlets Config defined by ``course_root/nbgrader_config.py``."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = _require_config(course_root)
    return PyFileConfigLoader(cfg.name, path=str(cfg.parent)).load_config()


def db_url(course_root: Path) -> str:
    """The gradebook URL nbgrader uses for this course (absolute sqlite path)."""
    config = load_course_config(course_root)
    url = config.CourseDirectory.get("db_url", "")
    root = Path(course_root).resolve()
    if not url:
        return "sqlite:///" + str(root / "gradebook.db")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not os.path.isabs(url[len(prefix):]):
        # nbgrader resolves a relative sqlite path against its cwd, the course root.
        return prefix + str(root / url[len(prefix):])
    return url


def source_notebooks(course_root: Path) -> list[Path]:
    """Source notebooks of the assignment, sorted by name."""
    src = course_paths(course_root)["source"]
    if not src.is_dir():
        return []
    return sorted(p for p in src.glob("*.ipynb") if p.is_file())


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Problem:
    """One convention or metadata violation found by :func:`check_notebook`."""

    notebook: str
    cell: str | None
    message: str

    def __str__(self) -> str:
        where = self.notebook if self.cell is None else f"{self.notebook} [{self.cell}]"
        return f"{where}: {self.message}"


@dataclass
class NotebookPoints:
    """Points of one notebook: autograded tests, manual answers, task cells."""

    auto: float = 0.0
    manual: float = 0.0
    task: float = 0.0

    @property
    def total(self) -> float:
        return self.auto + self.manual + self.task


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    points: dict[str, NotebookPoints] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def cell_kind(cell) -> str:
    """Classify a cell by its nbgrader role.

    Returns one of ``"solution"`` (code to write), ``"test"`` (autograder tests),
    ``"answer"`` (manually graded answer, grade+solution), ``"task"``, ``"readonly"``
    (locked, ungraded) or ``"plain"`` (untracked by nbgrader).
    """
    meta = _nbg(cell)
    if meta.get("task"):
        return "task"
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    if grade and solution:
        return "answer"
    if solution:
        return "solution"
    if grade:
        return "test"
    if meta.get("locked"):
        return "readonly"
    return "plain"


def _points(cell) -> float | None:
    try:
        return float(_nbg(cell).get("points"))
    except (TypeError, ValueError):
        return None


def owning_solution(test_id: str) -> str | None:
    """``02_pairs_test`` / ``02_pairs_test2`` / ``02_pairs_test_hidden`` -> ``02_pairs``.

    None if ``test_id`` does not follow the test-cell naming convention.
    """
    m = TEST_SUFFIX_RE.search(test_id)
    return test_id[: m.start()] if m else None


def _ends_with_bare_expression(source: str) -> bool:
    # nbgrader turns a numeric last-expression value into partial credit and a
    # non-numeric one into full credit, so a test cell must end with a statement.
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics etc.: leave it to the author
        return False
    if not tree.body:
        return False
    last = tree.body[-1]
    return isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call)


def _misplaced_delimiters(cell, kind: str) -> list[str]:
    """Instructor-only delimiters in a cell whose role does not allow them.

    Anything not allowed here is either refused by nbgrader at release time or,
    worse, released or fed back to students verbatim.
    """
    messages = []
    source = cell.get("source", "")
    for delim in SECRET_DELIMITERS:
        if delim not in source:
            continue
        if "SOLUTION" in delim:
            allowed = kind == "solution" or (kind == "answer" and cell.cell_type == "code")
        elif "HIDDEN TESTS" in delim:
            allowed = kind == "test"
        else:  # mark scheme
            allowed = kind == "answer" and cell.cell_type == "markdown"
        if allowed:
            continue
        hint = {
            "task": " (task cells are restored into autograded notebooks and feedback, so "
                    "a mark scheme there reaches students; put it in the markdown answer "
                    "cell instead)",
            "answer": " (a markdown answer cell is replaced as a whole; a BEGIN SOLUTION "
                      "region would keep the text around it)",
        }.get(kind, "")
        messages.append(f"contains {delim!r}, which is not allowed in a {kind} "
                        f"{cell.cell_type} cell{hint}")
    return messages


def check_notebook(nb, name: str) -> tuple[list[Problem], NotebookPoints]:
    """Check one source notebook against nbgrader's schema and the course conventions.

    ``nb`` is an nbformat v4 NotebookNode (the instructor version); ``name`` is its
    file name, e.g. ``"02_skipgrams.ipynb"``. Returns the problems found and the
    notebook's points.
    """
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.nbgraderformat.common import SchemaMismatchError, ValidationError

    problems: list[Problem] = []
    points = NotebookPoints()

    def bad(cell_id: str | None, message: str) -> None:
        problems.append(Problem(name, cell_id, message))

    m = NOTEBOOK_NAME_RE.match(name)
    prefix = m.group(1) if m else None
    if m is None:
        bad(None, "file name must look like 'NN_name.ipynb' (two digits, lowercase "
                  "words joined by '_')")

    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        bad(None, f"not a valid nbformat v4 notebook: {exc.message}")

    language = nb.get("metadata", {}).get("kernelspec", {}).get("language", "python")
    if language != "python":
        bad(None, f"kernelspec language is {language!r}; expected 'python'")

    try:
        MetadataValidator().validate_nb(nb)
    except (ValidationError, SchemaMismatchError) as exc:
        bad(None, f"nbgrader MetadataValidator: {getattr(exc, 'message', exc)}")

    current_solution: str | None = None  # latest code solution cell id
    solution_tested = True
    setup_seen = False
    seen_ids: set[str] = set()

    def close_solution() -> None:
        if current_solution is not None and not solution_tested:
            bad(current_solution, "solution cell is not followed by a test cell "
                                  f"('{current_solution}_test') before the next "
                                  "solution cell or the end of the notebook")

    for index, cell in enumerate(nb.cells):
        kind = cell_kind(cell)
        meta = _nbg(cell)
        cid = meta.get("grade_id") if kind != "plain" else None
        label = cid or f"cell {index}"
        source = cell.get("source", "")
        tags = cell.get("metadata", {}).get("tags", [])

        if cell.cell_type == "code" and SETUP_TAG in tags:
            if kind in ("solution", "test", "answer"):
                bad(label, "the 'setup' cell must not be a solution or test cell")
            for name, regex in SETUP_VALUE_RE.items():
                if len(regex.findall(source)) != 1:
                    bad(label, f"the 'setup' cell must assign {name} = \"\" once, on a line of "
                               "its own (release writes the Colab install spec and data URL there)")
            setup_seen = True
        if kind in ("solution", "test", "answer") and not setup_seen:
            bad(label, "a code cell tagged 'setup' must come before the first "
                       "graded cell")
            setup_seen = True  # report once

        for message in _misplaced_delimiters(cell, kind):
            bad(label, message)

        if kind == "plain":
            continue

        if not cid:
            bad(label, "nbgrader cell has no grade_id")
            continue
        if cid in seen_ids:
            bad(cid, "duplicate grade_id")
        seen_ids.add(cid)
        if not GRADE_ID_RE.match(cid):
            bad(cid, "grade_id must look like 'NN_name' (two digits, lowercase words "
                     "joined by '_')")
        elif prefix is not None and not cid.startswith(prefix + "_"):
            bad(cid, f"grade_id must start with the notebook number '{prefix}_'")

        pts = _points(cell)
        if kind == "task":
            if not meta.get("locked"):
                bad(cid, "task cell must be locked (nbgrader 0.9.6 fails to autograde "
                         "every submission otherwise)")
            if pts is None or pts <= 0:
                bad(cid, f"task cell needs points > 0, got {meta.get('points')!r}")
            else:
                points.task += pts
        elif kind == "test":
            if cell.cell_type != "code":
                bad(cid, "an autograder test cell must be a code cell")
            if not meta.get("locked"):
                bad(cid, "test cell must be locked (read-only)")
            if pts is None or pts <= 0:
                bad(cid, f"test cell needs points > 0, got {meta.get('points')!r}")
            else:
                points.auto += pts
            owner = owning_solution(cid)
            if owner is None:
                bad(cid, "test cell id must be '<solution id>_test', "
                         "'<solution id>_test<N>' or '<solution id>_test_<suffix>'")
            elif current_solution is None:
                bad(cid, "test cell comes before any solution cell")
            elif owner != current_solution:
                bad(cid, f"test cell follows solution '{current_solution}' but is named "
                         f"for '{owner}'; name it '{current_solution}_test...'")
            else:
                solution_tested = True
            if cell.cell_type == "code" and _ends_with_bare_expression(source):
                bad(cid, "test cell ends with a bare expression; nbgrader would read its "
                         "value as a score. End with an assert or a call")
        elif kind == "solution":
            close_solution()
            current_solution, solution_tested = cid, False
            if owning_solution(cid) is not None:
                bad(cid, "solution cell id must not end in '_test'")
            if meta.get("locked"):
                bad(cid, "solution cell must not be locked")
            if cell.cell_type != "code":
                bad(cid, "a markdown solution cell must also be graded (an answer cell)")
        elif kind == "answer":
            close_solution()
            current_solution, solution_tested = None, True
            if pts is None or pts <= 0:
                bad(cid, f"answer cell needs points > 0, got {meta.get('points')!r}")
            else:
                points.manual += pts
            prev = nb.cells[index - 1] if index > 0 else None
            if (prev is None or prev.cell_type != "markdown"
                    or cell_kind(prev) not in ("readonly", "task")):
                bad(cid, "answer cell must directly follow its prompt: a locked "
                         "(read-only or task) markdown cell")
    close_solution()
    if not setup_seen:
        bad(None, "no code cell tagged 'setup' (Colab install cell) in the notebook")
    return problems, points


def _preprocessor_names(config) -> list[str]:
    from nbgrader.converters import GenerateAssignment

    configured = config.GenerateAssignment.get("preprocessors")
    if configured is None:
        configured = GenerateAssignment.class_traits()["preprocessors"].default()
    pps = configured
    return [p if isinstance(p, str) else p.__name__ for p in pps]


def check_course(course_root: Path) -> CheckReport:
    """Run :func:`check_notebook` on every source notebook plus course-level checks."""
    report = CheckReport()
    paths = course_paths(course_root)
    config = load_course_config(course_root)
    names = _preprocessor_names(config)
    for needed in ("ClearSolutions", "ClearHiddenTests", "ClearMarkScheme"):
        if not any(n.rsplit(".", 1)[-1] == needed for n in names):
            report.problems.append(Problem("nbgrader_config.py", None,
                                           f"GenerateAssignment.preprocessors lacks {needed}"))
    notebooks = source_notebooks(course_root)
    if not notebooks:
        report.problems.append(Problem(str(paths["source"]), None,
                                       "no notebooks in the assignment source folder"))
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # unreadable JSON is a problem to report, not a crash
            report.problems.append(Problem(path.name, None, f"cannot read notebook: {exc}"))
            continue
        problems, pts = check_notebook(nb, path.name)
        report.problems.extend(problems)
        report.points[path.stem] = pts
    return report


def format_check_report(report: CheckReport) -> str:
    lines = [f"{'notebook':<20} {'auto':>6} {'manual':>7} {'task':>5} {'total':>6}"]
    total = NotebookPoints()
    for name, pts in report.points.items():
        lines.append(f"{name:<20} {pts.auto:>6g} {pts.manual:>7g} {pts.task:>5g} "
                     f"{pts.total:>6g}")
        total.auto += pts.auto
        total.manual += pts.manual
        total.task += pts.task
    lines.append(f"{'TOTAL':<20} {total.auto:>6g} {total.manual:>7g} {total.task:>5g} "
                 f"{total.total:>6g}")
    if report.problems:
        lines.append(f"\n{len(report.problems)} problem(s):")
        lines.extend(f"  - {p}" for p in report.problems)
    else:
        lines.append("\nall checks passed")
    return "\n".join(lines)


def run_check(course_root: Path, *, out: TextIO | None = None) -> CheckReport:
    """Print the check report; raise CourseToolError when any problem was found."""
    out = out or sys.stdout
    report = check_course(course_root)
    print(format_check_report(report), file=out)
    if not report.ok:
        raise CourseToolError(
            f"{len(report.problems)} notebook problem(s) in {course_paths(course_root)['source']}; "
            "see the list above and docs/GRADING.md")
    return report


# --------------------------------------------------------------------------- nbgrader


def course_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for nbgrader and its kernels.

    The repository root goes first on PYTHONPATH so kernels import ``helpers`` from
    this checkout even when the package is not pip-installed.
    """
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides or {})
    parts = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    # nbgrader shells out to `alembic` (gradebook migrations) and kernels resolve
    # `python3`, both from PATH: make them this interpreter's, even without an activated venv.
    bindir = str(Path(sys.executable).parent)
    path_parts = [bindir] + [p for p in env.get("PATH", "").split(os.pathsep) if p]
    env["PATH"] = os.pathsep.join(dict.fromkeys(path_parts))
    return env


def run_nbgrader(course_root: Path, args: Sequence[str], *,
                 env: dict[str, str] | None = None, echo: bool = False,
                 check: bool = True, timeout: float | None = None
                 ) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader <args>`` in ``course_root``; output is captured.

    With ``echo`` each output line is also copied to stderr as it arrives (long
    autograde runs). ``timeout`` (seconds, whole command) kills nbgrader and raises.
    Raises CourseToolError on a non-zero exit when ``check``.
    """
    _require_config(course_root)
    cmd = [sys.executable, "-m", "nbgrader", *args]
    posix = os.name == "posix" and timeout is not None
    # With a timeout, nbgrader gets its own process group so killing it also stops
    # the kernels it started; without one, Ctrl-C must still reach it.
    proc = subprocess.Popen(cmd, cwd=str(course_root), env=course_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=posix)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        if posix:
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover
            proc.kill()

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if echo:
                sys.stderr.write(line)
        rc = proc.wait()
    except BaseException:  # e.g. KeyboardInterrupt: do not leave nbgrader running
        if proc.poll() is None:
            kill()
        raise
    finally:
        if timer:
            timer.cancel()
    tail = "".join(lines[-40:])
    if killed.is_set():
        raise CourseToolError(f"`nbgrader {' '.join(args)}` ran past {timeout} s and was "
                              f"killed:\n{tail}")
    result = subprocess.CompletedProcess(cmd, rc, "".join(lines), "")
    if check and rc != 0:
        raise CourseToolError(f"`nbgrader {' '.join(args)}` exited with {rc}:\n{tail}")
    return result


# --------------------------------------------------------------------------- release


def course_repo(repo: str | None = None) -> str:
    """GitHub ``owner/name`` used in Colab links (``SONGREC_COURSE_REPO``)."""
    value = repo if repo is not None else os.environ.get("SONGREC_COURSE_REPO", PLACEHOLDER_REPO)
    if not OWNER_REPO_RE.match(value):
        raise ValueError(f"course repository {value!r} is not of the form 'owner/name'")
    return value


def release_branch(branch: str | None = None) -> str:
    """Branch the student notebooks are published on (``SONGREC_RELEASE_BRANCH``, default 'student')."""
    value = branch or os.environ.get("SONGREC_RELEASE_BRANCH") or DEFAULT_RELEASE_BRANCH
    if not BRANCH_RE.match(value) or ".." in value or value.endswith((".lock", "/", ".")):
        raise ValueError(f"release branch {value!r} is not a valid git branch name")
    return value


def colab_url(filename: str, repo: str | None = None, branch: str | None = None) -> str:
    """Colab link to a notebook on the published release branch (see :func:`publish_release`)."""
    return (f"https://colab.research.google.com/github/{course_repo(repo)}/blob/"
            f"{release_branch(branch)}/{ASSIGNMENT}/{filename}")


def project_version(root: Path = REPO_ROOT) -> str:
    import tomllib

    with open(root / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["version"]


@dataclass(frozen=True)
class ColabSettings:
    """What a release bakes into its setup cells and badges.

    ``pip_spec``: what the setup cell pip-installs on Colab ("" = not prepared for Colab);
    ``data_url``: the archive the notebooks download there ("" = Cornell's);
    ``repo`` and ``branch``: where the badges point.
    """

    pip_spec: str
    data_url: str
    repo: str
    branch: str


def _one_line(value: str, what: str) -> str:
    value = value.strip()
    if any(ch in value for ch in "\r\n\0\"'"):
        raise ValueError(f"{what} {value!r} must be one line without quotes")
    return value


def colab_settings(*, repo: str | None = None, pip_spec: str | None = None,
                   data_url: str | None = None, ref: str | None = None,
                   branch: str | None = None) -> ColabSettings:
    """Settings from the arguments, else the environment.

    The install spec is ``SONGREC_PIP_SPEC`` when given (a wheel URL, ``git+https://...``,
    a PyPI requirement); else, when the course repository is set,
    ``git+https://github.com/<repo>@<ref>`` with ``ref`` from ``SONGREC_RELEASE_REF``
    (default ``v<version in pyproject.toml>``, a tag to push); else none.
    """
    env_repo = os.environ.get("SONGREC_COURSE_REPO")
    repo_value = course_repo(repo)
    spec = _one_line(pip_spec if pip_spec is not None else os.environ.get("SONGREC_PIP_SPEC", ""),
                     "install spec")
    if not spec and (repo is not None or env_repo) and repo_value != PLACEHOLDER_REPO:
        ref = _one_line(ref or os.environ.get("SONGREC_RELEASE_REF") or f"v{project_version()}",
                        "release ref")
        spec = f"git+https://github.com/{repo_value}@{ref}"
    url = _one_line(data_url if data_url is not None else os.environ.get("SONGREC_DATA_URL", ""),
                    "data URL")
    if url and not url.startswith(("https://", "http://", "file://")):
        raise ValueError(f"data URL {url!r} must start with https://, http:// or file://")
    return ColabSettings(spec, url, repo_value, release_branch(branch))


def bake_setup_source(source: str, pip_spec: str, data_url: str) -> str:
    """``source`` of a setup cell with its ``PIP_SPEC = ""`` and ``DATA_URL = ""`` filled in."""
    for name, value in (("PIP_SPEC", pip_spec), ("DATA_URL", data_url)):
        regex = SETUP_VALUE_RE[name]
        if len(regex.findall(source)) != 1:
            raise CourseToolError(f"setup cell must assign {name} exactly once; got:\n{source}")
        source = regex.sub(lambda m: m.group(1) + json.dumps(value), source)
    return source


def badge_cell(filename: str, repo: str | None = None, branch: str | None = None):
    """A locked markdown cell with the Open-in-Colab badge.

    It carries Jupyter's editable/deletable flags but no nbgrader metadata, so
    nbgrader neither tracks nor checksums it and autograde ignores it.
    """
    cell = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab_url(filename, repo, branch)})")
    cell.metadata.update({"editable": False, "deletable": False, "tags": [BADGE_TAG]})
    return cell


def add_colab_badge(nb, filename: str, repo: str | None = None, branch: str | None = None) -> bool:
    """Put the badge cell first in ``nb`` (in place). False if one was already there."""
    for cell in nb.cells:
        if BADGE_TAG in cell.get("metadata", {}).get("tags", []):
            return False
    nb.cells.insert(0, badge_cell(filename, repo, branch))
    return True


def has_setup_cell(nb) -> bool:
    """True if a code cell tagged ``setup`` comes before every graded cell."""
    for cell in nb.cells:
        if cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            return True
        if cell_kind(cell) in ("solution", "test", "answer"):
            return False
    return False


def secrets_in(nb) -> list[str]:
    """Delimiters of instructor-only text found anywhere in ``nb``'s cells."""
    found = []
    for cell in nb.cells:
        for delim in SECRET_DELIMITERS:
            if delim in cell.get("source", ""):
                found.append(f"{_nbg(cell).get('grade_id', 'untracked cell')}: {delim}")
    return found


def _setup_cell(nb):
    return next(c for c in nb.cells
                if c.cell_type == "code" and SETUP_TAG in c.get("metadata", {}).get("tags", []))


def bake_release_setup(course_root: Path, path: Path, nb, settings: ColabSettings) -> None:
    """Fill in the setup cell of released notebook ``nb`` (in place).

    A setup cell tracked by nbgrader (locked, with a grade_id) gets a new checksum, and the
    gradebook's copy is updated too, so that autograding restores the baked cell and
    ``nbgrader validate`` sees no change.
    """
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    cell = _setup_cell(nb)
    cell.source = bake_setup_source(cell.source, settings.pip_spec, settings.data_url)
    grade_id = _nbg(cell).get("grade_id")
    if not grade_id:
        return
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    with Gradebook(db_url(course_root)) as gb:
        gb.update_or_create_source_cell(grade_id, path.stem, ASSIGNMENT, source=cell.source,
                                        checksum=cell.metadata.nbgrader["checksum"])


def postprocess_release(course_root: Path, settings: ColabSettings | None = None) -> list[Path]:
    """Bake the setup cells, add the Colab badge to every released notebook, verify it is clean."""
    settings = settings or colab_settings()
    rel = course_paths(course_root)["release"]
    done = []
    for path in sorted(rel.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not has_setup_cell(nb):
            raise CourseToolError(f"released {path.name} has no 'setup'-tagged code cell "
                                  "before its first graded cell")
        leaks = secrets_in(nb)
        if leaks:
            raise CourseToolError(f"released {path.name} still contains instructor-only "
                                  f"text: {leaks}")
        bake_release_setup(course_root, path, nb, settings)
        add_colab_badge(nb, path.name, settings.repo, settings.branch)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        done.append(path)
    return done


def zip_release(course_root: Path) -> Path:
    """Zip ``release/song2vec`` as ``release/song2vec.zip`` (entries ``song2vec/...``)."""
    paths = course_paths(course_root)
    rel, target = paths["release"], paths["release_zip"]
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(rel.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                zf.write(path, Path(ASSIGNMENT) / path.relative_to(rel))
    tmp.replace(target)
    return target


def run_release(course_root: Path, *, env: dict[str, str] | None = None,
                repo: str | None = None, settings: ColabSettings | None = None,
                out: TextIO | None = None) -> Path:
    """check -> generate_assignment -> setup/badge/leak post-processing -> zip.

    ``settings`` default to :func:`colab_settings` (with ``repo`` if given).
    Returns the path of ``release/song2vec.zip``.
    """
    out = out or sys.stdout
    settings = settings or colab_settings(repo=repo)
    run_check(course_root, out=out)
    rel = course_paths(course_root)["release"]
    if rel.exists():  # a notebook removed from the source must not linger in the release
        shutil.rmtree(rel)
    run_nbgrader(course_root, ["generate_assignment", ASSIGNMENT, "--force"], env=env)
    released = postprocess_release(course_root, settings)
    if not released:
        raise CourseToolError(f"generate_assignment wrote no notebooks into {rel}")
    target = zip_release(course_root)
    print(f"released {len(released)} notebook(s) to {rel} and {target}", file=out)
    print(f"Colab installs: {settings.pip_spec or '(nothing)'}", file=out)
    print(f"data from: {settings.data_url or 'Cornell (set SONGREC_DATA_URL for a course mirror)'}",
          file=out)
    print(f"badges open: {colab_url('<notebook>', settings.repo, settings.branch)} "
          f"(run `python tools/course.py publish`, then push branch {settings.branch!r})", file=out)
    if not settings.pip_spec:
        print(NOT_FOR_COLAB_NOTE, file=out)
    if settings.repo == PLACEHOLDER_REPO:
        print(f"WARNING: Colab links point at the placeholder repository {settings.repo!r}; set "
              "SONGREC_COURSE_REPO=owner/name before releasing to students", file=out)
    return target


def _git(root: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise CourseToolError(f"`git {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def publish_release(course_root: Path, branch: str | None = None, *,
                    out: TextIO | None = None) -> str | None:
    """Commit ``release/song2vec/*.ipynb`` to ``branch`` as ``song2vec/<notebook>``.

    The commit is made with git's plumbing and a private index, so the working tree, the
    index and the current branch are left alone. The branch holds nothing else: it is what
    the Colab badges link to once pushed. Returns the new commit id, or None when the
    release is unchanged since the branch's last commit.
    """
    out = out or sys.stdout
    branch = release_branch(branch)
    root = Path(course_root).resolve()
    notebooks = sorted(course_paths(root)["release"].glob("*.ipynb"))
    if not notebooks:
        raise CourseToolError(f"nothing to publish in {course_paths(root)['release']}; run "
                              "`python tools/course.py release` first")
    top = Path(_git(root, "rev-parse", "--show-toplevel"))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        for var, value in (("GIT_AUTHOR_NAME", "songrec release"), ("GIT_COMMITTER_NAME", "songrec release"),
                           ("GIT_AUTHOR_EMAIL", "release@songrec.invalid"),
                           ("GIT_COMMITTER_EMAIL", "release@songrec.invalid")):
            key = "user.name" if "NAME" in var else "user.email"
            if not env.get(var) and subprocess.run(["git", "-C", str(top), "config", key],
                                                   capture_output=True).returncode != 0:
                env[var] = value
        _git(top, "read-tree", "--empty", env=env)
        for path in notebooks:
            blob = _git(top, "hash-object", "-w", str(path))
            _git(top, "update-index", "--add", "--cacheinfo", f"100644,{blob},{ASSIGNMENT}/{path.name}",
                 env=env)
        tree = _git(top, "write-tree", env=env)
        ref = f"refs/heads/{branch}"
        parent = subprocess.run(["git", "-C", str(top), "rev-parse", "--verify", "-q", ref + "^{commit}"],
                                capture_output=True, text=True).stdout.strip()
        if parent and _git(top, "rev-parse", parent + "^{tree}") == tree:
            print(f"branch {branch!r} already holds this release", file=out)
            return None
        source = subprocess.run(["git", "-C", str(top), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "an uncommitted tree"
        args = ["commit-tree", tree, "-m", f"Student release of {ASSIGNMENT} from {source}"]
        if parent:
            args += ["-p", parent]
        commit = _git(top, *args, env=env)
        _git(top, "update-ref", ref, commit, *([parent] if parent else []))
    print(f"published {len(notebooks)} notebook(s) to branch {branch!r} ({commit[:12]}); "
          f"push it with: git push origin {branch}", file=out)
    return commit


# --------------------------------------------------------------------------- grading


def submitted_students(course_root: Path) -> list[str]:
    """Student ids that have a ``submitted/<student>/song2vec/`` folder, sorted."""
    sub = course_paths(course_root)["submitted"]
    if not sub.is_dir():
        return []
    return sorted(p.name for p in sub.iterdir()
                  if (p / ASSIGNMENT).is_dir() and not p.name.startswith("."))


def register_students(course_root: Path, students: Iterable[str]) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course_root)) as gb:
        for student in students:
            gb.update_or_create_student(student)


@dataclass
class ScoreRow:
    student: str
    scores: dict[str, float]          # notebook -> score (auto + manual so far)
    auto: dict[str, float]            # notebook -> autograded code score
    needs_manual: dict[str, bool]


@dataclass
class ScoreTable:
    notebooks: list[str]
    max_scores: dict[str, float]
    rows: list[ScoreRow]

    def total(self, row: ScoreRow) -> float:
        return sum(row.scores.get(n, 0.0) for n in self.notebooks)

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())


def collect_scores(course_root: Path) -> ScoreTable:
    """Per-student, per-notebook scores read from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    url = db_url(course_root)
    advice = (f"the gradebook has no assignment {ASSIGNMENT!r}; run "
              "`python tools/course.py release` first")
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise CourseToolError(advice)  # and do not create an empty gradebook
    with Gradebook(url) as gb:
        try:
            assignment = gb.find_assignment(ASSIGNMENT)
        except MissingEntry:
            raise CourseToolError(advice) from None
        notebooks = sorted(nb.name for nb in assignment.notebooks)
        max_scores = {nb.name: float(nb.max_score) for nb in assignment.notebooks}
        rows = []
        for sub in sorted(assignment.submissions, key=lambda s: s.student_id):
            scores, auto, manual = {}, {}, {}
            for nb in sub.notebooks:
                scores[nb.name] = float(nb.score)
                auto[nb.name] = float(nb.code_score)
                manual[nb.name] = bool(nb.needs_manual_grade)
            rows.append(ScoreRow(sub.student_id, scores, auto, manual))
    return ScoreTable(notebooks, max_scores, rows)


def format_score_table(table: ScoreTable) -> str:
    width = max([len("student")] + [len(r.student) for r in table.rows])
    cols = table.notebooks + ["total"]
    head = f"{'student':<{width}}  " + "  ".join(f"{c:>14}" for c in cols)
    maxes = f"{'(max)':<{width}}  " + "  ".join(
        f"{table.max_scores[n]:>14g}" for n in table.notebooks) + f"  {table.max_total:>14g}"
    lines = [head, maxes]
    for row in table.rows:
        cells = []
        for n in table.notebooks:
            mark = "*" if row.needs_manual.get(n) else ""
            cells.append(f"{row.scores.get(n, 0.0):g}{mark}".rjust(14))
        cells.append(f"{table.total(row):g}".rjust(14))
        lines.append(f"{row.student:<{width}}  " + "  ".join(cells))
    lines.append("* = still needs manual grading in the formgrader")
    return "\n".join(lines)


def write_grades_csv(table: ScoreTable, path: Path) -> Path:
    """Write one row per student: notebook scores, total, max_total, needs_manual_grade."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", *table.notebooks, "total", "max_total",
                     "needs_manual_grade"])
    for row in table.rows:
        writer.writerow([row.student, *(f"{row.scores.get(n, 0.0):g}" for n in table.notebooks),
                         f"{table.total(row):g}", f"{table.max_total:g}",
                         int(any(row.needs_manual.values()))])
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)


def run_export(course_root: Path, *, out: TextIO | None = None) -> ScoreTable:
    """Print the score table and write ``grades.csv`` in the course root."""
    out = out or sys.stdout
    table = collect_scores(course_root)
    target = write_grades_csv(table, course_paths(course_root)["grades_csv"])
    print(format_score_table(table), file=out)
    print(f"wrote {target}", file=out)
    return table


def failed_students(log: str) -> list[str]:
    """Students nbgrader reported an autograding error for, from its log text."""
    pat = re.compile(r"error processing assignment '[^']*' for student '([^']+)'")
    return sorted(set(pat.findall(log)))


def run_autograde(course_root: Path, *, env: dict[str, str] | None = None,
                  echo: bool = False, out: TextIO | None = None,
                  timeout: float | None = None) -> ScoreTable:
    """Autograde every submitted student, print the table, write grades.csv.

    Raises CourseToolError (after writing what could be graded) if nbgrader reported
    an error for any student.
    """
    out = out or sys.stdout
    students = submitted_students(course_root)
    if not students:
        raise CourseToolError(f"no submissions: expected folders "
                              f"{course_paths(course_root)['submitted']}/<student>/{ASSIGNMENT}/")
    collect_scores(course_root)  # fails early, with advice, if never released
    register_students(course_root, students)
    result = run_nbgrader(course_root, ["autograde", ASSIGNMENT, "--force"],
                          env=env, echo=echo, check=False, timeout=timeout)
    table = run_export(course_root, out=out)
    failed = failed_students(result.stdout)
    if result.returncode != 0 or failed:
        tail = "".join(result.stdout.splitlines(keepends=True)[-40:])
        raise CourseToolError(
            f"nbgrader autograde exited with {result.returncode}; students with errors: "
            f"{failed or 'unknown'}\n{tail}")
    return table


def mark_scheme_leaks(course_root: Path) -> list[str]:
    """Autograded cells, other than students' own answers, holding a mark scheme.

    nbgrader restores locked cells (task cells included) from the gradebook while
    autograding, so a rubric left in such a cell would be shown in the feedback.
    """
    leaks = []
    for path in sorted(course_paths(course_root)["autograded"].glob(f"*/{ASSIGNMENT}/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell_kind(cell) != "answer" and "BEGIN MARK SCHEME" in cell.get("source", ""):
                leaks.append(f"{path}: {_nbg(cell).get('grade_id', 'untracked cell')}")
    return leaks


def run_feedback(course_root: Path, *, env: dict[str, str] | None = None,
                 out: TextIO | None = None) -> list[Path]:
    """Generate HTML feedback under ``feedback/``, refusing if a mark scheme would leak."""
    out = out or sys.stdout
    leaks = mark_scheme_leaks(course_root)
    if leaks:
        raise CourseToolError("a mark scheme would reach students through feedback: "
                              f"{leaks}; move it into the answer cell (docs/GRADING.md)")
    run_nbgrader(course_root, ["generate_feedback", ASSIGNMENT, "--force"], env=env)
    files = sorted(course_paths(course_root)["feedback"].glob(f"*/{ASSIGNMENT}/*.html"))
    print(f"wrote {len(files)} feedback file(s) under {course_paths(course_root)['feedback']}",
          file=out)
    return files


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course.py", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["check", "release", "publish", "autograde",
                                            "feedback", "export"])
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="course root holding nbgrader_config.py (default: the repo)")
    parser.add_argument("--profile", choices=["default", "ci"],
                        help="set SONGREC_PROFILE for the notebooks nbgrader executes")
    parser.add_argument("--quiet", action="store_true",
                        help="do not echo nbgrader's autograde log")
    args = parser.parse_args(argv)
    env = {"SONGREC_PROFILE": args.profile} if args.profile else None
    try:
        if args.command == "check":
            run_check(args.root)
        elif args.command == "release":
            run_release(args.root, env=env)
        elif args.command == "publish":
            publish_release(args.root)
        elif args.command == "autograde":
            run_autograde(args.root, env=env, echo=not args.quiet)
        elif args.command == "feedback":
            run_feedback(args.root, env=env)
        else:
            run_export(args.root)
    except (CourseToolError, ValueError) as exc:
        print(f"course.py {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
