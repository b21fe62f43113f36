"""Every graded task of the course: the student's function, its reference helper, its tests.

What d2l does with "Defined in": the table in docs/GRADING.md says, for each task, which
``helpers`` function is its tested reference and which test cells grade it. The notebook
columns are read from the source notebooks' nbgrader metadata; the reference column is
``REFERENCE_HELPERS`` below, checked against both the notebooks and the helpers' source
(:func:`task_problems`), so neither side can change without the table noticing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers.testkit import REFERENCES
from tools.instructor import cells
from tools.instructor.paths import REPO_ROOT
from tools.instructor.views import defined_name

# Code solution grade_id -> the helpers function (``module.name`` or ``module.Class.method``)
# that is its reference implementation. The test cells' tripwire (helpers.testkit) reads the
# same table, so it is declared there.
REFERENCE_HELPERS = REFERENCES
HIDDEN_REGION_RE = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*$", re.M | re.S)


@dataclass(frozen=True)
class GradedTest:
    """One autograder test cell: its ``grade_id``, ``points``, and whether it holds
    ``visible`` (released) and ``hidden`` (grading only) tests."""

    grade_id: str
    points: float
    visible: bool
    hidden: bool


@dataclass
class GradedTask:
    """One graded task: a code ``solution``, a written ``answer`` or a ``task`` cell.

    ``function``: what the student defines in a solution cell ("" otherwise).
    ``points``: the points of an answer or task cell (a solution's are its tests').
    """

    grade_id: str
    notebook: str
    kind: str
    function: str = ""
    points: float = 0.0
    tests: list[GradedTest] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return REFERENCE_HELPERS.get(self.grade_id, "")


def checks_something(source: str) -> bool:
    """True if ``source`` holds an assert, a raise or a call of a function whose name starts with
    ``assert``, ``check`` or ``expect``, leading underscores aside (numpy.testing's,
    helpers.testkit's and a test cell's own ``_check_...`` functions)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: count any text as a test
        return bool(source.strip())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert | ast.Raise):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.lstrip("_").startswith(("assert", "check", "expect")):
                return True
    return False


def graded_test(cell) -> GradedTest:
    """The :class:`GradedTest` of an autograder test cell."""
    source = cell.source
    hidden = "BEGIN HIDDEN TESTS" in source
    visible = checks_something(HIDDEN_REGION_RE.sub("", source))
    return GradedTest(cells.grade_id(cell), cells.cell_points(cell) or 0.0, visible, hidden)


def graded_tasks(source_dir: Path) -> list[GradedTask]:
    """The graded tasks of every notebook in ``source_dir``, in notebook and cell order."""
    tasks: list[GradedTask] = []
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        by_id: dict[str, GradedTask] = {}
        for cell in nbformat.read(path, as_version=4).cells:
            kind, gid = cells.cell_kind(cell), cells.grade_id(cell)
            if kind == "solution" and cell.cell_type == "code":
                by_id[gid] = GradedTask(gid, path.stem, "solution", defined_name(cell.source))
                tasks.append(by_id[gid])
            elif kind in ("answer", "task"):
                tasks.append(GradedTask(gid, path.stem, kind, points=cells.cell_points(cell) or 0.0))
            elif kind == "test" and cells.owning_solution(gid) in by_id:
                by_id[cells.owning_solution(gid)].tests.append(graded_test(cell))
    return tasks


def helper_defined(dotted: str, root: Path = REPO_ROOT) -> bool:
    """True if ``helpers.<module>.<name>`` (or ``...<Class>.<method>``) is defined in the
    helpers' source under ``root``; read with ``ast``, nothing is imported."""
    parts = dotted.split(".")
    if len(parts) not in (3, 4) or parts[0] != "helpers":
        return False
    path = root / "helpers" / f"{parts[1]}.py"
    if not path.is_file():
        return False
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for name in parts[2:]:
        node = next((n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == name), None)
        if node is None:
            return False
        body = node.body
    return True


def task_problems(tasks: list[GradedTask], root: Path = REPO_ROOT) -> list[str]:
    """What keeps the task table from being complete and true; empty when it is."""
    solutions = {t.grade_id for t in tasks if t.kind == "solution"}
    problems = [f"{gid}: no entry in REFERENCE_HELPERS (tools/instructor/tasks.py)"
                for gid in sorted(solutions - set(REFERENCE_HELPERS))]
    problems += [f"{gid}: REFERENCE_HELPERS names a solution cell the notebooks do not have"
                 for gid in sorted(set(REFERENCE_HELPERS) - solutions)]
    problems += [f"{gid}: reference {ref!r} is not defined in helpers/"
                 for gid, ref in sorted(REFERENCE_HELPERS.items()) if not helper_defined(ref, root)]
    problems += [f"{t.grade_id}: the solution cell defines no function" for t in tasks
                 if t.kind == "solution" and not t.function]
    problems += [f"{t.grade_id}: no test cell" for t in tasks if t.kind == "solution" and not t.tests]
    return problems
