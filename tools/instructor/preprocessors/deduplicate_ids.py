"""``DeduplicateIdsSafely``: a copied graded cell no longer stops a student's autograding.

A copied answer or test cell (Jupyter's copy/paste keeps the nbgrader metadata) makes
stock ``DeduplicateIds`` leave ``"nbgrader": {}`` on the earlier copy, and
``OverwriteCells(add_missing_cells=True)`` then fails with ``KeyError: 'grade_id'``: the
student's whole notebook goes ungraded. Here the earlier copy loses its nbgrader metadata
entirely and becomes an ordinary cell; the last copy is graded, as before.
"""

from __future__ import annotations

from nbgrader.preprocessors import DeduplicateIds


class DeduplicateIdsSafely(DeduplicateIds):
    """``DeduplicateIds`` that turns every earlier duplicate into a plain cell."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
