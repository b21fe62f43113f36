"""One memory and process budget for a sandboxed kernel and everything it starts: a
control group (cgroup) per kernel, made by the grader, which the kernel's launcher joins
before it starts bubblewrap, so every process of the sandbox is counted in it.

Standard library only. Which cgroups are used is found at startup (:func:`detect`):

* **cgroup v2** (one unified hierarchy with the ``memory`` and ``pids`` controllers):
  a child of ``SONGREC_SANDBOX_CGROUP_PARENT`` (a cgroup path such as ``/songrec``), else
  of the grader's own cgroup, with ``memory.max``, ``memory.swap.max = 0`` and ``pids.max``.
  v2 only lets a group with no processes of its own hand controllers to its children, so
  a grader inside a leaf group needs a parent made for it (docs/GRADING.md).
* **cgroup v1** (separate ``memory`` and ``pids`` hierarchies): a child in each, with
  ``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes`` (memory plus swap, where
  the kernel accounts swap) and ``pids.max``.
* **none**: no writable cgroup; the per-process limits of ``launch.py`` are all there is.

tmpfs pages are charged to the group of the process that wrote them, so the sandbox's
scratch folders count against its memory budget.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools.instructor import settings

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
CONTROLLERS = ("memory", "pids")
GROUP_PREFIX = "songrec-kernel-"
MIB = 1 << 20
KILL_ROUNDS = 100  # SIGKILL sweeps over a group's processes before giving up on removing it
KILL_PAUSE_S = 0.02


@dataclass(frozen=True)
class Support:
    """What this machine offers: ``version`` is ``"v2"``, ``"v1"`` or ``"none"``;
    ``parents`` maps each usable controller to the folder its groups are made in (v2: one
    folder for both); ``reason`` says why a controller is missing (empty when all are there)."""

    version: str
    parents: dict[str, Path] = field(default_factory=dict)
    reason: str = ""

    def limits_line(self, limits: Mapping[str, int]) -> str:
        """One line for the grading log: which of the sandbox's limits hold, and how
        (``limits``: :func:`tools.instructor.settings.sandbox_limits`)."""
        parts = []
        if "memory" in self.parents:
            swap = self.version == "v2" or (self.parents["memory"] / "memory.memsw.limit_in_bytes").exists()
            parts.append(f"memory {limits['total_memory_mb']} MiB for all its processes and tmpfs folders together"
                         + (", no swap" if swap else " (swap not limited)"))
        if "pids" in self.parents:
            parts.append(f"{limits['processes']} processes and threads in all")
        head = f"sandbox limits (cgroup {self.version})" if parts else "sandbox limits (NO cgroup)"
        if len(parts) < len(CONTROLLERS):
            parts.append(f"no cgroup budget for {', '.join(c for c in CONTROLLERS if c not in self.parents)} "
                         f"({self.reason}): those limits hold per process only, and processes together can exceed them")
        parts.append(f"per process: address space {limits['memory_mb']} MiB, CPU {limits['cpu_s']} s, "
                     f"file size {limits['file_mb']} MiB")
        parts.append(f"/home/student, /tmp and /home/student/work each a tmpfs of {limits['tmpfs_mb']} MiB "
                     "(in memory, not on the host's disk)")
        return f"{head}: {'; '.join(parts)}"


def _own_paths(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller: path}; the v2 hierarchy is under ``""``."""
    out = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for name in (parts[1].split(",") if parts[1] else [""]):
            out[name] = parts[2]
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _inside(mount: Path, cgroup_path: str) -> Path:
    return mount / cgroup_path.lstrip("/")


def _v2_parent(mount: Path, parent: Path) -> str:
    """Why ``parent`` cannot hold v2 groups with memory and pids limits ("" when it can);
    enables the controllers for its children when it may."""
    available = _read(parent / "cgroup.controllers").split()
    missing = [c for c in CONTROLLERS if c not in available]
    if missing:
        return f"cgroup v2 at {parent} lacks the {', '.join(missing)} controller(s)"
    if not os.access(parent, os.W_OK):
        return f"cgroup v2 group {parent} is not writable by this user"
    enabled = _read(parent / "cgroup.subtree_control").split()
    wanted = [c for c in CONTROLLERS if c not in enabled]
    if wanted:
        try:
            (parent / "cgroup.subtree_control").write_text(" ".join("+" + c for c in wanted), encoding="ascii")
        except OSError as exc:
            return (f"cannot enable {', '.join(wanted)} for the children of cgroup v2 group {parent} ({exc.strerror}; "
                    f"a group with processes of its own cannot: set {settings.SANDBOX_CGROUP_PARENT_VAR})")
    return ""


