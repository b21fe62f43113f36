"""tools.instructor.grading_runs: the grading profile's reference runs, trained once by the
grader and read, verified, by every kernel (issue 19)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_sandbox import needs_sandbox, run_in_sandbox

from helpers import course, environment, published_runs
from helpers.runs import load_run
from tools.instructor import grading_runs
from tools.instructor.sandbox import policy


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The grader's cache in a folder of its own (XDG_CACHE_HOME) for this module's tests."""
    folder = tmp_path_factory.mktemp("grader_cache")
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    grading_runs._prepared.clear()
    yield folder
    grading_runs._prepared.clear()
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME")
    else:
        os.environ["XDG_CACHE_HOME"] = saved


def _runs_folder(env) -> Path:
    """The folder a kernel would get bound for ``env``'s SONGREC_REFERENCE_RUNS (the sandbox's own reading)."""
    return Path(policy._published_runs_folder(env))


@pytest.fixture(scope="module")
def prepared(cache):
    env, note = grading_runs.reference_runs_env({environment.PROFILE: "grading"})
    return env, note


def test_the_runs_are_those_a_kernel_would_train(prepared, tmp_path, monkeypatch):
    env, note = prepared
    assert note == ""
    spec = env[environment.REFERENCE_RUNS]
    url, _ = published_runs.parse_spec(spec)
    assert url.startswith("file://") and url.endswith("/manifest.json")
    # What the kernel does: install the run named after its own settings, then load it.
    monkeypatch.setenv(environment.PROFILE, "grading")
    monkeypatch.setenv(environment.CACHE_DIR, str(tmp_path / "kernel-cache"))
    monkeypatch.delenv(environment.REFERENCE_RUNS, raising=False)
    mapping = course.reference_mapping()
    trained_here = course.reference_run(mapping)          # no spec: trains in this process
    installed = tmp_path / "installed" / trained_here.path.name
    installed.parent.mkdir()
    assert published_runs.install(trained_here.path.name, installed, spec)
    from_grader = load_run(installed)
    np.testing.assert_array_equal(from_grader.target_vectors, trained_here.target_vectors)
    names = set(json.loads((_runs_folder(env) / "manifest.json").read_text())["runs"])
    assert len(names) == len(course.PUBLISHED_REFERENCE_OVERRIDES)


def test_a_later_grading_process_reuses_the_cached_copy_and_other_variables_do_not(prepared, cache, monkeypatch):
    env, _ = prepared
    folder = _runs_folder(env)
    assert folder.parent == cache / "songrec" / "grading-runs"
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    grading_runs._prepared.clear()                      # as in a new grading process
    again, note = grading_runs.reference_runs_env({environment.PROFILE: "grading"})
    assert note == "" and again[environment.REFERENCE_RUNS] == env[environment.REFERENCE_RUNS]
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]   # no temporary folder left behind
    other = grading_runs._store(grading_runs._job_key({environment.PROFILE: "ci"}))
    assert other != folder


def test_a_failure_leaves_the_kernels_training_and_says_why(cache):
    env, note = grading_runs.reference_runs_env({environment.PROFILE: "no-such-profile"})
    assert environment.REFERENCE_RUNS not in env
    assert "not prepared" in note and "no-such-profile" in note


def test_the_sandbox_binds_a_file_spec_folder_read_only_and_nothing_else(tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    spec = f"{(folder / 'manifest.json').as_uri()}#sha256={'0' * 64}"
    assert policy._published_runs_folder({environment.REFERENCE_RUNS: spec}) == str(folder)
    assert str(folder) in policy._ro_paths({environment.REFERENCE_RUNS: spec})
    web = f"https://example.org/reference/manifest.json#sha256={'0' * 64}"
    assert policy._published_runs_folder({environment.REFERENCE_RUNS: web}) is None
    assert policy._published_runs_folder({environment.REFERENCE_RUNS: "file:///x#bad"}) is None
    assert policy._published_runs_folder({}) is None


@needs_sandbox
def test_a_kernel_reads_the_graders_runs_but_cannot_change_them(prepared, tmp_path):
    env, _ = prepared
    manifest = _runs_folder(env) / "manifest.json"
    before = manifest.read_bytes()
    rc, out, err, _ = run_in_sandbox(tmp_path, f"""
        import json
        seen = {{"read": len(open({str(manifest)!r}, "rb").read())}}
        try:
            open({str(manifest)!r}, "wb").write(b"{{}}")
            seen["write"] = "written"
        except OSError as exc:
            seen["write"] = type(exc).__name__
        print(json.dumps(seen))
        """, environ={**os.environ, **env})
    assert rc == 0, err
    seen = json.loads(out.splitlines()[-1])
    assert seen == {"read": len(before), "write": "OSError"}
    assert manifest.read_bytes() == before
