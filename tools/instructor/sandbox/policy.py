"""What a sandboxed kernel sees and may do: the bubblewrap command line, its environment,
its limits, and a check that the sandbox starts on this machine.

Standard library only (``nbgrader_config.py`` loads it through ``sandbox.install``).

The kernel sees, read-only: the system folders (``/usr``, ``/etc``, ``/bin``, ``/lib*``),
the Python installation and virtual environment that run it, the ``helpers`` package,
the course data folder and the instructor's course pickle when one is configured. It
can write only to its own scratch folders: a fresh home, ``/tmp`` and the working folder
``/home/student/work`` (each a size-limited tmpfs; the launcher copies the student's
non-notebook files into the last) and the folder of its connection file and sockets (which
``kernel`` locks once the kernel is up, when grading as root). Nothing else
of the host exists inside: not the course root (source notebooks, gradebook,
``submitted/``, ``autograded/``), not the grader's home, not another kernel's folders.
It has no network (its own empty network namespace; the kernel talks to nbgrader over
unix sockets in its connection folder), its own process, IPC and host-name namespaces,
and runs as a user id of its own when the grader is root.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from helpers import environment
from tools.instructor import settings
from tools.instructor.sandbox import cgroup

LAUNCHER = Path(__file__).resolve().with_name("launch.py")
SANDBOX_HOME = "/home/student"
# The kernel's working folder, the same in every sandbox: neither the grader's folder
# layout nor where a job ran shows through, so a notebook behaves alike wherever graded.
SANDBOX_WORK = f"{SANDBOX_HOME}/work"
SANDBOX_LAUNCHER = "/run/songrec/launch.py"  # where the launcher script is seen inside
# Where the host's copy of the working folder is seen (read-only); the launcher copies it
# into the work tmpfs, so what the kernel writes there never reaches the host's disk.
SANDBOX_WORK_SOURCE = "/run/songrec/work"
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Variables the kernel inherits from nbgrader; everything else (tokens, the grader's
# paths) is dropped. SONGREC_* settings pass, apart from the paths replaced below.
PASSED_VARIABLES = ("LANG", "LANGUAGE", "TZ", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND",
                    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED",
                    "NBGRADER_EXECUTION", "JPY_PARENT_PID")
PASSED_PREFIXES = (environment.PREFIX, "LC_")
DROPPED_SONGREC = (environment.CACHE_DIR, environment.STUDENT_VENV, environment.GRADING_GATE_FD)
# Sandbox user ids, one per kernel, when the grader is root: far above any real account.
UID_BASE, UID_SPAN = 2**31, 2**30
NOT_COPIED = ("*.ipynb", ".ipynb_checkpoints")
CHECK_TIMEOUT_S = 60


def bwrap_path() -> str | None:
    """The ``bwrap`` executable on PATH, or None."""
    return shutil.which("bwrap")


def _ro_paths(environ: Mapping[str, str]) -> list[str]:
    """Host folders and files the kernel reads: Python, its packages, helpers, the data."""
    from helpers import locations  # standard library only

    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             sysconfig.get_paths()["stdlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        paths.append(site.getusersitepackages())
    paths.append(str(locations.PACKAGE_PARENT / "helpers"))
    data = environ.get(environment.DATA_DIR) or str(locations.default_data_dir())
    paths.append(data)
    pickle = environ.get(environment.COURSE_PICKLE)
    if pickle:
        paths.append(pickle)
    runs = _published_runs_folder(environ)
    if runs:
        paths.append(runs)
    out = []
    for p in paths:
        for q in (os.path.abspath(p), os.path.realpath(p)):
            if os.path.exists(q) and q not in out:
                out.append(q)
    return out


def _published_runs_folder(environ: Mapping[str, str]) -> str | None:
    """The local folder of ``SONGREC_REFERENCE_RUNS`` when it is a ``file://`` manifest (the
    grader's copy of the reference runs, tools.instructor.grading_runs), else None."""
    from helpers.published_runs import parse_spec

    try:
        url, _ = parse_spec(environ.get(environment.REFERENCE_RUNS, ""))
    except ValueError:  # unset or malformed: nothing to bind (the kernel reports a bad value itself)
        return None
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None
    return os.path.dirname(urllib.request.url2pathname(parsed.path))


