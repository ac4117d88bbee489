"""`python -m hyperion` runs the CLI."""

from hyperion.cli import main

raise SystemExit(main())
