"""``FeedbackHTMLExporter``: the course's feedback template, for ``generate_feedback`` only.

Setting the template on ``HTMLExporter`` in nbgrader_config.py also reached the
formgrader, which builds its own ``HTMLExporter`` from the same configuration for its
manual-grading view: that view then rendered with the feedback template and failed
(``TemplateNotFound: bootstrap.min.css``). A subclass configured only as
``GenerateFeedback.exporter_class`` keeps the two apart; traitlets gives a subclass's
own config section priority over ``HTMLExporter``'s, which nbgrader fills in for feedback.
"""

from __future__ import annotations

from nbconvert.exporters import HTMLExporter


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter under its own config section (``FeedbackHTMLExporter``)."""
