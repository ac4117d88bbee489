"""The plugin manager and the name registry.

Plugins come from the `hyperion` entry-point group (bundled ones too), loaded once, on first use.
`HYPERION_DISABLE_PLUGINS=a,b` blocks entry points by name.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from hyperion_core import hookspecs
from hyperion_core.errors import ConfigurationError, DuplicatePluginError, UnknownPluginError

ENTRY_POINT_GROUP = "hyperion"
# kind -> hook name; the kinds are the words users see ("unknown strategy 'x'").
KINDS = {
    "strategy": "register_strategies",
    "policy": "register_policies",
    "storage": "register_storages",
    "executor": "register_executors",
    "reporter": "register_reporters",
}
_ARGUMENT_NAMES = {
    "strategy": "strategy_kwargs",
    "policy": "early_stopping_kwargs",
    "storage": "storage",
    "executor": "executor",
    "reporter": "reporters",
}


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str | None
    version: str | None


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    names: dict[str, list[str]] = field(default_factory=dict)  # kind -> registered names


class Registry:
    """Names of every kind, and who registered them. Built from the plugin manager's hooks."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._by_kind: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self.plugins: dict[str, PluginInfo] = {}
        dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
        for kind, hook_name in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                dist = dists.get(id(impl.plugin))
                info = self.plugins.setdefault(
                    impl.plugin_name,
                    PluginInfo(impl.plugin_name, dist.project_name if dist else None, dist.version if dist else None),
                )
                impl.function(register=self._registrar(kind, info))
        for plugin_name, plugin in pm.list_name_plugin():
            if plugin is not None and plugin_name not in self.plugins:
                dist = dists.get(id(plugin))
                self.plugins[plugin_name] = PluginInfo(
                    plugin_name, dist.project_name if dist else None, dist.version if dist else None
                )

    def _registrar(self, kind: str, info: PluginInfo) -> Callable[[str, Callable[..., Any]], None]:
        def register(name: str, factory: Callable[..., Any]) -> None:
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"plugin '{info.name}' registered a {kind} with an invalid name {name!r}")
            existing = self._by_kind[kind].get(name)
            if existing is not None:
                raise DuplicatePluginError(
                    f"{kind} '{name}' is registered twice: by plugin '{existing.plugin}' "
                    f"({existing.distribution or 'not installed'}) and by plugin '{info.name}' "
                    f"({info.distribution or 'not installed'}); uninstall one, or block one with "
                    f"HYPERION_DISABLE_PLUGINS={info.name}"
                )
            self._by_kind[kind][name] = Registration(kind, name, factory, info.name, info.distribution, info.version)
            info.names.setdefault(kind, []).append(name)

        return register

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def get(self, kind: str, name: str) -> Registration:
        try:
            return self._by_kind[kind][name]
        except KeyError:
            installed = ", ".join(self.names(kind)) or "none"
            raise UnknownPluginError(
                f"unknown {kind} '{name}'; installed {kind} names: {installed}. "
                "Install the plugin that provides it, or see `hyperion plugins list`."
            ) from None

    def create(self, kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """Resolve a name and call its factory; bad keyword arguments become a ConfigurationError."""
        registration = self.get(kind, name)
        check_arguments(registration.factory, kwargs, f"{kind} '{name}'", _ARGUMENT_NAMES[kind], len(args))
        return registration.factory(*args, **kwargs)


def check_arguments(
    factory: Callable[..., Any], kwargs: dict[str, Any], what: str, where: str, positional: int = 0
) -> None:
    """Fail with the accepted names when `kwargs` does not fit the factory's signature."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    params = list(signature.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = [p.name for p in params[positional:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigurationError(
            f"{what} does not accept {', '.join(repr(u) for u in unknown)} (given in {where}); "
            f"it accepts: {', '.join(accepted) or 'no arguments'}"
        )
    missing = [
        p.name
        for p in params[positional:]
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in kwargs
    ]
    if missing:
        raise ConfigurationError(f"{what} needs {', '.join(repr(m) for m in missing)} (give it in {where})")


_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager; entry points are loaded on the first call only."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        pm.add_hookspecs(hookspecs)
        for name in os.environ.get("HYPERION_DISABLE_PLUGINS", "").split(","):
            if name.strip():
                pm.set_blocked(name.strip())
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        _pm = pm
    return _pm


def registry() -> Registry:
    """The name registry, built on first use and rebuilt after register/unregister."""
    global _registry
    if _registry is None:
        _registry = Registry(plugin_manager())
    return _registry


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (a module or class with hookimpls) in this process."""
    global _registry
    plugin_name = plugin_manager().register(plugin, name=name)
    _registry = None
    return plugin_name or ""


def unregister(plugin: object | None = None, name: str | None = None) -> None:
    global _registry
    plugin_manager().unregister(plugin=plugin, name=name)
    _registry = None
