"""The command line: ``python -m tools.instructor <command>`` (``--help`` lists the commands).

A failure prints one line, ``tools.instructor <command>: error: <what to do>``, on stderr (after the log
that explains it, if any) and exits 2; an I/O error exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.course import PROFILES
from tools.instructor.checks import run_check
from tools.instructor.docs import run_docs
from tools.instructor.errors import CourseToolError
from tools.instructor.grading import run_autograde, run_feedback
from tools.instructor.paths import REPO_ROOT
from tools.instructor.publish import publish_release
from tools.instructor.release import run_release
from tools.instructor.scores import run_export
from tools.instructor.settings import TOOL_COMMAND

ERROR_PREFIX = "tools.instructor"
# command -> (help, runs notebooks: takes --profile)
COMMANDS = {
    "check": ("metadata and convention checks, points per notebook", False),
    "release": ("check, generate_assignment, Colab setup + badge, zip", True),
    "publish": ("commit the release to the branch the Colab badges open", False),
    "autograde": ("autograde every submitted/<student>/song2vec/, write grades.csv", True),
    "feedback": ("HTML feedback under feedback/", True),
    "export": ("grades.csv from the gradebook (after manual grading)", False),
    "docs": ("rewrite the generated tables of docs/GRADING.md", False),
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
            cmd.add_argument("--profile", choices=sorted(PROFILES),
                             help="SONGREC_PROFILE for the notebooks nbgrader executes")
    sub.choices["autograde"].add_argument("--quiet", action="store_true", help="do not echo nbgrader's log")
    sub.choices["docs"].add_argument("--check", action="store_true",
                                     help="only compare; fail when the file is out of date")
    return top


def run(args: argparse.Namespace) -> None:
    """Run the parsed command."""
    env = {"SONGREC_PROFILE": args.profile} if getattr(args, "profile", None) else None
    if args.command == "check":
        run_check(args.root)
    elif args.command == "release":
        run_release(args.root, env=env)
    elif args.command == "publish":
        publish_release(args.root)
    elif args.command == "autograde":
        run_autograde(args.root, env=env, echo=not args.quiet)
    elif args.command == "feedback":
        run_feedback(args.root, env=env)
    elif args.command == "export":
        run_export(args.root)
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
    return 0
