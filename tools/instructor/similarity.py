"""The similarity report: each graded answer against the reference and every other student's.

For every code task of ``helpers.testkit.REFERENCES``, a student's answer is the task's
solution cell plus the code cells the student added just before it (a helper function
written in its own cell belongs to the task). :func:`similarity_report` scores each answer
against the reference implementation's source and against each other student's answer to
the same task, 0..1, on fingerprints that renaming and reformatting do not change
(:mod:`tools.instructor.fingerprint`); the released cell (signature, docstring, given lines)
counts for no one. Pairs at or above the threshold (``SONGREC_SIMILARITY_THRESHOLD``) are
listed with the two answers side by side. Separately, it lists answers that fetch a
reference while they run (:mod:`tools.instructor.reference_code`), which no comparison of
texts can see. docs/GRADING.md ("The similarity report") says what this catches and what not.

Reading a course needs nothing but its folders: the released and submitted notebooks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers.testkit import REFERENCES
from tools.instructor import cells
from tools.instructor.fingerprint import code_fingerprints, overlap
from tools.instructor.paths import course_paths
from tools.instructor.reference_code import reference_fetches, reference_source
from tools.instructor.settings import ASSIGNMENT
from tools.instructor.tamper import FETCH_KIND, Anomaly

REFERENCE = "reference"  # the name the reference implementation goes by in a pair
# An answer with fewer fingerprints of its own (beyond the released cell's) is too short to
# tell a copy from the one obvious way to write it: it is scored but never flagged.
MIN_FINGERPRINTS = 6
SIMILAR_KIND = "similar answer"


@dataclass(frozen=True)
class Answer:
    """One student's code for one task. ``who``: the student, or ``REFERENCE``."""

    who: str
    task: str
    notebook: str
    source: str
    prints: frozenset = field(repr=False, compare=False, default=frozenset())


@dataclass(frozen=True)
class Pair:
    """Two answers to ``task`` and how much of the shorter one is in the other (0..1)."""

    task: str
    left: Answer
    right: Answer
    score: float
    comparable: bool  # both answers long enough to be flagged


@dataclass(frozen=True)
class Fetch:
    """A line of ``student``'s code for ``task`` that fetches code while the notebook runs."""

    student: str
    notebook: str
    task: str
    line: int
    what: str
    text: str


@dataclass
class SimilarityReport:
    """Every scored pair (highest score first) and every fetch; ``threshold`` flags pairs."""

    threshold: float
    pairs: list[Pair]
    fetches: list[Fetch]
    students: list[str]
    released: dict[str, str] = field(default_factory=dict)  # task -> its released cell

    def shown(self, answer: Answer) -> str:
        """``answer`` as a person should read it: without the lines its task's released cell
        already has (signature, docstring, given checks), which every answer shares."""
        given = {line.strip() for line in self.released.get(answer.task, "").splitlines() if line.strip()}
        lines = [line for line in answer.source.splitlines() if not line.strip() or line.strip() not in given]
        return "\n".join(lines).strip("\n")

    def flagged(self) -> list[Pair]:
        """The pairs at or above the threshold whose answers are both long enough to judge."""
        return [p for p in self.pairs if p.comparable and p.score >= self.threshold]

    def findings(self, student: str) -> list[Anomaly]:
        """``student``'s flagged pairs, as tamper-report findings (the tamper report finds the
        fetches itself)."""
        out = []
        for p in self.flagged():
            if student in (p.left.who, p.right.who):
                other = p.right.who if p.left.who == student else p.left.who
                whom = "the reference implementation " + REFERENCES[p.task] if other == REFERENCE else other
                out.append(Anomaly(p.left.notebook, p.task, SIMILAR_KIND,
                                   f"{p.score:.2f} like {whom}'s (the similarity report shows both)"))
        return out


def clip(text: str, limit: int = 70) -> str:
    """``text`` on one line, at most ``limit`` characters, printable characters only."""
    text = "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _task_cells(nb) -> dict[str, str]:
    """task -> the student's code for it: the code cells added since the previous tracked
    cell, then the solution cell (its last copy, the one nbgrader grades)."""
    out: dict[str, str] = {}
    pending: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid, kind = cells.grade_id(cell), cells.cell_kind(cell)
        if kind == "plain" and not gid:
            pending.append(cell.source)
            continue
        if kind == "solution" and gid in REFERENCES:
            out[gid] = "\n\n".join([*pending, cell.source])
        pending = []
    return out


def _released_plain(nb) -> set[str]:
    return {c.source for c in nb.cells if c.cell_type == "code" and cells.cell_kind(c) == "plain"}


