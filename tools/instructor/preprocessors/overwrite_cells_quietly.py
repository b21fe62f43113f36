"""``OverwriteCellsQuietly``: nbgrader's ``OverwriteCells`` without its routine false alarm.

Stock ``OverwriteCells`` compares each locked cell of a submission with the gradebook's
copy and warns "Attribute 'checksum' for cell ... has changed!" when they differ. A test
cell with hidden tests always differs: the release stripped the hidden region, the
gradebook kept it. So every honest submission raised one warning per such cell, and a
test really edited to ``pass`` looked like all the others. Here the warning is left out
when the submitted text is exactly what the release handed out; any other change still
warns (and is still undone, as before). :mod:`tools.instructor.tamper` lists the real
changes per student.
"""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells


def released_text(source: str) -> str:
    """What ``nbgrader generate_assignment`` hands out for a test cell of ``source``: the
    text with its hidden-test regions removed, as nbgrader's ``ClearHiddenTests`` does."""
    from nbformat.v4 import new_code_cell

    cell = new_code_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)  # nbgrader's own rule, so the text matches
    return cell.source


class OverwriteCellsQuietly(OverwriteCells):
    """``OverwriteCells`` that warns about a checksum only when the cell was edited."""

    def preprocess_cell(self, cell, resources, cell_index):
        self._as_released = False
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id).source
            except Exception:  # unknown cell: the parent reports it
                source = None
            self._as_released = source is not None and cell.source in (source, released_text(source))
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and self._as_released:
            return
        super().report_change(name, attr, old, new)
