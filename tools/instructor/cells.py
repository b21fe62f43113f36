"""What a cell is in this course's conventions: its nbgrader role, points and owner.

docs/GRADING.md, section 1, describes the conventions; :mod:`tools.instructor.rules`
enforces them.
"""

from __future__ import annotations

import re

SETUP_TAG = "setup"
# Text that only ever belongs to the instructor's version of a notebook.
SECRET_DELIMITERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)
# A test cell belongs to solution <id> when it is named <id>_test, <id>_test2 (any
# number) or <id>_test_<suffix>.
TEST_SUFFIX_RE = re.compile(r"_test\d*(?:_[a-z0-9]+)*$")
# The two lines of every setup cell that `release` fills in (see colab.bake_setup_source).
SETUP_VALUE_RE = {
    name: re.compile(rf"""^({name} = )("[^"\n]*"|'[^'\n]*')""", re.M)
    for name in ("PIP_SPEC", "DATA_URL")
}
# Roles of the cells nbgrader grades; a setup cell comes before the first of them.
GRADED_KINDS = ("solution", "test", "answer")


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata; ``{}`` for a cell nbgrader does not track."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    """The cell's nbgrader ``grade_id``; None when it has none."""
    return nbgrader_meta(cell).get("grade_id")


def cell_kind(cell) -> str:
    """The cell's nbgrader role.

    Returns ``"solution"`` (code to write), ``"test"`` (autograder tests), ``"answer"``
    (manually graded answer: grade and solution), ``"task"``, ``"readonly"`` (locked,
    ungraded) or ``"plain"`` (untracked by nbgrader).
    """
    meta = nbgrader_meta(cell)
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


def cell_points(cell) -> float | None:
    """The cell's nbgrader ``points`` as a float; None when missing or not a number."""
    try:
        return float(nbgrader_meta(cell).get("points"))
    except (TypeError, ValueError):
        return None


def owning_solution(test_id: str) -> str | None:
    """The solution a test cell id names: ``02_pairs_test``, ``02_pairs_test2``,
    ``02_pairs_test_hidden`` -> ``02_pairs``.

    Returns None when ``test_id`` does not follow the test-cell naming convention.
    """
    m = TEST_SUFFIX_RE.search(test_id)
    return test_id[: m.start()] if m else None


def is_setup_cell(cell) -> bool:
    """True for a code cell tagged ``setup``."""
    return cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", [])


def setup_cell(nb):
    """The first setup cell of ``nb``; None when it has none."""
    return next((c for c in nb.cells if is_setup_cell(c)), None)


def setup_comes_first(nb) -> bool:
    """True if a setup cell comes before every graded cell of ``nb``."""
    for cell in nb.cells:
        if is_setup_cell(cell):
            return True
        if cell_kind(cell) in GRADED_KINDS:
            return False
    return False


def secrets_in(nb) -> list[str]:
    """``"<grade_id>: <delimiter>"`` for each instructor-only delimiter in ``nb``'s cells."""
    found = []
    for cell in nb.cells:
        for delim in SECRET_DELIMITERS:
            if delim in cell.get("source", ""):
                found.append(f"{grade_id(cell) or 'untracked cell'}: {delim}")
    return found
