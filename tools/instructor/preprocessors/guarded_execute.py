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
"""

from __future__ import annotations

import ast
import json
import os
import secrets
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_solution
from traitlets import List, Unicode

from tools.instructor import kernel_guard
from tools.instructor.settings import GRADEBOOK_FILE

GUARD_SOURCE = Path(kernel_guard.__file__).read_text(encoding="utf-8")
REPLY = "_songrec_guard_reply"
METADATA_KEY = "songrec"
NOT_RUN_ENAME = "GradingGuardError"
NOT_RUN_MESSAGE = (
    "the autograder could not put the notebook back into a clean state before this test, so "
    "the test was not run ({why}). Code in this notebook changes how cells run; your "
    "instructor sees what in the tamper report."
)


def is_test_cell(cell) -> bool:
    """An autograder test cell: graded, not a solution, code."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def test_imports(nb) -> tuple[list[str], list[str]]:
    """The modules the test cells of ``nb`` import, and the dotted names they reach
    through them (``import numpy as _np`` + ``_np.testing.assert_allclose`` gives the
    module ``numpy`` and the chain ``numpy.testing.assert_allclose``).

    Returns ``(modules, chains)``, sorted, ``helpers`` first among the modules so that its
    TensorFlow hook is installed before anything imports TensorFlow.
    """
    modules, chains = {"helpers"}, set()
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    modules.add(alias.name)
                    # `import a.b as x` binds x to a.b; `import a.b` binds a.
                    bound = alias.name if alias.asname else alias.name.split(".")[0]
                    aliases[alias.asname or bound] = bound
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
                for alias in node.names:
                    chains.add(f"{node.module}.{alias.name}")
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                parts, inner = [node.attr], node.value
                while isinstance(inner, ast.Attribute):
                    parts.append(inner.attr)
                    inner = inner.value
                if isinstance(inner, ast.Name) and inner.id in aliases:
                    chains.add(".".join([aliases[inner.id], *reversed(parts)]))
    return ["helpers"] + sorted(modules - {"helpers"}), sorted(chains)


class GuardedExecute(Execute):
    """``Execute`` that restores a recorded kernel state before each test cell."""

    blocked_files = List(Unicode(), [".ipynb", GRADEBOOK_FILE],
                         help="file-name endings notebook code may not open while it is graded").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._guard_name = f"_songrec_guard_{secrets.token_hex(6)}"
        self._ready = False
        self._record = {"profile": os.environ.get("SONGREC_PROFILE", "default"), "guard_ready": False,
                        "events": [], "not_run": []}
        self._last = len(nb.cells) - 1
        self._plan = test_imports(nb)
        nb, resources = super().preprocess(nb, resources, km)
        nb.metadata.setdefault(METADATA_KEY, {})["grading"] = self._record
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if index == 0:
            self._start_guard()
        if is_test_cell(cell) and self._ready:
            grade_id = cell.metadata.nbgrader.get("grade_id", f"cell {index}")
            why = self._restore(f"before {grade_id}")
            self._check_assign_resources(resources)
            if why:
                self._record["not_run"].append(grade_id)
                cell.outputs = [NotebookNode(output_type="error", ename=NOT_RUN_ENAME,
                                             evalue=NOT_RUN_MESSAGE.format(why=why),
                                             traceback=[f"{NOT_RUN_ENAME}: {NOT_RUN_MESSAGE.format(why=why)}"])]
                cell.execution_count = None
            else:
                cell = self.execute_cell(cell, index, store_history=False)
        else:
            cell, _ = super().preprocess_cell(cell, resources, index)
        if index == self._last and self._ready:
            self._restore("after the last cell")
        return cell, self.resources

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
        answer, problem = self._ask(code, nonce)
        self._ready = answer is not None
        self._record["guard_ready"] = self._ready
        if answer is None:
            self._record["events"].append(f"the guard did not start ({problem}); tests ran unguarded")
        else:
            self._record["events"].extend(f"test import failed: {m}" for m in answer.get("failed", []))

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
