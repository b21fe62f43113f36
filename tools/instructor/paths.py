"""The course layout fixed in nbgrader_config.py, and the gradebook it uses."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from tools.instructor.errors import CourseToolError
from tools.instructor.settings import ASSIGNMENT, FOLDERS, GRADEBOOK_FILE, GRADES_CSV

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = "nbgrader_config.py"
SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True)
class CoursePaths:
    """Folders and files of one course, all absolute.

    ``root``: the folder holding nbgrader_config.py.
    ``source``, ``release``, ``submitted``, ``autograded``, ``feedback``: nbgrader's
    folders (``source`` and ``release`` are the assignment's own, ``.../song2vec``).
    ``release_zip``: the zipped release; ``grades_csv``: the score export.
    """

    root: Path

    @property
    def source(self) -> Path:
        return self.root / FOLDERS["source"] / ASSIGNMENT

    @property
    def release(self) -> Path:
        return self.root / FOLDERS["release"] / ASSIGNMENT

    @property
    def release_zip(self) -> Path:
        return self.root / FOLDERS["release"] / f"{ASSIGNMENT}.zip"

    @property
    def submitted(self) -> Path:
        return self.root / FOLDERS["submitted"]

    @property
    def autograded(self) -> Path:
        return self.root / FOLDERS["autograded"]

    @property
    def feedback(self) -> Path:
        return self.root / FOLDERS["feedback"]

    @property
    def grades_csv(self) -> Path:
        return self.root / GRADES_CSV


def course_paths(course_root: Path) -> CoursePaths:
    """The :class:`CoursePaths` of ``course_root`` (resolved to an absolute path)."""
    return CoursePaths(Path(course_root).resolve())


def require_config(course_root: Path) -> Path:
    """``course_root/nbgrader_config.py``.

    Raises CourseToolError when ``course_root`` has none.
    """
    cfg = Path(course_root) / CONFIG_FILE
    if not cfg.is_file():
        raise CourseToolError(
            f"course root must hold {CONFIG_FILE} (the repository root, or a copy of its course "
            f"layout), got {str(course_root)!r}")
    return cfg


def load_course_config(course_root: Path):
    """The traitlets Config that ``course_root/nbgrader_config.py`` defines.

    Raises CourseToolError without the file; ValueError for a bad setting in it.
    """
    from traitlets.config.loader import PyFileConfigLoader

    cfg = require_config(course_root)
    return PyFileConfigLoader(cfg.name, path=str(cfg.parent)).load_config()


def db_url(course_root: Path) -> str:
    """The gradebook URL nbgrader uses for this course; a sqlite path is made absolute.

    Reading it executes nbgrader_config.py, which a class autograde would otherwise do
    once per merged student: the answer is remembered for this course root, this
    config text and this environment, so editing the file (or a variable it could
    read) gives the new URL on the next call.
    Raises CourseToolError without the config file.
    """
    root = Path(course_root).resolve()
    text = require_config(root).read_text(encoding="utf-8")
    return _resolved_db_url(root, text, tuple(sorted(os.environ.items())))


@functools.lru_cache(maxsize=16)
def _resolved_db_url(root: Path, config_text: str, environ: tuple[tuple[str, str], ...]) -> str:
    # config_text and environ are only the cache's key: the config is read from root.
    url = load_course_config(root).CourseDirectory.get("db_url", "")
    if not url:
        return SQLITE_PREFIX + str(root / GRADEBOOK_FILE)
    if url.startswith(SQLITE_PREFIX) and not os.path.isabs(url[len(SQLITE_PREFIX):]):
        # nbgrader resolves a relative sqlite path against its cwd, the course root.
        return SQLITE_PREFIX + str(root / url[len(SQLITE_PREFIX):])
    return url


def gradebook_file(url: str) -> Path | None:
    """The file of a sqlite gradebook URL; None for another database."""
    return Path(url[len(SQLITE_PREFIX):]) if url.startswith(SQLITE_PREFIX) else None


def source_notebooks(course_root: Path) -> list[Path]:
    """Source notebooks of the assignment, sorted by name (none when the folder is missing)."""
    src = course_paths(course_root).source
    if not src.is_dir():
        return []
    return sorted(p for p in src.glob("*.ipynb") if p.is_file())
