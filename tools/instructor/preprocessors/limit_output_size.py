"""``LimitOutputSize``: one huge output no longer fills the graded notebook and the feedback.

Stock ``LimitOutput`` counts lines, so a single 50 MB ``print`` stays in the graded
notebook and in the feedback HTML. This caps the characters each cell keeps. It shortens
outputs but never removes one: an ``error`` or ``stderr`` output is what gives a test cell
zero points, so dropping it would award points.
"""

from __future__ import annotations

import json

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

MAX_CHARS = 100_000
# An execute_result keeps at least this much of its text/plain: a test cell's value is
# read as partial credit, so it must never be cut to nothing.
MIN_RESULT_CHARS = 1_000
TRUNCATION_NOTE = "\n... output truncated by the autograder: {n:,} characters left out ...\n"


def _size(value) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


class LimitOutputSize(NbGraderPreprocessor):
    """Keep at most ``max_chars`` characters of output per code cell."""

    max_chars = Integer(MAX_CHARS, help="characters of output one cell keeps (-1: no limit)").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or self.max_chars < 0:
            return cell, resources
        budget = self.max_chars
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                text = _text(output.text)
                if len(text) > budget:
                    output.text = text[:budget] + TRUNCATION_NOTE.format(n=len(text) - budget)
                budget = max(budget - len(text), 0)
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                size = sum(_size(v) for v in data.values())
                if size > budget:
                    # Keep the type and the start of text/plain only.
                    plain = _text(data.get("text/plain", ""))
                    keep = max(budget, MIN_RESULT_CHARS)
                    if not plain:
                        plain = TRUNCATION_NOTE.format(n=size).strip()
                    elif len(plain) > keep:
                        plain = plain[:keep] + TRUNCATION_NOTE.format(n=len(plain) - keep)
                    output.data = {"text/plain": plain}
                budget = max(budget - size, 0)
        return cell, resources
