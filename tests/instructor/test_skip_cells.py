"""The course cells autograde does not run (``settings.GRADING_SKIPPED_CELLS``,
``GuardedExecute.skip_cells``): each is named by id and pinned by the sha256 of its text,
uses none of the student's answers (its output is the same for every student), and no later
cell of its notebook (hidden tests included) reads a name it binds, so skipping it changes
no grade. ``GuardedExecute`` skips only such a cell, word for word, and never a test or an
answer."""

from __future__ import annotations

import ast
import hashlib

import nbformat
import nbgrader_toy as toy
import pytest
from nbformat.v4 import new_code_cell

from tools.instructor.preprocessors.guarded_execute import SKIPPED_NOTE, GuardedExecute
from tools.instructor.settings import GRADING_SKIPPED_CELLS


def _source_notebooks():
    return {path.stem: nbformat.read(path, as_version=4) for path in sorted(toy.REAL_SOURCE.glob("*.ipynb"))}


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names bound, names read) anywhere in ``source``; IPython's % and ! lines are left out."""
    text = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    bound, read = set(), set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound, read


def _where(cell_id: str):
    for name, nb in _source_notebooks().items():
        for index, cell in enumerate(nb.cells):
            if cell.get("id") == cell_id:
                return name, nb, index
    raise AssertionError(f"GRADING_SKIPPED_CELLS names {cell_id!r}, which no source notebook has")


@pytest.mark.parametrize("cell_id", sorted(GRADING_SKIPPED_CELLS))
def test_a_skipped_cell_is_the_course_s_own_code_pinned_by_its_text(cell_id):
    name, nb, index = _where(cell_id)
    cell = nb.cells[index]
    assert cell.cell_type == "code"
    assert not toy.nbg(cell).get("grade") and not toy.nbg(cell).get("solution"), f"{name} {cell_id} is graded"
    digest = hashlib.sha256(cell.source.encode("utf-8")).hexdigest()
    assert digest == GRADING_SKIPPED_CELLS[cell_id], (
        f"{name} cell {cell_id} changed: check that it still needs nothing of the student's and that no later "
        f"cell reads its names, then put {digest} into settings.GRADING_SKIPPED_CELLS")


def _statements(source: str):
    """The top-level statements of ``source`` (IPython's % and ! lines left out)."""
    text = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return ast.parse(text).body


def _bound_by(stmt) -> set[str]:
    """Names one top-level statement binds in the notebook's namespace."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in stmt.names}
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}


def _read_by(stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@pytest.mark.parametrize("cell_id", sorted(GRADING_SKIPPED_CELLS))
def test_a_skipped_cell_reads_nothing_the_student_s_answers_made(cell_id):
    """What an answer cell binds is the student's, and so is what any later statement binds
    while reading something the student's (followed statement by statement, in order). A
    name the skipped cell binds itself (a loop variable) counts as its own."""
    name, nb, index = _where(cell_id)
    student_made: set[str] = set()
    for cell in nb.cells[:index]:
        if cell.cell_type != "code":
            continue
        for stmt in _statements(cell.source):
            if toy.nbg(cell).get("solution") or _read_by(stmt) & student_made:
                student_made |= _bound_by(stmt)
    bound, read = _names(nb.cells[index].source)
    used = (read - bound) & student_made
    assert not used, (f"{name} {cell_id} reads {sorted(used)}, which come from the student's answers: its output "
                      "differs between students")


@pytest.mark.parametrize("name", sorted({_where(cell_id)[0] for cell_id in GRADING_SKIPPED_CELLS}))
def test_no_later_cell_reads_a_name_only_a_skipped_cell_binds(name):
    nb = _source_notebooks()[name]
    from_skipped: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        bound, read = _names(cell.source)
        if cell.get("id") in GRADING_SKIPPED_CELLS:
            from_skipped |= bound
            continue
        assert not read & from_skipped, (f"{name} cell {cell.get('id')} reads {sorted(read & from_skipped)}, "
                                         "bound by a cell autograde skips")


def test_guarded_execute_skips_only_the_exact_course_cell():
    text = "x = 1\nprint(x)\n"
    step = GuardedExecute(skip_cells={"c-1": hashlib.sha256(text.encode()).hexdigest()})
    exact = new_code_cell(text)
    exact["id"] = "c-1"
    assert step._skipped(exact)
    edited = new_code_cell(text + "x += 1\n")
    edited["id"] = "c-1"
    assert not step._skipped(edited)
    other = new_code_cell(text)
    other["id"] = "c-2"
    assert not step._skipped(other)
    for meta in (toy._meta("t", grade=True, locked=True, points=1), toy._meta("a", solution=True)):
        graded = new_code_cell(text, metadata=meta)
        graded["id"] = "c-1"
        assert not step._skipped(graded), meta


def test_the_note_of_a_skipped_cell_says_it_was_not_run_and_why():
    assert "not run when grading" in SKIPPED_NOTE and "same for every" in SKIPPED_NOTE
