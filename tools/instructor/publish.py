"""``publish``: the release committed to the branch the Colab badges open.

The commit is made with git's plumbing and a private index, so the working tree, the
index and the current branch are left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from tools.instructor.colab import release_branch
from tools.instructor.errors import CourseToolError
from tools.instructor.paths import course_paths
from tools.instructor.settings import ASSIGNMENT, TOOL_COMMAND

# Who the release commit is by when git has no user configured.
FALLBACK_IDENTITY = {"NAME": "songrec release", "EMAIL": "release@songrec.invalid"}


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise CourseToolError(f"`git {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _git_optional(root: Path, *args: str) -> str:
    """git's output, or "" when the command fails (an absent ref, no HEAD yet)."""
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()


def _identity_env(top: Path, index: Path) -> dict[str, str]:
    env = dict(os.environ, GIT_INDEX_FILE=str(index))
    for part, key in (("NAME", "user.name"), ("EMAIL", "user.email")):
        if not _git_optional(top, "config", key):
            for role in ("AUTHOR", "COMMITTER"):
                env.setdefault(f"GIT_{role}_{part}", FALLBACK_IDENTITY[part])
    return env


def publish_release(course_root: Path, branch: str | None = None, *, out: TextIO | None = None) -> str | None:
    """Commit ``release/song2vec/*.ipynb`` to ``branch`` as ``song2vec/<notebook>``.

    ``branch``: default :func:`~tools.instructor.colab.release_branch`. The branch holds
    nothing else: it is what the Colab badges link to once pushed.
    ``out``: where the summary goes (default stdout).
    Returns the new commit id, or None when the branch already holds this release.
    Raises CourseToolError when there is no release or git fails.
    """
    out = out or sys.stdout
    branch = release_branch(branch)
    paths = course_paths(course_root)
    notebooks = sorted(paths.release.glob("*.ipynb"))
    # The published reference runs (tools.instructor.reference_release) go with them: the
    # setup cells download them from this branch.
    reference = sorted(p for p in (paths.release / "reference").rglob("*") if p.is_file())
    if not notebooks:
        raise CourseToolError(f"nothing to publish in {paths.release}; run `{TOOL_COMMAND} release` first")
    top = Path(_git(paths.root, "rev-parse", "--show-toplevel"))
    ref = f"refs/heads/{branch}"
    with tempfile.TemporaryDirectory() as tmp:
        env = _identity_env(top, Path(tmp) / "index")
        _git(top, "read-tree", "--empty", env=env)
        for path in notebooks:
            blob = _git(top, "hash-object", "-w", str(path))
            _git(top, "update-index", "--add", "--cacheinfo", f"100644,{blob},{ASSIGNMENT}/{path.name}", env=env)
        for path in reference:
            blob = _git(top, "hash-object", "-w", str(path))
            name = path.relative_to(paths.release).as_posix()
            _git(top, "update-index", "--add", "--cacheinfo", f"100644,{blob},{ASSIGNMENT}/{name}", env=env)
        tree = _git(top, "write-tree", env=env)
        parent = _git_optional(top, "rev-parse", "--verify", "-q", ref + "^{commit}")
        if parent and _git(top, "rev-parse", parent + "^{tree}") == tree:
            print(f"branch {branch!r} already holds this release", file=out)
            return None
        source = _git_optional(top, "rev-parse", "--short", "HEAD") or "an uncommitted tree"
        args = ["commit-tree", tree, "-m", f"Student release of {ASSIGNMENT} from {source}"]
        if parent:
            args += ["-p", parent]
        commit = _git(top, *args, env=env)
        _git(top, "update-ref", ref, commit, *([parent] if parent else []))
    print(f"published {len(notebooks)} notebook(s) to branch {branch!r} ({commit[:12]}); "
          f"push it with: git push origin {branch}", file=out)
    return commit
