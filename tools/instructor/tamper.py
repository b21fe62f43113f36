"""The tamper report: per student, only what is really unusual about a submission.

:func:`tamper_report` compares each submitted notebook with the released one, reads what
the grader recorded while it ran the notebook (``metadata.songrec.grading`` of the
autograded copy, written by :class:`~tools.instructor.preprocessors.GuardedExecute`), and
scans the code the student wrote for names of the machinery a submission has no business
touching. It reports:

* locked cells (tests, read-only cells, prompts) edited or deleted, graded cells added,
  copied, or with their points or nbgrader metadata changed (nbgrader undoes all of these;
  the report says that someone tried);
* what the grader had to undo before a test cell (input or AST transformers, event
  callbacks, patched modules, builtins, ``sys.modules`` entries, ...), test cells it could
  not run, notebook and gradebook files the notebook tried to open, programs it started;
* tests that failed because the student's function called the task's reference
  implementation (helpers.testkit's tripwire);
* files handed in besides the notebooks (they sit next to the notebook while it is graded);
* lines of the student's own code that name IPython's transformers or hooks, ``sys``'s
  hooks, ``sys.modules``, builtins, the grader, or assign to attributes of imported modules;
* lines of the student's own code that fetch code while the notebook runs: import a
  reference module of helpers, read a function's source or code object, exec or eval a
  string (:func:`~tools.instructor.reference_code.reference_fetches`). Answers that copy
  the reference's or another student's text are the similarity report's
  (:mod:`tools.instructor.similarity`); ``autograde`` adds its findings to this report.

An honest submission gets an empty list: nbgrader's routine "checksum has changed"
warnings (every released test cell with hidden tests differs from the gradebook's copy)
are not anomalies and are not reported. Reading a course needs nothing but its folders.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from helpers.testkit import REFERENCE_USED, REFERENCES
from tools.instructor import cells
from tools.instructor.paths import course_paths
from tools.instructor.preprocessors.guarded_execute import METADATA_KEY
from tools.instructor.reference_code import reference_fetches
from tools.instructor.settings import ASSIGNMENT

# Files nbgrader or Jupyter put into a submission folder themselves.
ROUTINE_FILES = ("timestamp.txt",)
ROUTINE_DIRS = (".ipynb_checkpoints", "__pycache__")
# Programs libraries start on their own: matplotlib runs fc-list to find fonts whenever its
# font cache is missing, which is every time in the sandbox's fresh home.
ROUTINE_PROGRAMS = ("fc-list",)
PROGRAM_EVENT = "started a program: "


def _routine(event: str) -> bool:
    """True for a recorded event that is a library's own doing, not the student's."""
    if not event.startswith(PROGRAM_EVENT):
        return False
    words = event[len(PROGRAM_EVENT):].split()
    return bool(words) and words[0].rsplit("/", 1)[-1] in ROUTINE_PROGRAMS
# What the student's own code should never name: (pattern, what it is).
SUSPICIOUS = (
    (r"\bget_ipython\b|\b_ih\b|\bIn\[", "IPython's shell or input history"),
    (r"input_transformer|ast_transformers|input_transformers_post|prefilter", "IPython input/AST transformers"),
    (r"\bevents\.register\b|pre_run_cell|post_run_cell|set_custom_exc|showtraceback",
     "IPython's event and error hooks"),
    (r"\bsys\.(modules|meta_path|path_hooks|settrace|setprofile|excepthook|displayhook|addaudithook)\b",
     "Python's import system or interpreter hooks"),
    (r"\bbuiltins\b|__builtins__", "Python's builtins"),
    (r"\bsettrace\b|\bsetprofile\b|_getframe|\binspect\.(stack|currentframe)", "stack frames or tracing"),
    (r"_songrec|kernel_guard|\btestkit\b|NBGRADER_EXECUTION|gradebook|\.ipynb\b", "the autograder"),
    (r"\bgc\.get_(objects|referrers|referents)\b|\bctypes\b", "the interpreter's internals"),
)
SUSPICIOUS_RE = [(re.compile(p), what) for p, what in SUSPICIOUS]


@dataclass(frozen=True)
class Anomaly:
    """One unusual thing about a submission.

    ``notebook``: file stem (``02_skipgrams``); ``cell``: the grade_id it concerns, or None;
    ``kind``: a short category (``"test cell edited"``, ``"undone by the grader"`` ...);
    ``detail``: what exactly, in one line.
    """

    notebook: str
    cell: str | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = self.notebook + (f" [{self.cell}]" if self.cell else "")
        return f"{where}: {self.kind}: {self.detail}"


# --------------------------------------------------------------------------- cells


def _tracked(nb) -> dict[str, list]:
    """grade_id -> the cells carrying it (more than one when a cell was copied)."""
    out: dict[str, list] = {}
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if gid:
            out.setdefault(gid, []).append(cell)
    return out


def _first_change(old: str, new: str) -> str:
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"line {i + 1} reads {_clip(y)!r} instead of {_clip(x)!r}"
    if len(a) != len(b):
        return f"{abs(len(a) - len(b))} line(s) {'removed' if len(b) < len(a) else 'added'} (now {len(b)})"
    return "whitespace changed"


def _clip(text: str, limit: int = 70) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


FLAGS = ("grade", "solution", "locked", "task")


def cell_anomalies(name: str, released, submitted) -> list[Anomaly]:
    """What differs between the ``released`` and ``submitted`` versions of notebook ``name``
    in its tracked cells: locked cells edited or deleted, graded cells added or copied,
    points and nbgrader flags changed."""
    out = []
    rel, sub = _tracked(released), _tracked(submitted)
    for gid, [cell] in ((g, c[:1]) for g, c in rel.items()):
        kind = cells.cell_kind(cell)
        what = "test cell" if kind == "test" else ("read-only cell" if kind in ("readonly", "task") else "")
        copies = sub.get(gid, [])
        if not copies:
            if what:
                out.append(Anomaly(name, gid, f"{what} deleted", "nbgrader put it back"))
            continue
        if len(copies) > 1:
            out.append(Anomaly(name, gid, "cell copied", f"{len(copies)} cells carry this id; the last one was graded"))
        mine = copies[-1]
        if what and mine.source != cell.source:
            out.append(Anomaly(name, gid, f"{what} edited", _first_change(cell.source, mine.source)))
        old_meta, new_meta = cells.nbgrader_meta(cell), cells.nbgrader_meta(mine)
        if kind in ("test", "answer", "task") and cells.cell_points(mine) != cells.cell_points(cell):
            out.append(Anomaly(name, gid, "points changed", f"{new_meta.get('points')!r} instead of "
                                                            f"{old_meta.get('points')!r}"))
        changed = [f"{f} {bool(new_meta.get(f))} instead of {bool(old_meta.get(f))}" for f in FLAGS
                   if bool(new_meta.get(f)) != bool(old_meta.get(f))]
        if mine.cell_type != cell.cell_type:
            changed.append(f"a {mine.cell_type} cell instead of {cell.cell_type}")
        if changed:
            out.append(Anomaly(name, gid, "nbgrader metadata changed", "; ".join(changed)))
    for gid in sorted(set(sub) - set(rel)):
        out.append(Anomaly(name, gid, "graded cell added", "a cell with nbgrader metadata the release does not have "
                                                           "(nbgrader ignores it)"))
    return out


# --------------------------------------------------------------------------- the student's code


def _student_code(released, submitted) -> list[tuple[str, str]]:
    """(label, source) of every code cell the student wrote or changed: solution cells, and
    untracked cells whose text is not in the release."""
    released_text = {c.source for c in released.cells if c.cell_type == "code"}
    out = []
    for index, cell in enumerate(submitted.cells):
        if cell.cell_type != "code":
            continue
        kind = cells.cell_kind(cell)
        if kind == "solution" or (kind == "plain" and cell.source not in released_text):
            out.append((cells.grade_id(cell) or f"cell {index}", cell.source))
    return out


def _module_aliases(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def code_anomalies(name: str, released, submitted) -> list[Anomaly]:
    """Lines of the student's own code that name the grading machinery, assign attributes of
    imported modules, or (in a task's solution cell) name the task's reference implementation."""
    out = []
    code = _student_code(released, submitted)
    modules = set().union(*(_module_aliases(src) for _, src in code)) | {"np", "numpy", "keras", "helpers"}
    for label, source in code:
        reference = REFERENCES.get(label, "")
        # helpers.mod.func -> "func"; helpers.mod.Class.method -> "Class"
        parts = reference.split(".")
        ref_name = parts[2] if len(parts) > 2 else ""
        # A task may ask for a function of the reference's own name (positive_pairs): then only
        # a qualified or imported use of the name counts.
        own = ref_name and re.search(rf"^def {re.escape(ref_name)}\b", source, re.M)
        ref_pattern = (rf"(\.|\bimport\s+|,\s*){re.escape(ref_name)}\b" if own else rf"\b{re.escape(ref_name)}\b")
        for number, line in enumerate(source.splitlines(), start=1):
            hits = [what for regex, what in SUSPICIOUS_RE if regex.search(line)]
            patched = re.match(r"\s*(\w+)((?:\.\w+)+)\s*=[^=]", line)
            if patched and patched.group(1) in modules:
                hits.append(f"an attribute of the module {patched.group(1)}")
            if ref_name and re.search(ref_pattern, line):
                hits.append(f"the task's reference implementation {reference}")
            if hits:
                out.append(Anomaly(name, None if label.startswith("cell ") else label,
                                   "code names " + ", ".join(dict.fromkeys(hits)), f"line {number}: {_clip(line)!r}"))
    return out


FETCH_KIND = "fetches the reference at run time"


def fetch_anomalies(name: str, released, submitted) -> list[Anomaly]:
    """Lines of the student's own code that fetch code at run time (a reference module's
    import, ``inspect.getsource``, ``__code__``, ``exec``/``eval`` of a string)."""
    return [Anomaly(name, None if label.startswith("cell ") else label, FETCH_KIND,
                    f"line {number}: {what}: {_clip(text)!r}")
            for label, source in _student_code(released, submitted)
            for number, what, text in reference_fetches(source)]


# --------------------------------------------------------------------------- what the grader saw


def grading_anomalies(name: str, autograded) -> list[Anomaly]:
    """What the grader recorded while it ran the notebook, and tests the tripwire failed."""
    record = autograded.metadata.get(METADATA_KEY, {}).get("grading")
    out = []
    if record is None:
        return [Anomaly(name, None, "not run by the course's grader",
                        "no grading record (was it autograded with nbgrader_config.py's preprocessors?)")]
    if not record.get("guard_ready", True):
        out.append(Anomaly(name, None, "grader", "the kernel guard did not start; tests ran unguarded"))
    for event in record.get("events", []):
        if not _routine(event):
            out.append(Anomaly(name, None, "grader", event))
    for gid in record.get("not_run", []):
        out.append(Anomaly(name, gid, "test not run",
                           "the grader could not restore a clean state before it (0 points)"))
    for cell in autograded.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and REFERENCE_USED in str(output.get("evalue", "")):
                out.append(Anomaly(name, cells.grade_id(cell), "reference implementation called",
                                   _clip(str(output.get("evalue")), 160)))
    return out


def file_anomalies(folder: Path, released_names: set[str]) -> list[Anomaly]:
    """Files in a submission folder other than the released notebooks."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if rel.as_posix() in released_names or rel.name in ROUTINE_FILES or set(rel.parts) & set(ROUTINE_DIRS):
            continue
        out.append(Anomaly(rel.parts[0].split(".")[0] if rel.suffix == ".ipynb" else "(folder)", None,
                           "extra file handed in", f"{rel.as_posix()} (it sits next to the notebooks while they are "
                                                   "graded, and a .py file or package there can shadow a module)"))
    return out


