"""nbgrader as a subprocess: ``python -m nbgrader`` in the course root, with the course's environment."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from helpers import environment
from tools.instructor.errors import CourseToolError
from tools.instructor.paths import REPO_ROOT, require_config
from tools.instructor.preprocessors.start_gate import GATE_OPEN

# What nbgrader's log says of a student whose autograding failed (student_job reads it;
# it lives here, with nbgrader, so that student_job need not import grading).
FAILED_STUDENT_RE = re.compile(r"error processing assignment '[^']*' for student '([^']+)'")
LOG_TAIL_LINES = 40  # of nbgrader's output, kept in an error
# Runs a command that the kernel kills when the process that started it (a Dask worker's
# job thread) dies: prctl(PR_SET_PDEATHSIG, SIGKILL) survives exec. Without it a killed
# worker would leave nbgrader and its kernels running.
DIE_WITH_PARENT = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('parent gone')\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


# Importing nbformat imports jsonschema, whose optional ``rfc3987_syntax`` builds some thirty
# Earley parsers for IRI syntax at import: about 60% of the time ``python -m nbgrader`` takes
# to start (measured 23 s -> 10 s under load, bench/RESULTS.md), paid once per student. No
# schema nbgrader or nbformat validates uses the ``iri`` formats it serves, and jsonschema
# skips those checkers when the import fails, so nbgrader runs without it.
SKIPPED_IMPORTS = ("rfc3987_syntax",)
# nbgrader's imports run with the garbage collector paused (they leave next to no garbage;
# about 0.12 s less CPU per start, 0.72-0.76 s against 0.82-0.91 s) and their objects are
# then frozen, so the collections while it grades skip them.
NBGRADER_MAIN = (
    "import gc, runpy, sys\n"
    f"for name in {SKIPPED_IMPORTS!r}:\n"
    "    sys.modules.setdefault(name, None)\n"
    "gc.disable()\n"
    "import nbgrader.apps.nbgraderapp\n"
    "gc.enable()\n"
    "gc.freeze()\n"
    "runpy.run_module('nbgrader', run_name='__main__', alter_sys=True)\n"
)


def skip_slow_imports() -> None:
    """Make this process skip :data:`SKIPPED_IMPORTS` (before nbformat is first imported)."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)


def failed_students(log: str) -> list[str]:
    """Students nbgrader reported an autograding error for, read from its ``log`` text."""
    return sorted(set(FAILED_STUDENT_RE.findall(log)))


