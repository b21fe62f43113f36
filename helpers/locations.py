"""Where songrec keeps the data it downloads and the runs it caches.

Run from a source checkout (``make venv`` installs it editable), everything stays in
the checkout: ``data/cornell/`` and ``runs/course/``. Installed as a plain package (pip
on Colab, or a non-editable install anywhere), the package folder is ``site-packages``,
which may be read-only and is not the student's; there the per-user folders of the XDG
convention are used instead, on every platform:

- data:  ``$XDG_DATA_HOME/songrec/cornell``  (default ``~/.local/share/songrec/cornell``)
- cache: ``$XDG_CACHE_HOME/songrec/course``  (default ``~/.cache/songrec/course``)

On Colab both sit in the runtime's home folder, so the notebooks of one runtime share the
download and the reference run. ``SONGREC_DATA_DIR`` and ``SONGREC_CACHE_DIR`` always win.
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers import environment

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
CACHE_DIR_ENV = environment.CACHE_DIR


def checkout_root(parent: str | os.PathLike | None = None) -> Path | None:
    """The repository root when ``helpers`` is imported from a source checkout, else None.

    A checkout is recognised by its ``pyproject.toml`` next to the ``helpers`` folder; an
    installed package has ``site-packages`` there instead.
    """
    root = Path(parent) if parent is not None else PACKAGE_PARENT
    return root if (root / "pyproject.toml").is_file() and (root / "helpers").is_dir() else None


def _xdg(variable: str, fallback: tuple[str, ...]) -> Path:
    value = os.environ.get(variable, "")
    # The XDG spec says to ignore a relative value.
    base = Path(value) if value and os.path.isabs(value) else Path.home().joinpath(*fallback)
    return base / "songrec"


def user_data_dir() -> Path:
    """Per-user data folder: ``$XDG_DATA_HOME/songrec`` or ``~/.local/share/songrec``."""
    return _xdg("XDG_DATA_HOME", (".local", "share"))


def user_cache_dir() -> Path:
    """Per-user cache folder: ``$XDG_CACHE_HOME/songrec`` or ``~/.cache/songrec``."""
    return _xdg("XDG_CACHE_HOME", (".cache",))


def default_data_dir(repo_root: str | os.PathLike | None = None) -> Path:
    """Where the Cornell data goes when nothing is configured (``songrec data fetch``'s
    default): ``<repo_root>/data/cornell`` when a repository root is given, else
    ``data/cornell`` in a checkout, else the per-user data folder (module docstring)."""
    root = Path(repo_root) if repo_root is not None else checkout_root()
    return root / "data" / "cornell" if root is not None else user_data_dir() / "cornell"


def course_cache_root(parent: str | os.PathLike | None = None) -> Path:
    """Folder of the notebooks' cached reference runs: ``$SONGREC_CACHE_DIR``, else
    ``runs/course`` in a checkout, else ``<user cache>/course``."""
    value = os.environ.get(CACHE_DIR_ENV, "")
    if value:
        return Path(value).expanduser()
    root = checkout_root(parent)
    return root / "runs" / "course" if root is not None else user_cache_dir() / "course"
