"""The plugin manager and the name registry.

Plugins come from the `hyperion` entry-point group (bundled ones too), loaded once, on first use.
`HYPERION_DISABLE_PLUGINS=a,b` blocks entry points by name.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from hyperion_core import hookspecs
from hyperion_core.errors import (
    ConfigurationError,
    DuplicatePluginError,
    HyperionError,
    HyperionWarning,
    UnknownPluginError,
)
from hyperion_core.log import get_logger, warn_user
from hyperion_core.protocols import CheckpointStore, Executor, Policy, Reporter, Storage, Strategy

logger = get_logger(__name__)

ENTRY_POINT_GROUP = "hyperion"
# kind -> hook name; the kinds are the words users see ("unknown strategy 'x'").
KINDS = {
    "strategy": "register_strategies",
    "policy": "register_policies",
    "storage": "register_storages",
    "executor": "register_executors",
    "reporter": "register_reporters",
    "checkpoint store": "register_checkpoint_stores",
}
_ARGUMENT_NAMES = {
    "strategy": "strategy_kwargs",
    "policy": "early_stopping_kwargs",
    "storage": "storage",
    "executor": "executor_kwargs",
    "reporter": "reporters",
    "checkpoint store": "checkpoints",
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
    error: str | None = None  # why the plugin is broken (it failed to load or to register), else None


class PluginWarning(HyperionWarning):
    """A plugin could not be loaded; Hyperion goes on without it."""


#: What each kind's factory must return, checked when it is called (a wrong one fails now, not later).
_BASES: dict[str, type] = {
    "strategy": Strategy,
    "policy": Policy,
    "executor": Executor,
    "storage": Storage,
    "reporter": Reporter,
    "checkpoint store": CheckpointStore,
}


class Registry:
    """Names of every kind, and who registered them. Built from the plugin manager's hooks."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._by_kind: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self.plugins: dict[str, PluginInfo] = {}
        for name, info in _broken.items():
            self.plugins[name] = info
        for kind, hook_name in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                dist = _distributions.get(impl.plugin_name)
                info = self.plugins.setdefault(impl.plugin_name, PluginInfo(impl.plugin_name, *(dist or (None, None))))
                if info.error:
                    continue
                try:
                    impl.function(register=self._registrar(kind, info))
                except DuplicatePluginError:
                    raise
                except Exception as exc:  # a broken third-party hook: skip that plugin, keep the rest
                    info.error = f"its {hook_name} hook raised {type(exc).__name__}: {exc}"
                    _warn_broken(info.name, info.error)
        for plugin_name, plugin in pm.list_name_plugin():
            if plugin is not None and plugin_name not in self.plugins:
                dist = _distributions.get(plugin_name)
                self.plugins[plugin_name] = PluginInfo(plugin_name, *(dist or (None, None)))

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
        """Resolve a name and call its factory. Bad arguments become a ConfigurationError naming them,
        and what the factory returns is checked against the kind's contract."""
        registration = self.get(kind, name)
        where = _ARGUMENT_NAMES[kind]
        check_arguments(registration.factory, kwargs, f"{kind} '{name}'", where, len(args))
        try:
            made = registration.factory(*args, **kwargs)
        except HyperionError:
            raise
        except (TypeError, ValueError) as exc:  # e.g. strategy_kwargs={"gamma": "0.1"}
            raise ConfigurationError(f"{kind} '{name}' rejected its arguments ({where}): {exc}") from exc
        _check_kind(made, kind, f"{kind} '{name}' (from plugin '{registration.plugin}')")
        return made

    # -- the typed facade: one method per kind, a name or a ready object ----------------------------------
    def strategy(self, spec: str | Strategy, kwargs: Mapping[str, Any] | None = None) -> Strategy:
        made: Strategy = self._resolve("strategy", spec, kwargs)
        return made

    def policy(self, spec: str | Policy, kwargs: Mapping[str, Any] | None = None) -> Policy:
        made: Policy = self._resolve("policy", spec, kwargs)
        return made

    def executor(self, spec: str | Executor, kwargs: Mapping[str, Any] | None = None) -> Executor:
        made: Executor = self._resolve("executor", spec, kwargs)
        return made

    def reporter(self, spec: str | Reporter) -> Reporter:
        made: Reporter = self._resolve("reporter", spec, None)
        return made

    def storage(self, spec: str | Storage | None, read_only: bool = False) -> Storage:
        """None or "memory": in memory; a URL: the storage registered for its scheme; or a storage object.
        `read_only` (the viewers: dashboard, report, `hyperion studies list/show/export`): a storage whose
        factory takes `read_only` opens the URL without changing it (no tables made, no mode switched)."""
        if spec is None or spec == "memory":
            made: Storage = self.create("storage", "memory", None)
            return made
        if isinstance(spec, str):
            if "://" not in spec:
                raise ConfigurationError(
                    f"storage must be a URL such as 'sqlite:///experiments.db' (or None for memory), got {spec!r}"
                )
            scheme = spec.split("://", 1)[0].split("+", 1)[0].lower()
            if read_only and "read_only" in inspect.signature(self.get("storage", scheme).factory).parameters:
                made = self.create("storage", scheme, spec, read_only=True)
            else:
                made = self.create("storage", scheme, spec)
            return made
        _check_kind(spec, "storage", f"storage object {type(spec).__name__}")
        return spec

    def checkpoint_store(self, url: str) -> CheckpointStore:
        """The store for a URL by its scheme ("s3://bucket/x": the one registered for "s3"); a plain path
        is a local directory ("file")."""
        scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
        names = self.names("checkpoint store")
        name = scheme if scheme in names else "*" if "*" in names else scheme  # "*": any other scheme
        made: CheckpointStore = self.create("checkpoint store", name, url)
        return made

    def _resolve(self, kind: str, spec: Any, kwargs: Mapping[str, Any] | None) -> Any:
        where = _ARGUMENT_NAMES[kind]
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ConfigurationError(f"{where} must be a dict, got {type(kwargs).__name__}")
        if isinstance(spec, str):
            return self.create(kind, spec, **dict(kwargs or {}))
        if spec is None or isinstance(spec, type):
            raise ConfigurationError(
                f"{kind} must be a registered name ({', '.join(self.names(kind))}) or an instance, got {spec!r}"
            )
        if kwargs:
            raise ConfigurationError(f"{where} only applies to a {kind} given by name; configure the instance instead")
        _check_kind(spec, kind, f"{kind} object {type(spec).__name__}")
        return spec


