"""The `hyperion` command: `plugins list [--json]`, `studies ...`, `ask`/`tell`, `run`/`agent`, `--version`, and every
command a plugin adds through the `register_commands` hook (the dashboard adds `dashboard` and `report`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from hyperion.cli import ask as cli_ask
from hyperion.cli import run as cli_run
from hyperion.cli import studies as cli_studies
from hyperion_core.errors import HyperionError
from hyperion_core.plugins import KINDS, add_commands, registry
from hyperion_core.terminal import console, inert


def _version() -> str:
    from hyperion import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `hyperion studies export x | head -1`: the reader left, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 0
    except KeyboardInterrupt:
        print("hyperion: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="hyperion", description="Hyperion hyperparameter optimization.")
    parser.add_argument("--version", action="version", version=f"hyperion {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = commands.add_parser("plugins", help="installed plugins")
    plugin_commands = plugins.add_subparsers(dest="plugins_command", metavar="COMMAND")
    listing = plugin_commands.add_parser("list", help="list installed plugins and the names they register")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cli_studies.add_parser(commands)
    cli_ask.add_parsers(commands)
    cli_run.add_parsers(commands)
    added = add_commands(commands)  # the plugins' commands (register_commands): dashboard, report, ...
    args = parser.parse_args(argv)

    if args.command == "plugins" and args.plugins_command == "list":
        return _plugins_list(args.json, added)
    handler = getattr(args, "handler", None)
    if handler is not None:
        try:
            return int(handler(args))
        except HyperionError as exc:
            print(f"hyperion: {inert(str(exc))}", file=sys.stderr)
            return 1
    (plugins if args.command == "plugins" else parser).print_help(sys.stderr)  # usage goes to stderr
    return 2


def _plugins_list(as_json: bool, commands: dict[str, list[str]]) -> int:
    infos = sorted(registry().plugins.values(), key=lambda p: p.name)
    for p in infos:
        if commands.get(p.name):
            p.names["command"] = commands[p.name]
    kinds = [*KINDS, "command"]
    if as_json:
        rows = [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "error": p.error,
                **{kind: sorted(p.names.get(kind, [])) for kind in kinds},
            }
            for p in infos
        ]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.table import Table

    from hyperion_core.terminal import Text

    table = Table(title="Hyperion plugins", title_justify="left")
    for column in ("plugin", "distribution", "version", "registers"):
        table.add_column(column)
    for p in infos:
        registers = "\n".join(f"{kind}: {', '.join(sorted(p.names[kind]))}" for kind in kinds if p.names.get(kind))
        cell = Text(f"broken: {p.error}", style="red") if p.error else Text(registers or "-")
        table.add_row(Text(p.name), Text(p.distribution or "-"), Text(p.version or "-"), cell)
    console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
