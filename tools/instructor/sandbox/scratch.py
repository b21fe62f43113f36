"""The one folder a sandboxed kernel shares with the host, its connection folder (the
connection file and the ZeroMQ sockets nbgrader reaches it through): as root, a small
tmpfs mounted on the host, so that the kernel cannot fill the host's disk through it
either. Without root it stays a host folder, where only the per-file limit applies.

Standard library only (``ctypes`` calls the C library's ``mount``/``umount2``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

IPC_TMPFS_KIB = 1024  # a connection file of a few hundred bytes and five sockets
IPC_TMPFS_INODES = 64
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MNT_DETACH = 2


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def mount_small_tmpfs(folder: Path) -> str | None:
    """Mount a tmpfs of ``IPC_TMPFS_KIB`` KiB on the empty folder ``folder``.

    Returns None when mounted, else one line saying why not (not root, or the mount was
    refused, as in a container without CAP_SYS_ADMIN); the folder is then left as it is.
    """
    if os.geteuid() != 0:
        return "not root"
    options = f"size={IPC_TMPFS_KIB}k,nr_inodes={IPC_TMPFS_INODES},mode=0700".encode()
    libc = _libc()
    if libc.mount(b"songrec-ipc", os.fsencode(folder), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) != 0:
        return f"mount refused: {os.strerror(ctypes.get_errno())}"
    return None


def unmount(folder: Path) -> None:
    """Detach a tmpfs mounted by :func:`mount_small_tmpfs` (nothing when none is there)."""
    if os.path.ismount(folder):
        _libc().umount2(os.fsencode(folder), MNT_DETACH)
