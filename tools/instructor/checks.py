"""``check``: every source notebook against nbgrader's schema and the course's rules.

The rules themselves are the tables of :mod:`tools.instructor.rules`; this module runs
them, counts the points and prints the report. ``release`` runs it first and stops on
any problem.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import nbformat

from tools.instructor import cells
from tools.instructor.errors import CourseToolError
from tools.instructor.paths import CONFIG_FILE, course_paths, load_course_config, source_notebooks
from tools.instructor.rules import CELL_RULES, NOTEBOOK_RULES
from tools.instructor.views import NotebookView, cell_views

# GenerateAssignment steps without which instructor-only text would be released.
REQUIRED_RELEASE_STEPS = ("ClearSolutions", "ClearHiddenTests", "ClearMarkScheme")


@dataclass(frozen=True)
class Problem:
    """One broken rule: the ``notebook`` file, the ``cell`` (grade_id, ``"cell N"``, or
    None for the whole notebook), the ``message`` and the ``rule`` id."""

    notebook: str
    cell: str | None
    message: str
    rule: str = ""

    def __str__(self) -> str:
        where = self.notebook if self.cell is None else f"{self.notebook} [{self.cell}]"
        return f"{where}: {self.message}" + (f" ({self.rule})" if self.rule else "")


@dataclass
class NotebookPoints:
    """Points of one notebook: ``auto`` (test cells), ``manual`` (answers), ``task``."""

    auto: float = 0.0
    manual: float = 0.0
    task: float = 0.0

    @property
    def total(self) -> float:
        return self.auto + self.manual + self.task


@dataclass
class CheckReport:
    """Problems of the whole course and points per notebook (by file stem)."""

    problems: list[Problem] = field(default_factory=list)
    points: dict[str, NotebookPoints] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def notebook_points(nb) -> NotebookPoints:
    """Points of the tracked test, answer and task cells of ``nb`` that have points > 0."""
    points = NotebookPoints()
    field_of = {"test": "auto", "answer": "manual", "task": "task"}
    for cell in nb.cells:
        kind, pts = cells.cell_kind(cell), cells.cell_points(cell)
        if kind in field_of and cells.grade_id(cell) and pts is not None and pts > 0:
            setattr(points, field_of[kind], getattr(points, field_of[kind]) + pts)
    return points


def check_notebook(nb, name: str) -> tuple[list[Problem], NotebookPoints]:
    """Check one source notebook against every rule.

    ``nb``: nbformat v4 NotebookNode, the instructor version.
    ``name``: its file name, e.g. ``"02_skipgrams.ipynb"``.
    Returns the problems found (empty when the notebook is clean) and its points.
    """
    problems = []
    whole = NotebookView(nb, name)
    for rule in NOTEBOOK_RULES:
        why = rule.broken(whole)
        if why:
            problems.append(Problem(name, None, rule.describe(whole, why), rule.id))
    for view in cell_views(nb, name):
        for rule in CELL_RULES:
            why = rule.applies(view) and rule.broken(view)
            if why:
                problems.append(Problem(name, view.label, rule.describe(view, why), rule.id))
                if rule.final:
                    break
    return problems, notebook_points(nb)


def release_steps(config) -> list[str]:
    """Class names of the GenerateAssignment preprocessors ``config`` runs."""
    from nbgrader.converters import GenerateAssignment

    configured = config.GenerateAssignment.get("preprocessors")
    if configured is None:
        configured = GenerateAssignment.class_traits()["preprocessors"].default()
    return [(p if isinstance(p, str) else p.__name__).rsplit(".", 1)[-1] for p in configured]


def check_course(course_root: Path) -> CheckReport:
    """Run :func:`check_notebook` on every source notebook, plus the course-level checks."""
    report = CheckReport()
    steps = release_steps(load_course_config(course_root))
    for needed in REQUIRED_RELEASE_STEPS:
        if needed not in steps:
            report.problems.append(Problem(CONFIG_FILE, None, f"GenerateAssignment.preprocessors lacks {needed}",
                                           "release-steps"))
    notebooks = source_notebooks(course_root)
    if not notebooks:
        report.problems.append(Problem(str(course_paths(course_root).source), None,
                                       "no notebooks in the assignment source folder", "notebooks"))
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # unreadable JSON is a problem to report, not a crash
            report.problems.append(Problem(path.name, None, f"cannot read notebook: {exc}", "readable"))
            continue
        problems, points = check_notebook(nb, path.name)
        report.problems.extend(problems)
        report.points[path.stem] = points
    return report


def format_check_report(report: CheckReport) -> str:
    """The points table, then the problems (or ``all checks passed``)."""
    lines = [f"{'notebook':<20} {'auto':>6} {'manual':>7} {'task':>5} {'total':>6}"]
    total = NotebookPoints()
    for name, pts in report.points.items():
        lines.append(f"{name:<20} {pts.auto:>6g} {pts.manual:>7g} {pts.task:>5g} {pts.total:>6g}")
        total.auto += pts.auto
        total.manual += pts.manual
        total.task += pts.task
    lines.append(f"{'TOTAL':<20} {total.auto:>6g} {total.manual:>7g} {total.task:>5g} {total.total:>6g}")
    if report.problems:
        lines.append(f"\n{len(report.problems)} problem(s):")
        lines.extend(f"  - {p}" for p in report.problems)
    else:
        lines.append("\nall checks passed")
    return "\n".join(lines)


def run_check(course_root: Path, *, out: TextIO | None = None) -> CheckReport:
    """Print the check report of ``course_root`` to ``out`` (default stdout).

    Returns the report when it is clean.
    Raises CourseToolError when any problem was found.
    """
    report = check_course(course_root)
    print(format_check_report(report), file=out or sys.stdout)
    if not report.ok:
        raise CourseToolError(f"{len(report.problems)} notebook problem(s) in {course_paths(course_root).source}; "
                              "see the list above and docs/GRADING.md")
    return report
