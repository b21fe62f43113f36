"""``GuardedExecute``: nbgrader's ``Execute``, with every test cell run from a known state.

A student's cells run in the same kernel as the tests, before them. They can register an
IPython input transformer that wraps every later cell in ``try/except``, replace
``numpy.testing.assert_allclose``, put a fake module into ``sys.modules``, hook
``pre_run_cell`` to read the hidden tests as they arrive, or open the notebook file on disk
(during grading it holds the hidden tests). Stock nbgrader notices none of it.

Before the first cell this preprocessor sends :mod:`tools.instructor.kernel_guard` to the
kernel, which imports the modules the notebook's test cells import and records the state
they rely on (see that module for the list). Before every test cell it asks the guard to
put that state back, and runs the test cell without storing it in IPython's history. The
guard's answer carries a fresh random token; if the answer does not come back (the
notebook's code stopped or rewrote the request), the test cell is not run and gets an
error output instead, so it scores 0. Everything the guard had to undo, and every refused
file read and program started, is written to the notebook's metadata
(``metadata.songrec.grading``) with the profile it was graded in; the tamper report
(:mod:`tools.instructor.tamper`) and the feedback read it from there.

Why a preprocessor rather than running the tests in a separate process: nbgrader scores
the outputs of the notebook it executes, and the test cells rely on what the notebook's
earlier cells built (the student's functions, their helpers). A fresh process would have
to rerun those cells, tampering included, or lift the functions out of their context,
which breaks honest solutions that use their own helper functions. See docs/GRADING.md.

A cell that outlives the cell timeout is interrupted (``interrupt_on_timeout``). A kernel
that ignores the interrupt (a cell that traps SIGINT) would make nbclient raise and nbgrader
drop the whole notebook; here the kernel is killed instead (its whole process group), a
new one is started, the guard is set up again and every earlier cell that is not a test
is re-run silently, so the rest of the notebook is graded from the state it had. The
stuck cell gets an error output saying so (a test cell with it scores 0) and the
notebook's metadata lists it under ``killed``. After ``max_kernel_restarts`` such kills
the remaining code cells are not run (each gets the same kind of error output).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import secrets
from pathlib import Path

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Dict, Integer, List, Unicode

from helpers import environment
from tools.instructor import kernel_guard
from tools.instructor.preprocessors.guard_plan import assignment_test_imports, imports_of_sources, merge_plans
from tools.instructor.preprocessors.kernel_sharing import (
    plan_covers,
    release_shared_kernel,
    shared,
)
from tools.instructor.preprocessors.start_gate import WAITING_LOG, gate_pending, wait_for_start
from tools.instructor.settings import GRADEBOOK_FILE, GRADING_SKIPPED_CELLS

GUARD_SOURCE = Path(kernel_guard.__file__).read_text(encoding="utf-8")
REPLY = "_songrec_guard_reply"
METADATA_KEY = "songrec"
NOT_RUN_ENAME = "GradingGuardError"
NOT_RUN_MESSAGE = (
    "the autograder could not put the notebook back into a clean state before this test, so "
    "the test was not run ({why}). Code in this notebook changes how cells run; your "
    "instructor sees what in the tamper report."
)
KILLED_ENAME = "CellTimeoutError"
KILLED_MESSAGE = (
    "this cell was still running after the {timeout} s limit and did not stop when interrupted "
    "({why}), so the autograder stopped its kernel by force and started a new one. Everything "
    "this cell would have defined is missing; the cells above it were run again, and the rest of "
    "the notebook was graded. Make this cell finish in time (and do not ignore Ctrl-C / SIGINT)."
)
SKIPPED_NOTE = ("[not run when grading: a demonstration with the course's own code, the same for every "
                "student; run the notebook to see it]\n")
UNSCORED_NOTE = (
    "**Note from the autograder: this notebook was not run when it was graded.** It has no "
    "automatically graded cells and no code cells of yours: its answers are graded by hand, from the "
    "text you wrote. The course's code cells show no output here; run the notebook to see them."
)
UNSCORED_TAG = "songrec-unscored-note"
GAVE_UP_MESSAGE = (
    "this cell was not run: the autograder stopped this notebook's kernel by force {count} time(s) "
    "(cells that ran past the {timeout} s limit and ignored the interrupt) and runs no more of this "
    "notebook. Make every cell finish in time."
)


def is_test_cell(cell) -> bool:
    """An autograder test cell: graded, not a solution, code."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


