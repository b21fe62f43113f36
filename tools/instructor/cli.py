"""The command line: ``python -m tools.instructor <command>`` (``--help`` lists the commands).

A failure prints one line, ``tools.instructor <command>: error: <what to do>``, on stderr (after the log
that explains it, if any) and exits 2; an I/O error exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers import environment
from helpers.course import PROFILES
from tools.instructor.checks import run_check
from tools.instructor.cli_lms import add_lms_options
from tools.instructor.collect import run_collect
from tools.instructor.docs import run_docs
from tools.instructor.errors import CourseToolError
from tools.instructor.export_lms import run_lms_export
from tools.instructor.grading import run_autograde, run_feedback
from tools.instructor.paths import REPO_ROOT
from tools.instructor.publish import publish_release
from tools.instructor.release import run_release
from tools.instructor.report import run_report
from tools.instructor.scores import run_export
from tools.instructor.settings import DASK_SCHEDULER_VAR, GRADING_PROFILE, SANDBOX_MODES, SANDBOX_VAR, TOOL_COMMAND
from tools.instructor.similarity_html import run_similarity

ERROR_PREFIX = "tools.instructor"
# command -> (help, runs notebooks: takes --profile)
COMMANDS = {
    "check": ("metadata and convention checks, points per notebook", False),
    "release": ("check, generate_assignment, Colab setup + badge, zip", True),
    "publish": ("commit the release to the branch the Colab badges open", False),
    "autograde": ("autograde every submitted/<student>/song2vec/, write grades.csv", True),
    "feedback": ("HTML feedback under feedback/", True),
    "export": ("grades.csv from the gradebook (after manual grading); --to an LMS's import CSV", False),
    "collect": ("an LMS assignment download (zip or folder) into submitted/", False),
    "report": ("the class report, one HTML page", False),
    "docs": ("rewrite the generated tables of docs/GRADING.md", False),
    "similarity": ("answers like the reference or each other's, side by side; similarity.html", False),
}


def parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command per entry of ``COMMANDS``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="course root holding nbgrader_config.py (default: this repository)")
    top = argparse.ArgumentParser(prog=TOOL_COMMAND, description="Instructor tooling for the song2vec nbgrader course.")
    sub = top.add_subparsers(dest="command", required=True, metavar="command")
    for name, (help_text, runs_notebooks) in COMMANDS.items():
        cmd = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        if runs_notebooks:
            default = f" (default: {GRADING_PROFILE})" if name == "autograde" else ""
            cmd.add_argument("--profile", choices=sorted(PROFILES),
                             help=f"SONGREC_PROFILE for the notebooks nbgrader executes{default}")
    grade = sub.choices["autograde"]
    grade.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="students graded at once on a local Dask cluster (default: the number of CPU cores; "
                            "1 grades here, one after another)")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                       help=f"send the jobs to this Dask scheduler (default: ${DASK_SCHEDULER_VAR}, else local)")
    grade.add_argument("--student", dest="students", action="append", metavar="ID",
                       help="grade only this student (repeatable)")
    grade.add_argument("--force", action="store_true",
                       help="grade students whose submission is unchanged since they were last graded too")
    grade.add_argument("--sandbox", choices=SANDBOX_MODES, default=None,
                       help=f"bwrap (default, ${SANDBOX_VAR}) confines each kernel; none runs student code "
                            "with your permissions")
    grade.add_argument("--quiet", action="store_true", help="no progress lines, only the score table")
    grade.add_argument("--verbose", action="store_true", help="print each student's nbgrader log")
    add_lms_options(sub.choices["collect"], sub.choices["export"], sub.choices["report"])
    sub.choices["similarity"].add_argument("--threshold", type=float, default=None, metavar="SCORE",
                                           help="list pairs scoring at least this, 0..1 (default: "
                                                "$SONGREC_SIMILARITY_THRESHOLD, else 0.8)")
    sub.choices["docs"].add_argument("--check", action="store_true",
                                     help="only compare; fail when the file is out of date")
    return top


def run(args: argparse.Namespace) -> None:
    """Run the parsed command."""
    env = {environment.PROFILE: args.profile} if getattr(args, "profile", None) else None
    if args.command == "check":
        run_check(args.root)
    elif args.command == "release":
        run_release(args.root, env=env)
    elif args.command == "publish":
        publish_release(args.root)
    elif args.command == "autograde":
        run_autograde(args.root, echo=args.verbose, jobs=args.jobs, scheduler=args.scheduler,
                      students=args.students, force=args.force, sandbox=args.sandbox,
                      profile=args.profile, quiet=args.quiet)
    elif args.command == "feedback":
        run_feedback(args.root, env=env)
    elif args.command == "export" and args.to:
        run_lms_export(args.root, args.to, args.out, roster_path=args.roster, assignment_id=args.assignment_id,
                       feedback=args.feedback)
    elif args.command == "export":
        run_export(args.root)
    elif args.command == "collect":
        run_collect(args.root, args.source, args.download, roster_path=args.roster, replace=args.replace,
                    allow_missing=args.allow_missing)
    elif args.command == "report":
        run_report(args.root, args.out)
    elif args.command == "similarity":
        run_similarity(args.root, threshold=args.threshold)
    else:
        run_docs(args.root, check=args.check)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run it; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        run(args)
    except (CourseToolError, ValueError) as exc:
        if getattr(exc, "log", ""):
            print(exc.log.rstrip("\n"), file=sys.stderr)
        print(f"{ERROR_PREFIX} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{ERROR_PREFIX} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{ERROR_PREFIX} {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
