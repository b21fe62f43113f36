"""Unit checks of the tamper report's reading of the grader's record (no grading needed)."""

from __future__ import annotations

import nbformat

from tools.instructor.preprocessors.guarded_execute import METADATA_KEY
from tools.instructor.tamper import grading_anomalies


def _graded(events):
    nb = nbformat.v4.new_notebook()
    nb.metadata[METADATA_KEY] = {"grading": {"profile": "grading", "guard_ready": True,
                                             "events": events, "not_run": []}}
    return nb


def test_a_library_finding_its_fonts_is_not_an_anomaly_but_other_programs_are():
    found = grading_anomalies("05_recommend", _graded([
        "started a program: fc-list --help",
        "started a program: /usr/bin/fc-list --format=%{file}\\n",
        "started a program: curl http://example.org",
        "while 02_unigram_noise ran: numpy.isclose replaced",
    ]))
    assert [a.detail for a in found] == ["started a program: curl http://example.org",
                                         "while 02_unigram_noise ran: numpy.isclose replaced"]


def test_an_honest_record_gives_nothing_and_a_missing_record_is_named():
    assert grading_anomalies("01_mapping", _graded([])) == []
    (missing,) = grading_anomalies("01_mapping", nbformat.v4.new_notebook())
    assert missing.kind == "not run by the course's grader"
