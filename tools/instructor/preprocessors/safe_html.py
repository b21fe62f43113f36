"""HTML from a student's notebook, made inert for the pages an instructor or student opens.

Everything a submission displays is hostile: an HTML output, a Markdown cell or an SVG
figure can carry ``<script>``, event-handler attributes, ``javascript:`` links or iframes,
and the formgrader shows it on the instructor's own Jupyter server (same origin as its
API). :func:`clean_html` keeps the markup that documents need (headings, lists, tables,
links, images, code) through nh3, a maintained binding of the Ammonia sanitiser, and
drops the rest. :func:`svg_as_image` shows an SVG through ``<img>``, where browsers never
run its scripts. :func:`markdown2html` and :func:`clean_html` are also the Jinja filters
of the course's HTML exporters (:func:`exporter_filters`), so nbconvert's
``sanitize_html`` uses them.
"""

from __future__ import annotations

import base64
import re

import nh3
from jinja2 import pass_context

# Ammonia's defaults plus classes (Pygments' highlighting and nbconvert's layout need them).
# No ``id`` and no ``style``: a student's element must not take the id of a grading input
# or lay a fake form over the page.
_GENERIC_ATTRIBUTES = {"class", "title", "lang"}
_SCHEMES = {"http", "https", "mailto"}
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z")
_SVG_START = re.compile(r"\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]", re.I | re.S)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """An ``<img src>`` must be an embedded raster or SVG image (how notebooks embed figures
    and attachments): an image from anywhere else would be fetched as the page opens,
    telling that server (or the grader's own Jupyter server) who looked. No other
    attribute may hold a ``data:`` URL; nh3 has already refused every unlisted scheme."""
    if tag == "img" and attribute == "src":
        return value if _DATA_IMAGE.match(value.strip()) else None
    if value.strip().lower().startswith("data:"):
        return None
    return value


def clean_html(html) -> str:
    """``html`` (str or bytes) with only inert markup left.

    An SVG document (as nbconvert's templates pass an ``image/svg+xml`` output) is
    returned as an image (:func:`svg_as_image`) so that a figure stays visible.
    """
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else str(html)
    if _SVG_START.match(text):
        return svg_as_image(text)
    tags = set(nh3.ALLOWED_TAGS)
    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = attributes.get("*", set()) | _GENERIC_ATTRIBUTES
    return nh3.clean(text, tags=tags, attributes=attributes, url_schemes=_SCHEMES | {"data"},
                     attribute_filter=_keep_attribute, link_rel="noopener noreferrer nofollow")


def svg_as_image(svg: str) -> str:
    """An ``<img>`` showing ``svg``: an SVG loaded as an image runs no script and loads nothing."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="SVG figure">'


def markdown_to_html(source: str, attachments: dict | None = None) -> str:
    """``source`` (Markdown, maths kept for MathJax) as sanitised HTML."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    return clean_html(MarkdownWithMath(renderer=renderer).render(source))


@pass_context
def markdown2html(context, source: str) -> str:
    """Jinja filter: nbconvert's ``markdown2html`` (the cell's attachments included), cleaned."""
    cell = context.get("cell", {}) or {}
    return markdown_to_html(source, cell.get("attachments", {}) or {})


def exporter_filters() -> dict[str, str]:
    """Jinja filters for an nbconvert ``HTMLExporter`` (its ``filters`` setting), by import
    path so the setting stays plain data: every Markdown cell and every ``clean_html`` of
    the templates goes through nh3."""
    return {name: f"{__name__}.{name}" for name in ("markdown2html", "clean_html")}
