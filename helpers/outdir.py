"""The one rule for every folder and file songrec writes.

Used by ``songrec train``/``demo`` (run folders), ``evaluate`` (CSV + PNG), ``data build``
(a ``.npz`` file), ``data fetch`` (the data folder) and the notebooks' reference-run cache.

* Never written to or replaced: ``''``, ``/``, the home folder, the repository root, the
  current folder, or any folder that holds one of these (``.``, ``..``, ``~``, ...).
* Songrec marks what it creates with a small file, :data:`MARKER` (``.songrec``), whose
  first line names the kind (``songrec-run``, ``songrec-evaluation``, ``songrec-dataset``).
  An existing folder is replaced only when it holds that marker (or, for run folders
  saved before markers existed, ``run.json``) and nothing but plain files songrec writes
  in such a folder (a link or folder by such a name is the user's); with ``overwrite=False``
  not at all. Any other folder is refused, ``--overwrite`` or not; an empty one is absent.
* A new folder is built beside the target under a temporary name and swapped in with one
  atomic ``renameat2(RENAME_EXCHANGE)``; where the system lacks it, with two renames that
  are undone if the second fails. A crash at any instant therefore leaves the old or the
  new folder complete: either at the target or, after a crash between the two renames,
  under its temporary name, from where the next run restores it (:func:`clean_leftovers`).
* The swap runs under an exclusive lock (:func:`target_lock`) after checking the target
  again, so of two writers of one target without ``--overwrite`` the later fails and the
  earlier's result stays; with ``--overwrite`` one complete result stays, never a mix.
* Temporary names are ``.<name>.songrec-tmp-<pid>-<random>`` (``-old-`` for a folder on its
  way out). The next run that writes ``<name>`` removes those whose process is gone and
  says so on stderr.

A refused target (a folder for a file, a path through a file) raises :class:`UnsafeOutputError`
(exit 2) or ``FileExistsError`` (exit 1, "pass --overwrite"); nothing is created before.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from helpers.errors import UnsafeOutputError, naming_full_disk
from helpers.terminal import say

try:
    import fcntl
except ImportError:  # Windows: no flock; the checks still run, only unserialised
    fcntl = None

MARKER = ".songrec"
KINDS = ("run", "evaluation", "dataset")
_TAGS = {"tmp": ".songrec-tmp-", "old": ".songrec-old-"}
REPO_ROOT = Path(__file__).resolve().parent.parent

# The files songrec itself puts in a folder of each kind; anything else in an existing
# folder is the user's, so the folder is never replaced. A name in OWN_FOLDERS is a
# folder songrec writes (the dataset's variants); every other entry must be a plain file.
OWN_FILES = {
    "run": {MARKER, "run.json", "vocab.json", "target_vectors.npy", "context_vectors.npy",
            "slot_vectors.npy", "bias.npy", "evaluation.csv", "evaluation.png"},
    "evaluation": {MARKER, "evaluation.csv", "evaluation.png"},
    "dataset": {MARKER, "README", "yes_small", "yes_big", "yes_complete"},
}
OWN_FOLDERS = {"dataset": {"yes_small", "yes_big", "yes_complete"}}



# --------------------------------------------------------------------------- the rule


def _protected() -> list[tuple[Path, str]]:
    places = [(Path("/"), "the root folder"), (REPO_ROOT, "the songrec repository")]
    with contextlib.suppress(RuntimeError, KeyError):
        places.append((Path.home(), "your home folder"))
    places.append((Path.cwd(), "the current folder"))
    return [(p.resolve(), label) for p, label in places]


def _protected_reason(path: Path) -> str | None:
    """Why ``path`` may never be replaced, or None."""
    resolved = path.resolve()
    for place, label in _protected():
        if resolved == place:
            return f"is {label} ({place})"
        if resolved in place.parents:
            return f"holds {label} ({place})"
    return None


def refuse_protected(path: str | os.PathLike, what: str = "--out") -> Path:
    """Raise UnsafeOutputError when ``path`` is empty or a protected folder (or holds one)."""
    if str(path).strip() == "":
        raise UnsafeOutputError(f"{what} is empty; expected a new folder name such as runs/latest")
    reason = _protected_reason(Path(path))
    if reason is not None:
        raise UnsafeOutputError(
            f"{what} {str(path)!r} {reason}; songrec never writes into or replaces it: "
            f"name a new subfolder such as runs/latest")
    return Path(path)


def _marker_kind(folder: Path) -> str | None:
    try:
        with open(folder / MARKER, "rb") as fh:
            first = fh.read(64).split(b"\n", 1)[0].decode("ascii", "replace").strip()
    except OSError:
        return None
    kind = first.removeprefix("songrec-")
    return kind if first.startswith("songrec-") and kind in KINDS else None


def folder_kind(folder: str | os.PathLike) -> str | None:
    """The kind of songrec folder ``folder`` is (``"run"``, ...), or None.

    A run folder from before markers existed counts as ``"run"`` when it has ``run.json``
    and nothing but run files.
    """
    folder = Path(folder)
    kind = _marker_kind(folder)
    if kind is not None:
        return kind
    with contextlib.suppress(OSError):
        if os.path.lexists(folder / "run.json") and not _foreign_entries(folder, "run"):
            return "run"
    return None


def _what_it_is(path: Path) -> str:
    mode = path.lstat().st_mode
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a file" if stat.S_ISREG(mode) else "a special file")


def _is_temporary(name: str, kind: str) -> bool:
    """A file :func:`write_files` is writing: ``.<own name>.songrec-tmp-<pid>-<random>``."""
    own, _, rest = name[1:].partition(_TAGS["tmp"])
    return name.startswith(".") and own in OWN_FILES[kind] and rest.split("-", 1)[0].isdigit()


def _foreign_entries(folder: Path, kind: str) -> list[str]:
    """Entries of ``folder`` songrec does not write in a ``kind`` folder: other names, and
    songrec's names on something of another type (a folder called vocab.json, a link)."""
    foreign = []
    for path in sorted(folder.iterdir()):
        expected = "a folder" if path.name in OWN_FOLDERS.get(kind, ()) else "a file"
        if path.name not in OWN_FILES[kind]:
            if not _is_temporary(path.name, kind):
                foreign.append(repr(path.name))
        elif (found := _what_it_is(path)) != expected:
            foreign.append(f"{path.name!r} ({found}, where songrec writes {expected})")
    return foreign


