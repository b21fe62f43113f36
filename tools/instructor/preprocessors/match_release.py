"""``MatchRelease``: a notebook from an older release is graded where its cells match.

Students hand in old copies. A release whose grade ids were renamed since leaves cells
whose ``grade_id`` the gradebook does not know. Stock ``OverwriteCells`` deletes such an
id but keeps the cell's ``grade``/``solution`` flags, and its ``add_missing_cells`` step
then fails with ``KeyError: 'grade_id'`` (or on the id of a missing cell it wants to insert
after): the student's whole assignment goes ungraded.

Runs in ``Autograde.sanitize_preprocessors`` just before ``OverwriteCells``. For each
cell with nbgrader metadata and an id the gradebook does not know:

* an answer cell takes the id of a missing answer cell of the current release that defines
  the same function (code), else, when as many unknown as missing answers of that type are
  left, the one in the same order; its flags and points come from the gradebook;
* a test cell is removed: ``OverwriteCells(add_missing_cells=True)`` puts the instructor's
  copy of every missing test back, so the current tests run;
* anything else (and an answer that matched nothing) becomes a plain cell: its code
  still runs, but nothing is graded from it.

Every answer cell of the current release still missing gets a placeholder (the release's
stub; locked cells get their text back from ``OverwriteCells``), so the missing tests can
be put after it. What happened is written to ``metadata.songrec.release`` (``renamed``:
old id -> new id, ``unmatched``: old ids graded as nothing, ``missing``: current answers
with no match) and, when anything could not be matched, shown in a note at the top of the
notebook, which the feedback shows; :mod:`tools.instructor.scores` shows it in the score
table and grades.csv.
"""

from __future__ import annotations

import re

from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from tools.instructor import cells
from tools.instructor.views import defined_name

METADATA_KEY = "songrec"
RELEASE_KEY = "release"
NOTE_TAG = "songrec-release-note"
STUBS = {"code": "# YOUR CODE HERE\nraise NotImplementedError()", "markdown": "YOUR ANSWER HERE"}
ADVICE = ("Download the current release of this notebook, copy your answers into its cells (keep the cells "
          "as they are, only fill in your code), and hand it in again.")


def shown_id(grade_id) -> str:
    """A grade id from a submission, safe to show in Markdown and HTML (it is student data)."""
    text = re.sub(r"[^A-Za-z0-9_.-]", "?", str(grade_id))
    return text[:60] + ("..." if len(text) > 60 else "")


def note_text(renamed: dict[str, str], unmatched: list[str], missing: list[str]) -> str:
    """The note put at the top of an older-release notebook."""
    lines = ["**Note from the autograder: this notebook comes from an older release of the assignment.**", ""]
    if renamed:
        lines.append("Answers matched to the current cells: "
                     + ", ".join(f"`{shown_id(a)}` → `{shown_id(b)}`" for a, b in renamed.items()) + ".")
    if unmatched:
        lines.append("Cells that match nothing in the current release (their code ran, but nothing was graded "
                     "from them): " + ", ".join(f"`{shown_id(g)}`" for g in unmatched) + ".")
    if missing:
        lines.append("Current answers with no matching cell in this notebook (scored as unanswered): "
                     + ", ".join(f"`{shown_id(g)}`" for g in missing) + ".")
    lines += ["", "The tests are those of the current release. " + ADVICE]
    return "\n".join(lines)