# The source notebooks' cell ids: "nb06-14", "p01-02", "01-mapping-test" (tests/notebooks checks
# them). Editors give new cells 8 hex digits or a UUID, which never start with two digits and a dash.
COURSE_CELL_ID = re.compile(r"^(nb|p)?(?P<part>\d\d)-[A-Za-z0-9-]+$")


def added_code(nb) -> bool:
    """Whether ``nb`` has a non-empty code cell that is not one of the course's (a cell id the
    source notebooks do not use: a cell the student added, or a notebook whose ids an editor
    rewrote, which is then treated as the student's throughout)."""
    return any(cell.cell_type == "code" and cell.source.strip() and not COURSE_CELL_ID.match(cell.get("id") or "")
               for cell in nb.cells)


def grading_record(**state) -> dict:
    """The empty record of one notebook's grading (``tools.instructor.tamper`` reads it), with ``state``."""
    return {"profile": os.environ.get(environment.PROFILE, "default"), **state, "events": [], "not_run": [],
            "killed": []}


def test_imports(nb) -> tuple[list[str], list[str]]:
    """``(modules, chains)`` the test cells of ``nb`` import and reach
    (:func:`~tools.instructor.preprocessors.guard_plan.imports_of_sources`)."""
    return imports_of_sources(cell.source for cell in nb.cells if is_test_cell(cell))


