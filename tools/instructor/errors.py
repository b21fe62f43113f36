"""The one exception type of the instructor tools."""

from __future__ import annotations

from helpers.errors import SongrecError


class CourseToolError(SongrecError):
    """A course step cannot go on; the command line prints it as one line and exits 2.

    ``message``: one line saying what is wrong and what to do.
    ``log``: longer output that explains it (e.g. the tail of nbgrader's log); the
    command line prints it before the message, and a traceback shows it as a note.
    """

    def __init__(self, message: str, *, log: str = ""):
        super().__init__(message)
        self.log = log
        if log:
            self.add_note(log)