# --------------------------------------------------------------------------- the report


def tamper_report(course_root: Path, student: str) -> list[Anomaly]:
    """Every anomaly of ``student``'s submission, notebook by notebook (empty when none).

    ``course_root``: the folder holding nbgrader_config.py, after ``release`` (the released
    notebooks are the reference) and, for the grader's records, after ``autograde``.
    Reads files only; changes nothing. A notebook not handed in is no anomaly.
    """
    paths = course_paths(course_root)
    folder = paths.submitted / student / ASSIGNMENT
    released_paths = sorted(paths.release.glob("*.ipynb"))
    out: list[Anomaly] = []
    for rel_path in released_paths:
        sub_path = folder / rel_path.name
        if not sub_path.is_file():
            continue
        name = rel_path.stem
        released = nbformat.read(rel_path, as_version=4)
        try:
            submitted = nbformat.read(sub_path, as_version=4)
        except Exception as exc:  # unreadable JSON: nbgrader fails on it too
            out.append(Anomaly(name, None, "unreadable notebook", f"{type(exc).__name__}: {_clip(str(exc))}"))
            continue
        out += cell_anomalies(name, released, submitted)
        out += code_anomalies(name, released, submitted)
        out += fetch_anomalies(name, released, submitted)
        graded_path = paths.autograded / student / ASSIGNMENT / rel_path.name
        if graded_path.is_file():
            out += grading_anomalies(name, nbformat.read(graded_path, as_version=4))
    if folder.is_dir():
        out += file_anomalies(folder, {p.name for p in released_paths})
    return out


def format_tamper_report(reports: dict[str, list[Anomaly]]) -> str:
    """The report of several students as text: a block per student with anomalies, then one
    line for everyone else."""
    lines = ["tamper report (what differs from the release, or what the grader had to undo):"]
    clean = sorted(s for s, found in reports.items() if not found)
    for student in sorted(s for s, found in reports.items() if found):
        lines.append(f"  {student}: {len(reports[student])} finding(s)")
        lines.extend(f"    {a}" for a in reports[student])
    if clean:
        lines.append(f"  nothing to report for {len(clean)} student(s): {', '.join(clean)}")
    return "\n".join(lines)
