"""``python -m helpers``: the ``songrec`` command."""

from helpers.cli import main

raise SystemExit(main())
