"""A term with an LMS: collect the downloads of Canvas, Moodle and Blackboard (made here to
their documented file naming), autograde, export to each LMS's import CSV, report.

The toy course (tests/nbgrader_toy.py): ``01_toy`` has ``01_square`` (2 points) and
``01_mean`` (3 points) autograded; ``02_questions`` is graded by hand. Expected points are
written by hand from the cells; the exported rows are checked against the gradebook read
with sqlite3, not through the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import stat
import zipfile
from pathlib import Path

import nbformat
import nbgrader_toy as toy
import pytest

from tools.instructor import collect_files, grading
from tools.instructor.collect import run_collect
from tools.instructor.collect_roster import ROSTER_FILE, read_roster
from tools.instructor.export_lms import run_lms_export
from tools.instructor.release import run_release
from tools.instructor.report import run_report

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=alert(1)>"
# student id (proposed by the roster from the LMS name) -> autograded points, by hand:
# a solved 01_toy scores 2 + 3, a half-solved one (square only) 2.
EXPECTED_AUTO = {"smithjane": 5.0, "doejohn": 2.0, "img_src_x_onerror_alert_1": 5.0, "jdoe42": 2.0}
MANUAL_Q1 = 1.5     # a grader's points for smithjane's 02_q1
PENALTY = 1.0       # a late penalty set on doejohn's 01_toy


def nb_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms_term")
    src = toy.build_toy_course(root)
    env = toy.course_env_for_tests(60)
    run_release(root, env=env, repo="test-org/songrec", out=io.StringIO())
    rel = {n: nbformat.read(root / "release" / toy.ASSIGNMENT / f"{n}.ipynb", as_version=4) for n in toy.NOTEBOOKS}
    source01 = nbformat.read(src / "01_toy.ipynb", as_version=4)
    solved = toy.with_cells_from(rel["01_toy"], source01, {"01_square", "01_mean"})
    half = toy.with_cells_from(rel["01_toy"], source01, {"01_square"})
    q = nb_bytes(rel["02_questions"])
    return {"root": root, "env": env, "blank": nb_bytes(rel["01_toy"]), "solved": nb_bytes(solved),
            "half": nb_bytes(half), "q": q, "tmp": tmp_path_factory.mktemp("downloads")}


def canvas_zip(c, name="canvas.zip", extra=None):
    # Canvas: <lastfirst>[_LATE]_<user id>_<submission id>_<original name>; a resubmission
    # renames the file <stem>-1.
    members = {"smithjane_1001_5001_01_toy.ipynb": c["blank"],
               "smithjane_1001_5002_01_toy-1.ipynb": c["solved"],
               "smithjane_1001_5001_02_questions.ipynb": c["q"],
               "doejohn_LATE_1003_5003_01_toy.ipynb": c["half"],
               "doejohn_LATE_1003_5003_02_questions.ipynb": c["q"]}
    members.update(extra or {})
    return make_zip(c["tmp"] / name, members)


def moodle_zip(c, extra=None):
    # Moodle: a folder <Full Name>_<participant id>_assignsubmission_file_ per student.
    folder = f"{HOSTILE}_2001_assignsubmission_file_"
    members = {f"{folder}/01_toy.ipynb": c["solved"], f"{folder}/02_questions.ipynb": c["q"]}
    members.update(extra or {})
    return make_zip(c["tmp"] / "moodle.zip", members)


def blackboard_zip(c, extra=None):
    # Blackboard: <Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original name>, a .txt receipt per attempt.
    first, second = "song2vec_jdoe42_attempt_2026-03-01-10-00-00", "song2vec_jdoe42_attempt_2026-03-02-09-30-00"
    members = {f"{first}_01_toy.ipynb": c["solved"], f"{first}_02_questions.ipynb": c["q"], f"{first}.txt": b"receipt",
               f"{second}_01_toy.ipynb": c["half"], f"{second}_02_questions.ipynb": c["q"], f"{second}.txt": b"r"}
    members.update(extra or {})
    return make_zip(c["tmp"] / "blackboard.zip", members)


@pytest.fixture(scope="module")
def term(course):
    root = course["root"]
    logs = {}
    for lms, download in (("canvas", canvas_zip(course)), ("moodle", moodle_zip(course)),
                          ("blackboard", blackboard_zip(course))):
        out = io.StringIO()
        run_collect(root, lms, download, out=out)
        logs[lms] = out.getvalue()
    out = io.StringIO()
    grading.run_autograde(root, env=course["env"], out=out, jobs=1, sandbox="none", timeout=600)
    # What a grader does in the formgrader, through the same API: a manual score, and a
    # late penalty as nbgrader's LateSubmissionPlugin records it.
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(root / "gradebook.db")) as gb:
        gb.find_grade("02_q1", "02_questions", toy.ASSIGNMENT, "smithjane").manual_score = MANUAL_Q1
        gb.find_submission_notebook("01_toy", toy.ASSIGNMENT, "doejohn").late_submission_penalty = PENALTY
        gb.db.commit()
    return {"logs": logs, "grading": out.getvalue()}


def gradebook_totals(root: Path) -> dict[str, tuple[float, float]]:
    """student -> (points, late penalty), read with sqlite3: manual score over auto score."""
    con = sqlite3.connect(root / "gradebook.db")
    points = dict(con.execute(
        "SELECT sa.student_id, SUM(COALESCE(g.manual_score, g.auto_score, 0) + COALESCE(g.extra_credit, 0)) "
        "FROM grade g JOIN submitted_notebook sn ON g.notebook_id=sn.id "
        "JOIN submitted_assignment sa ON sn.assignment_id=sa.id GROUP BY sa.student_id"))
    penalty = dict(con.execute(
        "SELECT sa.student_id, SUM(COALESCE(sn.late_submission_penalty, 0)) FROM submitted_notebook sn "
        "JOIN submitted_assignment sa ON sn.assignment_id=sa.id GROUP BY sa.student_id"))
    con.close()
    return {s: (points[s], penalty.get(s, 0.0)) for s in points}


# --------------------------------------------------------------------------- collect


def test_collect_takes_the_latest_resubmission_and_says_so(course, term):
    root = course["root"]
    assert (root / "submitted/smithjane/song2vec/01_toy.ipynb").read_bytes() == course["solved"]
    assert "smithjane_1001_5001_01_toy.ipynb (replaced by smithjane_1001_5002_01_toy-1.ipynb)" in term["logs"]["canvas"]
    assert "doejohn: doejohn_LATE_1003_5003_01_toy.ipynb" in term["logs"]["canvas"]
    # Blackboard's later attempt wins, and its time becomes nbgrader's timestamp.
    assert (root / "submitted/jdoe42/song2vec/01_toy.ipynb").read_bytes() == course["half"]
    assert (root / "submitted/jdoe42/song2vec/timestamp.txt").read_text().startswith("2026-03-02 09:30:00")
    assert "song2vec_jdoe42_attempt_2026-03-01-10-00-00.txt" in term["logs"]["blackboard"]
    assert sorted(p.name for p in (root / "submitted").iterdir()) == sorted(EXPECTED_AUTO)


def test_roster_is_written_on_first_use_with_the_names_found(course, term):
    roster = read_roster(course["root"] / ROSTER_FILE)
    assert roster.entries[("canvas", "1001")].student_id == "smithjane"
    assert roster.entries[("moodle", "2001")].name == HOSTILE
    assert roster.entries[("blackboard", "jdoe42")].student_id == "jdoe42"
    text = (course["root"] / ROSTER_FILE).read_text()
    assert text.splitlines()[0] == "lms,lms_id,name,student_id,email"


def test_autograde_gives_the_hand_derived_points(course, term):
    totals = gradebook_totals(course["root"])
    expected = dict(EXPECTED_AUTO, smithjane=EXPECTED_AUTO["smithjane"] + MANUAL_Q1)
    assert {s: p for s, (p, _) in totals.items()} == expected


BAD = {
    "not json": ({"smithjane_1001_5009_01_toy.ipynb": b"{not json"}, "not a readable notebook"),
    "other assignment": ({"smithjane_1001_5009_01_toy.ipynb": None}, "none of its graded cells"),
    "unknown notebook": ({"smithjane_1001_5009_03_extra.ipynb": b"{}"}, "not one of song2vec's notebooks"),
    "unknown account": ({"newstudent_1999_5010_01_toy.ipynb": "solved",
                         "newstudent_1999_5010_02_questions.ipynb": "q"}, "match no student"),
    "zip slip": ({"../evil_1001_5012_01_toy.ipynb": b"{}"}, "climbs out"),
    "absolute": ({"/tmp/evil_1001_5012_01_toy.ipynb": b"{}"}, "unsafe file name"),
    "not canvas naming": ({"01_toy.ipynb": b"{}"}, "does not follow canvas's naming"),
}


@pytest.mark.parametrize("case", ["not json", "other assignment", "unknown notebook", "unknown account",
                                  "zip slip", "absolute", "not canvas naming"])
def test_bad_canvas_download_is_refused_and_submitted_is_untouched(course, term, case):
    extra, message = BAD[case]
    data = {"solved": course["solved"], "q": course["q"]}
    members = {k: (course["q"] if v is None else data.get(v, v)) for k, v in extra.items()}
    before = tree_digest(course["root"] / "submitted")
    roster_before = (course["root"] / ROSTER_FILE).read_text()
    with pytest.raises(ValueError, match=message):
        run_collect(course["root"], "canvas", canvas_zip(course, f"bad_{case.replace(' ', '_')}.zip", members),
                    replace=True, out=io.StringIO())
    assert tree_digest(course["root"] / "submitted") == before
    assert (course["root"] / ROSTER_FILE).read_text() == roster_before


def test_missing_duplicate_link_and_huge_files_are_refused(course, term, monkeypatch):
    root = course["root"]
    before = tree_digest(root / "submitted")
    folder = "Ann Lee_2002_assignsubmission_file_"
    only01 = make_zip(course["tmp"] / "m1.zip", {f"{folder}/01_toy.ipynb": course["solved"]})
    roster = root / ROSTER_FILE
    roster.write_text(roster.read_text() + "moodle,2002,Ann Lee,annlee,\n")
    with pytest.raises(ValueError, match="annlee lacks 02_questions"):
        run_collect(root, "moodle", only01, out=io.StringIO())
    twice = make_zip(course["tmp"] / "m2.zip", {f"{folder}/01_toy.ipynb": course["solved"],
                                                 f"{folder}01_toy.ipynb": course["half"],
                                                 f"{folder}/02_questions.ipynb": course["q"]})
    with pytest.raises(ValueError, match="both 01_toy.ipynb of LMS id 2002"):
        run_collect(root, "moodle", twice, out=io.StringIO())
    link = course["tmp"] / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo(f"{folder}/01_toy.ipynb")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        run_collect(root, "moodle", link, out=io.StringIO())
    tree = course["tmp"] / "tree" / "Ann Lee_2002_assignsubmission_file_"
    tree.mkdir(parents=True)
    os.symlink("/etc/passwd", tree / "01_toy.ipynb")
    with pytest.raises(ValueError, match="symbolic link"):
        run_collect(root, "moodle", tree.parent, out=io.StringIO())
    monkeypatch.setattr(collect_files, "MAX_FILE_BYTES", 100)
    with pytest.raises(ValueError, match="over the 100 bytes"):
        run_collect(root, "moodle", twice, out=io.StringIO())
    assert tree_digest(root / "submitted") == before


def test_collecting_again_needs_replace(course, term):
    before = tree_digest(course["root"] / "submitted")
    with pytest.raises(ValueError, match="--replace"):
        run_collect(course["root"], "blackboard", blackboard_zip(course), out=io.StringIO())
    assert tree_digest(course["root"] / "submitted") == before


# --------------------------------------------------------------------------- export


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def expected_total(course, student) -> float:
    points, penalty = gradebook_totals(course["root"])[student]
    return max(0.0, points - penalty)


def test_canvas_export_rows_match_the_gradebook(course, term, tmp_path):
    out = tmp_path / "canvas.csv"
    run_lms_export(course["root"], "canvas", out, assignment_id="777", out=io.StringIO())
    rows = read_csv(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "song2vec (777)"]
    assert rows[1][0].strip() == "Points Possible" and float(rows[1][5]) == 8.0
    by_id = {r[1]: float(r[5]) for r in rows[2:]}
    assert by_id == {"1001": expected_total(course, "smithjane"), "1003": expected_total(course, "doejohn")}
    assert by_id == {"1001": 5.0 + MANUAL_Q1, "1003": 2.0 - PENALTY}  # by hand


def test_moodle_and_blackboard_exports_match_the_gradebook(course, term, tmp_path):
    run_lms_export(course["root"], "moodle", tmp_path / "m.csv", out=io.StringIO())
    rows = read_csv(tmp_path / "m.csv")
    assert rows[0] == ["Full name", "User ID", "Email address", "song2vec"]
    assert rows[1:] == [[HOSTILE, "2001", "", "5"]]
    assert float(rows[1][3]) == expected_total(course, "img_src_x_onerror_alert_1")
    run_lms_export(course["root"], "blackboard", tmp_path / "b.csv", assignment_id="_42_1", out=io.StringIO())
    rows = read_csv(tmp_path / "b.csv")
    assert rows[0] == ["Last Name", "First Name", "Username", "song2vec [Total Pts: 8 Score] |_42_1"]
    assert rows[1][2:] == ["jdoe42", "2"] and float(rows[1][3]) == expected_total(course, "jdoe42")


def test_plain_csv_export_keeps_manual_grades_and_penalties(course, term, tmp_path):
    run_lms_export(course["root"], "csv", tmp_path / "g.csv", out=io.StringIO())
    rows = {r[0]: r for r in read_csv(tmp_path / "g.csv")}
    header = rows.pop("student_id")
    assert header == ["student_id", "01_toy", "02_questions", "auto_points", "manual_points", "late_penalty",
                      "total", "max_total", "needs_manual_grade"]
    assert rows["smithjane"][3:7] == ["5", "1.5", "0", "6.5"]
    assert rows["doejohn"][3:7] == ["2", "0", "1", "1"]
    for student, row in rows.items():
        assert float(row[6]) == expected_total(course, student)
    assert rows["doejohn"][8] == "02_questions"  # its manual part is still to grade


def test_feedback_is_packed_per_student_the_lms_way(course, term, tmp_path):
    grading.run_feedback(course["root"], env=course["env"], out=io.StringIO())
    target = tmp_path / "moodle-feedback.zip"
    run_lms_export(course["root"], "moodle", tmp_path / "m.csv", feedback=target, out=io.StringIO())
    names = zipfile.ZipFile(target).namelist()
    assert sorted(names) == [f"{HOSTILE}_2001_assignsubmission_file_/{n}.html" for n in toy.NOTEBOOKS]
    target = tmp_path / "canvas-feedback.zip"
    run_lms_export(course["root"], "canvas", tmp_path / "c.csv", feedback=target, out=io.StringIO())
    assert {n.split("/")[0] for n in zipfile.ZipFile(target).namelist()} == {"smithjane_1001", "doejohn_1003"}


def test_export_leaves_out_and_names_students_the_roster_lacks(course, term, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("lms,lms_id,name,student_id,email\ncanvas,1001,Jane Smith,smithjane,\n")
    out = io.StringIO()
    run_lms_export(course["root"], "canvas", tmp_path / "c.csv", roster_path=roster, out=out)
    assert [r[1] for r in read_csv(tmp_path / "c.csv")[2:]] == ["1001"]
    assert "NOT exported" in out.getvalue() and "doejohn" in out.getvalue()
    roster.write_text("lms,lms_id,name,student_id,email\n")
    with pytest.raises(ValueError, match="no canvas account for any graded student"):
        run_lms_export(course["root"], "canvas", tmp_path / "c.csv", roster_path=roster, out=io.StringIO())


def test_command_line_collect_export_report(course, term, tmp_path):
    from tools.instructor.cli import main

    root = str(course["root"])
    assert main(["export", "--root", root, "--to", "blackboard", "--out", str(tmp_path / "b.csv")]) == 0
    assert read_csv(tmp_path / "b.csv")[1][2] == "jdoe42"
    assert main(["report", "--root", root, "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    bad = make_zip(tmp_path / "bad.zip", {"../x_1_2_01_toy.ipynb": b"{}"})
    assert main(["collect", "--root", root, "--from", "canvas", str(bad)]) == 2
    assert main(["export", "--root", root, "--to", "canvas"]) == 2


# --------------------------------------------------------------------------- report


def test_class_report_lists_failures_flags_and_pending_escaped(course, term, tmp_path):
    target = run_report(course["root"], tmp_path / "report.html", similar=[("smithjane", "jdoe42", 0.91)],
                        out=io.StringIO())
    page = target.read_text()
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page.lower()
    assert page.count('src="data:image/png;base64,') == 3
    assert "01_toy/01_mean_test</td><td>2</td>" in page  # doejohn and jdoe42 left mean unsolved
    assert "0.91" in page
    pending = page.split("Still needs manual grading")[1]
    assert "doejohn" in pending and "02_questions" in pending
    state = json.loads((course["root"] / "autograde-state.json").read_text())
    assert set(state["students"]) == set(EXPECTED_AUTO)


# ----------------------------------------------- a plain folder (runs last: it adds a student)


def test_folder_download_in_either_layout(course):
    tree = course["tmp"] / "folder_download"
    (tree / "zoe" / "song2vec").mkdir(parents=True)
    (tree / "zoe" / "song2vec" / "01_toy.ipynb").write_bytes(course["solved"])
    (tree / "zoe" / "02_questions (1).ipynb").write_bytes(course["q"])  # a browser's copy suffix
    out = io.StringIO()
    run_collect(course["root"], "folder", tree, out=out)
    folder = course["root"] / "submitted" / "zoe" / "song2vec"
    assert sorted(p.name for p in folder.iterdir()) == ["01_toy.ipynb", "02_questions.ipynb"]
    assert (folder / "01_toy.ipynb").read_bytes() == course["solved"]
    assert read_roster(course["root"] / ROSTER_FILE).entries[("folder", "zoe")].student_id == "zoe"
    assert "collected 1 student(s)" in out.getvalue()
