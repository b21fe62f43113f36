"""The kernel sandbox on its own: what a process started the way a kernel is started can
see and do (tools/instructor/sandbox/), without nbgrader. Plus the pieces of a class
run that need no grading: the settings, the recorded hashes.

The probes run Python in the sandbox through the same bubblewrap command line a kernel
gets (``policy.launch_spec``) and report what they observe as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools.instructor import resume, settings
from tools.instructor.sandbox import install, policy

needs_sandbox = pytest.mark.skipif(bool(policy.check_sandbox()) and os.environ.get("SONGREC_REQUIRE_SANDBOX") != "1",
                                   reason=f"the sandbox cannot start here: {policy.check_sandbox()}")
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the own-user and process limits apply when grading as root")


def run_in_sandbox(tmp_path: Path, code: str, *, environ: dict[str, str] | None = None,
                   cwd_files: dict[str, str] | None = None, limits: dict[str, int] | None = None):
    """Run ``code`` in a sandbox; returns (exit status, stdout, stderr) and the host cwd."""
    box, cwd = tmp_path / "box", tmp_path / "cwd"
    box.mkdir()
    cwd.mkdir()
    for name, text in (cwd_files or {}).items():
        (cwd / name).write_text(text)
    env = {**os.environ, **(environ or {})}
    spec = policy.launch_spec([sys.executable, "-c", textwrap.dedent(code)], cwd=str(cwd), box=box, environ=env,
                              limits=limits)
    proc = subprocess.run(spec["argv"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr, cwd


@needs_sandbox
def test_the_sandbox_hides_the_host_and_keeps_writes_private(tmp_path):
    secret_dir = tmp_path / "course"
    secret_dir.mkdir()
    (secret_dir / "gradebook.db").write_text("grades")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        rc, out, err, cwd = run_in_sandbox(tmp_path, f"""
            import json, os, socket
            seen = {{}}
            seen["uid"] = os.getuid()
            seen["home"] = os.environ["HOME"]
            seen["cwd"] = os.getcwd()
            seen["cwd_files"] = sorted(os.listdir("."))
            seen["course"] = os.path.exists({str(secret_dir)!r})
            seen["root_home"] = sorted(os.listdir("/root")) if os.path.isdir("/root") else None
            seen["token"] = os.environ.get("GRADER_TOKEN")
            seen["profile"] = os.environ.get("SONGREC_PROFILE")
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                seen["net"] = "connected"
            except OSError as exc:
                seen["net"] = type(exc).__name__
            open("written.txt", "w").write("x")
            open("data.csv", "a").write("changed")
            for path in ("/usr/bin/pwned", "/etc/pwned"):
                try:
                    open(path, "w")
                    seen[path] = "written"
                except OSError as exc:
                    seen[path] = type(exc).__name__
            import helpers, sys
            seen["helpers"] = helpers.__name__
            seen["needed"] = [sys.prefix, sys.base_prefix, helpers.__file__]
            print(json.dumps(seen))
            """, environ={"GRADER_TOKEN": "t0k3n", "SONGREC_PROFILE": "ci"},
            cwd_files={"data.csv": "a,b\n", "01_mapping.ipynb": "{}"})
    finally:
        listener.close()
    assert rc == 0, err
    seen = json.loads(out.splitlines()[-1])
    assert seen["home"] == policy.SANDBOX_HOME and seen["cwd"] == policy.SANDBOX_WORK
    assert seen["cwd_files"] == ["data.csv"]  # the student's other files, never a notebook
    assert seen["course"] is False
    assert seen["token"] is None and seen["profile"] == "ci"
    assert seen["net"] == "ConnectionRefusedError"  # its own loopback, nobody listening
    assert seen["/usr/bin/pwned"] == seen["/etc/pwned"] == "OSError"  # EROFS: read-only binds
    assert seen["helpers"] == "helpers"
    assert not (cwd / "written.txt").exists() and (cwd / "data.csv").read_text() == "a,b\n"
    if os.geteuid() == 0:
        assert policy.UID_BASE <= seen["uid"] < policy.UID_BASE + policy.UID_SPAN
        # only what Python and helpers need under the grader's home is there: /root/.pyenv,
        # or /root/.cache for the cached venvs of make test-min
        needed = {Path(p).relative_to("/root").parts[0] for p in seen["needed"] if p.startswith("/root/")}
        assert set(seen["root_home"] or []) <= needed, (seen["root_home"], seen["needed"])


@needs_sandbox
@ROOT_ONLY
def test_limits_are_set_and_cannot_be_raised(tmp_path):
    limits = {**settings.sandbox_limits({}), "memory_mb": 1024, "cpu_s": 30, "processes": 40, "file_mb": 1}
    rc, out, err, _ = run_in_sandbox(tmp_path, """
        import json, os, resource
        got = {name: resource.getrlimit(getattr(resource, "RLIMIT_" + name))
               for name in ("AS", "CPU", "NPROC", "FSIZE", "CORE")}
        try:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            got["raised"] = True
        except (ValueError, OSError):
            got["raised"] = False
        try:
            bytearray(2 << 30)
            got["alloc"] = "ok"
        except MemoryError:
            got["alloc"] = "MemoryError"
        try:
            open("big", "wb").write(b"x" * (2 << 20))
            got["write"] = "ok"
        except OSError as exc:
            got["write"] = type(exc).__name__
        print(json.dumps(got))
        """, limits=limits)
    assert rc == 0, err
    got = json.loads(out.splitlines()[-1])
    assert got["AS"] == [1024 << 20] * 2 and got["NPROC"] == [40, 40] and got["FSIZE"] == [1 << 20] * 2
    assert got["CPU"] == [30, 30 + 5] and got["CORE"] == [0, 0]
    assert got["raised"] is False and got["alloc"] == "MemoryError" and got["write"] == "OSError"


def test_check_sandbox_names_a_missing_bwrap(monkeypatch):
    monkeypatch.setattr(policy.shutil, "which", lambda name: None)
    assert "apt-get install bubblewrap" in policy.check_sandbox()


def test_install_swaps_execute_only_when_sandboxed():
    from nbgrader.preprocessors import Execute, LimitOutput
    from traitlets.config import Config

    from tools.instructor.sandbox.kernel import SandboxedExecute

    c = Config()
    c.Autograde.autograde_preprocessors = [Execute, LimitOutput]
    install(c, {"SONGREC_SANDBOX": "none"})
    assert list(c.Autograde.autograde_preprocessors) == [Execute, LimitOutput]
    install(c, {})
    assert list(c.Autograde.autograde_preprocessors) == [SandboxedExecute, LimitOutput]
    with pytest.raises(ValueError, match=r"SONGREC_SANDBOX must be one of \['bwrap', 'none'\], got 'docker'"):
        install(Config(), {"SONGREC_SANDBOX": "docker"})


def test_repo_config_installs_the_sandbox():
    from tools.instructor.paths import REPO_ROOT, load_course_config
    from tools.instructor.sandbox.kernel import SandboxedExecute

    steps = load_course_config(REPO_ROOT).Autograde.autograde_preprocessors
    assert SandboxedExecute in steps or os.environ.get("SONGREC_SANDBOX") == "none"


def test_sandbox_keeps_the_kernel_guard():
    """The sandboxed step is the guarded one with another kernel manager: installing both
    (as nbgrader_config.py does) leaves one execute step that guards and sandboxes."""
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    from tools.instructor import preprocessors
    from tools.instructor.preprocessors.guarded_execute import GuardedExecute
    from tools.instructor.sandbox.kernel import SandboxedExecute

    c = Config()
    preprocessors.install(c)
    assert GuardedExecute in c.Autograde.autograde_preprocessors
    install(c, {})
    steps = list(c.Autograde.autograde_preprocessors)
    executes = [s for s in steps if isinstance(s, type) and issubclass(s, Execute)]
    assert executes == [SandboxedExecute]
    assert issubclass(SandboxedExecute, GuardedExecute)
    with pytest.raises(ValueError, match="no Execute step to sandbox"):
        install(Config({"Autograde": {"autograde_preprocessors": []}}), {})


# --------------------------------------------------------------------------- settings


def test_grading_timeout_follows_the_profile_unless_set():
    assert settings.grading_cell_timeout("grading", {}) == settings.GRADING_CELL_TIMEOUT_S["grading"]
    assert settings.grading_cell_timeout("default", {}) == settings.CELL_TIMEOUT_S
    assert settings.grading_cell_timeout("grading", {"SONGREC_CELL_TIMEOUT": "7"}) == 7
    with pytest.raises(ValueError, match="profile must be one of"):
        settings.grading_cell_timeout("fast", {})
    with pytest.raises(ValueError, match="SONGREC_CELL_TIMEOUT must be a positive whole number of seconds, got '-1'"):
        settings.grading_cell_timeout("ci", {"SONGREC_CELL_TIMEOUT": "-1"})


def test_every_notebook_profile_has_a_grading_timeout():
    from helpers.course import PROFILES

    assert set(settings.GRADING_CELL_TIMEOUT_S) == set(PROFILES)
    assert settings.GRADING_PROFILE in PROFILES


def test_sandbox_limits_read_their_variables():
    assert settings.sandbox_limits({}) == {k: v[1] for k, v in settings.SANDBOX_LIMITS.items()}
    assert settings.sandbox_limits({"SONGREC_SANDBOX_MEMORY_MB": "512"})["memory_mb"] == 512
    with pytest.raises(ValueError, match="SONGREC_SANDBOX_PROCESSES must be a positive whole number of processes, "
                                         "got 'many'"):
        settings.sandbox_limits({"SONGREC_SANDBOX_PROCESSES": "many"})


# --------------------------------------------------------------------------- recorded hashes


def test_submission_digest_sees_every_byte_and_name_but_not_what_nbgrader_ignores(tmp_path):
    folder = tmp_path / "sub"
    (folder / "nested").mkdir(parents=True)
    (folder / "01.ipynb").write_text("{}")
    (folder / "nested" / "a.txt").write_text("a")
    base = resume.files_digest(resume.submission_files(folder))
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "01-checkpoint.ipynb").write_text("{}")
    (folder / "x.pyc").write_bytes(b"\0")
    assert resume.files_digest(resume.submission_files(folder)) == base
    (folder / "nested" / "a.txt").write_text("b")
    assert resume.files_digest(resume.submission_files(folder)) != base
    (folder / "nested" / "a.txt").write_text("a")
    (folder / "nested" / "a.txt").rename(folder / "nested" / "b.txt")
    assert resume.files_digest(resume.submission_files(folder)) != base
    assert resume.files_digest({"ab": b"c"}) != resume.files_digest({"a": b"bc"})


def test_grading_state_survives_a_reload_and_a_damaged_file_means_regrade(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    state = resume.GradingState(tmp_path)
    state.record("ann", "d1", "k1")
    state.record("bob", "d2", "k1")
    again = resume.GradingState(tmp_path)
    assert again.unchanged("ann", "d1", "k1")
    assert not again.unchanged("ann", "d1", "k2") and not again.unchanged("ann", "d9", "k1")
    again.forget("bob")
    assert not resume.GradingState(tmp_path).unchanged("bob", "d2", "k1")
    (tmp_path / settings.GRADING_STATE_FILE).write_text("{not json")
    assert resume.GradingState(tmp_path).students == {}
    assert not list(tmp_path.glob("*.tmp"))
