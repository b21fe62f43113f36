"""``docs``: the generated tables of docs/GRADING.md (the rules, the tasks) and of
docs/COMMAND_LINE.md (the training flags), rewritten in place.

Each table sits between two marker comments; everything outside them is hand-written.
``python -m tools.instructor docs --check`` fails when the file is out of date, and
tests/notebooks/test_notebook_metadata.py runs the same comparison.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

from tools.instructor.errors import CourseToolError
from tools.instructor.paths import REPO_ROOT, course_paths
from tools.instructor.rules import CELL_RULES, NOTEBOOK, NOTEBOOK_RULES, Rule
from tools.instructor.settings import TOOL_COMMAND
from tools.instructor.tasks import GradedTask, graded_tasks, task_problems

GRADING_MD = REPO_ROOT / "docs" / "GRADING.md"
COMMAND_LINE_MD = REPO_ROOT / "docs" / "COMMAND_LINE.md"
BEGIN = "<!-- BEGIN GENERATED {name}: `" + TOOL_COMMAND + " docs` writes this table -->"
END = "<!-- END GENERATED {name} -->"
# How a message template's placeholders read in the table.
PLACEHOLDER_WORDS = {"why": "…"}
PLACEHOLDER_RE = re.compile(r"\{(?:c\.)?(\w+)(?:![rs])?\}")


def _md(text: str) -> str:
    return re.sub(r"([<>|])", r"\\\1", text)


def _applies_to(rule: Rule) -> str:
    if rule.cells == NOTEBOOK:
        return "the notebook"
    return ", ".join(rule.cells) + " cells"


def rule_table() -> str:
    """Markdown table of every rule: id, the cells it looks at, its message."""
    rows = ["| rule | applies to | problem reported |", "|---|---|---|"]
    for rule in (*NOTEBOOK_RULES, *CELL_RULES):
        message = PLACEHOLDER_RE.sub(lambda m: PLACEHOLDER_WORDS.get(m.group(1), f"<{m.group(1)}>"), rule.message)
        rows.append(f"| `{rule.id}` | {_applies_to(rule)} | {_md(message)} |")
    return "\n".join(rows)


def _tests(task: GradedTask) -> str:
    parts = []
    for test in task.tests:
        seen = " + ".join(w for w, on in (("visible", test.visible), ("hidden", test.hidden)) if on)
        parts.append(f"`{test.grade_id}` ({test.points:g}; {seen})")
    return "<br>".join(parts)


def task_table(course_root: Path = REPO_ROOT) -> str:
    """Markdown table: task -> notebook -> student function -> reference helper -> test cells.

    Raises CourseToolError when the table would be incomplete (see
    :func:`~tools.instructor.tasks.task_problems`).
    """
    tasks = graded_tasks(course_paths(course_root).source)
    problems = task_problems(tasks)
    if problems:
        raise CourseToolError("the task table is incomplete: " + "; ".join(problems))
    rows = ["| task | notebook | the student writes | reference helper | test cells (points; visible/hidden) |",
            "|---|---|---|---|---|"]
    for t in tasks:
        if t.kind == "solution":
            rows.append(f"| `{t.grade_id}` | {t.notebook} | `{t.function}` | `{t.reference}` | {_tests(t)} |")
        else:
            what = "written answer" if t.kind == "answer" else "task"
            rows.append(f"| `{t.grade_id}` | {t.notebook} | {what}, graded by hand ({t.points:g} points) | – | – |")
    return "\n".join(rows)


def _tables(path: Path, course_root: Path):
    if path.name == COMMAND_LINE_MD.name:
        from helpers.train_flags import flags_table

        return (("train-flags", flags_table),)
    return (("rules", rule_table), ("tasks", lambda: task_table(course_root)))


def regenerate(text: str, course_root: Path = REPO_ROOT, *, path: Path = GRADING_MD) -> str:
    """``text`` of ``path`` (docs/GRADING.md or docs/COMMAND_LINE.md) with each generated
    table replaced by a fresh one.

    Raises CourseToolError when a table's markers are missing.
    """
    for name, make in _tables(path, course_root):
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise CourseToolError(f"{path.name} must hold the markers {begin!r} and {end!r}")
        block = f"{begin}\n{make()}\n{end}"
        text = pattern.sub(lambda _match, block=block: block, text)
    return text


def run_docs(course_root: Path = REPO_ROOT, *, path: Path | None = None, check: bool = False,
             out: TextIO | None = None) -> bool:
    """Rewrite the generated tables of ``path`` (default: both generated files), or with
    ``check`` only compare them.

    Returns True when a file changed (or, with ``check``, would change).
    Raises CourseToolError when ``check`` finds a file out of date.
    """
    changed = False
    for one in (path,) if path is not None else (GRADING_MD, COMMAND_LINE_MD):
        old = one.read_text(encoding="utf-8")
        new = regenerate(old, course_root, path=one)
        if check and new != old:
            raise CourseToolError(f"{one} is out of date; run `{TOOL_COMMAND} docs`")
        if not check and new != old:
            one.write_text(new, encoding="utf-8")
        print(f"{one}: {'up to date' if new == old else 'rewritten'}", file=out or sys.stdout)
        changed |= new != old
    return changed
