"""The documentation stays one map with one source per fact: the README is short and links
every guide in docs/, every relative link resolves, docs/ARCHITECTURE.md lists exactly the
modules that exist, and the tables copied from code (environment variables, the songrec
flags, the benchmark results) match the code or exist once."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from helpers.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
ARCHITECTURE = DOCS / "ARCHITECTURE.md"
PACKAGES = ("helpers", "tools", "bench")
LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SECTION_RE = re.compile(r"^#+ .*\(`([\w/]+)/`\)\s*$")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), REPO / "data" / "README.md", REPO / "bench" / "README.md"]


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK_RE.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = README.read_text(encoding="utf-8").split("\n")
    assert len(lines) <= 200, f"README.md has {len(lines)} lines, expected at most 200: move detail to docs/"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## Two commands", f"the README's first section must be the two commands, got {headings[0]!r}"
    first = "\n".join(lines[lines.index(headings[0]):lines.index(headings[1])])
    assert "make run" in first and "make test" in first


def test_every_guide_in_docs_is_linked_from_the_readme():
    linked = {(REPO / t.split("#")[0]).resolve() for t in relative_links(README)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs/ files the README does not link: {missing}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(path):
    broken = [t for t in relative_links(path) if not (path.parent / t.split("#")[0]).exists()]
    assert not broken, f"{path.relative_to(REPO)} links to missing files: {broken}"


def modules_on_disk() -> set[str]:
    """Every module of helpers/, tools/ (recursively) and bench/ as a repo path without .py."""
    return {p.relative_to(REPO).with_suffix("").as_posix()
            for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if "__pycache__" not in p.parts}


def modules_in_map() -> dict[str, str]:
    """The modules named in the first column of each table under a heading ending in
    (`package/`), as repo paths, with the line that names them."""
    named: dict[str, str] = {}
    package = None
    for line in ARCHITECTURE.read_text(encoding="utf-8").split("\n"):
        if line.startswith("#"):
            match = SECTION_RE.match(line)
            package = match.group(1) if match else None
        elif package and line.startswith("| `"):
            first = line.split("|")[1]
            for name in re.findall(r"`([\w/]+)`", first):
                named[f"{package}/{name}"] = line
    return named


def test_architecture_names_every_module():
    missing = sorted(modules_on_disk() - set(modules_in_map()))
    assert not missing, f"modules missing from docs/ARCHITECTURE.md's tables: {missing}"


def test_architecture_names_no_module_that_does_not_exist():
    ghosts = sorted(set(modules_in_map()) - modules_on_disk())
    assert not ghosts, f"docs/ARCHITECTURE.md names modules that do not exist: {ghosts}"


def test_the_map_finds_its_tables():
    # Guards the parser above: a renamed heading must not make both checks pass vacuously.
    packages = {name.rsplit("/", 1)[0] for name in modules_in_map()}
    assert {"helpers", "tools", "tools/instructor", "tools/instructor/preprocessors",
            "tools/instructor/sandbox", "bench"} <= packages


def env_names_in_code() -> set[str]:
    sources = [REPO / "Makefile", REPO / ".ci" / "run", REPO / "nbgrader_config.py"]
    for folder in ("helpers", "tools", "bench", "tests", "notebooks"):
        sources += [p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".ipynb", ".cfg", ".sh")]
    names: set[str] = set()
    for path in sources:
        if path.is_file() and path.name != "test_docs_map.py":
            names |= set(re.findall(r"\bSONGREC_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    return names


def test_environment_variable_table_matches_the_code():
    text = (DOCS / "ENVIRONMENT_VARIABLES.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(SONGREC_\w+)` \|", text, re.M))
    code = env_names_in_code()
    where = "docs/ENVIRONMENT_VARIABLES.md"
    assert not code - documented, f"read by the code but missing from {where}: {sorted(code - documented)}"
    assert not documented - code, f"in {where} but read nowhere: {sorted(documented - code)}"


def parser_flags(parser: argparse.ArgumentParser) -> set[str]:
    flags = set()
    for action in parser._actions:
        flags |= {s for s in action.option_strings if s.startswith("--") and s != "--help"}
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= parser_flags(sub)
    return flags


def test_command_line_doc_matches_the_parser():
    text = (DOCS / "COMMAND_LINE.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))
    flags = parser_flags(build_parser())
    where = "docs/COMMAND_LINE.md"
    assert not flags - documented, f"songrec flags missing from {where}: {sorted(flags - documented)}"
    assert not documented - flags, f"{where} names flags songrec does not have: {sorted(documented - flags)}"


def test_benchmark_results_exist_once():
    copies = [p.relative_to(REPO).as_posix() for p in markdown_files()
              if "<!-- bench:start -->" in p.read_text(encoding="utf-8")]
    assert not copies, f"bench/RESULTS.md is the one copy of the benchmark tables; link it instead of {copies}"


def test_readme_waits_are_the_benchmark_rows():
    # The README quotes issue 19's student wait; bench/RESULTS.md (rows 19) is where it comes from.
    results = (REPO / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    six = re.search(r"^\| 19 \| student wait: the six notebooks.*?\| `\w+`: (\d+) s \| (\d+) s \|", results, re.M)
    colab = [int(s) for s in re.findall(r"^\| 19 \| simulated Colab.*?\| (\d+) s after the setup cell", results, re.M)]
    assert six and len(colab) == 6, "bench/RESULTS.md lacks issue 19's rows: run `make bench BENCH_ARGS=--waits`"
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    quoted = (f"The six together took {six[2]} s on two quiet CPU cores in the default profile ({six[1]} s before "
              f"issue 19); on the simulated Colab each took at most {max(colab)} s after its setup cell")
    assert quoted in readme, f"README.md should say: {quoted}"
