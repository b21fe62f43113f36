"""The package's structure, read from its source with ``ast`` (docs/ARCHITECTURE.md states
the rules): no private name used across modules, no import cycle among helpers modules,
a size limit per module, one docstring style, every helpers module listed in
``helpers/__init__.py``, each shared primitive defined once and each SGNS default declared
once.

Tests may reach into private names (to inject faults); helpers and bench may not.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from helpers.sgns import SGNSConfig

REPO = Path(__file__).resolve().parents[2]
HELPERS = sorted((REPO / "helpers").glob("*.py"))
BENCH = sorted((REPO / "bench").glob("*.py"))
MAX_LINES = 500
SIZE_REASON = "Longer than 500 lines because"


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_name(path: Path) -> str:
    name = f"{path.parent.name}.{path.stem}"
    return path.parent.name if path.stem == "__init__" else name


def imports(tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """Every import anywhere in the module (functions included): (module, names, line)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [alias.name for alias in node.names], node.lineno))
    return out


def own_module(module: str, names: list[str]) -> list[str]:
    """The helpers/bench modules an import statement brings in."""
    if module in ("helpers", "bench"):
        return [f"{module}.{n}" for n in names]
    if module.startswith(("helpers.", "bench.")):
        return [module]
    return []


@pytest.mark.parametrize("path", HELPERS + BENCH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_private_name_of_another_module_is_used(path):
    tree = parse(path)
    me = module_name(path)
    aliases = {}  # local name -> helpers/bench module it stands for
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = own_module(node.module, [alias.name])
                if node.module.startswith(("helpers", "bench")) and alias.name.startswith("_") \
                        and not alias.name.startswith("__") and target != [me]:
                    bad.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                if node.module in ("helpers", "bench"):
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(("helpers.", "bench.")) and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases and aliases[node.value.id] != me \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            bad.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    assert not bad, f"{path.name} uses private names of other modules: {bad}"


def test_no_import_cycle_among_helpers_modules():
    graph = {}
    for path in HELPERS:
        if path.stem == "__init__":
            continue
        deps = set()
        for module, names, _ in imports(parse(path)):
            deps.update(m for m in own_module(module, names) if m.startswith("helpers."))
        graph[module_name(path)] = deps - {module_name(path)}
    # A loop registered in helpers.sgns.LOOPS is imported by name: count it as an edge.
    from helpers.sgns import LOOPS

    graph["helpers.sgns"] |= {loop.module for loop in LOOPS.values()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: p.name)
def test_module_size_limit_or_a_written_reason(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    doc = ast.get_docstring(parse(path)) or ""
    assert lines <= MAX_LINES or SIZE_REASON in doc, (
        f"{path.name} has {lines} lines (limit {MAX_LINES}): split it, or say why at its top "
        f"({SIZE_REASON!r})")


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: p.name)
def test_one_docstring_style(path):
    """Module, public functions and classes have docstrings, written as prose with
    ``name``: meaning; no numpydoc underlines and no Google-style headers."""
    tree = parse(path)
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            assert ast.get_docstring(node), f"{path.name}: {node.name} has no docstring"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node) or ""
            assert not re.search(r"^\s*-{3,}\s*$", doc, re.M), f"{path.name}: numpydoc underline in {doc[:60]!r}"
            assert not re.search(r"^\s*(Args|Attributes|Parameters|Returns|Raises):?\s*$", doc, re.M), (
                f"{path.name}: section header in the docstring of {getattr(node, 'name', 'the module')}")


def test_helpers_init_lists_every_module():
    doc = ast.get_docstring(parse(REPO / "helpers" / "__init__.py"))
    listed = set(re.findall(r"``(\w+)``", doc))
    missing = [p.stem for p in HELPERS if p.stem not in listed and p.stem != "__init__"]
    assert not missing, f"helpers/__init__.py does not list {missing}"