def check_target(path: str | os.PathLike, *, kinds: Iterable[str] = ("run",), overwrite: bool = False,
                 what: str = "--out") -> Path:
    """Raise unless ``path`` may become (or be replaced by) a songrec folder of ``kinds``.

    Returns the path. Creates and changes nothing. ``what`` names the setting in messages.
    """
    kinds = tuple(kinds)
    out = refuse_protected(path, what)
    if out.is_symlink():
        raise UnsafeOutputError(f"{what} {str(path)!r} is a symbolic link; expected a folder songrec creates")
    if out.exists():
        if not out.is_dir():
            raise UnsafeOutputError(f"{what} {str(path)!r} is a file; expected a folder songrec creates")
        if any(out.iterdir()):
            kind = folder_kind(out)
            foreign = _foreign_entries(out, kind) if kind in kinds else []
            if kind not in kinds or foreign:
                why = (f"holds {', '.join(foreign[:3])} that songrec did not write"
                       if foreign else f"has no {MARKER} marker of a songrec {' or '.join(kinds)} folder")
                raise UnsafeOutputError(
                    f"{what} {str(path)!r} already exists and is not a songrec {' or '.join(kinds)} folder "
                    f"(it {why}); songrec replaces only folders it wrote, so nothing was changed: "
                    f"pick another {what}")
            if not overwrite:
                raise FileExistsError(
                    f"{what} {str(path)!r} already exists; pass --overwrite (overwrite=True) to replace "
                    f"it, or pick another {what}")
    _check_parent(out, what)
    return out


def _check_parent(out: Path, what: str) -> None:
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UnsafeOutputError(f"cannot write {what} {str(out)!r}: {parent} is a file, expected a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {what} {out}: {parent} is not writable (Permission denied)")


# --------------------------------------------------------------------------- leftovers


def _sibling(target: Path, tag: str, suffix: str = "") -> Path:
    return target.parent / f".{target.name}{_TAGS[tag]}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists but is someone else's; an impossible pid is not alive
    return True


