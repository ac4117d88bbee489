"""The five hooks a Hyperion plugin can implement. Each receives `register(name, factory)`.

A factory is called with the user's keyword arguments (`strategy_kwargs`, `early_stopping_kwargs`,
...) and returns the plugin object. One plugin may register many names of many kinds.
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
