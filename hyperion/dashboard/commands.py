"""The dashboard's plugin module: it adds `hyperion dashboard` and `hyperion report` through the
register_commands hook, as any third-party plugin would. Loaded with every plugin, so it imports nothing
until the hook runs (argparse only even then; the web stack loads when a command is used)."""

from __future__ import annotations

from typing import Any

from hyperion_core.hookspecs import hookimpl


@hookimpl
def register_commands(commands: Any) -> None:
    from hyperion.dashboard import cli

    cli.add_parsers(commands)
