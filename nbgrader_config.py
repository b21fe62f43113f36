"""nbgrader configuration for the song2vec course (nbgrader 0.9.6).

nbgrader reads this file from its working directory, so every command runs with the
repository root (or a copy of this course layout, as the tests do) as cwd.
docs/GRADING.md explains the conventions and the instructor workflow.

The instructor tools next to this file (tools/instructor/) provide the settings read from
the environment (``settings``: SONGREC_CELL_TIMEOUT, SONGREC_EXCHANGE, SONGREC_SANDBOX),
the course's nbgrader preprocessors (``preprocessors``) and the kernel sandbox
(``sandbox``). A copy of the course copies them too.
"""

import os
import sys

c = get_config()  # noqa: F821 (injected by traitlets' config loader)

# Paths are anchored to this file rather than to the process cwd, so the gradebook
# stays next to the course even if a tool is started from elsewhere, and a copy of the
# course in a temporary directory gets its own gradebook.
_COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))
# nbgrader's console script does not put its cwd on sys.path; the tools live next to this file.
if _COURSE_ROOT not in sys.path:
    sys.path.insert(0, _COURSE_ROOT)
from tools.instructor import preprocessors, sandbox, settings  # noqa: E402 (needs the path above)

c.CourseDirectory.course_id = settings.COURSE_ID
c.CourseDirectory.root = _COURSE_ROOT
# source/<assignment> of stock nbgrader becomes notebooks/song2vec.
for _role, _folder in settings.FOLDERS.items():
    setattr(c.CourseDirectory, f"{_role}_directory", _folder)
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_COURSE_ROOT, settings.GRADEBOOK_FILE)
# The exchange is where `nbgrader release_assignment`/`collect` and the students'
# Assignment List meet. nbgrader's default, /usr/local/share/nbgrader/exchange, does not
# exist on an instructor's laptop, and the formgrader and the Assignment List then show
# "The exchange directory ... does not exist" / "Error fetching courses!". The course hands
# out release/song2vec.zip (or Colab links) instead, so a folder of its own is enough here.
c.Exchange.root = settings.exchange_root(_COURSE_ROOT)

c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    settings.FOLDERS["feedback"],
    ".DS_Store",
]

# nbgrader's Execute redeclares `timeout` with its own default of 30 s, so the
# subclass section must be set as well as nbconvert's base class.
_CELL_TIMEOUT = settings.cell_timeout()
c.Execute.timeout = _CELL_TIMEOUT
c.ExecutePreprocessor.timeout = _CELL_TIMEOUT
c.Execute.interrupt_on_timeout = True
# A student's infinite print loop must not produce a multi-gigabyte notebook.
c.LimitOutput.max_lines = 1000

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A solution/hidden-test/mark-scheme region in a cell nbgrader does not track would be
# released verbatim; make nbgrader refuse instead.
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.enforce_metadata = True
c.ClearMarkScheme.enforce_metadata = True
c.ClearMarkScheme.check_attachment_leakage = True

# ClearHiddenTests and ClearMarkScheme are part of the stock GenerateAssignment
# pipeline (after SaveCells, so the gradebook keeps the full tests for autograding);
# `python -m tools.instructor check` refuses to release if either is missing from it.

# A student may delete a graded cell; nbgrader then puts the instructor's copy back
# (hidden tests included) and runs it, so deleting a test cannot dodge it.
c.OverwriteCells.add_missing_cells = True

# Two gaps in nbgrader 0.9.6 (see tools/instructor/preprocessors/): a copy-pasted answer
# cell (same grade_id twice) crashes autograde for that student, and LimitOutput counts
# lines only, so one 50 MB print would survive into the graded notebook and the feedback.
preprocessors.install(c)

# Each notebook's kernel (the student's code) runs in a bubblewrap sandbox unless
# SONGREC_SANDBOX=none: no network, no view of the course root or the grader's home,
# resource limits (tools/instructor/sandbox/, docs/GRADING.md).
sandbox.install(c)
