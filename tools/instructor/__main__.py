"""``python -m tools.instructor <command>``: see :mod:`tools.instructor.cli`."""

import sys

from tools.instructor.cli import main

sys.exit(main())