# Shared primitives: each defined in exactly one module of helpers or bench.
PRIMITIVES = {
    "check_int": "helpers/validate.py", "check_real": "helpers/validate.py",
    "check_bool": "helpers/validate.py", "check_choice": "helpers/validate.py",
    "check_encoded": "helpers/validate.py", "check_vocab_size": "helpers/validate.py",
    "Windows": "helpers/windows.py", "positives_per_playlist": "helpers/windows.py",
    "noise_distribution": "helpers/noise.py", "alias_table": "helpers/noise.py",
    "split_playlists": "helpers/splits.py", "unit_rows": "helpers/ranking.py",
    "cosine_scores": "helpers/ranking.py", "top_k": "helpers/ranking.py", "rank_of": "helpers/ranking.py",
    "check_queries": "helpers/ranking.py", "sha256_file": "helpers/digest.py",
    "sha256_bytes": "helpers/digest.py", "train": "helpers/sgns.py", "SGNSConfig": "helpers/sgns.py",
    "read_npz": "helpers/npz.py", "load_dataset": "helpers/course.py",
}
# Names of the validators, splitters and noise functions that used to be written twice.
RETIRED = {"_check_int", "_is_int", "_is_real", "_check_vocab_size", "_check_encoded", "_flatten",
           "_window_positions", "_grouped_songs_", "noise_weights", "split_by_playlist", "sha256_of",
           "_unit_rows", "_check_positive_int", "_check_seed", "TrainConfig", "FastConfig", "train_sgns",
           "train_fast", "REFERENCE_SETTINGS", "save_dataset"}


def definitions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in HELPERS + BENCH:
        for node in ast.walk(parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append(f"{path.parent.name}/{path.name}")
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(f"{path.parent.name}/{path.name}")
    return found


def test_each_shared_primitive_is_defined_once():
    found = definitions()
    for name, home in PRIMITIVES.items():
        assert found.get(name) == [home], f"{name} is defined in {found.get(name)}, expected only {home}"
    assert not RETIRED & set(found), f"retired duplicates are back: {sorted(RETIRED & set(found))}"


def test_checksums_and_norms_are_computed_in_one_place():
    for path in HELPERS + BENCH:
        text = path.read_text(encoding="utf-8")
        if path.name != "digest.py":
            assert "hashlib" not in text, f"{path.name} computes a checksum outside helpers/digest.py"
        if path.name != "ranking.py":
            assert "linalg.norm" not in text or path.name in ("plots.py",), (
                f"{path.name} normalises vectors outside helpers/ranking.py (the zero-norm rule)")


def test_each_sgns_default_is_declared_once():
    """No literal equal to an SGNSConfig default is given, outside helpers/sgns.py, to a
    parameter or key of the same name (``window=10``, ``"dim": 32``)."""
    defaults = {f.name: f.default for f in dataclasses.fields(SGNSConfig)
                if f.metadata["common"] and f.name not in ("loop", "shared", "seed")}
    bad = []
    for path in HELPERS + BENCH:
        if path.name == "sgns.py":
            continue
        for node in ast.walk(parse(path)):
            pairs = []
            if isinstance(node, ast.keyword) and node.arg in defaults:
                pairs.append((node.arg, node.value))
            elif isinstance(node, ast.Dict):
                pairs += [(k.value, v) for k, v in zip(node.keys, node.values)
                          if isinstance(k, ast.Constant) and k.value in defaults]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                values = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults \
                    + node.args.kw_defaults
                pairs += [(a.arg, v) for a, v in zip(args, values) if v is not None and a.arg in defaults]
            for name, value in pairs:
                if isinstance(value, ast.Constant) and value.value == defaults[name] \
                        and type(value.value) is type(defaults[name]):
                    bad.append(f"{path.name}:{value.lineno}: {name}={value.value!r}")
    assert not bad, f"SGNS defaults restated outside helpers/sgns.py: {bad}"
