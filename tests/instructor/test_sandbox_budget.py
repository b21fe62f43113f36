"""One budget per sandbox, not per process (tools/instructor/sandbox/cgroup.py): the
memory, processes and disk of a student's kernel and everything it starts, together.

The probes start Python the way a kernel is started (``launch.py outer`` joins the group,
then bubblewrap), with small budgets so that they are cheap. Memory is checked through the
group's own accounting (its peak) and through which children survive, not through the
host's free memory, which other work on a shared machine moves by more than a budget.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools.instructor import settings
from tools.instructor.sandbox import cgroup, policy

SUPPORT = cgroup.detect({})
needs_sandbox = pytest.mark.skipif(bool(policy.check_sandbox()) and os.environ.get("SONGREC_REQUIRE_SANDBOX") != "1",
                                   reason=f"the sandbox cannot start here: {policy.check_sandbox()}")
needs_cgroup = pytest.mark.skipif(len(SUPPORT.parents) < len(cgroup.CONTROLLERS),
                                  reason=f"no writable memory and pids cgroup here ({SUPPORT.reason}); "
                                         "run as root on a machine with cgroups")
MIB = 1 << 20


def small_limits(**changes: int) -> dict[str, int]:
    return {**settings.sandbox_limits({}), "memory_mb": 1024, "cpu_s": 60, "processes": 64, "file_mb": 64,
            "tmpfs_mb": 8, "total_memory_mb": 512, **changes}


def run_budgeted(tmp_path: Path, code: str, limits: dict[str, int], *, group: cgroup.Group | None,
                 cwd_files: dict[str, str] | None = None) -> tuple[int, str, Path]:
    """Run ``code`` through ``launch.py outer`` in a sandbox joined to ``group``; returns
    (exit status, the sandbox's output, the host's box folder)."""
    box, cwd = tmp_path / "box", tmp_path / "cwd"
    box.mkdir(exist_ok=True)
    cwd.mkdir()
    for name, text in (cwd_files or {}).items():
        (cwd / name).write_text(text)
    spec = policy.launch_spec([sys.executable, "-c", textwrap.dedent(code)], cwd=str(cwd), box=box,
                              environ=dict(os.environ), limits=limits)
    spec["cgroups"] = group.procs_files if group else []
    (box / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, str(policy.LAUNCHER), "outer", str(box / "spec.json")],
                          timeout=180, stdin=subprocess.DEVNULL)
    return proc.returncode, (box / "kernel.log").read_text(errors="replace"), box


def last_json(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, out[-2000:]
    return json.loads(lines[-1])


@pytest.fixture
def group():
    made = []

    def make(limits):
        made.append(cgroup.Group.create(SUPPORT, limits))
        return made[-1]

    yield make
    for g in made:
        assert g.remove(), f"group {g.folders} left behind"
        assert not any(folder.exists() for folder in g.folders.values())


FORK_AND_FILL = """
    import json, os, signal, time
    r, w = os.pipe()
    kids = []
    for i in range(4):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            block = b"\\1" * ({mb} << 20)  # written, so resident, not just reserved
            os.write(w, bytes([i]))
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
    os.close(w)
    os.set_blocking(r, False)
    filled, dead = set(), {{}}
    deadline = time.time() + 90
    while len(filled | set(dead)) < 4 and time.time() < deadline:
        try:
            filled.update(kids[i] for i in os.read(r, 16))
        except BlockingIOError:
            pass
        for pid in kids:
            if pid not in dead and os.waitpid(pid, os.WNOHANG)[0]:
                dead[pid] = True
        time.sleep(0.05)
    time.sleep(1)  # a late OOM kill shows up here
    for pid in kids:
        if pid not in dead and os.waitpid(pid, os.WNOHANG)[0]:
            dead[pid] = True
    holding = [pid for pid in kids if pid in filled and pid not in dead]
    for pid in kids:
        if pid not in dead:
            os.kill(pid, signal.SIGKILL)
    print(json.dumps({{"holding": len(holding), "dead": len(dead)}}))
