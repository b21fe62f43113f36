"""The structure of the whole house, helpers/, bench/ and tools/ (every package under it,
tools/instructor/, its preprocessors/ and sandbox/ included), read with ``ast``:

- no import cycle among all these modules (imports inside functions and relative
  imports count: a lazy import still makes the two modules depend on each other);
- no upward import: helpers/ imports neither tools/ nor bench/;
- no private name of another module is imported or reached through a module alias;
- a module is at most 500 lines, or says at its top why it is longer;
- every module of a package is named in its package's ``__init__`` docstring.

The cycle finder is tested on a tiny synthetic package, so a cycle cannot pass unseen.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("helpers", "bench", "tools")
MAX_LINES = 500
SIZE_REASON = "Longer than 500 lines because"


def source_files(repo: Path, roots=ROOTS) -> list[Path]:
    """Every .py module under ``roots`` of ``repo`` (recursively; templates and caches aside)."""
    return sorted(p for root in roots for p in (repo / root).rglob("*.py")
                  if "__pycache__" not in p.parts)


def dotted(path: Path, repo: Path = REPO) -> str:
    """``tools/instructor/sandbox/__init__.py`` -> ``tools.instructor.sandbox``."""
    parts = list(path.relative_to(repo).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str], repo: Path = REPO) -> dict[str, int]:
    """The modules of ``known`` that ``path`` imports anywhere (functions included), each
    with the line of its first import; ``from package import module`` names the module."""
    me = dotted(path, repo)
    package = me if path.stem == "__init__" else me.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(name: str, line: int):
        if name in known and name != me:
            found.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    add(f"{base}.{alias.name}", node.lineno)
                else:
                    add(base, node.lineno)
    return found


def import_graph(repo: Path = REPO, roots=ROOTS) -> dict[str, dict[str, int]]:
    """module -> {imported module: line}, over every module under ``roots``."""
    files = source_files(repo, roots)
    known = {dotted(p, repo) for p in files}
    return {dotted(p, repo): imported_modules(p, known, repo) for p in files}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, {})):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


FILES = source_files(REPO)
IDS = [str(p.relative_to(REPO)) for p in FILES]


def test_the_cycle_finder_finds_a_synthetic_cycle(tmp_path):
    """a -> b (inside a function) -> c (relative import) -> a: found; cut it, none found."""
    pkg = tmp_path / "tools" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "tools" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from tools.pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from tools.pkg.c import g\n    return g\n")
    (pkg / "c.py").write_text("from . import a\n\ndef g():\n    return a\n")
    graph = import_graph(tmp_path, roots=("tools",))
    assert graph["tools.pkg.a"] == {"tools.pkg.b": 1}
    assert graph["tools.pkg.c"] == {"tools.pkg.a": 1}
    assert find_cycle(graph) == ["tools.pkg.a", "tools.pkg.b", "tools.pkg.c", "tools.pkg.a"]
    (pkg / "c.py").write_text("def g():\n    return 1\n")
    assert find_cycle(import_graph(tmp_path, roots=("tools",))) is None


def test_no_import_cycle_in_helpers_bench_and_tools():
    graph = import_graph()
    assert "tools.instructor.class_autograde" in graph and "tools.instructor.sandbox.policy" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_helpers_import_neither_tools_nor_bench():
    graph = import_graph()
    bad = [f"{module} imports {dep} (line {line})" for module, deps in graph.items()
           if module.startswith("helpers") for dep, line in deps.items()
           if dep.startswith(("tools", "bench"))]
    assert not bad, f"upward imports: {bad}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_no_private_name_of_another_module_is_used(path):
    known = {dotted(p) for p in FILES}
    me = dotted(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {}  # local name -> own module it stands for
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in ROOTS:
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and node.module != me:
                    bad.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                if f"{node.module}.{alias.name}" in known:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and aliases.get(node.value.id, me) != me \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            bad.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, f"{path.name} uses private names of other modules: {bad}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_module_size_limit_or_a_written_reason(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert lines <= MAX_LINES or SIZE_REASON in doc, (
        f"{path.relative_to(REPO)} has {lines} lines (limit {MAX_LINES}): split it, or say why "
        f"at its top ({SIZE_REASON!r})")


PACKAGES = sorted(p.parent for p in FILES if p.name == "__init__.py")


@pytest.mark.parametrize("package", PACKAGES, ids=[str(p.relative_to(REPO)) for p in PACKAGES])
def test_each_package_init_names_every_module(package):
    """Named as ``module``, ``module.py``, ``package/`` or ``:mod:`.module```: the word
    between backticks, dots or slashes."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    members = [p.stem for p in package.glob("*.py") if p.stem not in ("__init__",)]
    members += [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    missing = sorted(m for m in members if not re.search(rf"[`./~]{re.escape(m)}[`./]", doc))
    assert not missing, f"{package.relative_to(REPO)}/__init__.py does not name {missing}"


# Exception types live in helpers/errors.py or tools/instructor/errors.py, but for these.
OWN_EXCEPTIONS = {
    # A BaseException the test harness raises to stop a student's cell, not an error.
    "helpers/testkit.py": {"ReferenceUsed"},
    # Its message is built by validate's value formatter; errors.py imports no other module.
    "helpers/validate.py": {"SchemaError"},
    # Standard library only, run before any environment exists (it cannot import helpers).
    "tools/ci_venv.py": {"VenvUnavailable"},
}


def test_exception_types_are_declared_in_an_errors_module():
    bad = []
    for path in FILES:
        rel = str(path.relative_to(REPO))
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    re.search(r"(Error|Exception|Warning)$", ast.unparse(base)) for base in node.bases) \
                    and node.name not in OWN_EXCEPTIONS.get(rel, ()):
                bad.append(f"{rel}:{node.lineno}: {node.name}")
    assert not bad, f"exception types outside errors.py: {bad}"
