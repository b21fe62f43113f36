"""``SanitiseOutputs``: a graded notebook holds nothing that runs in a browser.

The autograded notebook is what the formgrader renders on the instructor's Jupyter server
and what ``generate_feedback`` turns into the students' HTML, so its outputs are cleaned
where they are made (last step of autograding) and again before feedback (notebooks
graded by an older release). Per display output: HTML is cleaned by nh3
(:mod:`.safe_html`), Markdown becomes cleaned HTML, an SVG becomes an ``<img>``, an image
must be base64 with numeric width/height, and every other type (``application/javascript``,
widget views, anything unknown) is dropped with a note. ``text/plain``, streams and errors
are left exactly as they are: points are read from them. Raw cells lose their HTML format,
and the notebook's widget state is removed.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from tools.instructor.preprocessors.safe_html import clean_html, markdown_to_html, svg_as_image

_IMAGES = ("image/png", "image/jpeg", "image/gif")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*\Z")
KEPT = ("text/plain", "text/html", "text/latex", *_IMAGES)
DROPPED_NOTE = "[not shown in grading pages: {types}]"


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def _size(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 100_000


def sanitise_data(data: dict, metadata: dict) -> tuple[dict, dict]:
    """The display ``data`` and ``metadata`` of one output, with only inert content left."""
    data, kept_meta, dropped = dict(data), {}, []
    if "text/markdown" in data:
        markdown = _text(data.pop("text/markdown"))
        data.setdefault("text/html", markdown_to_html(markdown))
    if "image/svg+xml" in data:
        svg = _text(data.pop("image/svg+xml"))
        if not any(k in data for k in _IMAGES):
            data["text/html"] = svg_as_image(svg)
    out = {}
    for mime, value in data.items():
        if mime == "text/html":
            out[mime] = clean_html(_text(value))
        elif mime in _IMAGES:
            text = _text(value)
            if _BASE64.match(text):
                out[mime] = text
                sizes = metadata.get(mime) if isinstance(metadata.get(mime), dict) else {}
                kept = {k: sizes[k] for k in ("width", "height") if _size(sizes.get(k))}
                if kept:
                    kept_meta[mime] = kept
            else:
                dropped.append(mime)
        elif mime in KEPT:
            out[mime] = value
        else:
            dropped.append(mime)
    if dropped:
        note = DROPPED_NOTE.format(types=", ".join(sorted(dropped)))
        out["text/plain"] = (_text(out["text/plain"]) + "\n" + note) if "text/plain" in out else note
    return out, kept_meta


class SanitiseOutputs(Preprocessor):
    """Clean every display output, raw cell and widget state of the notebook."""

    enabled = Bool(True, help="clean the notebook (only a test has reason to turn it off)").tag(config=True)

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "raw":
            for key in ("raw_mimetype", "format"):
                cell.metadata.pop(key, None)
        elif cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") in ("display_data", "execute_result"):
                    output.data, output.metadata = sanitise_data(output.get("data", {}), output.get("metadata", {}))
        return cell, resources