class MatchRelease(NbGraderPreprocessor):
    """Map or drop cells whose ``grade_id`` the gradebook does not know."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                source = gb.find_notebook(info["notebook"], info["assignment"])
            except MissingEntry:  # a notebook the assignment does not have: nbgrader skips it
                return nb, resources
            order = [c.name for c in source.source_cells]
            kinds = {c.name: c.cell_type for c in source.source_cells}
            locked = {c.name for c in source.source_cells if c.locked}
            texts = {c.name: c.source or "" for c in source.source_cells}
            answers = {c.name for c in source.solution_cells}
            points = {c.name: float(c.max_score) for c in source.grade_cells}
        functions = {name: defined_name(texts[name]) if kinds.get(name) == "code" else "" for name in answers}
        unknown = [c for c in nb.cells if cells.nbgrader_meta(c) and cells.grade_id(c) not in kinds]
        if not unknown:
            return nb, resources
        present = {cells.grade_id(c) for c in nb.cells if cells.grade_id(c) in kinds}
        missing = [n for n in order if n in answers and n not in present]
        targets = self._pair(unknown, missing, kinds, functions)
        renamed, unmatched, drop = {}, [], []
        for cell in unknown:
            meta = cells.nbgrader_meta(cell)
            old = str(meta.get("grade_id", "(no id)"))
            target = targets.get(id(cell))
            if target:
                missing.remove(target)
                renamed[old] = target
                cell.metadata["nbgrader"] = {"grade_id": target, "solution": True, "grade": target in points,
                                             "locked": False, "schema_version": 3,
                                             **({"points": points[target]} if target in points else {})}
                continue
            if meta.get("solution"):
                unmatched.append(old)
            elif meta.get("grade") and cell.cell_type == "code":
                drop.append(cell)  # an old test: the current one is put back by OverwriteCells
                continue
            del cell.metadata["nbgrader"]
        nb.cells = [c for c in nb.cells if not any(c is d for d in drop)]
        self._add_placeholders(nb, order, kinds, locked, answers, points)
        nb.metadata.setdefault(METADATA_KEY, {})[RELEASE_KEY] = {
            "renamed": renamed, "unmatched": unmatched, "missing": list(missing),
            "old_tests_replaced": [str(cells.grade_id(d)) for d in drop]}
        if unmatched or missing:
            note = new_markdown_cell(note_text(renamed, unmatched, missing))
            note.metadata["tags"] = [NOTE_TAG]
            nb.cells.insert(0, note)
        self.log.warning("older release: renamed %s, unmatched %s, current answers missing %s",
                         renamed, unmatched, missing)
        return nb, resources

    @staticmethod
    def _pair(unknown, missing: list[str], kinds, functions) -> dict[int, str]:
        """id(cell) -> the missing answer it is taken for: same type and the same function
        defined; then, per type, in order, but only where as many are left on each side."""
        pending = [c for c in unknown if cells.nbgrader_meta(c).get("solution")]
        free = list(missing)
        pairs = {}
        for cell in pending:
            name = defined_name(cell.source) if cell.cell_type == "code" else ""
            match = next((n for n in free if name and kinds[n] == cell.cell_type and functions.get(n) == name), None)
            if match:
                pairs[id(cell)] = match
                free.remove(match)
        for kind in ("code", "markdown"):
            left = [c for c in pending if id(c) not in pairs and c.cell_type == kind]
            names = [n for n in free if kinds[n] == kind]
            if left and len(left) == len(names):
                pairs.update({id(c): n for c, n in zip(left, names, strict=True)})
        return pairs

    @staticmethod
    def _add_placeholders(nb, order, kinds, locked, answers, points) -> None:
        """Put a stub where each still-missing non-graded cell of the current release goes,
        so that ``OverwriteCells`` finds the cell before each test it puts back."""
        for i, name in enumerate(order):
            if name in points or any(cells.grade_id(c) == name for c in nb.cells):
                continue
            if name not in answers and name not in locked:
                continue
            make = new_code_cell if kinds[name] == "code" else new_markdown_cell
            stub = make("" if name in locked else STUBS.get(kinds[name], ""))
            stub.metadata["nbgrader"] = {"grade_id": name, "solution": name in answers, "grade": False,
                                         "locked": name in locked, "schema_version": 3}
            before = [j for j, c in enumerate(nb.cells) if cells.grade_id(c) in order[:i]]
            nb.cells.insert(before[-1] + 1 if before else 0, stub)