def _check_kind(obj: Any, kind: str, what: str) -> None:
    """Strategies, policies and reporters subclass their base; executors and storages match the protocol."""
    base = _BASES[kind]
    if kind == "reporter":  # a reporter may also just have the two methods
        ok = isinstance(obj, base) or (
            callable(getattr(obj, "on_event", None)) and callable(getattr(obj, "close", None))
        )
    else:
        ok = isinstance(obj, base)
    if not ok:
        how = "a subclass of" if kind in ("strategy", "policy") else "an object with the methods of"
        raise ConfigurationError(
            f"{what} is {type(obj).__name__}, not {how} hyperion_core.protocols.{base.__name__} (see docs/plugins.md)"
        )


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


_distributions: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
_broken: dict[str, PluginInfo] = {}  # plugin name -> why it is not loaded


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager; entry points are loaded on the first call only.

    Each entry point loads on its own: one that fails to import, or whose hooks are not Hyperion's
    (a misspelled hook name), is skipped with a warning and listed as broken by `hyperion plugins list`.
    """
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        pm.add_hookspecs(hookspecs)
        blocked = {n.strip() for n in os.environ.get("HYPERION_DISABLE_PLUGINS", "").split(",") if n.strip()}
        for name in blocked:
            pm.set_blocked(name)
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or pm.get_plugin(ep.name) is not None:
                continue
            dist = getattr(ep, "dist", None)
            info = (dist.metadata["name"], dist.version) if dist is not None else None
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:  # any import-time failure of a third-party package
                dist_name, version = info or (None, None)
                _broken[ep.name] = PluginInfo(ep.name, dist_name, version, error=f"{type(exc).__name__}: {exc}")
                _warn_broken(ep.name, _broken[ep.name].error or "")
                continue
            if info is not None:
                _distributions[ep.name] = info
            _check_hooks(pm, ep.name, plugin, info)
        _pm = pm
    return _pm


def _check_hooks(pm: pluggy.PluginManager, name: str, plugin: object, info: tuple[str, str] | None) -> None:
    """A plugin with a hook Hyperion does not define (e.g. register_strategy) is unregistered as broken."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(plugin)
        dist_name, version = info or (None, None)
        _broken[name] = PluginInfo(name, dist_name, version, error=str(exc))
        _warn_broken(name, str(exc))


