"""nbgrader 0.9.6 preprocessors that make grading robust to what students hand in.

One module per preprocessor; :func:`install` puts them into nbgrader's own default
pipelines, so only these steps change. ``nbgrader_config.py`` calls it::

    from tools.instructor.preprocessors import install
    install(c)

:class:`~.deduplicate_ids.DeduplicateIdsSafely`
    replaces ``DeduplicateIds`` in ``Autograde.sanitize_preprocessors``: a copied answer
    cell no longer stops that student's autograding.
:class:`~.overwrite_cells_quietly.OverwriteCellsQuietly`
    replaces ``OverwriteCells`` there: no "checksum has changed" warning for a test cell
    handed in exactly as released (hidden tests make every such cell differ).
:class:`~.match_release.MatchRelease`
    runs before it there: a notebook of an older release (renamed grade ids) is graded
    where its cells match, and says which did not.
:class:`~.guarded_execute.GuardedExecute`
    replaces ``Execute`` in ``Autograde.autograde_preprocessors``: every test cell runs
    from a recorded kernel state, and what had to be undone is written to the notebook.
:mod:`~.guard_plan`, :mod:`~.kernel_sharing`
    ``GuardedExecute``'s helpers: which modules and names the kernel guard records (one
    notebook's test imports, or the whole assignment's from the gradebook), and the kernel
    kept between a student's notebooks (``GuardedExecute.share_kernel``).
:mod:`~.start_gate`
    where a student's nbgrader, started ahead of its turn (``--jobs 1``), waits once its
    kernel is ready, before the student's first cell.
:class:`~.limit_output_size.LimitOutputSize`
    runs after ``LimitOutput`` there: one huge print is shortened, never removed.
:class:`~.sanitise_outputs.SanitiseOutputs`
    runs last in ``Autograde.autograde_preprocessors`` and first in every
    ``HTMLExporter`` (feedback and the formgrader's view): nothing a student's code displays can run in the
    formgrader or the feedback page (:mod:`.safe_html` cleans the HTML).
:class:`~.feedback_notes.FeedbackNotes`
    runs after ``GetGrades`` in ``GenerateFeedback.preprocessors``: test cells named by
    their task, parts awaiting a grader marked, the grading profile's differences noted;
    the course's feedback template (``tools/instructor/templates/``) shows them.
:class:`~.feedback_exporter.FeedbackHTMLExporter`
    ``GenerateFeedback``'s exporter, the only one given that template: the formgrader's
    own ``HTMLExporter`` keeps nbgrader's ``formgrade`` template.

Every ``HTMLExporter`` (the formgrader's too) sanitises HTML with the filters of
:mod:`.safe_html`.
"""

from __future__ import annotations

from pathlib import Path

from tools.instructor.preprocessors import safe_html
from tools.instructor.preprocessors.deduplicate_ids import DeduplicateIdsSafely
from tools.instructor.preprocessors.feedback_exporter import FeedbackHTMLExporter
from tools.instructor.preprocessors.feedback_notes import FeedbackNotes
from tools.instructor.preprocessors.guarded_execute import GuardedExecute
from tools.instructor.preprocessors.limit_output_size import LimitOutputSize
from tools.instructor.preprocessors.match_release import MatchRelease
from tools.instructor.preprocessors.overwrite_cells_quietly import OverwriteCellsQuietly
from tools.instructor.preprocessors.sanitise_outputs import SanitiseOutputs

__all__ = ["DeduplicateIdsSafely", "FeedbackHTMLExporter", "FeedbackNotes", "GuardedExecute", "LimitOutputSize",
           "MatchRelease", "OverwriteCellsQuietly", "SanitiseOutputs", "install", "TEMPLATES"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FEEDBACK_TEMPLATE = "song2vec_feedback"  # a folder of TEMPLATES, based on nbgrader's "feedback"
FEEDBACK_FILE = "feedback.html.j2"


def install(c) -> None:
    """Put the course's preprocessors (and its feedback template) into the nbgrader config
    object ``c``.

    Starts from nbgrader's own default pipelines and changes only the steps listed in this
    module's docstring.
    """
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.preprocessors import DeduplicateIds, Execute, GetGrades, LimitOutput, OverwriteCells

    swap = {DeduplicateIds: DeduplicateIdsSafely, OverwriteCells: OverwriteCellsQuietly, Execute: GuardedExecute}
    traits = Autograde.class_traits()
    sanitize = [swap.get(p, p) for p in traits["sanitize_preprocessors"].default()]
    autograde = [swap.get(p, p) for p in traits["autograde_preprocessors"].default()]
    autograde.insert(autograde.index(LimitOutput) + 1, LimitOutputSize)
    sanitize.insert(sanitize.index(OverwriteCellsQuietly), MatchRelease)
    autograde.append(SanitiseOutputs)
    c.Autograde.sanitize_preprocessors = sanitize
    c.Autograde.autograde_preprocessors = autograde
    feedback = list(GenerateFeedback.class_traits()["preprocessors"].default())
    feedback.insert(feedback.index(GetGrades) + 1, FeedbackNotes)
    c.GenerateFeedback.preprocessors = feedback
    # Only GenerateFeedback's exporter gets the feedback template (issue 24: the formgrader
    # reads this configuration too and must keep its own "formgrade" template).
    c.GenerateFeedback.exporter_class = FeedbackHTMLExporter
    c.FeedbackHTMLExporter.template_name = FEEDBACK_TEMPLATE
    c.FeedbackHTMLExporter.template_file = FEEDBACK_FILE
    c.FeedbackHTMLExporter.extra_template_basedirs = [str(TEMPLATES), _nbgrader_templates()]
    # Every HTML exporter, the formgrader's included, cleans what it renders (a notebook
    # autograded before SanitiseOutputs existed too), and its student HTML and Markdown.
    c.HTMLExporter.preprocessors = [f"{SanitiseOutputs.__module__}.{SanitiseOutputs.__name__}"]
    c.HTMLExporter.sanitize_html = True
    c.HTMLExporter.filters = safe_html.exporter_filters()


def _nbgrader_templates() -> str:
    """nbgrader's formgrader template folder, where its ``feedback`` template lives."""
    import nbgrader

    return str(Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates")
