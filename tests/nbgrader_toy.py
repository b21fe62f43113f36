"""Builder for a tiny nbgrader course that follows the song2vec conventions.

The toy has two notebooks in ``notebooks/song2vec/``:

``01_toy.ipynb``
    setup cell (tagged ``setup``, read-only), two independent autograded parts
    (``01_square`` worth 2 points, ``01_mean`` worth 3 points), each test cell with a
    hidden part, each task under the course's task heading.
``02_questions.ipynb``
    setup cell, a locked task cell (1 point, manual) and a manual markdown answer
    ``02_q1`` (2 points) whose model answer and rubric sit in the answer cell itself.

All expected scores below are written by hand from the cells, never computed by the
code under test. The ``LEAK_MARKERS`` are distinctive strings that exist only in the
instructor's source and must never appear in anything a student receives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "song2vec"

# Points of each autograded test cell, by grade_id.
TEST_POINTS = {"01_square_test": 2.0, "01_mean_test": 3.0}
AUTO_TOTAL = 5.0
MANUAL_TOTAL = 3.0  # 02_q1 (2) + 02_task (1)
# Part A = 01_square, part B = 01_mean.
PART_A_POINTS = 2.0

NOTEBOOKS = ("01_toy", "02_questions")

SQUARE_SOLUTION_LINE = "return x * x  # toy-solution-square-k7f3"
MEAN_SOLUTION_LINE = "return sum(values) / len(values)  # toy-solution-mean-p2w9"
HIDDEN_TEST_LINE = "assert square(-4) == 16, 'toy-hidden-test-q8z1'"
MEAN_HIDDEN_LINE = "assert mean([2, 4]) == 3, 'toy-hidden-test-m4n2'"
MODEL_ANSWER = "Toy model answer: skip-grams pair each song with its neighbours (zx41)."
RUBRIC_LINE = "Rubric: 1 point for neighbours, 1 point for the window (rb77)."

LEAK_MARKERS = (
    SQUARE_SOLUTION_LINE,
    MEAN_SOLUTION_LINE,
    "toy-solution-square-k7f3",
    "toy-solution-mean-p2w9",
    HIDDEN_TEST_LINE,
    "toy-hidden-test-q8z1",
    MEAN_HIDDEN_LINE,
    "toy-hidden-test-m4n2",
    MODEL_ANSWER,
    "zx41",
    RUBRIC_LINE,
    "rb77",
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, task=False,
          points=None, cell_type="code") -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": task,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


# The two values `release` fills in, as in the real notebooks' setup cells.
SETUP_SOURCE = (
    "# Setup: on Colab this would install the package; locally it does nothing.\n"
    'PIP_SPEC = ""\n'
    'DATA_URL = ""\n'
    "import os\n"
    "IN_COLAB = 'COLAB_RELEASE_TAG' in os.environ"
)


def _setup_cell(nn: str):
    cell = new_code_cell(SETUP_SOURCE, metadata=_meta(f"{nn}_setup", locked=True))
    cell.metadata["tags"] = ["setup"]
    return cell


def toy_notebook_01() -> nbformat.NotebookNode:
    """The two-part autograded toy notebook (source version, with solutions)."""
    cells = [
        new_markdown_cell("# Toy 01\nTwo small functions."),
        _setup_cell("01"),
        new_markdown_cell("### Task `01_square` — write `square` (2 points)\n\nWrite `square(x)`."),
        new_code_cell(
            "def square(x):\n"
            "    ### BEGIN SOLUTION\n"
            f"    {SQUARE_SOLUTION_LINE}\n"
            "    ### END SOLUTION",
            metadata=_meta("01_square", solution=True),
        ),
        new_code_cell(
            "assert square(3) == 9\n"
            "### BEGIN HIDDEN TESTS\n"
            f"{HIDDEN_TEST_LINE}\n"
            "### END HIDDEN TESTS",
            metadata=_meta("01_square_test", grade=True, locked=True,
                           points=TEST_POINTS["01_square_test"]),
        ),
        new_markdown_cell("### Task `01_mean` — write `mean` (3 points)\n\nWrite `mean(values)`."),
        new_code_cell(
            "def mean(values):\n"
            "    ### BEGIN SOLUTION\n"
            f"    {MEAN_SOLUTION_LINE}\n"
            "    ### END SOLUTION",
            metadata=_meta("01_mean", solution=True),
        ),
        new_code_cell(
            "assert mean([1, 2, 3, 6]) == 3\n"
            "assert mean([5]) == 5\n"
            "### BEGIN HIDDEN TESTS\n"
            f"{MEAN_HIDDEN_LINE}\n"
            "### END HIDDEN TESTS",
            metadata=_meta("01_mean_test", grade=True, locked=True,
                           points=TEST_POINTS["01_mean_test"]),
        ),
    ]
    return _finish(new_notebook(cells=cells))


def toy_notebook_02() -> nbformat.NotebookNode:
    """The manual-grading toy notebook (source version, with model answer)."""
    cells = [
        _setup_cell("02"),
        new_markdown_cell(
            "**Task (1 point).** Keep your notebook tidy: the grader checks this by eye.",
            metadata=_meta("02_task", task=True, locked=True, points=1,
                           cell_type="markdown"),
        ),
        new_markdown_cell(
            "### Task `02_q1` — answer Q1 (2 points)\n\nWhat does a skip-gram pair contain?",
            metadata=_meta("02_q1_prompt", locked=True, cell_type="markdown"),
        ),
        new_markdown_cell(
            f"{MODEL_ANSWER}\n\n"
            "=== BEGIN MARK SCHEME ===\n"
            f"{RUBRIC_LINE}\n"
            "=== END MARK SCHEME ===",
            metadata=_meta("02_q1", grade=True, solution=True, points=2,
                           cell_type="markdown"),
        ),
    ]
    return _finish(new_notebook(cells=cells))


def _finish(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3", "language": "python", "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def copy_course_config(root: Path) -> None:
    """Put the repo's nbgrader_config.py under ``root``, with the instructor tools it loads."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "tools").mkdir(exist_ok=True)
    shutil.copy(REPO_ROOT / "tools" / "__init__.py", root / "tools" / "__init__.py")
    shutil.copytree(REPO_ROOT / "tools" / "instructor", root / "tools" / "instructor",
                    ignore=shutil.ignore_patterns("__pycache__"))


