"""The sandboxed kernel: a Jupyter kernel manager that starts each kernel through
``launch.py`` inside bubblewrap, and the nbgrader ``Execute`` step that uses it (the
course's guarded step, so the kernel guard of issue 12 runs inside the sandbox too).

nbgrader (outside the sandbox) keeps the gradebook and the hidden tests; only the kernel,
which runs the student's code, is confined. The kernel talks to nbgrader over ZeroMQ
``ipc`` sockets in a folder of its own (a network namespace has no way back to the host's
loopback), and is interrupted by a message on its control channel, since a signal sent to
the launcher's process group would never reach a process in another session.

Each kernel gets its own cgroup (:mod:`tools.instructor.sandbox.cgroup`), one memory and
process budget for the kernel and all it starts; killing the kernel kills the whole group,
and the group is removed when the kernel has gone. The first kernel of a grading process
writes which limits hold to the grading log.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.util import run_sync

from tools.instructor import settings
from tools.instructor.errors import CourseToolError
from tools.instructor.preprocessors.guarded_execute import GuardedExecute
from tools.instructor.sandbox import cgroup
from tools.instructor.sandbox.policy import LAUNCHER, launch_spec

LOG_TAIL_BYTES = 2000
FAILURE_WORDS = ("bwrap:", "Traceback", "Error", "error:", "launch.py:")
_said_limits = False  # the limits line goes to the log once per grading process


def make_group(environ, limits, log) -> cgroup.Group | None:
    """The cgroup for one kernel with ``limits``, or None where none can be made.

    ``environ``: read for the cgroup settings. ``log``: a logger; the first call in a
    process logs which limits hold (a warning when no cgroup budget holds).
    Raises CourseToolError when ``SONGREC_SANDBOX_CGROUP=require`` and no group with both
    a memory and a process limit can be made.
    """
    global _said_limits
    support = cgroup.detect(environ)
    group, problem = None, support.reason if support.version == "none" else ""
    if support.version != "none":
        try:
            group = cgroup.Group.create(support, limits)
        except OSError as exc:
            problem = f"making a cgroup under {sorted(set(map(str, support.parents.values())))} failed: {exc}"
            support = cgroup.Support("none", reason=problem)
    complete = group is not None and len(support.parents) == len(cgroup.CONTROLLERS)
    if not complete and settings.sandbox_cgroup_mode(environ) == "require":
        if group is not None:
            group.remove()
        raise CourseToolError(f"{settings.SANDBOX_CGROUP_VAR}=require and no cgroup for the kernel: "
                              f"{problem or support.reason}")
    if not _said_limits:
        _said_limits = True
        line = support.limits_line(limits)
        (log.warning if group is None or support.reason else log.info)(line)
    return group


class SandboxKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels run in the sandbox of
    :mod:`tools.instructor.sandbox.policy`.

    Each kernel gets a fresh host folder (under ``TMPDIR``) holding its connection file,
    its sockets, the copy of its working folder and its log; the folder is removed when
    the kernel is shut down.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._box = Path(tempfile.mkdtemp(prefix="songrec-kernel-"))
        (self._box / "ipc").mkdir()
        self._group: cgroup.Group | None = None
        self.transport = "ipc"
        self.connection_file = str(self._box / "ipc" / "kernel.json")
        self.ip = str(self._box / "ipc" / "k")

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        args = self._launch_args or {}
        environ = args.get("env") or os.environ
        limits = settings.sandbox_limits(environ)
        self._remove_group()
        self._group = make_group(environ, limits, self.log)
        try:
            spec = launch_spec(cmd, cwd=str(args.get("cwd") or os.getcwd()), box=self._box, environ=environ,
                               limits=limits)
        except BaseException:  # no kernel will start, and jupyter_client will not clean up after it
            self._remove_group()
            raise
        spec["cgroups"] = self._group.procs_files if self._group else []
        path = self._box / "spec.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        return [sys.executable, str(LAUNCHER), "outer", str(path)]

    def _remove_box(self) -> None:
        log = self._box / "kernel.log"
        if log.is_file() and log.stat().st_size:
            with open(log, "rb") as f:
                f.seek(max(0, log.stat().st_size - LOG_TAIL_BYTES))
                tail = f.read().decode("utf-8", "replace").strip()
            # ipykernel always prints a banner there; only a failure is worth the grader's eye.
            if any(word in tail for word in FAILURE_WORDS):
                self.log.warning("sandboxed kernel's own output (last %d bytes):\n%s", LOG_TAIL_BYTES, tail)
        shutil.rmtree(self._box, ignore_errors=True)

    def _remove_group(self) -> None:
        if self._group is not None:
            peak = self._group.memory_peak()
            if peak is not None:  # what the budget must leave room for, for the instructor to tune it
                self.log.info("sandboxed kernel's peak memory (processes and tmpfs): %d MiB", peak >> 20)
            if not self._group.remove():
                self.log.warning("the sandbox's cgroup %s could not be removed", self._group.folders)
            self._group = None

    def lock_connection_folder(self) -> None:
        """Once the kernel has made its sockets: give its connection folder and file back
        to the grader, so the sandbox can no longer create or grow files in the one host
        folder it writes to (as root only: without root the sandbox runs as the grader's
        own user id). The next start hands them to the new kernel's user again."""
        if os.geteuid() != 0:
            return
        ipc = self._box / "ipc"
        os.chown(ipc, 0, 0)
        os.chmod(ipc, 0o755)
        connection = Path(self.connection_file)
        if connection.exists():
            os.chown(connection, 0, 0)
            os.chmod(connection, 0o644)

    def kill_sandbox(self) -> None:
        """SIGKILL every process in this kernel's cgroup, the kernel and all it started,
        whatever signals they ignore (nothing where the kernel has no cgroup; killing the
        kernel, as ``shutdown_kernel(now=True)`` does, then ends its sandbox through
        bubblewrap's ``--die-with-parent`` and its process namespace)."""
        if self._group is not None:
            self._group.kill()

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        self.kill_sandbox()
        await super()._async_kill_kernel(restart=restart)

    _kill_kernel = _async_kill_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        self._remove_group()
        if not restart:
            self._remove_box()

    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(GuardedExecute):
    """The course's :class:`GuardedExecute` with :class:`SandboxKernelManager` as its
    kernel manager: test cells still run after the guard restores the kernel's state."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    async def async_start_new_kernel_client(self):
        """Start the client as nbclient does; then, before any cell runs, lock the
        kernel's connection folder (:meth:`SandboxKernelManager.lock_connection_folder`)."""
        client = await super().async_start_new_kernel_client()
        if isinstance(self.km, SandboxKernelManager):
            self.km.lock_connection_folder()
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)
