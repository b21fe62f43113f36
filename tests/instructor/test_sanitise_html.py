"""What a hostile submission displays is made inert before any grading page shows it.

Fast, no browser: the payloads of tests/instructor/test_browser.py's hostile submission go through
the sanitiser (:mod:`tools.instructor.preprocessors.safe_html`), the autograding/feedback
preprocessor (``SanitiseOutputs``) and nbconvert's HTML exporter as the course configures
it, and the result must hold no script, event handler, ``javascript:`` URL or frame,
while figures and text stay.
"""

from __future__ import annotations

import base64
import re

import nbformat
import pytest
from traitlets.config import Config

from tools.instructor.preprocessors import install
from tools.instructor.preprocessors.safe_html import clean_html, markdown_to_html
from tools.instructor.preprocessors.sanitise_outputs import SanitiseOutputs, sanitise_data

MARKER = "http://127.0.0.1:9/xss"
PAYLOADS = [
    "<script>alert(1)</script>",
    f"<img src=x onerror=\"fetch('{MARKER}')\">",
    "<svg onload=\"console.log('XSS-MARKER')\"><circle r=5/></svg>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\"JaVaScRiPt&#58;alert(1)\">click</a>",
    f"<iframe src=\"{MARKER}\"></iframe>",
    f"<img src=\"{MARKER}/img\"><img src=\"/api/contents\"><video poster=\"{MARKER}/v\"></video>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<div style=\"background:url(javascript:alert(1))\" onclick=\"alert(1)\">x</div>",
    "<img src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">"
    "<a href=\"data:text/html,<script>alert(1)</script>\">d</a>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"http://127.0.0.1:9/\"><link rel=stylesheet href=\"http://127.0.0.1:9/x.css\">",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
]
DANGER = re.compile(r"<\s*(script|iframe|object|embed|form|meta|base|link|svg|math|style)\b|\son\w+\s*=|javascript:|"
                    r"data:text|127\.0\.0\.1", re.I)
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_clean_html_leaves_nothing_that_runs(payload):
    cleaned = clean_html(payload)
    assert not DANGER.search(cleaned), cleaned


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_with_hostile_html_is_cleaned(payload):
    html = markdown_to_html(f"# Answer\n\nSome *text* and {payload}\n\n{payload}\n")
    assert not DANGER.search(html), html
    assert "<h1" in html and "<em>text</em>" in html


def test_documents_keep_their_markup_and_figures():
    table = "<table><thead><tr><th>song</th></tr></thead><tbody><tr><td>a &amp; b</td></tr></tbody></table>"
    assert clean_html(table) == table
    img = f'<img src="data:image/png;base64,{PNG}" width="10">'
    assert f'src="data:image/png;base64,{PNG}"' in clean_html(img)
    assert 'href="https://example.org/"' in clean_html('<a href="https://example.org/">ok</a>')
    # Images load nothing: not from another server, not from the grader's own.
    assert "src" not in clean_html('<img src="/api/contents"><img src="https://example.org/a.png">')
    svg = clean_html("<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'></svg>")
    assert svg.startswith('<img src="data:image/svg+xml;base64,') and "onload" not in svg


def test_display_outputs_are_sanitised_and_text_kept():
    data = {"text/plain": "<IPython.core.display.HTML object>",
            "text/html": PAYLOADS[0] + "<b>bold</b>",
            "application/javascript": "console.log('XSS-MARKER')",
            "application/vnd.jupyter.widget-view+json": {"model_id": "x"}}
    out, _ = sanitise_data(data, {})
    assert out["text/html"] == "<b>bold</b>"
    assert set(out) == {"text/plain", "text/html"}
    assert out["text/plain"].startswith("<IPython.core.display.HTML object>")
    assert "application/javascript" in out["text/plain"]

    out, meta = sanitise_data({"image/png": PNG, "text/plain": "<Figure>"},
                              {"image/png": {"width": 400, "height": "1\" onerror=\"alert(1)"}})
    assert out == {"image/png": PNG, "text/plain": "<Figure>"} and meta == {"image/png": {"width": 400}}
    out, _ = sanitise_data({"image/png": 'x" onerror="alert(1)'}, {})
    assert "image/png" not in out and "image/png" in out["text/plain"]
    out, _ = sanitise_data({"text/markdown": "**hi** <script>alert(1)</script>"}, {})
    assert "<strong>hi</strong>" in out["text/html"] and "script" not in out["text/html"]


def _hostile_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells.append(nbformat.v4.new_markdown_cell("## Essay\n\n" + "\n\n".join(PAYLOADS)))
    code = nbformat.v4.new_code_cell("display(...)")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": p, "text/plain": "x"}) for p in PAYLOADS
    ] + [
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(1)", "text/plain": "js"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": PAYLOADS[2]}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("stream", name="stdout", text="<script>alert(1)</script> printed\n"),
        nbformat.v4.new_output("error", ename="AssertionError", evalue="<img src=x onerror=alert(1)>",
                               traceback=["<script>alert(1)</script>"]),
    ]
    nb.cells.append(code)
    raw = nbformat.v4.new_raw_cell("<script>alert(1)</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    nb.cells.append(raw)
    return nb


def test_course_html_exporter_renders_a_hostile_notebook_inert():
    from nbconvert.exporters import HTMLExporter

    c = Config()
    install(c)
    # As the formgrader builds it: nbconvert's HTMLExporter from the course's configuration.
    for nb in (_hostile_notebook(), SanitiseOutputs().preprocess(_hostile_notebook(), {})[0]):
        html, _ = HTMLExporter(config=c).from_notebook_node(nb)
        body = html[html.index("<body"):]
        # The template's own scripts (MathJax, require.js) are in the head; nothing a student made may be here.
        hits = [m.group(0) for m in DANGER.finditer(body) if "mathjax" not in body[max(0, m.start() - 200):m.end()]]
        assert not hits, hits
        assert f"data:image/png;base64,{PNG}" in body
        # Printed text and tracebacks stay readable, as text.
        assert "&lt;script&gt;alert(1)&lt;/script&gt; printed" in body


def test_the_feedback_template_is_only_the_feedback_exporters():
    from nbconvert.exporters import HTMLExporter

    from tools.instructor.preprocessors import FeedbackHTMLExporter

    c = Config()
    install(c)
    assert c.GenerateFeedback.exporter_class is FeedbackHTMLExporter
    assert "template_name" not in c.HTMLExporter and "template_file" not in c.HTMLExporter
    assert HTMLExporter(config=c).template_name == "lab"
    assert FeedbackHTMLExporter(config=c).template_name == "song2vec_feedback"