def _warn_broken(name: str, error: str) -> None:
    """Say which plugin (and the distribution that installed it: what to fix or uninstall) is skipped,
    with its whole error."""
    known = _distributions.get(name) or (
        (_broken[name].distribution, _broken[name].version) if name in _broken else None
    )
    source = f" (from {known[0]} {known[1]})" if known and known[0] else ""
    how = f"pip uninstall {known[0]}" if known and known[0] else "uninstall it"
    warn_user(
        f"Hyperion plugin '{name}'{source} is skipped: {error}. Fix it, {how}, or silence this with "
        f"HYPERION_DISABLE_PLUGINS={name}",
        PluginWarning,
    )


def registry() -> Registry:
    """The name registry, built on first use and rebuilt after register/unregister."""
    global _registry
    if _registry is None:
        _registry = Registry(plugin_manager())
    return _registry


def add_commands(commands: Any) -> dict[str, list[str]]:
    """Let every plugin add its `hyperion` subcommands (register_commands); returns plugin -> the
    commands it added. A plugin whose hook fails, or that takes a command name already taken, is skipped
    with a warning naming it; the rest go on."""
    added: dict[str, list[str]] = {}
    for impl in plugin_manager().hook.register_commands.get_hookimpls():
        before = set(commands.choices)
        try:
            impl.function(commands=commands)
        except Exception as exc:  # argparse.ArgumentError for a name taken twice, or the plugin's own bug
            _warn_broken(impl.plugin_name, f"its register_commands hook raised {type(exc).__name__}: {exc}")
        added[impl.plugin_name] = sorted(set(commands.choices) - before)
    return added


class Lazy:
    """A factory named by its import path ("package.module:Name"), imported when it is first called or
    its signature is read: registering a heavy plugin (numpy, scipy, a framework) then costs nothing,
    so `import`-time work such as `hyperion ask` or `hyperion plugins list` stays fast."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._target: Callable[..., Any] | None = None

    def target(self) -> Callable[..., Any]:
        if self._target is None:
            module, _, name = self.path.partition(":")
            self._target = getattr(importlib.import_module(module), name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:  # what check_arguments reads
        return inspect.signature(self.target())

    def __repr__(self) -> str:
        return f"Lazy({self.path!r})"


def lazy(path: str) -> Lazy:
    """`register("gp", lazy("hyperion_strategies.gp:GPSearch"))`: see Lazy."""
    return Lazy(path)


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (a module or class with hookimpls) in this process."""
    global _registry
    pm = plugin_manager()
    plugin_name = pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pm.unregister(plugin)
        raise
    _registry = None
    return plugin_name or ""


def unregister(plugin: object | None = None, name: str | None = None) -> None:
    global _registry
    plugin_manager().unregister(plugin=plugin, name=name)
    _registry = None
