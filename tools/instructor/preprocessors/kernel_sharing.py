"""The kernel ``GuardedExecute`` passes from one notebook of a student to the next
(``GuardedExecute.share_kernel``).

The kernel is kept in this module (:data:`shared`) between two notebooks of one nbgrader
process, and shut down by :func:`release_shared_kernel`: before a kernel for another
student's folder starts, after the assignment's last notebook, and at the process's exit.
"""

from __future__ import annotations

import atexit

from jupyter_core.utils import run_sync

# The kernel kept for the next notebook of the same student: "km" its manager, "path" the
# folder it runs in, "plan" the guard plan its snapshot recorded, "last" the assignment's
# last notebook.
shared: dict = {}


def plan_covers(outer: tuple[list[str], list[str]], inner: tuple[list[str], list[str]]) -> bool:
    """Whether the guard plan ``outer`` records every module and name ``inner`` needs."""
    return set(inner[0]) <= set(outer[0]) and set(inner[1]) <= set(outer[1])


def release_shared_kernel() -> None:
    """Shut down the kernel kept for a next notebook, if any (at exit, or before a kernel
    for another student's folder starts)."""
    km = shared.pop("km", None)
    shared.clear()
    if km is None:
        return
    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # already gone: only its resources are left to clean up
        pass
    try:
        run_sync(km.cleanup_resources)()
    except Exception:
        pass


atexit.register(release_shared_kernel)
