"""The options of ``collect``, ``export --to`` and ``report`` (the term with an LMS)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.instructor.collect_names import LMS_NAMES
from tools.instructor.collect_roster import ROSTER_FILE
from tools.instructor.export_lms import FORMATS


def add_lms_options(collect: argparse.ArgumentParser, export: argparse.ArgumentParser,
                    report: argparse.ArgumentParser) -> None:
    """Add the options of the three commands to their parsers."""
    roster_help = f"the roster mapping LMS ids to student ids (default: {ROSTER_FILE} in the course root)"
    collect.add_argument("--from", dest="source", choices=LMS_NAMES, required=True,
                         help="who made the download: its file-naming convention")
    collect.add_argument("download", type=Path, help="the assignment download: a .zip or the folder it unpacks to")
    collect.add_argument("--roster", type=Path, default=None, help=roster_help + "; written on first use")
    collect.add_argument("--replace", action="store_true",
                         help="replace the submissions of students already in submitted/")
    collect.add_argument("--allow-missing", action="store_true",
                         help="collect students who handed in only some of the notebooks")
    export.add_argument("--to", choices=FORMATS, default=None,
                        help="write this LMS's grade import CSV to --out instead of grades.csv")
    export.add_argument("--out", type=Path, default=None, help="the CSV file --to writes")
    export.add_argument("--roster", type=Path, default=None, help=roster_help)
    export.add_argument("--assignment-id", default="",
                        help="the LMS's id of the assignment column (Canvas: song2vec (ID); Blackboard: |ID)")
    export.add_argument("--feedback", type=Path, default=None, metavar="ZIP",
                        help="also pack each student's feedback HTML into this zip, a folder per student named "
                             "the LMS's way")
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write")