def remove_path(path: Path) -> None:
    """Remove ``path``: a folder with all it holds (what cannot be removed is left), a file or
    a link (never what it points to); nothing when it is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_leftovers(target: str | os.PathLike) -> list[str]:
    """Tidy what a killed songrec left beside ``target``; return one line per action.

    A folder on its way out (``-old-``) is moved back when ``target`` is missing (a crash
    between the two renames of a swap); other temporary siblings of processes that are
    gone are removed. Those of a process still running are left alone and named.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        siblings = list(parent.iterdir())
    except OSError:
        return []
    done = []
    for path in sorted(siblings):
        for tag, mark in _TAGS.items():
            prefix = f".{target.name}{mark}"
            if not path.name.startswith(prefix):
                continue
            pid_text = path.name[len(prefix):].split("-", 1)[0]
            if not pid_text.isdigit():
                continue
            if _alive(int(pid_text)):
                if int(pid_text) != os.getpid():
                    done.append(f"left {path} alone: process {pid_text} that wrote it is still running")
                continue
            if tag == "old" and not os.path.lexists(target):
                os.replace(path, target)
                done.append(f"restored {target} from {path.name}, left by an interrupted run")
            else:
                remove_path(path)
                done.append(f"removed {path}, left by an interrupted run")
    for line in done:
        say(f"songrec: {line}")
    return done


# --------------------------------------------------------------------------- swapping

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux ``renameat2``); OSError where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError) as exc:
        raise OSError(errno.ENOSYS, "renameat2 is not available") from exc
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def _waiting(target: Path) -> None:  # a seam: tests learn here that a writer is blocked
    say(f"songrec: waiting for another songrec process writing beside {target} ...")


@contextlib.contextmanager
def target_lock(target: str | os.PathLike) -> Iterator[None]:
    """Hold the exclusive lock every songrec process takes to put something at ``target``:
    ``flock`` on the folder holding it (no lock file left behind). Where that cannot be
    locked (no flock, some network file systems) the block runs unlocked."""
    parent = Path(target).absolute().parent
    fd = None
    with contextlib.suppress(OSError):
        fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if fd is not None and fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _waiting(Path(target))
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                pass  # a file system without flock
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the lock


def _raced(target: Path, what: str) -> FileExistsError:
    return FileExistsError(f"{what} {str(target)!r} was written by another process while this one worked, "
                           f"so it was kept and this result dropped; pass --overwrite to replace it")


