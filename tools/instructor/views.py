"""Notebooks and cells as the rules see them: a cell together with what its neighbours decide."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from tools.instructor import cells

NOTEBOOK_NAME_RE = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
# The one task heading of every notebook, a line of the markdown before the task:
# "### Task `02_positive_pairs` — write `positive_pairs` (2 points)".
TASK_HEADING_RE = re.compile(r"^### Task `(?P<id>[^`]+)` — (?P<what>.+) \((?P<points>\d+(?:\.\d+)?) points?\)$", re.M)


def defined_name(source: str) -> str:
    """The first function or class a cell's ``source`` defines at top level; "" if none."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return ""
    return next((n.name for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef)), "")


@dataclass(frozen=True)
class NotebookView:
    """One notebook as the notebook rules see it: ``nb`` and its file ``name``."""

    nb: object
    name: str

    @property
    def prefix(self) -> str | None:
        m = NOTEBOOK_NAME_RE.match(self.name)
        return m.group(1) if m else None


@dataclass
class CellView:
    """One cell as the cell rules see it, with what the cells before and after it decide.

    ``open_solution``: id of the code solution a test cell here would belong to.
    ``tested``: for a solution cell, whether a test cell named for it follows before the
    next solution or answer. ``first_without_setup``: the first graded cell, with no
    setup cell before it. ``duplicate``: an earlier tracked cell has this ``grade_id``.
    ``heading``: the last task heading (:data:`TASK_HEADING_RE` match) in the markdown
    since the previous solution or answer cell, None without one. ``test_points``: for a
    code solution, the points of the test cells named for it. ``student_functions``: what
    the notebook's code solution cells define.
    """

    cell: object
    index: int
    prefix: str | None
    previous: object = None
    open_solution: str | None = None
    tested: bool = True
    first_without_setup: bool = False
    duplicate: bool = False
    heading: object = None
    test_points: float = 0.0
    student_functions: frozenset = frozenset()
    kind: str = field(init=False)

    def __post_init__(self):
        self.kind = cells.cell_kind(self.cell)

    @property
    def meta(self) -> dict:
        return cells.nbgrader_meta(self.cell)

    @property
    def grade_id(self) -> str | None:
        return self.meta.get("grade_id") if self.kind != "plain" else None

    @property
    def label(self) -> str:
        return self.grade_id or f"cell {self.index}"

    @property
    def cell_type(self) -> str:
        return self.cell.cell_type

    @property
    def source(self) -> str:
        return self.cell.get("source", "")

    @property
    def points(self) -> float | None:
        return cells.cell_points(self.cell)

    @property
    def points_raw(self):
        return self.meta.get("points")

    @property
    def owner(self) -> str | None:
        return cells.owning_solution(self.grade_id) if self.grade_id else None

    @property
    def function(self) -> str:
        """What a code cell defines first ("" for none)."""
        return defined_name(self.source) if self.cell_type == "code" else ""


def cell_views(nb, name: str) -> list[CellView]:
    """A :class:`CellView` per cell of ``nb``, with what its neighbours decide filled in."""
    prefix = NotebookView(nb, name).prefix
    test_points: dict[str, float] = {}
    functions = set()
    for cell in nb.cells:
        kind, gid = cells.cell_kind(cell), cells.grade_id(cell)
        if kind == "test" and gid and cells.owning_solution(gid):
            owner = cells.owning_solution(gid)
            test_points[owner] = test_points.get(owner, 0.0) + (cells.cell_points(cell) or 0.0)
        elif kind == "solution" and cell.cell_type == "code" and defined_name(cell.source):
            functions.add(defined_name(cell.source))
    views, seen = [], set()
    open_solution, solution_view, setup_seen, heading = None, None, False, None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            headings = list(TASK_HEADING_RE.finditer(cell.get("source", "")))
            heading = headings[-1] if headings else heading
        view = CellView(cell, index, prefix, previous=nb.cells[index - 1] if index else None,
                        open_solution=open_solution, heading=heading, student_functions=frozenset(functions))
        views.append(view)
        if view.kind in ("solution", "answer"):
            view.test_points = test_points.get(view.grade_id or "", 0.0)
            heading = None
        setup_seen = setup_seen or cells.is_setup_cell(cell)
        if view.kind in cells.GRADED_KINDS and not setup_seen:
            view.first_without_setup, setup_seen = True, True  # reported once
        gid = view.grade_id
        if not gid:
            continue
        view.duplicate = gid in seen
        seen.add(gid)
        if view.kind == "solution":
            open_solution, solution_view = gid, view
            view.tested = False
        elif view.kind == "answer":
            open_solution, solution_view = None, None
        elif view.kind == "test" and solution_view is not None and view.owner == open_solution:
            solution_view.tested = True
    return views
