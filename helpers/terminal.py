"""Text that is safe to print on a terminal.

Song titles and artists come from data files, and paths and values in error messages
from the user: an escape sequence among them could recolour, move the cursor, retitle
the window or hide text, and a newline would split a one-line error. :func:`printable`
shows every control character as a visible escape instead.
"""

from __future__ import annotations

import contextlib
import sys
import unicodedata

# Bidirectional overrides and isolates reorder the text around them (Trojan Source).
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """``str(text)`` with C0/C1 controls, DEL, bidi controls and lone surrogates escaped
    (``\\x1b``, ``\\u202e``, ...); a backslash stays a backslash, everything else is kept."""
    s = str(text)
    if s.isprintable() and not _BIDI.intersection(s):
        return s
    return "".join(
        _escape(ch) if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in s)


def say(message: object) -> None:
    """Tell the person at the terminal ``message`` on stderr (made :func:`printable`, flushed
    at once); a closed or broken stderr loses the message rather than failing the command."""
    with contextlib.suppress(OSError, ValueError):
        print(printable(message), file=sys.stderr, flush=True)