"""


@needs_sandbox
@needs_cgroup
def test_children_together_cannot_take_more_memory_than_the_budget(tmp_path, group):
    """4 children of 300 MiB each, every one under the per-process limit (1024 MiB), against
    a 512 MiB budget for the sandbox: at most one holds its memory at a time, the others are
    killed, and the group never held more than the budget."""
    limits = small_limits()
    g = group(limits)
    rc, out, _ = run_budgeted(tmp_path, FORK_AND_FILL.format(mb=300), limits, group=g)
    assert rc == 0, out[-2000:]
    seen = last_json(out)
    assert seen["holding"] <= 1 and seen["dead"] >= 3, seen
    assert g.memory_peak() <= limits["total_memory_mb"] * MIB


@needs_sandbox
@needs_cgroup
def test_the_same_children_fit_a_larger_budget(tmp_path, group):
    """The control: with room for all four (2048 MiB), all four hold their memory, so the
    test above fails for the budget, not for the way the children allocate."""
    limits = small_limits(total_memory_mb=2048)
    rc, out, _ = run_budgeted(tmp_path, FORK_AND_FILL.format(mb=64), limits, group=group(limits))
    assert rc == 0, out[-2000:]
    assert last_json(out) == {"holding": 4, "dead": 0}


@needs_sandbox
@needs_cgroup
def test_a_fork_bomb_stops_at_the_group_process_limit(tmp_path, group):
    limits = small_limits(processes=24)
    g = group(limits)
    rc, out, _ = run_budgeted(tmp_path, """
        import json, os, signal, time
        kids, error = [], None
        for _ in range(200):
            try:
                pid = os.fork()
            except OSError as exc:
                error = exc.errno
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
        print(json.dumps({"forked": len(kids), "errno": error}))
        """, limits, group=g)
    assert rc == 0, out[-2000:]
    seen = last_json(out)
    assert seen["errno"] == errno.EAGAIN and seen["forked"] < limits["processes"], seen
    # the group's limit, not the user's: the two bubblewrap processes count in the group too
    events = (g.folders["pids"] / "pids.events").read_text()
    assert "max 0" not in events and events.startswith("max"), events


DISK_FILL = """
    import json, os
    seen = {}
    for folder in ("/home/student", "/tmp", "/home/student/work"):
        written, error = 0, None
        try:
            for i in range(64):
                with open(os.path.join(folder, f"fill{i}"), "wb") as f:
                    f.write(b"\\1" * (1 << 20))
                written += 1
        except OSError as exc:
            error = exc.errno
        seen[folder] = [written, error]
    seen["inputs"] = open("/home/student/work/data.csv").read()
    print(json.dumps(seen))
