"""The environment variables' one home, helpers/environment.py: every ``SONGREC_*`` name the
code reads is declared there, and no other module of helpers/, tools/ or bench/ spells one
as a string of its own (messages and docstrings may name them in prose; tests and
notebooks may spell them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from helpers import environment

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "helpers" / "environment.py"
# Runs as ``python tools/ci_venv.py`` before any environment exists, with the standard
# library only and without the repository on sys.path: it cannot import helpers.
EXEMPT = {REPO / "tools" / "ci_venv.py": "standard library only, run without the repository importable"}
NAME = re.compile(r"SONGREC_[A-Z0-9_]*[A-Z0-9]")
SOURCES = sorted(p for root in ("helpers", "tools", "bench") for p in (REPO / root).rglob("*.py")
                 if "__pycache__" not in p.parts) + [REPO / "nbgrader_config.py"]


def spelled_names(path: Path) -> list[str]:
    """``line: name`` of each string constant in ``path`` that is exactly a variable name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{node.lineno}: {node.value}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value)]


@pytest.mark.parametrize("path", [p for p in SOURCES if p != HOME and p not in EXEMPT],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_spells_a_variable_name_but_its_home(path):
    found = spelled_names(path)
    assert not found, (f"{path.relative_to(REPO)} spells environment variable names {found}: use the "
                       "constants of helpers/environment.py")


def test_the_finder_sees_a_spelled_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Reads SONGREC_PROFILE."""\nimport os\nos.environ.get("SONGREC_PROFILE")\n'
                   'print("set SONGREC_DATA_DIR")\n')
    assert spelled_names(bad) == ["3: SONGREC_PROFILE"]


def test_every_name_the_code_mentions_is_declared():
    """A name in a message, a docstring or the Makefile that is not declared is a typo or a
    variable without a home."""
    mentioned = {}
    for path in SOURCES + [REPO / "Makefile"]:
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            mentioned.setdefault(name, str(path.relative_to(REPO)))
    undeclared = {n: where for n, where in mentioned.items() if n not in environment.VARIABLES}
    assert not undeclared, f"SONGREC_ names used but not declared in helpers/environment.py: {undeclared}"


def test_each_declaration_has_a_default_and_a_one_line_doc():
    for name, var in environment.VARIABLES.items():
        assert var.name == name and var.default and var.doc and "\n" not in var.doc, var


@pytest.mark.parametrize("name", ["SONGREC_PROFILE", "PROFILE", "songrec_profile"])
def test_declare_refuses_a_second_or_foreign_name(name):
    with pytest.raises(ValueError, match=repr(name)):
        environment.declare(name, "x", "y")