def build_toy_course(root: Path) -> Path:
    """Lay out a course under ``root``: the repo's course configuration + toy sources.

    Returns the source assignment folder ``root/notebooks/song2vec``.
    """
    root = Path(root)
    src = root / "notebooks" / ASSIGNMENT
    src.mkdir(parents=True, exist_ok=True)
    copy_course_config(root)
    nbformat.write(toy_notebook_01(), src / "01_toy.ipynb")
    nbformat.write(toy_notebook_02(), src / "02_questions.ipynb")
    return src


def copy_course_with_real_notebooks(root: Path, real_src: Path) -> Path:
    """Lay out a course under ``root`` whose sources are copies of ``real_src``."""
    root = Path(root)
    src = root / "notebooks" / ASSIGNMENT
    shutil.copytree(real_src, src, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    copy_course_config(root)
    return src


# --------------------------------------------------------------------------- helpers
# Shared by the nbgrader test files. They deliberately re-derive what they need from
# the notebooks (regions, points) instead of asking tools/instructor/.

REAL_SOURCE = REPO_ROOT / "notebooks" / ASSIGNMENT
_REGION_PAIRS = (
    ("BEGIN SOLUTION", "END SOLUTION"),
    ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    ("BEGIN MARK SCHEME", "END MARK SCHEME"),
)


def real_notebook_names() -> list[str]:
    if not REAL_SOURCE.is_dir():
        return []
    return sorted(p.name for p in REAL_SOURCE.glob("*.ipynb"))


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbg(cell).get("grade_id")


def split_secret_public(nb) -> tuple[list[str], list[str]]:
    """Lines only the instructor may see vs. every other line of ``nb``.

    Secret: lines inside solution / hidden-test / mark-scheme regions, and every line
    of a solution cell that has no solution region (nbgrader replaces such a cell
    whole). Delimiter lines themselves are left out of both lists.
    """
    secret, public = [], []
    for cell in nb.cells:
        meta = nbg(cell)
        lines = cell.source.split("\n")
        whole = meta.get("solution") and "BEGIN SOLUTION" not in cell.source
        open_end = None
        for line in lines:
            if open_end is None:
                begin = next((p for p in _REGION_PAIRS if p[0] in line), None)
                if begin is not None:
                    open_end = begin[1]
                    continue
                (secret if whole else public).append(line)
            elif open_end in line:
                open_end = None
            else:
                secret.append(line)
    return secret, public


def distinctive_secret_lines(nb, min_len: int = 12) -> set[str]:
    """Secret lines long enough to be recognisable and absent from the public text."""
    secret, public = split_secret_public(nb)
    public_text = "\n".join(public)
    out = set()
    for line in secret:
        text = line.strip()
        if len(text) >= min_len and text not in public_text:
            out.add(text)
    return out


def autograded_points(nb) -> dict[str, float]:
    """grade_id -> points of the autograded test cells (grade, not solution, code)."""
    return {
        grade_id(c): float(nbg(c)["points"])
        for c in nb.cells
        if nbg(c).get("grade") and not nbg(c).get("solution") and c.cell_type == "code"
    }


def with_cells_from(base, donor, ids) -> nbformat.NotebookNode:
    """Copy of ``base`` whose cells named in ``ids`` take their source from ``donor``."""
    import copy

    donor_src = {grade_id(c): c.source for c in donor.cells if grade_id(c)}
    out = copy.deepcopy(base)
    for cell in out.cells:
        if grade_id(cell) in ids:
            cell.source = donor_src[grade_id(cell)]
    return out


def gradebook_scores(root: Path, student: str) -> dict[str, tuple[float, float, int]]:
    """notebook -> (autograded code score, max code score, number of grade rows)."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook("sqlite:///" + str(Path(root) / "gradebook.db")) as gb:
        sub = gb.find_submission(ASSIGNMENT, student)
        for nb in sub.notebooks:
            out[nb.name] = (float(nb.code_score), float(nb.max_code_score), len(nb.grades))
    return out


def course_env_for_tests(cell_timeout: int) -> dict[str, str]:
    return {
        "SONGREC_PROFILE": "ci",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SONGREC_CELL_TIMEOUT": str(cell_timeout),
    }
