"""The sandboxed kernel: a Jupyter kernel manager that starts each kernel through
``launch.py`` inside bubblewrap, and the nbgrader ``Execute`` step that uses it (the
course's guarded step, so the kernel guard of issue 12 runs inside the sandbox too).

nbgrader (outside the sandbox) keeps the gradebook and the hidden tests; only the kernel,
which runs the student's code, is confined. The kernel talks to nbgrader over ZeroMQ
``ipc`` sockets in a folder of its own (a network namespace has no way back to the host's
loopback), and is interrupted by a message on its control channel, since a signal sent to
the launcher's process group would never reach a process in another session.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from tools.instructor.preprocessors.guarded_execute import GuardedExecute
from tools.instructor.sandbox.policy import LAUNCHER, launch_spec

LOG_TAIL_BYTES = 2000
FAILURE_WORDS = ("bwrap:", "Traceback", "Error", "error:")


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
        spec = launch_spec(cmd, cwd=str(args.get("cwd") or os.getcwd()), box=self._box,
                           environ=args.get("env") or os.environ)
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

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._remove_box()

    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(GuardedExecute):
    """The course's :class:`GuardedExecute` with :class:`SandboxKernelManager` as its
    kernel manager: test cells still run after the guard restores the kernel's state."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