"""


@needs_sandbox
def test_every_writable_folder_is_a_small_tmpfs_and_nothing_reaches_the_host_disk(tmp_path):
    """Writing more than the disk budget into home, /tmp or work fails with ENOSPC, the
    student's files are there to read, and the host's copy of the work folder is unchanged."""
    limits = small_limits()
    rc, out, box = run_budgeted(tmp_path, DISK_FILL, limits, group=None,
                                cwd_files={"data.csv": "a,b\n"})
    assert rc == 0, out[-2000:]
    seen = last_json(out)
    for folder in ("/home/student", "/tmp", "/home/student/work"):
        written, error = seen[folder]
        assert error == errno.ENOSPC and written <= limits["tmpfs_mb"], (folder, seen)
    assert seen["inputs"] == "a,b\n"
    assert sorted(p.name for p in (box / "work").iterdir()) == ["data.csv"]
    host_bytes = sum(p.stat().st_size for p in box.rglob("*") if p.is_file())
    assert host_bytes < MIB, host_bytes


@needs_sandbox
@needs_cgroup
def test_the_kernel_manager_puts_the_whole_kernel_in_its_group_and_removes_it(tmp_path, monkeypatch, caplog):
    """A real kernel through SandboxKernelManager: the kernel and a child it starts are in
    the group, the limits line is logged, the locked connection folder takes no file, and
    after shutdown the group and box are gone."""
    from tools.instructor.sandbox import kernel

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("SONGREC_SANDBOX_TOTAL_MEMORY_MB", "1536")
    monkeypatch.setattr(kernel, "_said_limits", False)

    async def scenario():
        km = kernel.SandboxKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path))
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)
            reply = await client.execute_interactive(
                "import subprocess; child = subprocess.Popen(['sleep', '300'])", timeout=60)
            assert reply["content"]["status"] == "ok"
            group = km._group
            members = group.pids()
            km.lock_connection_folder()
            probe = (f"import os\ntry:\n    open({str(km._box / 'ipc' / 'fill')!r}, 'wb').write(b'x')\n"
                     "    print('written')\nexcept OSError as exc:\n    print(type(exc).__name__)")
            outputs = []
            await client.execute_interactive(probe, timeout=60,
                                             output_hook=lambda msg: outputs.append(msg["content"].get("text", "")))
            limit = (group.folders["memory"] / "memory.limit_in_bytes").read_text().strip() \
                if group.version == "v1" else (group.folders["memory"] / "memory.max").read_text().strip()
        finally:
            client.stop_channels()
            await km.shutdown_kernel(now=True)
        return group, members, limit, km._box, "".join(outputs).strip()

    with caplog.at_level("INFO"):
        group, members, limit, box, ipc_write = asyncio.run(scenario())
    if os.geteuid() == 0:  # the locked connection folder: the kernel still answers, but cannot write there
        assert ipc_write == "PermissionError"
    assert len(members) >= 4  # launcher-turned-bwrap, bwrap's init, the kernel, sleep
    assert int(limit) == 1536 * MIB
    assert not any(f.exists() for f in group.folders.values()) and not box.exists()
    assert all(not cgroup._alive(pid) or _zombie(pid) for pid in members)
    assert any("sandbox limits (cgroup" in r.getMessage() for r in caplog.records)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


# --------------------------------------------------------------------------- detection, no root needed


def fake_cgroupfs(root: Path, layout: dict[str, str]) -> None:
    for rel, text in layout.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_detect_prefers_v2_and_enables_its_controllers(tmp_path):
    fake_cgroupfs(tmp_path, {"cgroup.controllers": "cpu memory pids", "grader/cgroup.controllers": "memory pids",
                             "grader/cgroup.subtree_control": "", "grader/cgroup.procs": "",
                             "self": "0::/grader\n"})
    support = cgroup.detect({}, root=tmp_path, self_cgroup=tmp_path / "self")
    assert support.version == "v2" and support.parents == {"memory": tmp_path / "grader", "pids": tmp_path / "grader"}
    assert (tmp_path / "grader" / "cgroup.subtree_control").read_text() == "+memory +pids"
    group = cgroup.Group.create(support, small_limits())
    folder = group.folders["memory"]
    assert (folder / "memory.max").read_text() == str(512 * MIB) and (folder / "pids.max").read_text() == "64"
    assert group.procs_files == [str(folder / "cgroup.procs")]


def test_detect_v2_without_memory_falls_back_to_v1_hybrid(tmp_path):
    fake_cgroupfs(tmp_path, {"unified/cgroup.controllers": "hugetlb", "memory/cgroup.procs": "",
                             "memory/job/memory.limit_in_bytes": "", "memory/job/memory.memsw.limit_in_bytes": "",
                             "pids/cgroup.procs": "", "self": "0::/\n8:pids:/\n4:memory:/job\n"})
    support = cgroup.detect({}, root=tmp_path, self_cgroup=tmp_path / "self")
    assert support.version == "v1"
    assert support.parents == {"memory": tmp_path / "memory" / "job", "pids": tmp_path / "pids"}
    group = cgroup.Group.create(support, small_limits(total_memory_mb=300))
    memory = group.folders["memory"]
    assert memory.parent == tmp_path / "memory" / "job"
    assert (memory / "memory.limit_in_bytes").read_text() == str(300 * MIB)
    assert (group.folders["pids"] / "pids.max").read_text() == "64"


def test_detect_names_what_is_missing_and_the_log_line_says_per_process_only(tmp_path):
    fake_cgroupfs(tmp_path, {"self": "0::/\n"})
    support = cgroup.detect({}, root=tmp_path, self_cgroup=tmp_path / "self")
    assert support.version == "none" and "no cgroup v1 memory hierarchy" in support.reason
    line = support.limits_line(small_limits())
    assert line.startswith("sandbox limits (NO cgroup)") and "per process only" in line
    assert cgroup.detect({"SONGREC_SANDBOX_CGROUP": "off"}).version == "none"
    with pytest.raises(ValueError, match=r"SONGREC_SANDBOX_CGROUP must be one of \['auto', 'require', 'off'\], "
                                         r"got 'yes'"):
        cgroup.detect({"SONGREC_SANDBOX_CGROUP": "yes"})


def test_require_refuses_to_grade_without_a_cgroup(monkeypatch):
    from tools.instructor.errors import CourseToolError
    from tools.instructor.sandbox import kernel

    monkeypatch.setattr(kernel, "_said_limits", True)
    env = {"SONGREC_SANDBOX_CGROUP": "off"}
    assert kernel.make_group(env, small_limits(), log=None) is None
    monkeypatch.setattr(cgroup, "detect", lambda environ: cgroup.Support("none", reason="no cgroupfs"))
    with pytest.raises(CourseToolError, match="SONGREC_SANDBOX_CGROUP=require and no cgroup for the kernel: "
                                              "no cgroupfs"):
        kernel.make_group({"SONGREC_SANDBOX_CGROUP": "require"}, small_limits(), log=None)


def test_stale_groups_of_dead_graders_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f"{cgroup.GROUP_PREFIX}{dead}-abcd").mkdir()
    (tmp_path / f"{cgroup.GROUP_PREFIX}{os.getpid()}-abcd").mkdir()
    cgroup.sweep_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{cgroup.GROUP_PREFIX}{os.getpid()}-abcd"]


@needs_sandbox
def test_autograde_refuses_up_front_when_a_cgroup_is_required_but_missing(monkeypatch):
    monkeypatch.setattr(cgroup, "detect", lambda environ: cgroup.Support("v1", {"memory": Path("/m")},
                                                                         reason="no cgroup v1 pids hierarchy"))
    problem = policy.check_sandbox({**os.environ, "SONGREC_SANDBOX_CGROUP": "require"})
    assert problem == ("SONGREC_SANDBOX_CGROUP=require, but this machine gives the sandbox no memory and process "
                       "budget: no cgroup v1 pids hierarchy")
    assert policy.check_sandbox({**os.environ, "SONGREC_SANDBOX_CGROUP": "auto"}) is None
