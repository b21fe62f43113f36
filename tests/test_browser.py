"""JupyterLab in a real browser, as students and instructors meet it.

Headless Chromium (Debian's ``chromium``; Playwright's Python package drives it through
``executable_path``, no browser download) against JupyterLab servers on 127.0.0.1:

* **student**: JupyterLab from the student environment (``pip install -e ".[student]"``,
  built by ``make venv-student``), holding a released notebook and a solved one, each run
  with Run > Run All Cells. The released one must stop only at the first
  ``NotImplementedError`` stub; the solved one must finish without an error. Neither may
  show a stderr box (TensorFlow's start-up lines used to), figures must be drawn, and the
  menu bar must have no Nbgrader menu.
* **instructor**: JupyterLab from this environment (nbgrader installed) in a released copy
  of the course: Nbgrader > Formgrader lists the assignment, and neither the formgrader
  nor the Assignment List reports a missing exchange directory.

Run alone with ``make test-browser``. Each missing piece (chromium, Playwright, the student
environment) makes the test skip with the reason. ``SONGREC_BROWSER_SHOTS=DIR`` keeps
screenshots of every step in DIR (they are written to the test's tmp folder otherwise).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbgrader_toy as toy
import pytest

from tools.instructor.release import run_release

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_training.ipynb"   # training, progress lines, a figure, Keras (TensorFlow) imported
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic", "--disable-dev-shm-usage"]
STDERR_MIME = "application/vnd.jupyter.stderr"
RUN_TIMEOUT = 900


# --------------------------------------------------------------------------- prerequisites

def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH: install Debian's chromium (`make browser-deps` does, as root)")


def _student_python() -> Path:
    venv = Path(os.environ.get("SONGREC_STUDENT_VENV") or ROOT / ".venv-student")
    if not venv.is_absolute():
        venv = ROOT / venv
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no student environment at {venv}: run `make venv-student` (or `make browser-deps`)")
    return python


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright's Python package is missing: `make browser-deps`")
    pw = sync_api.sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium,
            headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
    except Exception as exc:  # e.g. a Chromium too old for this Playwright
        pw.stop()
        pytest.skip(f"Playwright could not start {chromium}: {exc}")
    try:
        yield context
    finally:
        context.close()
        pw.stop()


@pytest.fixture(scope="module")
def released_course(tmp_path_factory):
    """A copy of the course with release/song2vec/ made by `python -m tools.instructor release`."""
    root = tmp_path_factory.mktemp("course")
    toy.copy_course_with_real_notebooks(root, toy.REAL_SOURCE)
    run_release(root, env=toy.course_env_for_tests(300), out=io.StringIO())
    return root


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SONGREC_BROWSER_SHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --------------------------------------------------------------------------- JupyterLab

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server on 127.0.0.1 with its own settings, runtime and data folders."""

    def __init__(self, python: Path, root: Path, home: Path, env: dict[str, str]):
        self.root = root
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        # Every cell stays in the page, so the checks can read all outputs; no news pop-up.
        for plugin, values in (("notebook-extension/tracker", {"windowingMode": "none"}),
                               ("apputils-extension/notification", {"fetchNews": "false"})):
            path = home / "user-settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        full_env = {**os.environ, **env,
                    "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
                    "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                    "JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),
                    "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
                    "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        # As a student's machine has it: helpers found by the environment under test itself,
        # TensorFlow's log level not set by hand (conftest.py sets it for the test process).
        full_env.pop("PYTHONPATH", None)
        full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        self.log = (home / "server.log").open("w")
        self.proc = subprocess.Popen(
            [str(python), "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI machines run as root
            cwd=root, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(home / "server.log")

    def _wait_ready(self, log: Path, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited with {self.proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook``'s session (None: no session yet)."""
        with urllib.request.urlopen(self.url("api/sessions"), timeout=5) as response:
            for session in json.load(response):
                if session.get("path") == notebook and session.get("kernel"):
                    return session["kernel"].get("execution_state")
        return None

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base}/{path}?{query + '&' if query else ''}token={self.token}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _lab_env(tmp_path: Path) -> dict[str, str]:
    return {"SONGREC_PROFILE": "ci", "SONGREC_CACHE_DIR": str(tmp_path / "cache")}


def _menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel").get_by_text(top, exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


IDLE = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"


def _wait_kernel_ready(page, lab: Lab, notebook: str, timeout: float = 120) -> None:
    """Until the notebook's kernel is started, idle, and the page shows it idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.kernel_state(notebook) == "idle" and page.locator(IDLE).count():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the kernel of {notebook} was not ready within {timeout} s")


def _run_all(page, lab: Lab, notebook: str, timeout: float = RUN_TIMEOUT) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle."""
    _wait_kernel_ready(page, lab, notebook)
    _menu(page, "Run", "Run All Cells")
    deadline, quiet = time.monotonic() + timeout, 0
    page.wait_for_timeout(1000)
    while time.monotonic() < deadline:
        busy = page.evaluate("""() => [...document.querySelectorAll('.jp-InputArea-prompt')]
                                     .some(p => p.textContent.includes('*'))""")
        idle = page.locator(IDLE).count() > 0
        quiet = quiet + 1 if (idle and not busy) else 0
        if quiet >= 3:
            return
        page.wait_for_timeout(1000)
    raise AssertionError(f"Run All Cells did not finish within {timeout} s")


def _save(page, path: Path) -> dict:
    """File > Save Notebook; returns the notebook as saved (its outputs as the browser holds them)."""
    before = path.stat().st_mtime_ns
    _menu(page, "File", "Save Notebook")
    for _ in range(60):
        if path.stat().st_mtime_ns != before:
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(500)
    return json.loads(path.read_text())


def _page_report(page) -> dict:
    """What a student sees: stderr boxes, drawn images, menu bar."""
    return page.evaluate("""(mime) => ({
        stderr: [...document.querySelectorAll(`.jp-OutputArea-output[data-mime-type="${mime}"]`)]
                   .map(e => e.innerText.slice(0, 400)),
        images: [...document.querySelectorAll('.jp-OutputArea-output img')]
                   .map(i => ({w: i.naturalWidth, h: i.naturalHeight})),
        menus: [...document.querySelectorAll('.lm-MenuBar-itemLabel')].map(e => e.textContent),
    })""", STDERR_MIME)


def _outputs(nb: dict) -> list[dict]:
    return [o for cell in nb["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]


def _open_and_run(browser, lab: Lab, name: str, shots: Path, tag: str) -> tuple[dict, dict]:
    page = browser.new_page()
    try:
        # A workspace of its own: only this notebook open, whatever ran before.
        page.goto(lab.url(f"lab/workspaces/{tag}/tree/{name}", "reset"))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.screenshot(path=str(shots / f"{tag}-1-opened.png"))
        _run_all(page, lab, name)
        page.screenshot(path=str(shots / f"{tag}-2-ran.png"))
        for what, selector in (("figure", ".jp-OutputArea-output img"),
                               ("stderr", f'.jp-OutputArea-output[data-mime-type="{STDERR_MIME}"]')):
            if page.locator(selector).count():
                page.locator(selector).first.scroll_into_view_if_needed()
                page.screenshot(path=str(shots / f"{tag}-2-{what}.png"))
        report = _page_report(page)
        saved = _save(page, lab.root / name)
        page.screenshot(path=str(shots / f"{tag}-3-saved.png"))
        return report, saved
    except Exception:
        page.screenshot(path=str(shots / f"{tag}-failed.png"), full_page=True)
        raise
    finally:
        page.close()


# --------------------------------------------------------------------------- the tests

def test_student_runs_a_released_and_a_solved_notebook(browser, released_course, tmp_path, shots):
    python = _student_python()
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; "
                            "print(u.find_spec('nbgrader') is None, u.find_spec('helpers') is not None)"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert probe.stdout.split() == ["True", "True"], (
        f"the student environment must have helpers and no nbgrader: {probe.stdout}{probe.stderr}")
    work = tmp_path / "student"
    work.mkdir()
    shutil.copy(released_course / "release" / "song2vec" / NOTEBOOK, work / NOTEBOOK)
    solved = NOTEBOOK.replace(".ipynb", "_solved.ipynb")
    shutil.copy(ROOT / "notebooks" / "song2vec" / NOTEBOOK, work / solved)
    lab = Lab(python, work, tmp_path / "student-home", _lab_env(tmp_path))
    try:
        released_report, released_nb = _open_and_run(browser, lab, NOTEBOOK, shots, "student-released")
        solved_report, solved_nb = _open_and_run(browser, lab, solved, shots, "student-solved")
    finally:
        lab.stop()

    for report in (released_report, solved_report):
        assert "Nbgrader" not in report["menus"], f"students see nbgrader's menu: {report['menus']}"
        assert "Run" in report["menus"]

    # Released: Run All stops at the first stub, and that is the only error.
    errors = [o for o in _outputs(released_nb) if o["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["NotImplementedError"], errors
    assert len(released_report["stderr"]) == 1 and "NotImplementedError" in released_report["stderr"][0], \
        released_report["stderr"]
    assert not [o for o in _outputs(released_nb) if o.get("name") == "stderr"], "stderr output in the released notebook"

    # Solved: every code cell ran, no error, no stderr box, the figures are drawn.
    code = [c for c in solved_nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "some cells of the solved notebook did not run"
    assert not [o for o in _outputs(solved_nb) if o["output_type"] == "error"]
    assert solved_report["stderr"] == [], f"stderr boxes: {solved_report['stderr']}"
    assert not [o for o in _outputs(solved_nb) if o.get("name") == "stderr"]
    pngs = [o for o in _outputs(solved_nb) if "image/png" in o.get("data", {})]
    assert pngs and len(solved_report["images"]) >= len(pngs)
    assert all(img["w"] > 100 and img["h"] > 100 for img in solved_report["images"]), solved_report["images"]
    text = "".join("".join(o.get("text", "")) for o in _outputs(solved_nb))
    assert "epoch 2/2" in text and " in all)" in text, "the training cell printed no progress lines"


def test_instructor_formgrader_lists_the_assignment_without_exchange_errors(
        browser, released_course, tmp_path, shots):
    lab = Lab(Path(sys.executable), released_course, tmp_path / "instructor-home", _lab_env(tmp_path))
    page = browser.new_page()
    try:
        page.goto(lab.url("lab"))
        page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=120_000)
        menus = page.locator(".lm-MenuBar-itemLabel").all_text_contents()
        assert "Nbgrader" in menus, f"the instructor environment has no Nbgrader menu: {menus}"

        _menu(page, "Nbgrader", "Formgrader")
        frame = page.frame_locator("iframe").first
        frame.get_by_role("link", name="song2vec", exact=True).wait_for(timeout=120_000)
        page.screenshot(path=str(shots / "instructor-formgrader.png"))
        body = frame.locator("body").inner_text()
        assert "song2vec" in body
        assert frame.locator("#warning-exchange").count() == 0, body[:2000]
        assert "does not exist" not in body

        # The student-side panels of the instructor's environment; each reads the exchange.
        for item, ready in (("Assignment List", "Released assignments"),
                            ("Course List", "Available formgraders")):
            _menu(page, "Nbgrader", item)
            page.get_by_text(ready).first.wait_for(timeout=60_000)
            page.wait_for_timeout(3000)  # the lists fill in after the panel appears
            page.screenshot(path=str(shots / f"instructor-{item.lower().replace(' ', '-')}.png"))
            shown = page.locator("body").inner_text()
            for complaint in ("Error fetching courses", "exchange directory", "does not exist"):
                assert complaint not in shown, f"{item}: {complaint!r} shown:\n{shown[:3000]}"
    except Exception:
        page.screenshot(path=str(shots / "instructor-failed.png"), full_page=True)
        raise
    finally:
        page.close()
        lab.stop()
