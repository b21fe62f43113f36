"""Start one notebook kernel inside its sandbox (standard library only; run as a script).

Jupyter starts ``python launch.py outer SPEC`` as the kernel's command (see
``tools.instructor.sandbox.kernel``). Two stages, one file:

``outer SPEC``
    outside the sandbox: points the kernel's stdout and stderr at the log file named in
    the JSON file ``SPEC``, joins the kernel's cgroup (the ``cgroup.procs`` files in
    SPEC's ``"cgroups"``; it exits rather than start unconfined when that fails), then
    replaces itself with the bubblewrap command line SPEC holds
    (``tools.instructor.sandbox.policy.launch_spec`` wrote both). Every process of the
    sandbox descends from it, so all of them are in the group.
``inner LIMITS -- CMD...``
    inside the sandbox, as bubblewrap's command: copies the student's files into the work
    tmpfs (``LIMITS["copy"]``: source, destination), sets the resource limits of the JSON
    object ``LIMITS``, hands the home folder to the unprivileged user it names and
    becomes that user (when started as root), then replaces itself with the kernel
    ``CMD``.

Every limit is set with equal soft and hard values, so student code cannot raise it
(the CPU hard limit is a few seconds above the soft one: SIGXCPU first, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys

MIB = 1 << 20
CPU_GRACE_S = 5


def outer(spec_path: str) -> None:
    """Redirect stdout/stderr to the spec's log file and exec bubblewrap."""
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    for procs in spec.get("cgroups", []):
        try:
            with open(procs, "w", encoding="ascii") as f:
                f.write(str(os.getpid()))
        except OSError as exc:
            sys.exit(f"launch.py: cannot join the kernel's cgroup {procs}: {exc}")
    os.execv(spec["argv"][0], spec["argv"])


def _limit(kind: int, soft: int, hard: int | None = None) -> None:
    resource.setrlimit(kind, (soft, soft if hard is None else hard))


def inner(limits_json: str, cmd: list[str]) -> None:
    """Set the limits, drop to the sandbox user (as root), exec ``cmd``."""
    limits = json.loads(limits_json)
    if limits.get("copy"):
        source, dest = limits["copy"]
        try:
            shutil.copytree(source, dest, symlinks=False, dirs_exist_ok=True)
        except (OSError, shutil.Error) as exc:
            sys.exit(f"launch.py: the student's files do not fit the {limits['tmpfs_mb']} MiB work folder: {exc}")
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_AS, limits["memory_mb"] * MIB)
    _limit(resource.RLIMIT_CPU, limits["cpu_s"], limits["cpu_s"] + CPU_GRACE_S)
    _limit(resource.RLIMIT_FSIZE, limits["file_mb"] * MIB)
    uid = limits.get("uid")
    if uid is not None and os.geteuid() == 0:
        # Processes are counted per real user id, so the limit only means something for
        # a user id of the sandbox's own (root is exempt from it).
        _limit(resource.RLIMIT_NPROC, limits["processes"])
        for top in limits.get("owned", []):
            for folder, _, files in os.walk(top):
                for path in [folder, *(os.path.join(folder, n) for n in files)]:
                    os.chown(path, uid, uid, follow_symlinks=False)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    os.execv(cmd[0], cmd)


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "outer":
        outer(argv[1])
    elif len(argv) >= 4 and argv[0] == "inner" and argv[2] == "--":
        inner(argv[1], argv[3:])
    else:
        sys.exit("usage: launch.py outer SPEC.json | launch.py inner LIMITS_JSON -- CMD...")


if __name__ == "__main__":
    main(sys.argv[1:])
