"""The `hyperion` command: `hyperion plugins list [--json]`, `hyperion studies ...`, `hyperion --version`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from hyperion_core import cli_studies
from hyperion_core.plugins import KINDS, registry


def _version() -> str:
    from hyperion import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hyperion", description="Hyperion hyperparameter optimization.")
    parser.add_argument("--version", action="version", version=f"hyperion {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = commands.add_parser("plugins", help="installed plugins")
    plugin_commands = plugins.add_subparsers(dest="plugins_command", metavar="COMMAND")
    listing = plugin_commands.add_parser("list", help="list installed plugins and the names they register")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cli_studies.add_parser(commands)
    args = parser.parse_args(argv)

    if args.command == "studies":
        return args.handler(args)
    if args.command == "plugins" and args.plugins_command == "list":
        return _plugins_list(as_json=args.json)
    (plugins if args.command == "plugins" else parser).print_help()
    return 2


def _plugins_list(as_json: bool) -> int:
    infos = sorted(registry().plugins.values(), key=lambda p: p.name)
    if as_json:
        rows = [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                **{kind: sorted(p.names.get(kind, [])) for kind in KINDS},
            }
            for p in infos
        ]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Hyperion plugins", title_justify="left")
    for column in ("plugin", "distribution", "version", "registers"):
        table.add_column(column)
    for p in infos:
        registers = "\n".join(f"{kind}: {', '.join(sorted(p.names[kind]))}" for kind in KINDS if p.names.get(kind))
        table.add_row(p.name, p.distribution or "-", p.version or "-", registers or "-")
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