def kernel_environment(environ: Mapping[str, str], *, data_dir: str | None) -> dict[str, str]:
    """The kernel's variables: the passed ones from ``environ``, plus its own home,
    cache, data folder and import path."""
    from helpers import locations

    env = {k: v for k, v in environ.items()
           if k in PASSED_VARIABLES or (k.startswith(PASSED_PREFIXES) and k not in DROPPED_SONGREC)}
    env.update({
        "HOME": SANDBOX_HOME,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYTHONPATH": str(locations.PACKAGE_PARENT),
        environment.CACHE_DIR: f"{SANDBOX_HOME}/.cache/songrec/course",
        "MPLCONFIGDIR": f"{SANDBOX_HOME}/.config/matplotlib",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if data_dir:
        env[environment.DATA_DIR] = data_dir
    return env


def _copy_work(cwd: str, work: Path) -> None:
    """Copy the files of ``cwd`` (nbgrader's folder for this student) into ``work``,
    leaving out notebooks: the kernel gets the student's other files, never the graded
    notebooks nbgrader writes next to them."""
    def ignore(folder, names):
        return [n for n in names if any(fnmatch.fnmatch(n, pat) for pat in NOT_COPIED)
                or os.path.islink(os.path.join(folder, n))]

    if os.path.isdir(cwd):
        shutil.copytree(cwd, work, ignore=ignore, dirs_exist_ok=True)
    else:
        work.mkdir(parents=True, exist_ok=True)


def _ancestors(paths: list[str]) -> list[str]:
    """Every proper ancestor folder of ``paths`` below ``/``, parents before children."""
    out = set()
    for p in paths:
        out.update(str(a) for a in Path(p).parents if str(a) != "/")
    return sorted(out, key=lambda a: (a.count("/"), a))


def _bind_system() -> list[str]:
    args = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


def launch_spec(kernel_cmd: list[str], *, cwd: str, box: Path, environ: Mapping[str, str],
                limits: dict[str, int] | None = None) -> dict:
    """Prepare ``box`` for one kernel and return the launcher's spec.

    ``kernel_cmd``: the kernel's own command line (``python -m ipykernel_launcher -f ...``).
    ``cwd``: the folder nbgrader runs the notebook in; the kernel works in a private copy
    of its non-notebook files at ``SANDBOX_WORK``.
    ``box``: this kernel's host folder; ``box/ipc`` holds its connection file and sockets.
    ``environ``: the variables nbgrader would have given the kernel.
    ``limits``: :func:`tools.instructor.settings.sandbox_limits` (read from ``environ``
    when None).
    Returns ``{"argv": [...], "log": path}`` for ``launch.py outer``.
    Raises CourseToolError when bubblewrap is missing.
    """
    from tools.instructor.errors import CourseToolError

    bwrap = bwrap_path()
    if bwrap is None:
        raise CourseToolError("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`, "
                              "or grade with --sandbox none")
    limits = dict(limits or settings.sandbox_limits(environ))
    box = Path(box)
    ipc, work = box / "ipc", box / "work"
    ipc.mkdir(exist_ok=True)
    _copy_work(cwd, work)
    root = os.geteuid() == 0
    limits["copy"] = [SANDBOX_WORK_SOURCE, SANDBOX_WORK]
    if root:
        uid = UID_BASE + secrets.randbelow(UID_SPAN)
        for path in [ipc, *ipc.iterdir()]:
            os.chown(path, uid, uid)
        limits["uid"] = uid
        limits["owned"] = [SANDBOX_HOME, SANDBOX_WORK]
    ro = _ro_paths(environ)
    data = environ.get(environment.DATA_DIR)
    env = kernel_environment(environ, data_dir=data if data and os.path.isdir(data) else None)
    tmpfs = str(limits["tmpfs_mb"] << 20)
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if not root:
        argv.append("--unshare-user")
    argv += _bind_system()
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", tmpfs, "--tmpfs", "/tmp",
             "--perms", "0755", "--size", tmpfs, "--tmpfs", SANDBOX_HOME,
             "--perms", "0755", "--size", tmpfs, "--tmpfs", SANDBOX_WORK]
    # bubblewrap gives the folders it creates above a mount point the host folder's mode
    # (/root is 0700), which would hide e.g. a Python installed under /root from the user.
    for parent in _ancestors([*ro, str(ipc)]):
        argv += ["--perms", "0755", "--dir", parent]
    for p in ro:
        argv += ["--ro-bind", p, p]
    argv += ["--ro-bind", str(LAUNCHER), SANDBOX_LAUNCHER,
             "--bind", str(ipc), str(ipc),
             "--ro-bind", str(work), SANDBOX_WORK_SOURCE,
             "--chdir", SANDBOX_WORK, "--clearenv"]
    for k, v in sorted(env.items()):
        argv += ["--setenv", k, v]
    argv += ["--", kernel_cmd[0], SANDBOX_LAUNCHER, "inner", json.dumps(limits), "--", *kernel_cmd]
    return {"argv": argv, "log": str(box / "kernel.log")}


def check_sandbox(environ: Mapping[str, str] = os.environ) -> str | None:
    """Start a sandbox the way a kernel starts, run Python in it, and report.

    Returns None when it worked, else one line saying why the sandbox cannot start here.
    """
    if bwrap_path() is None:
        return "bubblewrap (bwrap) is not installed; install it with `apt-get install bubblewrap`"
    probe = ("import os, socket, sys\n"
             "import helpers\n"
             "s = socket.socket(); s.settimeout(2)\n"
             "try:\n    s.connect(('1.1.1.1', 53)); print('network reachable')\n"
             "except OSError:\n    print('sandbox ok')\n")
    with tempfile.TemporaryDirectory(prefix="songrec-sandbox-check-") as tmp:
        box, cwd = Path(tmp) / "box", Path(tmp) / "cwd"
        box.mkdir()
        cwd.mkdir()
        try:
            spec = launch_spec([sys.executable, "-c", probe], cwd=str(cwd), box=box, environ=environ)
            proc = subprocess.run(spec["argv"], capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            return f"the sandbox could not start: {exc}"
        out = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0 or out.splitlines()[-1:] != ["sandbox ok"]:
            last = out.splitlines()[-1] if out else f"exit status {proc.returncode}"
            return f"the sandbox could not start: {last}"
    support = cgroup.detect(environ)
    if settings.sandbox_cgroup_mode(environ) == "require" and len(support.parents) < len(cgroup.CONTROLLERS):
        return (f"{settings.SANDBOX_CGROUP_VAR}=require, but this machine gives the sandbox no memory and "
                f"process budget: {support.reason}")
    return None


def limits_line(environ: Mapping[str, str] = os.environ) -> str:
    """Which of the sandbox's limits hold on this machine, in one line (as each
    student's grading log says it)."""
    return cgroup.detect(environ).limits_line(settings.sandbox_limits(environ))
