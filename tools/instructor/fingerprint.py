"""Fingerprints of Python code that survive renaming, reformatting, comments and docstrings.

The code is parsed and printed back by ``ast`` (one layout, no comments), docstrings are
dropped, every name the code binds itself (functions, arguments, variables) becomes ``V``,
every string literal ``S``; names it does not bind (builtins, attributes, what it imports)
stay, since a student cannot rename them: a pasted reference that imports what the
reference uses keeps those names as the reference has them. Hashes of every run of ``K``
such tokens are then thinned out by winnowing (Schleimer, Wilkerson and Aiken, SIGMOD 2003:
the smallest hash of each window of ``WINDOW`` hashes), which keeps a match of ``K + WINDOW - 1``
tokens or more visible wherever it sits. Hashes are BLAKE2b, so a fingerprint is the same in
every process (Python's own ``hash`` of a string is salted per process).
"""

from __future__ import annotations

import ast
import hashlib
import io
import keyword
import re
import tokenize

K = 8  # tokens per hashed run: a shorter run (``V = np.asarray(V)``) is common to everyone
WINDOW = 4  # hashes per winnowing window
# IPython's shell and magic lines are not Python; they carry no logic worth comparing.
MAGIC_RE = re.compile(r"^[ \t]*[%!].*$", re.M)
SKIPPED = (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
           tokenize.ENDMARKER)
SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _drop_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, SCOPES) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def bound_names(tree: ast.AST) -> set[str]:
    """Every name ``tree`` binds itself, imports aside: what a student may rename freely."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


def normalise(source: str) -> list[str]:
    """The tokens of ``source`` that a copy keeps however it is renamed or laid out.

    Code that does not parse (a student's syntax error) is tokenised as written, with its
    names kept; what cannot be tokenised at all ends the list.
    """
    text = MAGIC_RE.sub("", source)
    try:
        tree = ast.parse(text)
        bound = bound_names(tree)
        text = ast.unparse(_drop_docstrings(tree))
    except (SyntaxError, ValueError, RecursionError):
        bound = set()
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in SKIPPED:
                continue
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                out.append("V" if tok.string in bound else tok.string)
            elif tok.type == tokenize.STRING:
                out.append("S")
            elif tok.type == tokenize.NEWLINE:
                out.append(";")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _hash(gram: list[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest(), "big")


def fingerprints(tokens: list[str], k: int = K, window: int = WINDOW) -> frozenset[int]:
    """The winnowed hashes of the ``k``-token runs of ``tokens`` (empty for no tokens; one hash
    for fewer than ``k``)."""
    if k < 1 or window < 1:
        raise ValueError(f"k and window must be >= 1, got k={k}, window={window}")
    if not tokens:
        return frozenset()
    hashes = [_hash(tokens[i:i + k]) for i in range(max(len(tokens) - k + 1, 1))]
    if len(hashes) <= window:
        return frozenset([min(hashes)])
    return frozenset(min(hashes[i:i + window]) for i in range(len(hashes) - window + 1))


def code_fingerprints(source: str) -> frozenset[int]:
    """:func:`fingerprints` of :func:`normalise` of ``source``."""
    return fingerprints(normalise(source))


def overlap(a: frozenset[int], b: frozenset[int], boilerplate: frozenset[int] = frozenset()) -> float:
    """How much of the smaller of two answers is in the other, 0..1, after dropping the
    fingerprints of ``boilerplate`` (the released cell: signature, docstring, given lines).

    The smaller side is the measure, so an answer that pastes the reference and adds code
    of its own still scores near 1 against the reference.
    """
    a, b = a - boilerplate, b - boilerplate
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