def _install(new: Path, target: Path, overwrite: bool) -> Path | None:
    """Put folder ``new`` at ``target`` under :func:`target_lock`; return the old folder to remove."""
    if not os.path.lexists(target) or (target.is_dir() and not any(target.iterdir())):
        # rename() replaces at most an empty folder: what others made meanwhile stays.
        try:
            os.rename(new, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(f"{target} exists") from exc
            raise
        return None
    if not overwrite:
        raise FileExistsError(f"{target} exists")
    try:
        _exchange(new, target)
        return new  # the exchange left the old folder under the temporary name
    except OSError:
        old = _sibling(target, "old")
        os.replace(target, old)
        try:
            os.replace(new, target)
        except BaseException:
            os.replace(old, target)  # undo: the old folder goes back where it was
            raise
    return old


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as written by songrec, holding a ``kind`` (``run``, ``evaluation``, ...)."""
    (folder / MARKER).write_text(f"songrec-{kind}\nThis folder was written by songrec; `--overwrite` may "
                                 f"replace it.\n", encoding="ascii")


@contextlib.contextmanager
def new_folder(target: str | os.PathLike, *, kind: str, overwrite: bool = False,
               what: str = "--out") -> Iterator[Path]:
    """Build a songrec folder of ``kind`` at ``target``, all or nothing.

    Yields an empty temporary folder beside ``target``; when the block ends normally the
    marker is added and the folder swapped into place. If the block (or the swap) fails,
    the temporary folder is removed and ``target`` is as it was.
    """
    target = check_target(target, kinds=(kind,), overwrite=overwrite, what=what)
    clean_leftovers(target)
    check_target(target, kinds=(kind,), overwrite=overwrite, what=what)  # a restore may change it
    target.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "tmp")
    try:
        tmp.mkdir()
    except OSError as exc:
        raise OSError(f"cannot write {what} {target}: {exc.strerror or exc}") from exc
    old = None
    try:
        with naming_full_disk(f"{what} {target}"):
            yield tmp
            write_marker(tmp, kind)
        with target_lock(target):
            try:
                # Again, under the lock: another process may have written target meanwhile.
                check_target(target, kinds=(kind,), overwrite=overwrite, what=what)
                old = _install(tmp, target, overwrite)
            except FileExistsError as exc:
                raise _raced(target, what) from exc
    finally:
        for path in (p for p in (tmp, old) if p is not None and p.exists()):
            remove_path(path)


def write_output_files(target: str | os.PathLike, writers: dict[str, Callable[[Path], object]], *,
                       kinds: Iterable[str], kind: str, what: str = "--out") -> list[Path]:
    """Write the files of ``writers`` (see :func:`write_files`) into ``target``, all or nothing.

    ``target`` is an existing songrec folder of ``kinds`` (the files are added or replaced)
    or a new folder, then built whole as a folder of ``kind`` and swapped into place.
    """
    target = check_target(target, kinds=kinds, overwrite=True, what=what)
    if target.exists() and any(target.iterdir()):
        return write_files(target, writers,
                           recheck=lambda: check_target(target, kinds=kinds, overwrite=True, what=what))
    with new_folder(target, kind=kind, overwrite=True, what=what) as tmp:
        for name, write in writers.items():
            with naming_full_disk(target / name):
                write(tmp / name)
    return [target / n for n in writers]


def check_files(folder: str | os.PathLike, names: Iterable[str]) -> None:
    """Raise UnsafeOutputError if any ``folder/name`` exists as something other than a file."""
    for path in (Path(folder) / name for name in names):
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise UnsafeOutputError(f"{path} exists and is not a plain file; expected a file songrec writes")


def write_files(folder: str | os.PathLike, writers: dict[str, Callable[[Path], object]], *,
                recheck: Callable[[], object] | None = None) -> list[Path]:
    """Write several files into ``folder``, all or nothing.

    ``writers`` maps a file name to a function that writes that file at the path it is
    given (a temporary name with the same suffix). Only when every writer succeeded are
    the files renamed into place, under :func:`target_lock` and after ``recheck()`` (which
    raises to refuse); if a rename fails, those already renamed are put back.
    """
    folder = Path(folder)
    check_files(folder, writers)
    for name in writers:
        clean_leftovers(folder / name)
    temps: dict[str, Path] = {}
    moved: list[tuple[Path, Path | None]] = []
    try:
        for name, write in writers.items():
            temps[name] = _sibling(folder / name, "tmp", Path(name).suffix)
            with naming_full_disk(folder / name):
                write(temps[name])
        with target_lock(folder):
            if recheck is not None:
                recheck()
            check_files(folder, writers)
            for name, tmp in temps.items():
                path = folder / name
                backup = None
                if path.exists():
                    backup = _sibling(path, "old")
                    os.replace(path, backup)
                moved.append((path, backup))
                os.replace(tmp, path)
    except BaseException:
        for path, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, path)
            elif path.exists():
                path.unlink()
        raise
    finally:
        for tmp in temps.values():
            remove_path(tmp)
    for _, backup in moved:
        if backup is not None:
            remove_path(backup)
    return [folder / n for n in writers]


def check_file_target(target: str | os.PathLike, *, overwrite: bool = False,
                      recognise: Callable[[Path], bool], what: str = "--out", kind: str = "file") -> Path:
    """Raise unless ``write_file`` may write ``target``; creates nothing.

    An existing ``target`` may be replaced only with ``overwrite`` and when
    ``recognise(target)`` says songrec wrote it; a folder, a link or a protected path never.
    """
    if str(target).strip() == "":
        raise UnsafeOutputError(f"{what} is empty; expected a file name")
    target = Path(target)
    reason = _protected_reason(target)
    if reason is not None:
        raise UnsafeOutputError(f"{what} {str(target)!r} {reason}; expected a new file name")
    if target.is_symlink():
        raise UnsafeOutputError(f"{what} {str(target)!r} is a symbolic link; expected a file songrec writes")
    if target.is_dir():
        raise UnsafeOutputError(f"{what} {str(target)!r} is a folder; expected a file name")
    if target.exists():
        if not recognise(target):
            raise UnsafeOutputError(
                f"{what} {str(target)!r} already exists and is not a songrec {kind}; songrec replaces only "
                f"files it wrote, so nothing was changed: pick another {what}")
        if not overwrite:
            raise FileExistsError(f"{what} {str(target)!r} already exists; pass --overwrite to replace it")
    _check_parent(target, what)
    return target


def write_file(target: str | os.PathLike, write: Callable[[Path], object], *, overwrite: bool = False,
               recognise: Callable[[Path], bool], what: str = "--out", kind: str = "file") -> Path:
    """Write one file at ``target`` through a temporary sibling and a rename, under the
    rule of :func:`check_file_target`."""
    def check() -> Path:
        return check_file_target(target, overwrite=overwrite, recognise=recognise, what=what, kind=kind)

    target = check()
    target.absolute().parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    try:
        write_files(target.parent, {target.name: write}, recheck=check)
    except FileExistsError as exc:
        raise _raced(target, what) from exc
    return target