def detect(environ: Mapping[str, str] = os.environ, *, root: Path = CGROUP_ROOT,
           self_cgroup: Path = SELF_CGROUP) -> Support:
    """The cgroups this process can make sandbox groups in.

    ``environ``: read for ``SONGREC_SANDBOX_CGROUP`` (``off`` gives ``none``) and
    ``SONGREC_SANDBOX_CGROUP_PARENT`` (a cgroup path; default: this process's own group).
    ``root``, ``self_cgroup``: where cgroups are mounted and this process's membership
    (parameters so tests can describe another machine).
    Returns a :class:`Support`; never raises for a missing or read-only cgroup.
    """
    if settings.sandbox_cgroup_mode(environ) == "off":
        return Support("none", reason=f"{settings.SANDBOX_CGROUP_VAR}=off")
    own = _own_paths(_read(self_cgroup))
    chosen = environ.get(settings.SANDBOX_CGROUP_PARENT_VAR) or ""
    v2_mount = next((m for m in (root, root / "unified") if (m / "cgroup.controllers").is_file()), None)
    reasons = []
    if v2_mount is not None and "" in own:
        parent = _inside(v2_mount, chosen or own[""])
        why = _v2_parent(v2_mount, parent) if parent.is_dir() else f"no cgroup v2 group {parent}"
        if not why:
            return Support("v2", {c: parent for c in CONTROLLERS})
        reasons.append(why)
    parents = {}
    for controller in CONTROLLERS:
        mount = root / controller
        if not (mount / "cgroup.procs").is_file() or controller not in own:
            reasons.append(f"no cgroup v1 {controller} hierarchy")
            continue
        parent = _inside(mount, chosen or own[controller])
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            reasons.append(f"cgroup v1 group {parent} is missing or not writable by this user")
            continue
        parents[controller] = parent
    if parents:
        return Support("v1", parents, "; ".join(r for r in reasons if "v1" in r))
    return Support("none", reason="; ".join(reasons) or "no cgroup filesystem at " + str(root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Group:
    """One kernel's cgroup (one folder per controller on v1, one on v2).

    ``folders``: the group's folder in each controller's hierarchy. Make one with
    :meth:`create`; a process joins it by writing its id into each of :attr:`procs_files`.
    """

    def __init__(self, version: str, folders: dict[str, Path]):
        self.version = version
        self.folders = folders

    @classmethod
    def create(cls, support: Support, limits: Mapping[str, int]) -> Group:
        """A new, empty group under ``support``'s parents with ``limits``
        (:func:`tools.instructor.settings.sandbox_limits`): ``total_memory_mb`` of memory,
        swap none, ``processes`` tasks. Removes groups earlier graders left behind.

        Raises OSError when a folder or a limit cannot be written (the half-made group is removed).
        """
        if support.version == "none":
            raise ValueError("no cgroup to make a group in: " + support.reason)
        for parent in set(support.parents.values()):
            sweep_stale(parent)
        name = f"{GROUP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        folders = {c: p / name for c, p in support.parents.items()}
        group = cls(support.version, folders)
        try:
            for folder in set(folders.values()):
                folder.mkdir()
            group._write_limits(limits)
        except OSError:
            group.remove()
            raise
        return group

    def _write_limits(self, limits: Mapping[str, int]) -> None:
        memory = str(limits["total_memory_mb"] * MIB)
        if "memory" in self.folders:
            folder = self.folders["memory"]
            if self.version == "v2":
                (folder / "memory.max").write_text(memory)
                if (folder / "memory.swap.max").exists():
                    (folder / "memory.swap.max").write_text("0")
            else:
                (folder / "memory.limit_in_bytes").write_text(memory)
                if (folder / "memory.memsw.limit_in_bytes").exists():  # memory + swap: no swap
                    (folder / "memory.memsw.limit_in_bytes").write_text(memory)
        if "pids" in self.folders:
            (self.folders["pids"] / "pids.max").write_text(str(limits["processes"]))

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its id into to join the group."""
        return [str(f / "cgroup.procs") for f in sorted(set(self.folders.values()))]

    def pids(self) -> set[int]:
        """The ids of the processes in the group now."""
        out = set()
        for folder in set(self.folders.values()):
            out.update(int(p) for p in _read(folder / "cgroup.procs").split())
        return out

    def memory_peak(self) -> int | None:
        """The most memory the group has held, in bytes (None without a memory controller)."""
        folder = self.folders.get("memory")
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            if folder is not None and (folder / name).exists():
                return int(_read(folder / name) or 0)
        return None

    def kill(self) -> None:
        """SIGKILL every process in the group, until none is left (or ``KILL_ROUNDS`` sweeps)."""
        for folder in set(self.folders.values()):
            if (folder / "cgroup.kill").exists():
                with contextlib.suppress(OSError):
                    (folder / "cgroup.kill").write_text("1")
        for _ in range(KILL_ROUNDS):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(KILL_PAUSE_S)

    def remove(self) -> bool:
        """Kill what is left in the group and remove its folders; True when all are gone."""
        self.kill()
        gone = True
        for folder in set(self.folders.values()):
            for _ in range(KILL_ROUNDS):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last processes are being reaped
                    time.sleep(KILL_PAUSE_S)
            gone = gone and not folder.exists()
        return gone


def sweep_stale(parent: Path) -> None:
    """Remove the groups under ``parent`` whose grader (the id in the name) has died, as a
    grader killed mid-job leaves its kernels' groups behind."""
    for folder in parent.glob(GROUP_PREFIX + "*"):
        pid = folder.name[len(GROUP_PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            Group("stale", {"any": folder}).remove()
