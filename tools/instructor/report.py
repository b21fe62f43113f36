"""``report``: the class report, one self-contained HTML page.

Plots are matplotlib figures (no pyplot state) embedded as base64 PNG; every string that
may come from a student (names, ids, failure messages, tamper findings) goes through
``html.escape``, and the page holds no script. A Content-Security-Policy forbids scripts
and remote loads should anything slip through.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import TextIO

from tools.instructor.collect_roster import ROSTER_FILE, read_roster
from tools.instructor.paths import course_paths
from tools.instructor.report_data import ClassData, gather
from tools.instructor.static_page import esc, page

TOP_FAILED = 10
STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
         "img{max-width:100%}.warn{color:#a30}")


def png(fig) -> str:
    """The figure as an ``<img>`` with a base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def box_plot(scores: dict[str, tuple[float, list[float]]], title: str) -> str:
    """Box and points of each item's scores, as a fraction of its maximum."""
    from matplotlib.figure import Figure

    items = [(k, [s / m if m else 0.0 for s in v]) for k, (m, v) in scores.items() if v]
    if not items:
        return "<p>nothing graded yet</p>"
    fig = Figure(figsize=(max(4.0, 0.8 * len(items) + 2), 4))
    ax = fig.add_subplot()
    ax.boxplot([v for _, v in items], widths=0.5)
    for col, (_, values) in enumerate(items, start=1):
        ax.plot([col] * len(values), values, "o", alpha=0.5, color="tab:blue")
    ax.set_xticks(range(1, len(items) + 1), [k for k, _ in items], rotation=30, ha="right")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("fraction of the points")
    ax.set_title(title)
    return png(fig)


def total_histogram(data: ClassData) -> str:
    from matplotlib.figure import Figure

    if not data.totals:
        return "<p>nothing graded yet</p>"
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    ax.hist(list(data.totals.values()), bins=min(20, max(5, len(data.totals))), range=(0, data.max_total or 1))
    ax.set_xlabel(f"total points (of {data.max_total:g})")
    ax.set_ylabel("students")
    return png(fig)


def table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def who(data: ClassData, student: str) -> str:
    name = data.names.get(student)
    return f"{student} ({name})" if name and name != student else student


def render(data: ClassData) -> str:
    """The report page."""
    parts = [f"<h1>Class report: {len(data.totals)} graded student(s)</h1>",
             "<h2>Totals</h2>", total_histogram(data),
             table(["student", "total"],
                   [[who(data, s), f"{t:g} / {data.max_total:g}"] for s, t in data.totals.items()]),
             "<h2>Score per notebook</h2>", box_plot(data.notebook_scores, "per notebook"),
             "<h2>Score per task (graded cell)</h2>", box_plot(data.cell_scores, "per graded cell")]
    parts.append("<h2>Tests most often failed</h2>")
    rows = [[f"{t.notebook}/{t.grade_id}", t.failures,
             "; ".join(f"{m} (x{n})" for m, n in t.messages.most_common(3))] for t in data.failed[:TOP_FAILED]]
    parts.append(table(["test", "students failing", "most common messages"], rows) if rows else "<p>none failed</p>")
    parts.append("<h2>Flagged</h2>")
    rows = [[who(data, s), "tamper", "; ".join(f)] for s, f in sorted(data.tamper.items())]
    rows += [[f"{who(data, a)} / {who(data, b)}", "similarity", f"{score:.2f}"] for a, b, score in data.similar]
    parts.append(table(["student(s)", "report", "findings"], rows) if rows else "<p>nobody flagged</p>")
    parts.append("<h2>Grading time</h2>")
    rows = [[who(data, s), at, "not recorded" if sec is None else f"{sec:.1f} s"]
            for s, (at, sec) in sorted(data.grading.items())]
    parts.append(table(["student", "last graded (UTC)", "time"], rows) if rows else "<p>no autograde record</p>")
    parts.append("<h2>Still needs manual grading</h2>")
    rows = [[who(data, s), ", ".join(nbs)] for s, nbs in sorted(data.pending.items())]
    parts.append(table(["student", "notebooks"], rows) if rows else "<p>all graded</p>")
    return page("Class report", "".join(parts), style=STYLE, images=True)


def roster_names(course_root: Path) -> dict[str, str]:
    """student id -> the name an LMS shows, from the roster (empty without one)."""
    roster = read_roster(course_paths(course_root).root / ROSTER_FILE)
    return {e.student_id: e.name for e in roster.entries.values()}


def run_report(course_root: Path, target: Path, *, similar: list[tuple[str, str, float]] | None = None,
               out: TextIO | None = None) -> Path:
    """Write the class report of ``course_root`` to ``target``; ``similar``: (student,
    student, similarity) pairs a similarity check flagged. Returns ``target``."""
    data = gather(course_root, names=roster_names(course_root), similar=similar)
    Path(target).write_text(render(data), encoding="utf-8")
    print(f"wrote the class report of {len(data.totals)} student(s) to {target}", file=out or sys.stdout)
    return Path(target)
