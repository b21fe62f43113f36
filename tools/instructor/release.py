"""``release``: check, ``nbgrader generate_assignment``, Colab baking, leak checks, zip."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import zipfile
from pathlib import Path
from typing import TextIO

import nbformat

from tools.instructor import cells, reference_release
from tools.instructor.checks import run_check
from tools.instructor.colab import (
    PLACEHOLDER_REPO,
    ColabSettings,
    add_colab_badge,
    bake_reference_runs,
    bake_setup_source,
    colab_settings,
    colab_url,
)
from tools.instructor.errors import CourseToolError
from tools.instructor.nbgrader_calls import run_nbgrader
from tools.instructor.paths import course_paths, db_url
from tools.instructor.settings import ASSIGNMENT, TOOL_COMMAND

NOT_FOR_COLAB_NOTE = (
    "NOTE: no Colab install spec was given (SONGREC_PIP_SPEC, or SONGREC_COURSE_REPO with "
    "SONGREC_RELEASE_REF): this release installs nothing on Colab, and its setup cell tells "
    "students there that this copy was not prepared for Colab. That is fine where the "
    "package is preinstalled (JupyterHub, lab machines)."
)


def bake_release_setup(course_root: Path, path: Path, nb, settings: ColabSettings) -> None:
    """Fill in the setup cell of released notebook ``nb``, read from ``path`` (in place).

    A setup cell tracked by nbgrader (locked, with a grade_id) gets a new checksum, and the
    gradebook's copy is updated too, so that autograding restores the baked cell and
    ``nbgrader validate`` sees no change.
    """
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    cell = cells.setup_cell(nb)
    cell.source = bake_setup_source(cell.source, settings.pip_spec, settings.data_url)
    for other in nb.cells:   # not tracked by nbgrader: no checksum to update
        if other.cell_type == "code" and not cells.grade_id(other):
            other.source = bake_reference_runs(other.source, settings.reference_runs)
    grade_id = cells.grade_id(cell)
    if not grade_id:
        return
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    with Gradebook(db_url(course_root)) as gb:
        gb.update_or_create_source_cell(grade_id, path.stem, ASSIGNMENT, source=cell.source,
                                        checksum=cell.metadata.nbgrader["checksum"])


def postprocess_release(course_root: Path, settings: ColabSettings | None = None) -> list[Path]:
    """Bake the setup cells and add the Colab badge to every released notebook.

    ``settings``: default :func:`~tools.instructor.colab.colab_settings`.
    Returns the released notebooks' paths.
    Raises CourseToolError for a released notebook without its setup cell, or with
    instructor-only text left in it.
    """
    settings = settings or colab_settings()
    done = []
    for path in sorted(course_paths(course_root).release.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not cells.setup_comes_first(nb):
            raise CourseToolError(f"released {path.name} has no 'setup'-tagged code cell before its first graded "
                                  "cell")
        leaks = cells.secrets_in(nb)
        if leaks:
            raise CourseToolError(f"released {path.name} still contains instructor-only text: {leaks}")
        bake_release_setup(course_root, path, nb, settings)
        add_colab_badge(nb, path.name, settings.repo, settings.branch)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        done.append(path)
    return done


def zip_release(course_root: Path) -> Path:
    """Zip ``release/song2vec`` as ``release/song2vec.zip`` (entries ``song2vec/...``); returns its path."""
    paths = course_paths(course_root)
    target = paths.release_zip
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(paths.release.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                zf.write(path, Path(ASSIGNMENT) / path.relative_to(paths.release))
    tmp.replace(target)
    return target


def run_release(course_root: Path, *, env: dict[str, str] | None = None, repo: str | None = None,
                settings: ColabSettings | None = None, out: TextIO | None = None,
                reference_profile: str | None = None) -> Path:
    """check -> generate_assignment -> setup/badge/leak post-processing -> zip.

    ``env``: variables for nbgrader (see :func:`~tools.instructor.nbgrader_calls.course_env`).
    ``repo``: the course repository of the badges, when ``settings`` is not given.
    ``settings``: default :func:`~tools.instructor.colab.colab_settings` (with ``repo``).
    ``out``: where the summary goes (default stdout).
    ``reference_profile``: publish that profile's reference runs with the release
    (:mod:`~tools.instructor.reference_release`); default: the ``default`` profile's when
    ``SONGREC_PUBLISH_REFERENCE=1`` (``make release``), else none.
    Returns the path of ``release/song2vec.zip``.
    Raises CourseToolError when a check fails (before the release folder is touched) or
    nbgrader does.
    """
    out = out or sys.stdout
    settings = settings or colab_settings(repo=repo)
    run_check(course_root, out=out)
    rel = course_paths(course_root).release
    if rel.exists():  # a notebook removed from the source must not linger in the release
        shutil.rmtree(rel)
    run_nbgrader(course_root, ["generate_assignment", ASSIGNMENT, "--force"], env=env)
    if reference_profile or reference_release.wanted():
        spec = reference_release.publish_reference_runs(rel, settings, out, reference_profile or "default")
        settings = dataclasses.replace(settings, reference_runs=spec)
    released = postprocess_release(course_root, settings)
    if not released:
        raise CourseToolError(f"generate_assignment wrote no notebooks into {rel}")
    target = zip_release(course_root)
    print(f"released {len(released)} notebook(s) to {rel} and {target}", file=out)
    print(f"Colab installs: {settings.pip_spec or '(nothing)'}", file=out)
    print(f"data from: {settings.data_url or 'Cornell (set SONGREC_DATA_URL for a course mirror)'}", file=out)
    print(f"badges open: {colab_url('<notebook>', settings.repo, settings.branch)} "
          f"(run `{TOOL_COMMAND} publish`, then push branch {settings.branch!r})", file=out)
    reference_release.print_costs(bool(settings.reference_runs), out)
    if not settings.pip_spec:
        print(NOT_FOR_COLAB_NOTE, file=out)
    if settings.repo == PLACEHOLDER_REPO:
        print(f"WARNING: Colab links point at the placeholder repository {settings.repo!r}; set "
              "SONGREC_COURSE_REPO=owner/name before releasing to students", file=out)
    return target
