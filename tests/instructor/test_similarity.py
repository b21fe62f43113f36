"""The similarity report on a toy class handing in the real 05_recommend notebook.

The release is made here by cutting the solution regions out of the real notebook (what
nbgrader's generate_assignment does to a solution cell), so no kernel runs. Every answer
below is written by hand for ``cosine_top_n``; which pairs are copies is known from how
they were written, never from the code under test.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest
from nbformat.v4 import new_code_cell

import helpers.recommend
from tools.instructor.cli import main
from tools.instructor.errors import CourseToolError
from tools.instructor.fingerprint import code_fingerprints, normalise, overlap
from tools.instructor.reference_code import reference_fetches
from tools.instructor.settings import similarity_threshold
from tools.instructor.similarity import SIMILAR_KIND, format_similarity_report, similarity_report
from tools.instructor.similarity_html import run_similarity, similarity_html
from tools.instructor.tamper import FETCH_KIND, tamper_report

NOTEBOOK = "05_recommend"
TASK = "05_cosine_top_n"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
ESC = "\x1b"

HONEST = '''\
    # cosine of every row with the query, one row at a time
    q = vectors[query_idx]
    q_len = np.sqrt((q * q).sum())
    result = []
    for i in range(1, vectors.shape[0]):
        if i == query_idx:
            continue
        row_len = np.sqrt((vectors[i] * vectors[i]).sum())
        cos = -np.inf if row_len == 0 else float(vectors[i] @ q) / (row_len * q_len)
        result.append((-cos, i))
    result.sort()
    picked = result[:n]
    return (np.array([i for _, i in picked], dtype=np.int64),
            np.array([-c for c, _ in picked], dtype=np.float32))'''

CARL = '''\
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(lengths > 0, lengths, 1.0)
    sims = unit @ unit[query_idx]
    sims[lengths[:, 0] == 0] = -np.inf
    sims[0] = np.nan
    sims[query_idx] = np.nan
    keep = np.flatnonzero(~np.isnan(sims))
    order = np.lexsort((keep, -sims[keep]))
    top = keep[order][:n]
    return top.astype(np.int64), sims[top].astype(np.float32)'''

DORA = '''\
    import heapq
    target = vectors[query_idx] / np.linalg.norm(vectors[query_idx])

    def score(i):
        size = np.linalg.norm(vectors[i])
        return float(vectors[i].dot(target) / size) if size else float("-inf")

    candidates = (i for i in range(1, len(vectors)) if i != query_idx)
    best = heapq.nsmallest(n, candidates, key=lambda i: (-score(i), i))
    return np.asarray(best, dtype=np.int64), np.asarray([score(i) for i in best], dtype=np.float32)'''

ANN = f'''\
    # ann's own way <script>alert('ann')</script> {ESC}[2J
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    dots = vectors @ vectors[query_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        cosines = dots / (norms * norms[query_idx])
    cosines[norms == 0] = -np.inf
    mask = np.ones(len(cosines), dtype=bool)
    mask[[0, query_idx]] = False
    ids = np.arange(len(cosines))[mask]
    ranked = ids[np.argsort(-cosines[mask], kind="stable")][:n]
    return ranked.astype(np.int64), cosines[ranked].astype(np.float32)'''

# ann's answer with other names, other quotes, other line breaks and no comment
BEN = '''\
    lens = np.sqrt(np.einsum('ij,ij->i',
                             vectors,
                             vectors))
    prod = vectors@vectors[query_idx]
    with np.errstate(divide='ignore', invalid='ignore'):
        sim = prod/(lens*lens[query_idx])
    sim[lens==0] = -np.inf
    wanted = np.ones(len(sim), dtype=bool)
    wanted[[0, query_idx]] = False
    candidates = np.arange(len(sim))[wanted]
    out = candidates[np.argsort(-sim[wanted], kind='stable')][:n]
    return out.astype(np.int64), sim[out].astype(np.float32)'''

EXECER = '''\
    import inspect
    from helpers import recommend
    exec(inspect.getsource(recommend.top_n), globals())
    return top_n(vectors, query_idx, n)'''


def pasted_reference() -> str:
    """The reference top_n pasted above the student's function: renamed, docstring and
    type of layout changed (2-space indents), comments added; the student's function calls it."""
    source = inspect.getsource(helpers.recommend.top_n)
    source = re.sub(r'    """.*?"""\n', "", source, count=1, flags=re.S)
    for old, new in {"top_n": "_closest", "vectors": "emb", "query": "row", "table": "mat", "blocked": "skip",
                     "available": "room", "scores": "sims", "indices": "best", "exclude": "banned"}.items():
        source = re.sub(rf"\b{old}\b", new, source)
    lines = [("  " * ((len(line) - len(line.lstrip())) // 4)) + line.lstrip() for line in source.splitlines()]
    lines.insert(1, "  # my helper: cosine ranking")
    return "from helpers.ranking import check_table, cosine_scores, top_k, unit_rows\n" \
           "from helpers.validate import Described, bad_argument, check_int\n\n" + "\n".join(lines) + "\n\n"


def _release_of(source_nb):
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        cell.source = re.sub(r"[ \t]*### BEGIN SOLUTION.*?### END SOLUTION", STUB, cell.source, flags=re.S)
        cell.source = re.sub(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", cell.source, flags=re.S)
    return nb


def _answered(release, body: str, before: str = "", extra_cell: str = ""):
    nb = copy.deepcopy(release)
    at = next(i for i, c in enumerate(nb.cells) if toy.grade_id(c) == TASK)
    assert STUB in nb.cells[at].source
    nb.cells[at].source = before + nb.cells[at].source.replace(STUB, body)
    if extra_cell:
        nb.cells.insert(at, new_code_cell(extra_cell))
    return nb


STUDENTS = {
    "honest": dict(body=HONEST),
    "carl": dict(body=CARL),
    "dora": dict(body=DORA),
    "ann": dict(body=ANN),
    "ben": dict(body=BEN),
    "paster": dict(body="    return _closest(vectors, query_idx, n)", before="PASTE"),
    "execer": dict(body=EXECER),
    "blank": dict(body=STUB),
}
COPIES = {frozenset({"paster", "reference"}), frozenset({"ann", "ben"})}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("similarity")
    source = nbformat.read(toy.REAL_SOURCE / f"{NOTEBOOK}.ipynb", as_version=4)
    release = _release_of(source)
    (root / "release" / toy.ASSIGNMENT).mkdir(parents=True)
    nbformat.write(release, root / "release" / toy.ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    for student, how in STUDENTS.items():
        before = pasted_reference() if how.get("before") == "PASTE" else ""
        folder = root / "submitted" / student / toy.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(_answered(release, how["body"], before), folder / f"{NOTEBOOK}.ipynb")
    return root


def _scores(report) -> dict[frozenset, float]:
    return {frozenset({p.left.who, p.right.who}): p.score for p in report.pairs if p.task == TASK}


def test_copies_are_flagged_with_high_scores_and_honest_pairs_are_not(course):
    report = similarity_report(course, 0.8)
    scores = _scores(report)
    flagged = {frozenset({p.left.who, p.right.who}) for p in report.flagged()}
    assert flagged == COPIES, scores
    for pair in COPIES:
        assert scores[pair] >= 0.9, (pair, scores[pair])
    honest = ["honest", "carl", "dora", "ann", "reference"]
    for a in honest:
        for b in honest:
            if a < b and {a, b} != {"ann", "ben"}:
                assert scores[frozenset({a, b})] < 0.5, (a, b, scores[frozenset({a, b})])
    # the unanswered notebook is all released text: nothing of its own to compare
    assert all(p.score == 0.0 and not p.comparable for p in report.pairs if "blank" in (p.left.who, p.right.who))


def test_the_threshold_decides_what_is_listed(course):
    scores = sorted(_scores(similarity_report(course, 0.8)).values(), reverse=True)
    below_copies = scores[len(COPIES)]
    assert len(similarity_report(course, 1.0).flagged()) <= len(COPIES)
    assert len(similarity_report(course, below_copies).flagged()) > len(COPIES) or below_copies == 0.0
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\], got 1.5"):
        similarity_report(course, 1.5)


def test_exec_of_the_reference_source_is_a_fetch_finding(course):
    report = similarity_report(course, 0.8)
    found = {(f.student, f.what) for f in report.fetches}
    assert {s for s, _ in found} == {"execer", "paster"}
    execer = sorted(w for s, w in found if s == "execer")
    assert any("getsource" in w for w in execer) and any("(exec)" in w for w in execer)
    assert any("helpers" in w for w in execer)
    tampered = [a for a in tamper_report(course, "execer") if a.kind == FETCH_KIND]
    assert len(tampered) == 3 and all(a.cell == TASK for a in tampered)
    assert [a for a in tamper_report(course, "honest") if a.kind == FETCH_KIND] == []


def test_findings_name_the_other_side_of_each_pair(course):
    report = similarity_report(course, 0.8)
    (ben,) = report.findings("ben")
    assert ben.kind == SIMILAR_KIND and ben.cell == TASK and "like ann's" in ben.detail
    (paster,) = report.findings("paster")
    assert "helpers.recommend.top_n" in paster.detail
    assert report.findings("honest") == report.findings("execer") == []


def test_scores_are_the_same_in_every_process(course):
    """Fingerprints are all a score depends on; Python salts its own str hash per process
    (PYTHONHASHSEED), so they are computed in two processes with different salts."""
    answers = [STUDENTS[s]["body"] for s in ("honest", "carl", "dora", "ann", "ben", "execer")]
    answers.append(inspect.getsource(helpers.recommend.top_n))
    code = ("import json, sys; from tools.instructor.fingerprint import code_fingerprints; "
            "print(json.dumps([sorted(code_fingerprints(a)) for a in json.load(sys.stdin)]))")
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps(answers), env=env, capture_output=True,
                              text=True, cwd=toy.REPO_ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1] == [sorted(code_fingerprints(a)) for a in answers]
    assert all(runs[0])
    first, second = similarity_report(course, 0.8), similarity_report(course, 0.8)
    assert [(p.left.who, p.right.who, p.score) for p in first.pairs] == \
           [(p.left.who, p.right.who, p.score) for p in second.pairs]


def test_text_shows_both_answers_side_by_side_without_control_characters(course):
    text = format_similarity_report(similarity_report(course, 0.8))
    assert f"{TASK}: ann ~ ben: 1.00" in text and f"{TASK}: paster ~ reference: 1.00" in text
    rows = [line.split(" | ", 1) for line in text.splitlines() if " | " in line]
    assert any('np.einsum("ij,ij->i", vectors, vectors))' in left for left, _ in rows)
    assert any("np.einsum('ij,ij->i'," in right for _, right in rows)
    assert ESC not in text and "?[2J" in text
    assert "execer 05_recommend [05_cosine_top_n]: fetches the reference at run time" in text


def test_html_page_escapes_student_text(course):
    page = similarity_html(similarity_report(course, 0.8))
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;ann&#x27;)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src &#x27;none&#x27;" in page
    assert page.count("<table>") == len(COPIES)


def test_command_prints_the_report_and_writes_the_page(course, capsys):
    assert main(["similarity", "--root", str(course), "--threshold", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "ann ~ ben" in out and str(course / "similarity.html") in out
    assert "&lt;script&gt;" in (course / "similarity.html").read_text()
    assert main(["similarity", "--root", str(course), "--threshold", "2"]) == 2
    assert "threshold must be in (0, 1], got 2.0" in capsys.readouterr().err


def test_command_without_a_release_says_what_to_run(tmp_path):
    with pytest.raises(CourseToolError, match="release"):
        run_similarity(tmp_path, out=io.StringIO())


def test_threshold_setting_rejects_what_is_not_a_score():
    assert similarity_threshold({}) == 0.8
    assert similarity_threshold({"SONGREC_SIMILARITY_THRESHOLD": "0.6"}) == 0.6
    for bad in ("0", "1.2", "high", "-0.5"):
        expected = rf"SONGREC_SIMILARITY_THRESHOLD must be a number in \(0, 1\], got '{bad}'"
        with pytest.raises(ValueError, match=expected):
            similarity_threshold({"SONGREC_SIMILARITY_THRESHOLD": bad})


# --------------------------------------------------------------------------- the parts


def test_renaming_layout_comments_and_docstrings_do_not_change_the_tokens():
    a = ('def f(xs, k):\n    """Doc."""\n    total = 0  # sum\n'
         '    for x in xs:\n        total += x * k\n    return total\n')
    b = "def g(values,factor):\n  acc=0\n  for v in values: acc += v*factor\n  return acc"
    assert normalise(a) == normalise(b)
    assert normalise("def f(xs):\n    return np.sum(xs)") != normalise("def f(xs):\n    return np.mean(xs)")
    assert overlap(code_fingerprints(a), code_fingerprints(b)) == 1.0


def test_code_that_does_not_parse_is_still_compared():
    broken = "def f(xs:\n    total = sum(xs)\n    return total / len(xs) + max(xs) - min(xs)\n"
    assert normalise(broken)[:4] == ["def", "f", "(", "xs"]
    assert overlap(code_fingerprints(broken), code_fingerprints(broken)) == 1.0


@pytest.mark.parametrize("code, what", [
    ("import inspect\nsrc = inspect.getsource(f)", "getsource"),
    ("from inspect import getsourcelines\ngetsourcelines(f)", "getsourcelines"),
    ("g = f.__code__", "__code__"),
    ("exec(text, globals())", "(exec)"),
    ("y = eval('1 + 1')", "(eval)"),
    ("import importlib\nm = importlib.import_module('helpers.recommend')", "import_module"),
    ("import helpers.recommend", "helpers.recommend, which holds a reference implementation"),
    ("from helpers.ranking import top_k", "top_k from the course's own code (helpers.ranking)"),
    ("from helpers import recommend", "recommend from the course's own code (helpers)"),
    ("def f(:\n    exec(s)", "runs or imports code named by a string"),
])
def test_fetches_are_found(code, what):
    found = reference_fetches(code)
    assert any(what in w for _, w, _ in found), found


@pytest.mark.parametrize("code", [
    "model.compile(optimizer='adam', loss='binary_crossentropy')",
    'def f(vocab):\n    """vocab: helpers.vocab.Vocab; like eval(...) in the text."""\n    return vocab  # exec(x)',
    "scores = np.argsort(-vectors @ vectors[q])",
])
def test_ordinary_code_is_no_fetch(code):
    assert reference_fetches(code) == []