class GuardedExecute(Execute):
    """``Execute`` that restores a recorded kernel state before each test cell."""

    blocked_files = List(Unicode(), [".ipynb", GRADEBOOK_FILE],
                         help="file-name endings notebook code may not open while it is graded").tag(config=True)
    max_kernel_restarts = Integer(3, help="kernels killed (a cell that ignored the interrupt after the timeout) "
                                          "before the rest of a notebook is left unrun").tag(config=True)

    run_unscored = Bool(False, help="also run notebooks without any autograded test cell (their answers are "
                                    "graded by hand, so running them scores nothing and costs a kernel with "
                                    "TensorFlow per student)").tag(config=True)

    share_kernel = Bool(True, help="grade a student's notebooks one after another in one kernel: the guard's "
                                   "first snapshot records what the test cells of every notebook of the "
                                   "assignment import (from the gradebook), and between notebooks the kernel "
                                   "is put back and its namespace, working folder and environment reset, which "
                                   "saves a kernel start and TensorFlow's import per notebook. A kernel that "
                                   "died, was killed or whose guard failed is never passed on").tag(config=True)

    skip_cells = Dict(Unicode(), Unicode(), default_value=GRADING_SKIPPED_CELLS,
                      help="course cells not run when grading: cell id -> sha256 of the cell's text (UTF-8). "
                           "Only a code cell that is neither a test nor an answer and whose text is exactly "
                           "that is skipped; it gets an output saying so").tag(config=True)

    tensorflow_graph_optimizer = Bool(False, help="leave TensorFlow's graph optimizer (grappler) on in graded "
                                                  "kernels. Off by default: part 4's checks run a dozen tiny fits, "
                                                  "and grappler re-optimizes each fit's input pipeline and steps, "
                                                  "about a quarter of a tiny fit; without it they differ by "
                                                  "float32 rounding only").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        if not self.run_unscored and not any(is_test_cell(cell) for cell in nb.cells) and not added_code(nb):
            # Nothing to score and no code of the student's to show the grader: running the
            # course's own cells would only repeat the same outputs for every student.
            nb.metadata.setdefault(METADATA_KEY, {})["grading"] = grading_record(executed=False)
            note = new_markdown_cell(UNSCORED_NOTE)
            note.metadata["tags"] = [UNSCORED_TAG]
            nb.cells.insert(0, note)
            if self._is_last_notebook(resources or {}):
                release_shared_kernel()
            return nb, resources
        self._guard_name = f"_songrec_guard_{secrets.token_hex(6)}"
        self._ready = False
        self._record = grading_record(guard_ready=False)
        self._lost: set[int] = set()  # cells whose kernel was killed: not re-run
        self._gave_up = False  # no working kernel any more: the remaining cells are not run
        self._last = len(nb.cells) - 1
        self._plan = test_imports(nb)
        self._keep = False  # whether this notebook's kernel may be passed on to the next one
        self._continuing = False  # whether this notebook runs in the kernel of the one before
        if km is None and self.share_kernel:
            km = self._kernel_to_share(nb, resources or {})
        borrowed = km is not None and km is shared.get("km")
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except BaseException:
            if borrowed:
                release_shared_kernel()
            raise
        if borrowed:  # nbclient leaves a kernel it did not start alone: pass it on or stop it
            self._cleanup_kernel()
        nb.metadata.setdefault(METADATA_KEY, {})["grading"] = self._record
        return nb, resources

    def _kernel_to_share(self, nb, resources: dict):
        """The kernel the previous notebook left for this one, or None (then a new kernel
        starts, whose guard records the whole assignment's test imports when they can be
        read from the gradebook, so that it can be passed on)."""
        path = resources.get("metadata", {}).get("path")
        km = shared.get("km")
        if km is not None:
            alive = False
            try:
                alive = run_sync(km.is_alive)()
            except Exception:
                pass
            if alive and shared.get("path") == path and plan_covers(shared["plan"], self._plan):
                self._continuing, self._plan = True, shared["plan"]
                self._keep = resources.get("nbgrader", {}).get("notebook") != shared.get("last")
                return km
            release_shared_kernel()
        info = resources.get("nbgrader", {})
        try:
            whole, last = assignment_test_imports(info["db_url"], info["assignment"])
        except Exception as exc:  # no gradebook to read: this notebook gets a kernel of its own
            self.log.info("not sharing a kernel between notebooks (%s: %s)", type(exc).__name__, exc)
            return None
        self._plan = merge_plans(whole, self._plan)
        self._keep = info.get("notebook") != last
        shared.update(path=path, plan=self._plan, last=last)
        return None

    def _is_last_notebook(self, resources: dict) -> bool:
        """Whether this is the assignment's last notebook: then no kernel is kept after it
        (nbgrader started from the formgrader runs in the server's process, which would
        otherwise hold the kernel until its next autograde)."""
        info = resources.get("nbgrader", {})
        last = shared.get("last")
        if last is None:
            try:
                last = assignment_test_imports(info["db_url"], info["assignment"])[1]
            except Exception:
                return False
        return info.get("notebook") == last

    async def _async_cleanup_kernel(self) -> None:
        keep = (self._keep and self.km is not None and self._ready and not self._gave_up
                and not self._record["killed"])
        if keep:
            try:
                keep = await self.km.is_alive()
            except Exception:
                keep = False
        if not keep:
            if self.km is not None and self.km is shared.get("km"):
                shared.clear()
            await super()._async_cleanup_kernel()
            return
        shared["km"] = self.km
        if self.kc is not None:
            self.kc.stop_channels()
        self.kc = None
        self.km = None

    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    def preprocess_cell(self, cell, resources, index):
        if index == 0:
            if self._continuing:
                self._next_notebook()
            else:
                self._start_guard()
                if gate_pending():  # started ahead of its turn (--jobs 1): the kernel is ready, the turn not yet
                    self.log.info(WAITING_LOG)
                    wait_for_start()
        if cell.cell_type == "code" and self._gave_up:
            message = GAVE_UP_MESSAGE.format(count=len(self._record["killed"]), timeout=self.timeout)
            cell.outputs = [_error(KILLED_ENAME, message)]
            cell.execution_count = None
            self._lost.add(index)
            return cell, self.resources
        if self._skipped(cell):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=SKIPPED_NOTE)]
            cell.execution_count = None
            self._record.setdefault("skipped", []).append(cell.get("id"))
        elif is_test_cell(cell) and self._ready:
            grade_id = cell.metadata.nbgrader.get("grade_id", f"cell {index}")
            why = self._restore(f"before {grade_id}")
            self._check_assign_resources(resources)
            if why:
                self._record["not_run"].append(grade_id)
                cell.outputs = [_error(NOT_RUN_ENAME, NOT_RUN_MESSAGE.format(why=why))]
                cell.execution_count = None
            else:
                cell = self.execute_cell(cell, index, store_history=False)
        else:
            cell, _ = super().preprocess_cell(cell, resources, index)
        if index == self._last and self._ready and index not in self._lost:
            self._restore("after the last cell")
        return cell, self.resources

    def _skipped(self, cell) -> bool:
        """Whether ``cell`` is one of :attr:`skip_cells`, word for word, and no test or answer."""
        want = self.skip_cells.get(cell.get("id") or "")
        if not want or cell.cell_type != "code" or is_grade(cell) or is_solution(cell):
            return False
        return hashlib.sha256(cell.source.encode("utf-8")).hexdigest() == want

    # ------------------------------------------------------------------ a kernel that will not stop

    def execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        try:
            return super().execute_cell(cell, cell_index, execution_count, store_history)
        except (CellTimeoutError, DeadKernelError) as exc:
            # nbclient raises once the interrupt got no answer (or the kernel died): the
            # kernel is stuck or gone, and every later cell would queue behind it.
            why = ("the kernel died" if isinstance(exc, DeadKernelError)
                   else "the kernel did not answer the interrupt")
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {cell_index}")
            self.log.warning("cell %s did not stop after the %s s timeout (%s): killing its kernel",
                             grade_id, self.timeout, why)
            self._record["killed"].append(grade_id)
            self._lost.add(cell_index)
            cell.outputs = [_error(KILLED_ENAME, KILLED_MESSAGE.format(timeout=self.timeout, why=why))]
            cell.execution_count = None
            self._gave_up = len(self._record["killed"]) >= self.max_kernel_restarts
            if not self._gave_up:
                try:
                    self._replace_kernel(cell_index)
                except Exception as problem:  # no new kernel: the rest cannot run, but the notebook is graded
                    self._record["events"].append(f"no new kernel after {grade_id} ({problem!r:.200}); "
                                                  "later cells not run")
                    self._gave_up = True
            return cell

    def _replace_kernel(self, upto: int) -> None:
        """Kill the kernel (SIGKILL to its process group), start a new one, set the guard up
        again and re-run cells ``0..upto-1`` that are not tests, without keeping their output."""
        self._new_kernel()
        rerun = 0
        for index, earlier in enumerate(self.nb.cells[:upto]):
            skip = (earlier.cell_type != "code" or is_test_cell(earlier) or index in self._lost
                    or self._skipped(earlier))
            if skip or not earlier.source.strip():
                continue
            msg_id = self.kc.execute(earlier.source, silent=True, store_history=False, allow_stdin=False,
                                     stop_on_error=False)
            if self.wait_for_reply(msg_id) is None:
                grade_id = earlier.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
                self._record["events"].append(f"re-running {grade_id} after a kernel was killed timed out; "
                                              "later cells run without the cells after it")
                break
            rerun += 1
        self._record["events"].append(f"kernel killed and restarted at cell {upto}; {rerun} earlier cell(s) re-run")

    def _new_kernel(self) -> None:
        """Kill the kernel (SIGKILL to its process group), start a new one with a new client
        and set the guard up in it."""
        try:
            self.kc.stop_channels()
        except Exception:  # already closed: the new client replaces it anyway
            pass
        run_sync(self.km.restart_kernel)(now=True)
        self.start_new_kernel_client()
        self._start_guard()

    # ------------------------------------------------------------------ talking to the guard

    def _ask(self, code: str, nonce: str) -> tuple[dict | None, str]:
        """Run ``code`` silently in the kernel and read ``REPLY`` back; (answer, problem)."""
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                                 user_expressions={"reply": REPLY}, stop_on_error=False)
        reply = self.wait_for_reply(msg_id)
        if reply is None:
            return None, "no answer from the kernel"
        content = reply["content"]
        if content.get("status") != "ok":
            return None, f"{content.get('ename', 'error')}: {content.get('evalue', '')}"[:300]
        try:
            text = content["user_expressions"]["reply"]["data"]["text/plain"]
            answer = json.loads(ast.literal_eval(text))
        except Exception:
            return None, "the guard's answer was unreadable"
        if answer.get("nonce") != nonce:
            return None, "the guard's answer was not the one asked for"
        return answer, ""

    def _start_guard(self) -> None:
        modules, chains = self._plan
        nonce = secrets.token_hex(16)
        code = (
            "import sys as _songrec_sys, types as _songrec_types\n"
            f"{self._guard_name} = _songrec_types.ModuleType({kernel_guard.MODULE_NAME!r})\n"
            f"exec(compile({GUARD_SOURCE!r}, 'songrec kernel guard', 'exec'), {self._guard_name}.__dict__)\n"
            f"_songrec_sys.modules[{kernel_guard.MODULE_NAME!r}] = {self._guard_name}\n"
            f"{REPLY} = {self._guard_name}.snapshot({modules!r}, {chains!r}, {list(self.blocked_files)!r}, "
            f"{nonce!r})\n"
            "del _songrec_sys, _songrec_types\n"
        )
        if not self.tensorflow_graph_optimizer:
            code += ("if 'tensorflow' in __import__('sys').modules:\n"
                     "    __import__('tensorflow').config.optimizer.set_experimental_options("
                     "{'disable_meta_optimizer': True})\n")
        answer, problem = self._ask(code, nonce)
        self._ready = answer is not None
        self._record["guard_ready"] = self._ready
        if answer is None:
            self._record["events"].append(f"the guard did not start ({problem}); tests ran unguarded")
        else:
            self._record["events"].extend(f"test import failed: {m}" for m in answer.get("failed", []))

    def _next_notebook(self) -> None:
        """In the kernel the previous notebook left: reset it for this notebook
        (``kernel_guard.next_notebook``) and bind this notebook's name for the guard. When
        that fails, the kernel is replaced by a new one with a new guard."""
        nonce = secrets.token_hex(16)
        code = (f"{REPLY} = __import__('sys').modules[{kernel_guard.MODULE_NAME!r}].next_notebook({nonce!r})\n"
                f"{self._guard_name} = __import__('sys').modules[{kernel_guard.MODULE_NAME!r}]\n")
        answer, problem = self._ask(code, nonce)
        if answer is None:
            self._record["events"].append(f"the kernel of the previous notebook could not be reset ({problem}); "
                                          "a new kernel was started")
            self._new_kernel()
            return
        self._ready = True
        self._record["guard_ready"] = True
        self._record["shared_kernel"] = True
        self._record["events"].extend(f"before the first cell: {what}" for what in answer.get("undone", []))
        self._record["events"].extend(answer.get("log", []))

    def _restore(self, when: str) -> str:
        """Ask the guard to restore; '' when it did, else why not."""
        nonce = secrets.token_hex(16)
        answer, problem = self._ask(f"{REPLY} = {self._guard_name}.restore({nonce!r})\n", nonce)
        if answer is None:
            self._record["events"].append(f"{when}: the guard did not answer ({problem})")
            return problem
        self._record["events"].extend(f"{when}: {what}" for what in answer.get("undone", []))
        self._record["events"].extend(answer.get("log", []))
        return ""


def _error(ename: str, message: str) -> NotebookNode:
    """An error output, which makes nbgrader score a test cell 0."""
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])
