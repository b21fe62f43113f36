"""What a release bakes in for Colab: the install spec, the data URL and the badge links.

Environment variables (each also an argument of :func:`colab_settings`):
    SONGREC_COURSE_REPO     GitHub ``owner/name`` the badges open (default ``PLACEHOLDER_REPO``)
    SONGREC_RELEASE_BRANCH  branch of that repository holding the release (default ``student``)
    SONGREC_PIP_SPEC        what the setup cells pip-install on Colab
    SONGREC_RELEASE_REF     git ref installed when only the repository is given
                            (default ``v<version in pyproject.toml>``)
    SONGREC_DATA_URL        the data archive the notebooks download on Colab (default Cornell's)
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from helpers import environment
from tools.instructor.cells import SETUP_VALUE_RE
from tools.instructor.errors import CourseToolError
from tools.instructor.paths import REPO_ROOT
from tools.instructor.settings import ASSIGNMENT, COST_CONTEXT, STUDENT_COST

PLACEHOLDER_REPO = "YOUR-ORG/songrec"
# The branch students open the notebooks from (see publish.publish_release); its files sit
# under song2vec/, so a Colab link is .../blob/<branch>/song2vec/<notebook>.
DEFAULT_RELEASE_BRANCH = "student"
BADGE_TAG = "colab-badge"
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
OWNER_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
DATA_URL_SCHEMES = ("https://", "http://", "file://")
REFERENCE_RUNS_RE = re.compile(r"""^(REFERENCE_RUNS = )("[^"\n]*"|'[^'\n]*')""", re.M)


def course_repo(repo: str | None = None) -> str:
    """GitHub ``owner/name`` used in Colab links: ``repo``, else ``SONGREC_COURSE_REPO``.

    Raises ValueError when it is not of the form ``owner/name``.
    """
    value = repo if repo is not None else os.environ.get(environment.COURSE_REPO, PLACEHOLDER_REPO)
    if not OWNER_REPO_RE.match(value):
        raise ValueError(f"course repository must be of the form 'owner/name', got {value!r}")
    return value


def release_branch(branch: str | None = None) -> str:
    """Branch the student notebooks are published on: ``branch``, else
    ``SONGREC_RELEASE_BRANCH``, else ``DEFAULT_RELEASE_BRANCH``.

    Raises ValueError when it is not a valid git branch name.
    """
    value = branch or os.environ.get(environment.RELEASE_BRANCH) or DEFAULT_RELEASE_BRANCH
    if not BRANCH_RE.match(value) or ".." in value or value.endswith((".lock", "/", ".")):
        raise ValueError(f"release branch must be a valid git branch name, got {value!r}")
    return value


def colab_url(filename: str, repo: str | None = None, branch: str | None = None) -> str:
    """Colab link to notebook ``filename`` on the published release branch."""
    return (f"https://colab.research.google.com/github/{course_repo(repo)}/blob/"
            f"{release_branch(branch)}/{ASSIGNMENT}/{filename}")


def project_version(root: Path = REPO_ROOT) -> str:
    """The package version written in ``root/pyproject.toml``."""
    with open(root / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["version"]


@dataclass(frozen=True)
class ColabSettings:
    """What a release bakes into its setup cells and badges.

    ``pip_spec``: what the setup cell pip-installs on Colab ("" = not prepared for Colab).
    ``data_url``: the archive the notebooks download there ("" = Cornell's).
    ``repo``, ``branch``: where the badges point.
    """

    pip_spec: str
    data_url: str
    repo: str
    branch: str
    reference_runs: str = ""   # "URL#sha256=HEX" of the published reference runs (reference_release)


def _one_line(value: str, what: str) -> str:
    value = value.strip()
    if any(ch in value for ch in "\r\n\0\"'"):
        raise ValueError(f"{what} must be one line without quotes, got {value!r}")
    return value


def colab_settings(*, repo: str | None = None, pip_spec: str | None = None, data_url: str | None = None,
                   ref: str | None = None, branch: str | None = None) -> ColabSettings:
    """Settings from the arguments, else the environment.

    The install spec is ``pip_spec`` (``SONGREC_PIP_SPEC``: a wheel URL, ``git+https://...``,
    a PyPI requirement); else, when the course repository is set,
    ``git+https://github.com/<repo>@<ref>`` with ``ref`` (``SONGREC_RELEASE_REF``, default
    ``v<version>``, a tag to push); else none.
    Raises ValueError for a setting that cannot be written into a setup cell.
    """
    repo_value = course_repo(repo)
    spec = _one_line(pip_spec if pip_spec is not None else os.environ.get(environment.PIP_SPEC, ""), "install spec")
    repo_given = repo is not None or os.environ.get(environment.COURSE_REPO)
    if not spec and repo_given and repo_value != PLACEHOLDER_REPO:
        ref = _one_line(ref or os.environ.get(environment.RELEASE_REF) or f"v{project_version()}", "release ref")
        spec = f"git+https://github.com/{repo_value}@{ref}"
    url = _one_line(data_url if data_url is not None else os.environ.get(environment.DATA_URL, ""), "data URL")
    if url and not url.startswith(DATA_URL_SCHEMES):
        raise ValueError(f"data URL must start with {', '.join(DATA_URL_SCHEMES)}, got {url!r}")
    return ColabSettings(spec, url, repo_value, release_branch(branch))


def bake_reference_runs(source: str, reference_runs: str) -> str:
    """``source`` of a cell with its ``REFERENCE_RUNS = ""`` (parts 5 and 6, before their
    first ``course.reference_run``) set to ``reference_runs``; other cells unchanged."""
    if not reference_runs:
        return source
    literal = json.dumps(reference_runs)
    return REFERENCE_RUNS_RE.sub(lambda m: m.group(1) + literal, source)


def bake_setup_source(source: str, pip_spec: str, data_url: str) -> str:
    """``source`` of a setup cell with its ``PIP_SPEC = ""`` and ``DATA_URL = ""`` filled in.

    Raises CourseToolError unless each is assigned exactly once.
    """
    for name, value in (("PIP_SPEC", pip_spec), ("DATA_URL", data_url)):
        regex = SETUP_VALUE_RE[name]
        if len(regex.findall(source)) != 1:
            raise CourseToolError(f"setup cell must assign {name} exactly once, got: {source!r}")
        literal = json.dumps(value)
        source = regex.sub(lambda m, literal=literal: m.group(1) + literal, source)
    return source


def badge_cell(filename: str, repo: str | None = None, branch: str | None = None):
    """A locked markdown cell with the Open-in-Colab badge of notebook ``filename`` and what
    running it costs (``settings.STUDENT_COST``), so the student knows before the first cell.

    It carries Jupyter's editable/deletable flags but no nbgrader metadata, so nbgrader
    neither tracks nor checksums it and autograde ignores it.
    """
    text = f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab_url(filename, repo, branch)})"
    cost = STUDENT_COST.get(Path(filename).stem)
    if cost:
        text += f"\n\nRunning this notebook takes {cost} ({COST_CONTEXT})."
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata.update({"editable": False, "deletable": False, "tags": [BADGE_TAG]})
    return cell


def add_colab_badge(nb, filename: str, repo: str | None = None, branch: str | None = None) -> bool:
    """Put the badge cell first in ``nb`` (in place). Returns False if one was already there."""
    if any(BADGE_TAG in cell.get("metadata", {}).get("tags", []) for cell in nb.cells):
        return False
    nb.cells.insert(0, badge_cell(filename, repo, branch))
    return True
