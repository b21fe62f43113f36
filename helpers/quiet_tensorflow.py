"""Keep TensorFlow's start-up log lines out of notebooks and ``songrec`` output.

Why the usual ``TF_CPP_MIN_LOG_LEVEL=2`` is not enough (TensorFlow 2.20/2.21 wheels,
measured on a CPU-only Linux machine): TensorFlow's shared libraries log from C++ static
initialisers while they are being loaded, before TensorFlow has configured absl logging,
so the level is not consulted yet. Each of the two libraries that carry their own absl
prints::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.

and the first device query on a machine without a GPU adds an ERROR-level line that the
level lets through and that reads like a failure::

    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

(the ``tensorflow-cpu`` wheel drops the two CUDA lines but keeps the others). They are
written with ``write(2, ...)`` to file descriptor 2, so ``sys.stderr`` and Python's
warning filters never see them; Jupyter's kernel forwards fd 2 as a red stderr box.

:func:`install` (called when ``helpers`` is imported) adds an import hook: the first
``import tensorflow``, direct or through ``import keras``, runs with fd 2 sent to a
temporary file, the device list is read inside that window so the cuInit line lands there
too, and then everything captured is written back to stderr except the lines that
``TF_CPP_MIN_LOG_LEVEL`` asks to hide (absl records below that severity, the absl banner)
and the cuInit line. Anything else, Python tracebacks included, passes through.
``TF_CPP_MIN_LOG_LEVEL=0`` shows every line.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

DEFAULT_LEVEL = "2"
ABSL_BANNER = "All log messages before absl::InitializeLog() is called"
# absl's record header: severity letter, MMDD, time, thread id, file:line]
_RECORD = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\]\s]+:\d+\]")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# ERROR lines that mean "no GPU here", which is not an error for this course.
_CPU_ONLY_NOISE = ("failed call to cuInit",)


def log_level(environ=os.environ) -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as 0..3; a value that is not a number shows everything (0)."""
    try:
        return min(max(int(environ.get("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)), 0), 3)
    except ValueError:
        return 0


def filter_log_text(text: str, level: int) -> str:
    """``text`` without the TensorFlow start-up noise that ``level`` hides.

    A line that is not an absl record header continues the record above it (multi-line
    messages) and shares its fate; lines before the first record are always kept.
    """
    if level <= 0:
        return text
    kept: list[str] = []
    keep_current = True
    for line in text.splitlines(keepends=True):
        match = _RECORD.match(line)
        if match:
            severity = _SEVERITY[match.group(1)]
            noise = any(marker in line for marker in _CPU_ONLY_NOISE)
            keep_current = severity >= level and not noise
        elif ABSL_BANNER in line:
            keep_current = False
        if keep_current:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr(level: int | None = None):
    """Capture file descriptor 2 in the block; write back what :func:`filter_log_text` keeps.

    Python's own ``sys.stderr`` writes (warnings, tracebacks) bypass the capture when
    ``sys.stderr`` is file descriptor 2, so the filter only ever sees what C and C++ code
    wrote, and a Python line can never be mistaken for part of a dropped log record.
    """
    level = log_level() if level is None else level
    _flush(sys.stderr)
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all (a detached process): nothing to filter
        yield
        return
    python_stderr = sys.stderr
    if _fileno(python_stderr) == 2:
        sys.stderr = _bypass_stream(saved, python_stderr)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _flush(sys.stderr)
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = filter_log_text(capture.read().decode("utf-8", "replace"), level)
            if text:
                os.write(2, text.encode("utf-8"))


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except Exception:  # io.UnsupportedOperation, closed or replaced streams
        return None


def _bypass_stream(fd: int, like):
    """A text stream on a private copy of ``fd``, left open on purpose: a logging handler
    created during the import may keep a reference to it after the block."""
    return open(os.dup(fd), "w", buffering=1, encoding=getattr(like, "encoding", None) or "utf-8",
                errors="backslashreplace")


def _flush(stream) -> None:
    with contextlib.suppress(Exception):
        stream.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` inside :func:`filtered_stderr`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self._loader.exec_module(module)
            # The cuInit line comes with the first device query; make it happen here.
            with contextlib.suppress(Exception):
                module.config.list_physical_devices()
        # From now on the module looks as if imported normally.
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the first top-level ``tensorflow`` import, then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def installed() -> bool:
    """Whether the import hook of :func:`install` is in place."""
    return any(isinstance(f, _TensorFlowFinder) for f in sys.meta_path)


def install() -> None:
    """Filter TensorFlow's first import (no-op if it is already imported or hooked)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
    if "tensorflow" in sys.modules or installed():
        return
    sys.meta_path.insert(0, _TensorFlowFinder())


def uninstall() -> None:
    """Remove the import hook of :func:`install` (TensorFlow's log lines come back)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TensorFlowFinder)]