def read_answers(course_root: Path) -> tuple[dict[str, list[Answer]], dict[str, str], list[str]]:
    """(task -> every student's answer, task -> the released cell, the students) of the
    course's submissions. Cells the release already has are not the student's; an unreadable
    notebook has no answers (the tamper report names it)."""
    paths = course_paths(course_root)
    released_paths = sorted(paths.release.glob("*.ipynb"))
    released = {p.stem: nbformat.read(p, as_version=4) for p in released_paths}
    boiler: dict[str, str] = {}
    for nb in released.values():
        boiler.update({cells.grade_id(c): c.source for c in nb.cells
                       if cells.cell_kind(c) == "solution" and cells.grade_id(c) in REFERENCES})
    students = sorted(p.parent.name for p in paths.submitted.glob(f"*/{ASSIGNMENT}") if p.is_dir())
    answers: dict[str, list[Answer]] = {}
    for student in students:
        for name, rel in released.items():
            path = paths.submitted / student / ASSIGNMENT / f"{name}.ipynb"
            if not path.is_file():
                continue
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception:  # unreadable JSON: the tamper report says so
                continue
            given = _released_plain(rel)
            nb.cells = [c for c in nb.cells if not (cells.cell_kind(c) == "plain" and c.source in given)]
            for task, source in _task_cells(nb).items():
                answers.setdefault(task, []).append(Answer(student, task, name, source, code_fingerprints(source)))
    return answers, boiler, students


def _pair(task: str, a: Answer, b: Answer, boilerplate: frozenset) -> Pair:
    score = overlap(a.prints, b.prints, boilerplate)
    comparable = min(len(a.prints - boilerplate), len(b.prints - boilerplate)) >= MIN_FINGERPRINTS
    return Pair(task, a, b, round(score, 4), comparable)


def similarity_report(course_root: Path, threshold: float) -> SimilarityReport:
    """Score every answer of the course's submissions against its task's reference and
    against every other student's answer to the same task; find answers that fetch code at
    run time.

    ``course_root``: the folder holding nbgrader_config.py, after ``release`` (the released
    cells are the boilerplate nobody is scored on). ``threshold``: 0 < threshold <= 1.
    Reads files only. Scores depend on nothing but the texts: the same submissions give the
    same report in every run.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    answers, boiler, students = read_answers(course_root)
    pairs: list[Pair] = []
    fetches: list[Fetch] = []
    for task in sorted(answers):
        boilerplate = code_fingerprints(boiler.get(task, ""))
        ref_source = reference_source(REFERENCES[task])
        ref = Answer(REFERENCE, task, answers[task][0].notebook, ref_source, code_fingerprints(ref_source))
        for answer in answers[task]:
            pairs.append(_pair(task, answer, ref, boilerplate))
            fetches += [Fetch(answer.who, answer.notebook, task, line, what, text)
                        for line, what, text in reference_fetches(answer.source)]
        for a, b in itertools.combinations(answers[task], 2):
            pairs.append(_pair(task, a, b, boilerplate))
    pairs.sort(key=lambda p: (-p.score, p.task, p.left.who, p.right.who))
    return SimilarityReport(threshold, pairs, fetches, students, boiler)


# --------------------------------------------------------------------------- as text


def side_by_side(left: str, right: str, width: int = 60, max_lines: int = 40) -> list[str]:
    """Two texts in two columns of ``width`` characters, control characters shown as ``?``
    (a student's text must not steer the instructor's terminal)."""
    def lines(text: str) -> list[str]:
        out = ["".join(c if c.isprintable() else "?" for c in line.expandtabs(4)) for line in text.splitlines()]
        if len(out) > max_lines:
            out = out[:max_lines] + [f"... ({len(out) - max_lines} more lines)"]
        return [line if len(line) <= width else line[: width - 1] + "~" for line in out]

    a, b = lines(left), lines(right)
    return [f"{x:<{width}} | {y}" for x, y in itertools.zip_longest(a, b, fillvalue="")]


def format_similarity_report(report: SimilarityReport, *, show_code: bool = True) -> str:
    """The report as text: flagged pairs (each with both answers side by side when
    ``show_code``, less the lines of the released cell), then the answers that fetch code
    at run time."""
    flagged = report.flagged()
    lines = [f"similarity report (each answer against the reference and every other student's answer to the same "
             f"task; listed from {report.threshold:.2f}):"]
    for p in flagged:
        left, right = clip(p.left.who, 60), clip(p.right.who, 60)  # folder names are the students' too
        lines.append(f"  {p.task}: {left} ~ {right}: {p.score:.2f}")
        if show_code:
            lines.append(f"    {left:<60} | {right}")
            lines.extend("    " + row for row in side_by_side(report.shown(p.left), report.shown(p.right)))
    if not flagged:
        lines.append(f"  no pair of answers at or above {report.threshold:.2f}")
    for f in report.fetches:
        lines.append(f"  {clip(f.student, 60)} {f.notebook} [{f.task}]: {FETCH_KIND}: line {f.line}: {f.what}: "
                     f"{clip(f.text)!r}")
    if not report.fetches:
        lines.append("  no answer fetches a reference or runs code from a string")
    return "\n".join(lines)
