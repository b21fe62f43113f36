"""nbgrader 0.9.6 preprocessors that make autograding robust to what students hand in.

One module per preprocessor; :func:`install` puts them into nbgrader's own default
pipelines, so only these steps change. ``nbgrader_config.py`` calls it::

    from tools.instructor.preprocessors import install
    install(c)

:class:`~.deduplicate_ids.DeduplicateIdsSafely`
    replaces ``DeduplicateIds`` in ``Autograde.sanitize_preprocessors``: a copied answer
    cell no longer stops that student's autograding.
:class:`~.limit_output_size.LimitOutputSize`
    runs after ``LimitOutput`` in ``Autograde.autograde_preprocessors``: one huge print
    is shortened, never removed.
"""

from __future__ import annotations

from tools.instructor.preprocessors.deduplicate_ids import DeduplicateIdsSafely
from tools.instructor.preprocessors.limit_output_size import LimitOutputSize

__all__ = ["DeduplicateIdsSafely", "LimitOutputSize", "install"]


def install(c) -> None:
    """Put the course's preprocessors into the nbgrader config object ``c``.

    Starts from nbgrader's own default autograde pipelines and changes only the steps
    listed in this module's docstring.
    """
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import DeduplicateIds, LimitOutput

    traits = Autograde.class_traits()
    sanitize = [DeduplicateIdsSafely if p is DeduplicateIds else p for p in traits["sanitize_preprocessors"].default()]
    autograde = list(traits["autograde_preprocessors"].default())
    autograde.insert(autograde.index(LimitOutput) + 1, LimitOutputSize)
    c.Autograde.sanitize_preprocessors = sanitize
    c.Autograde.autograde_preprocessors = autograde
