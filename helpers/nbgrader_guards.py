"""Two nbgrader 0.9.6 preprocessors that make autograding robust to what students hand in.

``nbgrader_config.py`` puts them into the autograde pipelines with two lines::

    from helpers.nbgrader_guards import install
    install(c)

``DeduplicateIdsSafely``
    A copied answer or test cell (Jupyter's copy/paste keeps the nbgrader metadata) makes
    stock ``DeduplicateIds`` leave ``"nbgrader": {}`` on the earlier copy, and
    ``OverwriteCells(add_missing_cells=True)`` then fails with ``KeyError: 'grade_id'``:
    the student's whole notebook goes ungraded. Here the earlier copy loses its nbgrader
    metadata entirely and becomes an ordinary cell; the last copy is graded, as before.
``LimitOutputSize``
    Stock ``LimitOutput`` counts lines, so a single 50 MB ``print`` stays in the graded
    notebook and in the feedback HTML. This caps the characters each cell keeps. It
    shortens outputs but never removes one: an ``error`` or ``stderr`` output is what
    gives a test cell zero points, so dropping it would award points.
"""

from __future__ import annotations

import json

from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor
from traitlets import Integer

TRUNCATION_NOTE = "\n... output truncated by the autograder: {n:,} characters left out ...\n"


class DeduplicateIdsSafely(DeduplicateIds):
    """``DeduplicateIds`` that turns every earlier duplicate into a plain cell."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


def _size(value) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


class LimitOutputSize(NbGraderPreprocessor):
    """Keep at most ``max_chars`` characters of output per code cell."""

    max_chars = Integer(100_000, help="characters of output one cell keeps (-1: no limit)").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or self.max_chars < 0:
            return cell, resources
        budget = self.max_chars
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                text = output.text if isinstance(output.text, str) else "".join(output.text)
                if len(text) > budget:
                    output.text = text[:budget] + TRUNCATION_NOTE.format(n=len(text) - budget)
                budget = max(budget - len(text), 0)
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                size = sum(_size(v) for v in data.values())
                if size > budget:
                    plain = data.get("text/plain", "")
                    plain = plain if isinstance(plain, str) else "".join(plain)
                    # Keep the type and the start of text/plain, never less than a short
                    # value: an execute_result of a test cell is read as partial credit.
                    keep = max(budget, 1_000)
                    if not plain:
                        plain = TRUNCATION_NOTE.format(n=size).strip()
                    elif len(plain) > keep:
                        plain = plain[:keep] + TRUNCATION_NOTE.format(n=len(plain) - keep)
                    output.data = {"text/plain": plain}
                budget = max(budget - size, 0)
        return cell, resources


def install(c) -> None:
    """Put both guards into an nbgrader config object; call it from ``nbgrader_config.py``.

    Starts from nbgrader's own default pipelines, so only these two steps change.
    """
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import LimitOutput

    traits = Autograde.class_traits()
    sanitize = [DeduplicateIdsSafely if p is DeduplicateIds else p
                for p in traits["sanitize_preprocessors"].default()]
    autograde = list(traits["autograde_preprocessors"].default())
    autograde.insert(autograde.index(LimitOutput) + 1, LimitOutputSize)
    c.Autograde.sanitize_preprocessors = sanitize
    c.Autograde.autograde_preprocessors = autograde