def course_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for nbgrader and its kernels: this process's, plus ``overrides``.

    The repository root goes first on PYTHONPATH, so kernels import ``helpers`` from this
    checkout even when the package is not pip-installed, and this interpreter's folder
    first on PATH: nbgrader shells out to ``alembic`` and kernels resolve ``python3``.
    """
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides or {})
    parts = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    path_parts = [str(Path(sys.executable).parent)] + [p for p in env.get("PATH", "").split(os.pathsep) if p]
    env["PATH"] = os.pathsep.join(dict.fromkeys(path_parts))
    return env


class NbgraderRun:
    """A started ``python -m nbgrader``: its output read by a thread, waited for with :meth:`wait`.

    With ``gated``, the process gets the read end of a pipe in ``SONGREC_GRADING_GATE_FD``:
    ``GuardedExecute`` starts the first kernel and sets its guard up, then runs no cell of the
    student's until :meth:`open_gate` (:mod:`tools.instructor.preprocessors.start_gate`). So
    the next student's start (nbgrader's own, a kernel's, TensorFlow's import) can overlap the
    grading of the current one while the students' code still runs one at a time.
    """

    def __init__(self, course_root: Path, args: Sequence[str], *, env: dict[str, str] | None = None,
                 echo: bool = False, die_with_parent: bool = False, gated: bool = False,
                 own_group: bool = False) -> None:
        require_config(course_root)
        self.args = list(args)
        cmd = [sys.executable, "-c", NBGRADER_MAIN, *args]
        if die_with_parent and sys.platform.startswith("linux"):
            cmd = [sys.executable, "-c", DIE_WITH_PARENT, str(os.getpid()), *cmd]
        self.cmd = cmd
        full_env = course_env(env)
        self._gate: int | None = None
        read_end = None
        if gated:
            read_end, self._gate = os.pipe()
            full_env[environment.GRADING_GATE_FD] = str(read_end)
        self._group = own_group and os.name == "posix"
        try:
            # In its own process group, nbgrader can be killed with the kernels it started;
            # without one, Ctrl-C must still reach it.
            self.proc = subprocess.Popen(cmd, cwd=str(course_root), env=full_env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, start_new_session=self._group,
                                         pass_fds=(read_end,) if gated else ())
        except BaseException:
            if self._gate is not None:
                os.close(self._gate)
            raise
        finally:
            if read_end is not None:
                os.close(read_end)
        self.lines: list[str] = []
        self._echo = echo
        self.killed = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"nbgrader {self.proc.pid} output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if self._echo:
                sys.stderr.write(line)

    def _close_gate(self, message: bytes) -> None:
        """Write ``message`` into the gate's pipe and close it (once; nothing for an ungated run).
        nbgrader starts the student's cells on ``GATE_OPEN`` and refuses them on anything else."""
        if self._gate is None:
            return
        try:
            if message:
                os.write(self._gate, message)
        except OSError:  # nbgrader is gone already: wait() reports how it ended
            pass
        finally:
            os.close(self._gate)
            self._gate = None

    def open_gate(self) -> None:
        """Let a gated run start the student's cells (nothing for an ungated one, or twice)."""
        self._close_gate(GATE_OPEN)

    def kill(self) -> None:
        """Stop nbgrader (and, in its own process group, the kernels it started) at once."""
        self.killed.set()
        self._close_gate(b"")  # never opened: closed empty, nbgrader refuses to go on, too
        if self.proc.poll() is None:
            if self._group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:  # pragma: no cover
                self.proc.kill()

    def wait(self, *, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Open the gate and wait for nbgrader to exit; the timer starts here.

        ``timeout``: seconds from now; past them nbgrader is killed. Returns the
        CompletedProcess; its ``stdout`` holds stdout and stderr together. Raises
        CourseToolError on a timeout, or on a non-zero exit with ``check``.
        """
        self.open_gate()
        timer = threading.Timer(timeout, self.kill) if timeout else None
        if timer:
            timer.start()
        try:
            rc = self.proc.wait()
            self._reader.join()
        except BaseException:  # e.g. KeyboardInterrupt: do not leave nbgrader running
            self.kill()
            raise
        finally:
            if timer:
                timer.cancel()
        tail = "".join(self.lines[-LOG_TAIL_LINES:])
        command = f"`nbgrader {' '.join(self.args)}`"
        if self.killed.is_set():
            raise CourseToolError(f"{command} ran past {timeout} s and was killed", log=tail)
        if check and rc != 0:
            raise CourseToolError(f"{command} exited with {rc}", log=tail)
        return subprocess.CompletedProcess(self.cmd, rc, "".join(self.lines), "")


def run_nbgrader(course_root: Path, args: Sequence[str], *, env: dict[str, str] | None = None,
                 echo: bool = False, check: bool = True, timeout: float | None = None,
                 die_with_parent: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader <args>`` in ``course_root``, its output captured.

    ``args``: nbgrader's arguments, e.g. ``["autograde", "song2vec", "--force"]``.
    ``env``: variables added to :func:`course_env`.
    ``echo``: also copy each output line to stderr as it arrives (long autograde runs).
    ``check``: raise when nbgrader exits non-zero.
    ``timeout``: seconds for the whole command; past it nbgrader and its kernels are killed.
    ``die_with_parent``: (Linux) nbgrader is killed if this process dies first.
    Returns the CompletedProcess; its ``stdout`` holds stdout and stderr together.
    Raises CourseToolError on a timeout, or on a non-zero exit with ``check``.
    """
    run = NbgraderRun(course_root, args, env=env, echo=echo, die_with_parent=die_with_parent,
                      own_group=timeout is not None)
    return run.wait(check=check, timeout=timeout)
