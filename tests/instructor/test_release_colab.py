"""The Colab side of `make release`: install spec and data URL baked into the setup cells,
the message of an unprepared copy on Colab, and the branch the badges open."""

from __future__ import annotations

import ast
import io
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import checks, colab, errors, paths, publish
from tools.instructor.release import run_release

REPO_ROOT = toy.REPO_ROOT
ENV_NAMES = ("SONGREC_PIP_SPEC", "SONGREC_COURSE_REPO", "SONGREC_RELEASE_REF", "SONGREC_DATA_URL",
             "SONGREC_RELEASE_BRANCH")
NOT_PREPARED = ("This copy of the notebook was not prepared for Colab: open the Colab link your "
                "instructor gave you, or use JupyterLab.")


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _assigned(source: str) -> dict[str, object]:
    """Module-level ``NAME = <literal>`` assignments of a cell, evaluated safely."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def _setup(nb):
    return next(c for c in nb.cells if "setup" in c.metadata.get("tags", []))


# --------------------------------------------------------------------------- settings


def test_install_spec_priority(clean_env):
    version = colab.project_version()
    assert colab.colab_settings().pip_spec == ""  # nothing given: not prepared for Colab
    clean_env.setenv("SONGREC_COURSE_REPO", "uni-x/ml-course")
    assert colab.colab_settings().pip_spec == f"git+https://github.com/uni-x/ml-course@v{version}"
    clean_env.setenv("SONGREC_RELEASE_REF", "2026-spring")
    assert colab.colab_settings().pip_spec == "git+https://github.com/uni-x/ml-course@2026-spring"
    clean_env.setenv("SONGREC_PIP_SPEC", "https://files.example/songrec-0.1.0-py3-none-any.whl")
    settings = colab.colab_settings()
    assert settings.pip_spec == "https://files.example/songrec-0.1.0-py3-none-any.whl"
    assert settings.repo == "uni-x/ml-course" and settings.branch == "student"


def test_placeholder_repo_gives_no_install_spec(clean_env):
    assert colab.colab_settings(repo=colab.PLACEHOLDER_REPO).pip_spec == ""


@pytest.mark.parametrize("kwargs, fragment", [
    ({"data_url": "ftp://mirror/dataset.tar.gz"}, "must start with"),
    ({"data_url": "https://x/a'b.tar.gz"}, "without quotes"),
    ({"pip_spec": "songrec\nimport os"}, "one line"),
    ({"repo": "a/b", "ref": 'v1"'}, "without quotes"),
])
def test_bad_settings_are_refused(clean_env, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        colab.colab_settings(**kwargs)


def test_bake_fills_both_values_and_keeps_the_rest():
    source = toy.SETUP_SOURCE
    baked = colab.bake_setup_source(source, "git+https://github.com/a/b@v1", "https://m/d.tar.gz")
    assert _assigned(baked) == {"PIP_SPEC": "git+https://github.com/a/b@v1", "DATA_URL": "https://m/d.tar.gz"}
    assert [line for line in baked.splitlines() if "_SPEC" not in line and "DATA_URL" not in line] == \
        [line for line in source.splitlines() if "_SPEC" not in line and "DATA_URL" not in line]
    with pytest.raises(errors.CourseToolError, match="PIP_SPEC exactly once"):
        colab.bake_setup_source("import os", "x", "")
    with pytest.raises(errors.CourseToolError, match="DATA_URL exactly once"):
        colab.bake_setup_source('PIP_SPEC = ""\nDATA_URL = ""\nDATA_URL = ""', "x", "")


def test_check_requires_the_values_in_the_setup_cell():
    nb = toy.toy_notebook_01()
    cell = _setup(nb)
    cell.source = cell.source.replace('DATA_URL = ""\n', "")
    problems, _ = checks.check_notebook(nb, "01_toy.ipynb")
    assert [p.message for p in problems if "DATA_URL" in p.message]


def test_every_real_notebook_shares_one_setup_cell():
    sources = {p.name: _setup(nbformat.read(p, as_version=4)).source
               for p in sorted(toy.REAL_SOURCE.glob("*.ipynb"))}
    assert len(sources) == 6 and len(set(sources.values())) == 1
    text = next(iter(sources.values()))
    assert _assigned(text) == {"PIP_SPEC": "", "DATA_URL": ""}
    assert text.rstrip().splitlines()[-1] == "import helpers"  # a package-level hook can run
    assert NOT_PREPARED.split(": ")[0] in text


# --------------------------------------------------------------------------- a real kernel


def _run_setup_on_fake_colab(tmp_path: Path, source: str, monkeypatch) -> nbformat.NotebookNode:
    """Execute ``source`` as the only cell of a notebook, in a kernel that has a
    ``google.colab`` module loaded at start, as on Colab."""
    from nbclient import NotebookClient

    ipython_dir = tmp_path / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(
        "import sys, types\nsys.modules.setdefault('google.colab', types.ModuleType('google.colab'))\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))  # inherited by the kernel
    monkeypatch.delenv("SONGREC_PIP_SPEC", raising=False)
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


@pytest.mark.slow
def test_unprepared_copy_on_colab_says_so_in_one_sentence(tmp_path, monkeypatch):
    source = _setup(nbformat.read(toy.REAL_SOURCE / "01_mapping.ipynb", as_version=4)).source
    nb = _run_setup_on_fake_colab(tmp_path, source, monkeypatch)
    outputs = nb.cells[0].outputs
    errors = [o for o in outputs if o.output_type == "error"]
    assert len(errors) == 1, outputs
    assert errors[0].ename == "NotPreparedForColab"
    assert errors[0].traceback == [NOT_PREPARED]  # the sentence alone, no traceback, no pip
    assert not [o for o in outputs if o.output_type == "stream"]


# --------------------------------------------------------------------------- release + publish


@pytest.fixture(scope="module")
def baked_toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("baked_toy")
    toy.build_toy_course(root)
    settings = colab.ColabSettings("git+https://github.com/uni-x/ml@v9", "https://m.example/d.tar.gz",
                                    "uni-x/ml", "student")
    log = io.StringIO()
    run_release(root, env=toy.course_env_for_tests(6), settings=settings, out=log)
    return root, log.getvalue()


def test_release_bakes_setup_cells_and_keeps_nbgrader_consistent(baked_toy):
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    root, log = baked_toy
    assert "Colab installs: git+https://github.com/uni-x/ml@v9" in log
    assert "https://m.example/d.tar.gz" in log and "NOTE: no Colab install spec" not in log
    with Gradebook(paths.db_url(root)) as gb:
        for name in toy.NOTEBOOKS:
            nb = nbformat.read(root / "release" / toy.ASSIGNMENT / f"{name}.ipynb", as_version=4)
            cell = _setup(nb)
            assert _assigned(cell.source) == {"PIP_SPEC": "git+https://github.com/uni-x/ml@v9",
                                              "DATA_URL": "https://m.example/d.tar.gz"}
            # nbgrader validate and autograde compare a locked cell with these two.
            assert cell.metadata.nbgrader["checksum"] == compute_checksum(cell)
            stored = gb.find_source_cell(toy.grade_id(cell), name, toy.ASSIGNMENT)
            assert stored.source == cell.source and stored.checksum == compute_checksum(cell)


def test_release_without_spec_says_so(clean_env, tmp_path):
    toy.build_toy_course(tmp_path)
    log = io.StringIO()
    run_release(tmp_path, env=toy.course_env_for_tests(6), out=log)
    assert "NOTE: no Colab install spec was given" in log.getvalue()
    nb = nbformat.read(tmp_path / "release" / toy.ASSIGNMENT / "01_toy.ipynb", as_version=4)
    assert _assigned(_setup(nb).source) == {"PIP_SPEC": "", "DATA_URL": ""}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_publish_puts_the_release_where_the_badges_point(baked_toy, tmp_path):
    root, _ = baked_toy
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start")
    import shutil

    shutil.copytree(root / "release", repo / "release")
    head, status = _git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain")
    out = io.StringIO()
    commit = publish.publish_release(repo, "student", out=out)
    assert commit and "git push origin student" in out.getvalue()
    assert _git(repo, "rev-parse", "HEAD") == head and _git(repo, "status", "--porcelain") == status
    assert _git(repo, "ls-tree", "-r", "--name-only", "student").splitlines() == \
        [f"song2vec/{n}.ipynb" for n in toy.NOTEBOOKS]
    for name in toy.NOTEBOOKS:
        local = repo / "release" / toy.ASSIGNMENT / f"{name}.ipynb"
        nb = nbformat.read(local, as_version=4)
        link = nb.cells[0].source.split("](")[-1].rstrip(")")
        parts = urlsplit(link).path.split("/")  # /github/<owner>/<repo>/blob/<branch>/<path...>
        assert parts[1:6] == ["github", "uni-x", "ml", "blob", "student"]
        published = _git(repo, "show", f"student:{'/'.join(parts[6:])}")
        assert json.loads(published) == json.loads(local.read_text())
    assert publish.publish_release(repo, "student", out=io.StringIO()) is None  # unchanged
