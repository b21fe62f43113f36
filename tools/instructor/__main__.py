"""``python -m tools.instructor <command>``: see :mod:`tools.instructor.cli`."""

import sys

from tools.instructor.nbgrader_calls import skip_slow_imports

skip_slow_imports()  # before cli imports nbformat: see nbgrader_calls.SKIPPED_IMPORTS

from tools.instructor.cli import main  # noqa: E402

sys.exit(main())
