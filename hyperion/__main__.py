"""`python -m hyperion` runs the CLI."""

from hyperion_core.cli import main

raise SystemExit(main())
