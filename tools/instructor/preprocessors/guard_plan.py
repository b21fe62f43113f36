"""What the kernel guard records: the modules the test cells import and the dotted names
they reach through them (:func:`imports_of_sources`), for one notebook or, read from the
gradebook, for every notebook of the assignment (:func:`assignment_test_imports`, which a
kernel shared by a student's notebooks records before the first one).
"""

from __future__ import annotations

import ast

# Imported first by the guard: helpers' TensorFlow hook must be in place before anything
# imports TensorFlow.
FIRST_MODULE = "helpers"


def _in_order(modules, chains) -> tuple[list[str], list[str]]:
    """A plan ``(modules, chains)``: sorted, :data:`FIRST_MODULE` first among the modules."""
    return [FIRST_MODULE] + sorted(set(modules) - {FIRST_MODULE}), sorted(set(chains))


def merge_plans(*plans: tuple[list[str], list[str]]) -> tuple[list[str], list[str]]:
    """The plan that records everything each of ``plans`` records, in the same order."""
    return _in_order(set().union(*(p[0] for p in plans)), set().union(*(p[1] for p in plans)))


def imports_of_sources(sources) -> tuple[list[str], list[str]]:
    """The modules the test cells' texts ``sources`` (an iterable of str) import, and the
    dotted names they reach through them (``import numpy as _np`` +
    ``_np.testing.assert_allclose`` gives the module ``numpy`` and the chain
    ``numpy.testing.assert_allclose``).

    Returns ``(modules, chains)``, sorted, ``helpers`` first among the modules so that its
    TensorFlow hook is installed before anything imports TensorFlow.
    """
    modules, chains = {FIRST_MODULE}, set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    modules.add(alias.name)
                    # `import a.b as x` binds x to a.b; `import a.b` binds a.
                    bound = alias.name if alias.asname else alias.name.split(".")[0]
                    aliases[alias.asname or bound] = bound
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
                for alias in node.names:
                    chains.add(f"{node.module}.{alias.name}")
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                parts, inner = [node.attr], node.value
                while isinstance(inner, ast.Attribute):
                    parts.append(inner.attr)
                    inner = inner.value
                if isinstance(inner, ast.Name) and inner.id in aliases:
                    chains.add(".".join([aliases[inner.id], *reversed(parts)]))
    return _in_order(modules, chains)


def assignment_test_imports(db_url: str, assignment: str) -> tuple[tuple[list[str], list[str]], str]:
    """:func:`imports_of_sources` of every notebook of ``assignment``, from the test cells' texts
    (hidden tests included) that nbgrader keeps in the gradebook at ``db_url``, and the
    name of the assignment's last notebook (nbgrader grades them in sorted order).
    Raises whatever nbgrader raises for a missing gradebook or assignment."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        sources, names = [], []
        for notebook in gb.find_assignment(assignment).notebooks:
            names.append(notebook.name)
            solutions = {cell.name for cell in notebook.solution_cells}
            tests = {cell.name for cell in notebook.grade_cells if cell.cell_type == "code"} - solutions
            sources += [cell.source for cell in notebook.source_cells if cell.name in tests]
    return imports_of_sources(sources), max(names, default="")
