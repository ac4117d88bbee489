"""The hooks a Hyperion plugin can implement. The six `register_*` hooks of plugin kinds each receive
`register(name, factory)`: a factory is called with the user's keyword arguments (`strategy_kwargs`,
`early_stopping_kwargs`, ...) and returns the plugin object; one plugin may register many names of many
kinds. `register_commands` adds subcommands to the `hyperion` command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("hyperion")
hookimpl = pluggy.HookimplMarker("hyperion")

Register = Callable[[str, Callable[..., Any]], None]


@hookspec
def register_strategies(register: Register) -> None:
    """Register search strategies: `register("random", RandomSearch)`.

    The factory gets `strategy_kwargs` and returns a `hyperion_core.protocols.Strategy`.
    """


@hookspec
def register_policies(register: Register) -> None:
    """Register early-stopping policies: `register("median", MedianStopping)`.

    The factory gets `early_stopping_kwargs` and returns a `hyperion_core.protocols.Policy`.
    """


@hookspec
def register_storages(register: Register) -> None:
    """Register storages by URL scheme: `register("sqlite", SQLStorage)`.

    The factory gets the storage URL (`None` for the default in-memory storage) and returns a
    `hyperion_core.protocols.Storage`.
    """


@hookspec
def register_executors(register: Register) -> None:
    """Register executors: `register("thread", ThreadExecutor)`.

    The factory takes keyword options only and returns a `hyperion_core.protocols.Executor`.
    """


@hookspec
def register_reporters(register: Register) -> None:
    """Register reporters: `register("progress", ProgressReporter)`.

    The factory takes keyword options only and returns a `hyperion_core.protocols.Reporter`.
    """


@hookspec
def register_checkpoint_stores(register: Register) -> None:
    """Register checkpoint stores by URL scheme: `register("s3", S3Store)`; "*" takes any scheme no
    other store claims (the bundled fsspec store).

    The factory gets the store's URL (a plain path for the local directory store) and returns a
    `hyperion_core.protocols.CheckpointStore`.
    """


@hookspec
def register_commands(commands: Any) -> None:
    """Add subcommands to the `hyperion` command line. `commands` is argparse's sub-parsers object:

        parser = commands.add_parser("hello", help="say hello")
        parser.add_argument("--name", default="world")
        parser.set_defaults(handler=lambda args: print(f"hello {args.name}") or 0)

    The handler gets the parsed arguments and returns the exit code; a HyperionError it raises is
    printed as `hyperion: ...` with exit code 1. Import heavy modules inside the handler, not here:
    the hook runs on every `hyperion` call.
    """
