"""The shell of the course's static HTML pages (class report, similarity report).

Both pages show text a student wrote, so every value goes through :func:`esc` and the
page carries a Content-Security-Policy that forbids scripts, frames and requests: even an
escaping mistake cannot run anything in the instructor's browser.
"""

from __future__ import annotations

import html

# Inline styles only; images only as data: URIs (the class report's matplotlib figures).
CSP_TEXT_ONLY = "default-src 'none'; style-src 'unsafe-inline'"
CSP_WITH_IMAGES = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def esc(value: object) -> str:
    """``value`` as HTML text, quotes included (safe inside attributes too)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, style: str, images: bool = False) -> str:
    """A complete HTML document: ``title`` (escaped) and ``body`` (already HTML)."""
    csp = CSP_WITH_IMAGES if images else CSP_TEXT_ONLY
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(csp)}\">"
            f"<title>{esc(title)}</title><style>{style}</style></head><body>\n{body}\n</body></html>\n")
