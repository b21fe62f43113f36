"""Autograding with each student's kernel in a bubblewrap sandbox (``SONGREC_SANDBOX``).

``policy``  what the kernel sees and may do, as a bubblewrap command line; ``check_sandbox``
``launch``  the kernel's launcher script (standard library only): limits, user, exec
``kernel``  the kernel manager that uses it, and nbgrader's ``Execute`` step with it
``cgroup``  one memory and process budget for a kernel and all it starts (a cgroup)

``nbgrader_config.py`` calls :func:`install` after ``preprocessors.install``; it swaps the
execute step (nbgrader's ``Execute`` or the course's ``GuardedExecute``) for
``SandboxedExecute``, a ``GuardedExecute`` with the sandboxed kernel, unless
``SONGREC_SANDBOX=none``.
docs/GRADING.md says what the sandbox does and does not protect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tools.instructor import settings


def install(c, environ: Mapping[str, str] = os.environ) -> None:
    """Run autograded kernels in the sandbox, in the nbgrader config object ``c``.

    Starts from the autograde pipeline already configured in ``c`` (else nbgrader's
    default) and replaces its execute step (``Execute`` or a subclass of it, such as the
    course's ``GuardedExecute``); does nothing when ``SONGREC_SANDBOX=none``.
    Raises ValueError for a bad ``SONGREC_SANDBOX``.
    """
    if settings.sandbox_mode(environ) == "none":
        return
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from tools.instructor.sandbox.kernel import SandboxedExecute

    if "autograde_preprocessors" in c.Autograde:
        steps = list(c.Autograde.autograde_preprocessors)
    else:
        steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    swapped = [SandboxedExecute if isinstance(s, type) and issubclass(s, Execute) else s for s in steps]
    if swapped == steps:
        raise ValueError(f"no Execute step to sandbox in the autograde pipeline: {steps}")
    c.Autograde.autograde_preprocessors = swapped
