"""The similarity report as one HTML page (each flagged pair's answers side by side), and the
``similarity`` command that prints the report and writes the page.

Everything a student wrote is escaped (``html.escape``) and the page forbids scripts and
every other load through its Content-Security-Policy, so a submission's text can neither
run nor fetch anything in the instructor's browser.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from tools.instructor.errors import CourseToolError
from tools.instructor.paths import course_paths
from tools.instructor.settings import SIMILARITY_HTML, TOOL_COMMAND, similarity_threshold
from tools.instructor.similarity import FETCH_KIND, SimilarityReport, format_similarity_report, similarity_report
from tools.instructor.static_page import esc, page

STYLE = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;width:100%}"
         "td,th{border:1px solid #ccc;vertical-align:top;padding:4px;width:50%}"
         "pre{white-space:pre-wrap;margin:0;font-size:12px}")


def similarity_html(report: SimilarityReport) -> str:
    """The page's text: the flagged pairs, highest score first, then the fetches."""
    parts = ["<h1>Similarity report</h1>",
             f"<p>Each answer against the reference implementation and every other student's answer to the "
             f"same task; pairs scoring {report.threshold:.2f} or more. The lines of the released cell "
             f"(signature, docstring, given checks) are left out.</p>"]
    flagged = report.flagged()
    if not flagged:
        parts.append("<p>No pair of answers reaches the threshold.</p>")
    for p in flagged:
        parts.append(f"<h2>{esc(p.task)}: {esc(p.left.who)} ~ {esc(p.right.who)}: {p.score:.2f}</h2>")
        parts.append(f"<table><tr><th>{esc(p.left.who)}</th><th>{esc(p.right.who)}</th></tr>"
                     f"<tr><td><pre>{esc(report.shown(p.left))}</pre></td><td><pre>{esc(report.shown(p.right))}</pre></td></tr>"
                     "</table>")
    parts.append("<h2>Answers that fetch code at run time</h2>")
    if report.fetches:
        parts.append("<ul>")
        parts.extend(f"<li>{esc(f.student)} {esc(f.notebook)} [{esc(f.task)}]: {esc(FETCH_KIND)}: line {f.line}: "
                     f"{esc(f.what)}: <code>{esc(f.text)}</code></li>" for f in report.fetches)
        parts.append("</ul>")
    else:
        parts.append("<p>None.</p>")
    return page("Similarity report", "\n".join(parts), style=STYLE)


def write_similarity_html(report: SimilarityReport, path: Path) -> Path:
    """Write :func:`similarity_html` of ``report`` to ``path``; returns ``path``."""
    path.write_text(similarity_html(report), encoding="utf-8")
    return path


def run_similarity(course_root: Path, *, threshold: float | None = None, show_code: bool = True,
                   report: SimilarityReport | None = None, out: TextIO | None = None) -> SimilarityReport:
    """Print the similarity report of the course's submissions and write its page,
    ``SIMILARITY_HTML`` in ``course_root``.

    ``threshold``: default ``SONGREC_SIMILARITY_THRESHOLD``, else ``SIMILARITY_THRESHOLD``.
    ``show_code``: print each flagged pair's answers side by side (else one line a pair).
    ``report``: one already made (then ``threshold`` is its own).
    Raises CourseToolError when the course was never released; ValueError for a bad threshold.
    """
    out = out or sys.stdout
    if not any(course_paths(course_root).release.glob("*.ipynb")):
        raise CourseToolError(f"no released notebooks in {course_paths(course_root).release}: run "
                              f"`{TOOL_COMMAND} release` first (the released cells are what no answer is scored on)")
    if report is None:
        report = similarity_report(course_root, similarity_threshold() if threshold is None else threshold)
    page = write_similarity_html(report, Path(course_root) / SIMILARITY_HTML)
    print(format_similarity_report(report, show_code=show_code), file=out, flush=True)
    print(f"  the flagged pairs side by side: {page}", file=out, flush=True)
    return report
