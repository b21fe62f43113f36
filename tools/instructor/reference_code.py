"""The reference implementations' source, and student code that fetches it at run time.

The references ship in ``helpers`` (every student installs it), so a submission can copy one
two ways: paste its text (found by :mod:`tools.instructor.similarity`) or have Python fetch
it while the notebook runs (``exec(inspect.getsource(top_n))``, ``from helpers.recommend
import top_n``, ``from helpers.ranking import top_k``), which no comparison of texts can
see. :func:`reference_fetches` finds the second kind in the student's code. The
reference's source is read from the helpers' files with ``ast``: importing
``helpers.model`` would start TensorFlow.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from functools import cache

from helpers.testkit import REFERENCES

# helpers modules holding a reference: helpers.vocab, helpers.recommend, ... Any other helpers module
# counts too: the references are built on them (helpers.ranking does top_n's work).
REFERENCE_MODULES = tuple(sorted({".".join(d.split(".")[:2]) for d in REFERENCES.values()}))
SOURCE_READERS = ("getsource", "getsourcelines", "findsource", "getfile", "getsourcefile")
CODE_ATTRIBUTES = ("__code__", "__globals__", "__closure__", "__wrapped__")
RUNNERS = ("exec", "eval", "compile", "__import__")
MAGIC_RE = re.compile(r"^[ \t]*[%!].*$", re.M)
# For code that does not parse: the same findings, read line by line.
FALLBACK = (
    (re.compile(r"\b(" + "|".join(SOURCE_READERS) + r")\b"), "reads a function's source (inspect.getsource)"),
    (re.compile(r"\b(" + "|".join(CODE_ATTRIBUTES) + r")\b"), "reads a function's code object"),
    (re.compile(r"(?<![.\w])(exec|eval|compile|__import__)\s*\(|\bimport_module\s*\("),
     "runs or imports code named by a string"),
    (re.compile(r"\b(import|from)\s+helpers\b|\bhelpers\.\w"), "uses the course's own code (helpers)"),
)


@cache
def reference_source(dotted: str) -> str:
    """The source text of the helpers function or method ``dotted`` (``helpers.vocab.Vocab.encode``),
    dedented. Raises ValueError naming ``dotted`` when it is not defined in helpers/."""
    parts = dotted.split(".")
    module = ".".join(parts[:2])
    spec = importlib.util.find_spec(module) if len(parts) > 2 and parts[0] == "helpers" else None
    if spec is None or not spec.origin:
        raise ValueError(f"reference must name a function of a helpers module (helpers.<module>.<name>), "
                         f"got {dotted!r}")
    with open(spec.origin, encoding="utf-8") as f:
        text = f.read()
    body: list[ast.stmt] = ast.parse(text).body
    node = None
    for name in parts[2:]:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == name), None)
        if node is None:
            raise ValueError(f"reference {dotted!r}: {name!r} is not defined in {spec.origin}")
        body = node.body
    lines = text.splitlines()
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return textwrap.dedent("\n".join(lines[first - 1:node.end_lineno]))


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_course_module(name: str) -> bool:
    return name == "helpers" or name.startswith("helpers.")


def _holds(module: str) -> str:
    return ", which holds a reference implementation" if module in REFERENCE_MODULES else ""


def _node_finding(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import):
        used = [a.name for a in node.names if _is_course_module(a.name)]
        return f"imports the course's own code ({used[0]}{_holds(used[0])})" if used else None
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if _is_course_module(module) and not node.level:
            names = ", ".join(a.name for a in node.names)
            return f"imports {names} from the course's own code ({module}{_holds(module)})"
        return None
    if isinstance(node, ast.Attribute):
        if node.attr in CODE_ATTRIBUTES:
            return f"reads a function's code object ({node.attr})"
        return None
    if isinstance(node, ast.Call):
        name = _dotted(node.func).rsplit(".", 1)[-1]
        if name in SOURCE_READERS:
            return f"reads a function's source ({_dotted(node.func)})"
        # exec, eval, compile are builtins: model.compile(...) is Keras, not a finding
        if (name in RUNNERS and _dotted(node.func) in (name, "builtins." + name)) or name == "import_module":
            return f"runs or imports code named by a string ({_dotted(node.func)})"
    return None


def reference_fetches(source: str) -> list[tuple[int, str, str]]:
    """``(line number, what, the line)`` for each place ``source`` fetches code at run time:
    imports helpers or any of its modules (the references and what they are built on),
    reads a function's source or code object, or runs code from a string (exec, eval,
    compile, __import__, importlib.import_module). Empty for code that does none of these;
    comments and docstrings never count (they do in code that does not parse)."""
    text = MAGIC_RE.sub("", source)
    lines = source.splitlines()
    found: dict[tuple[int, str], None] = {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        for number, line in enumerate(lines, start=1):
            code = line.split("#", 1)[0]
            for regex, what in FALLBACK:
                if regex.search(code):
                    found[(number, what)] = None
    else:
        for node in ast.walk(tree):
            what = _node_finding(node)
            if what:
                found[(node.lineno, what)] = None
    return [(number, what, lines[number - 1].strip() if number <= len(lines) else "")
            for number, what in sorted(found)]
