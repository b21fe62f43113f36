"""``FeedbackNotes``: what the course's feedback template needs beyond nbgrader's scores.

Runs after nbgrader's ``GetGrades`` in ``GenerateFeedback``. For each graded cell it sets
``metadata.nbgrader.label`` (a test cell: which task and function it tests; an answer:
its question) and ``metadata.nbgrader.ungraded`` (a manual part no grader has scored yet,
which nbgrader would otherwise show as 0 points). For the notebook it puts into
``resources["songrec"]`` the points still awaiting a grader and a note on how the profile
the notebook was graded in differs from the one students run (read from
``metadata.songrec.grading.profile``, which ``GuardedExecute`` writes). The template in
``tools/instructor/templates/song2vec_feedback`` shows them.
"""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution, is_task

from tools.instructor import cells
from tools.instructor.preprocessors.guarded_execute import METADATA_KEY
from tools.instructor.views import defined_name

STUDENT_PROFILE = "default"


def profile_note(graded_in: str | None, student_profile: str = STUDENT_PROFILE) -> str:
    """One paragraph on how profile ``graded_in`` differs from ``student_profile``; "" when
    they are the same (or the profile is unknown)."""
    from helpers.course import PROFILES

    if not graded_in or graded_in == student_profile or graded_in not in PROFILES:
        return ""
    graded, usual = PROFILES[graded_in], PROFILES[student_profile]
    diffs = []
    for name, what in (("num_playlists", "playlists"), ("val_fraction", "held-out fraction"),
                       ("window", "window"), ("negatives", "negatives per pair"), ("dim", "dimension"),
                       ("epochs", "epochs"), ("learning_rate", "learning rate"), ("batch_size", "batch size"),
                       ("synthetic", "synthetic data")):
        a, b = getattr(graded, name), getattr(usual, name)
        if a != b:
            diffs.append(f"{what} {a:g} instead of {b:g}" if isinstance(a, float) else f"{what} {a} instead of {b}")
    return (f"This notebook was graded in the `{graded_in}` profile, not the `{student_profile}` profile you "
            f"ran it in: {', '.join(diffs) or 'the same settings'}. So the numbers printed above the tests "
            "(vocabulary size, losses, hit rates) differ from yours. The tests build their own small inputs, "
            "so your score does not depend on the profile.")


class FeedbackNotes(NbGraderPreprocessor):
    """Labels, "not graded yet" marks and the profile note for the feedback template."""

    def preprocess(self, nb, resources):
        nbgrader = resources["nbgrader"]
        self._functions = {cells.grade_id(c): defined_name(c.source) for c in nb.cells
                           if is_solution(c) and not is_grade(c) and c.cell_type == "code"}
        self._ungraded = 0.0
        with Gradebook(nbgrader["db_url"]) as gb:
            self._grade_of = lambda gid: gb.find_grade(gid, nbgrader["notebook"], nbgrader["assignment"],
                                                       nbgrader["student"])
            nb, resources = super().preprocess(nb, resources)
        grading = nb.metadata.get(METADATA_KEY, {}).get("grading", {})
        resources["songrec"] = {"ungraded_points": self._ungraded,
                                "profile_note": profile_note(grading.get("profile"))}
        return nb, resources

    def preprocess_cell(self, cell, resources, cell_index):
        gid = cells.grade_id(cell)
        if not gid or not (is_grade(cell) or is_task(cell)):
            return cell, resources
        meta = cell.metadata.nbgrader
        if is_grade(cell) and not is_solution(cell):
            owner = cells.owning_solution(gid)
            function = self._functions.get(owner)
            meta["label"] = f"{gid} — tests {function}()" if function else f"{gid} (test of {owner})"
        else:
            meta["label"] = f"{gid} — {'written answer' if is_solution(cell) else 'task'}"
            try:
                grade = self._grade_of(gid)
            except MissingEntry:
                return cell, resources
            if grade.manual_score is None and grade.needs_manual_grade:
                meta["ungraded"] = True
                self._ungraded += float(grade.max_score or 0)
        return cell, resources
