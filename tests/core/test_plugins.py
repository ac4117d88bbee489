"""The plugin system: entry points, the registry, errors that list names, disabling, hooks."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import types
from pathlib import Path

import pluggy
import pytest

import hyperion
from hyperion import Float, Proposal, Strategy, hookimpl, tune
from hyperion_core import hookspecs, plugins
from hyperion_core.errors import DuplicatePluginError, UnknownPluginError
from hyperion_core.plugins import PluginWarning

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = {
    "strategy": {"random", "grid", "bayesian", "beam_search"},
    "storage": {"memory", "sqlite", "postgresql"},
    "executor": {"thread", "process"},
    "reporter": {"progress", "summary", "jsonl"},
}


def test_bundled_plugins_register_through_the_entry_point_group():
    reg = plugins.registry()
    for kind, names in BUNDLED.items():
        assert names <= set(reg.names(kind)), kind
    registration = reg.get("strategy", "random")
    assert registration.plugin == "strategies"
    assert registration.distribution == "hyperion-tune"
    assert registration.version == hyperion.__version__


def test_unknown_name_lists_the_installed_names_of_that_kind():
    with pytest.raises(UnknownPluginError) as info:
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="nope", max_trials=1)
    message = str(info.value)
    assert "unknown strategy 'nope'" in message
    assert "grid" in message and "random" in message
    with pytest.raises(UnknownPluginError, match="unknown executor .gpu.*process, ray, thread"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, executor="gpu", max_trials=1)


class _Constant(Strategy):
    def __init__(self, value: float = 0.25) -> None:
        self.value = value

    def propose(self, study, slots):
        return [Proposal({"x": self.value}, rationale="always the same") for _ in range(slots)]


def _plugin(name: str, factory=_Constant):
    module = types.ModuleType(name)

    @hookimpl
    def register_strategies(register):
        register(name, factory)

    module.register_strategies = register_strategies
    return module


def test_a_plugin_registered_at_run_time_is_usable_by_name(register_plugin):
    register_plugin(_plugin("constant"), name="constant-plugin")
    result = tune(
        lambda ctx, x: x, {"x": Float(0, 1)}, strategy="constant", strategy_kwargs={"value": 0.5}, max_trials=3
    )
    assert [t["params"]["x"] for t in result["trials"]] == [0.5, 0.5, 0.5]
    assert plugins.registry().get("strategy", "constant").plugin == "constant-plugin"


def test_two_plugins_registering_one_name_is_an_error_naming_both(register_plugin):
    register_plugin(_plugin("twin"), name="first-plugin")
    register_plugin(_plugin("twin"), name="second-plugin")
    with pytest.raises(DuplicatePluginError) as info:
        plugins.registry()
    assert "first-plugin" in str(info.value) and "second-plugin" in str(info.value)


def test_kwargs_a_plugin_does_not_accept_fail_before_any_trial(register_plugin):
    register_plugin(_plugin("constant"), name="constant-plugin")
    calls = []
    with pytest.raises(hyperion.ConfigurationError) as info:
        tune(lambda ctx, x: calls.append(x), {"x": Float(0, 1)}, strategy="constant", strategy_kwargs={"valu": 1})
    assert "'valu'" in str(info.value) and "accepts: value" in str(info.value)
    assert calls == []


def test_a_strategy_instance_may_be_passed_instead_of_a_name():
    result = tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy=_Constant(0.75), max_trials=2)
    assert result["best"]["params"] == {"x": 0.75}
    assert result["trials"][0]["rationale"] == "always the same"


def test_every_hook_is_documented_and_takes_register():
    specs = [name for name, obj in vars(hookspecs).items() if name.startswith("register_") and callable(obj)]
    assert sorted(specs) == sorted([*plugins.KINDS.values(), "register_commands"])
    for name in specs:
        fn = getattr(hookspecs, name)
        argument = "commands" if name == "register_commands" else "register"
        assert list(inspect.signature(fn).parameters) == [argument]
        assert fn.__doc__ and f"{argument}." in fn.__doc__.replace("register(", "register.")
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for name in specs:
        argument = "commands" if name == "register_commands" else "register"
        assert f"def {name}({argument})" in docs, f"docs/plugins.md does not document {name}"


def test_every_hook_has_a_bundled_implementation_and_every_bundled_name_a_test():
    reg = plugins.registry()
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    for kind in plugins.KINDS:
        bundled = [n for n in reg.names(kind) if reg.get(kind, n).distribution == "hyperion-tune"]
        assert bundled, f"no bundled {kind}"
        untested = [n for n in bundled if f'"{n}"' not in tests and f"'{n}'" not in tests]
        assert not untested, f"bundled {kind} name(s) that no test uses by name: {untested}"


def _fake_distribution(root: Path, name: str, module_source: str) -> None:
    """An installed distribution with one `hyperion` entry point, as pip would leave it."""
    (root / f"{name}.py").write_text(module_source)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[hyperion]\n{name} = {name}\n")


def test_a_broken_or_misspelled_third_party_plugin_is_skipped_with_one_warning(tmp_path):
    _fake_distribution(tmp_path, "broken_plugin", "import no_such_module_anywhere\n")
    _fake_distribution(
        tmp_path,
        "typo_plugin",
        "from hyperion import hookimpl\n\n@hookimpl\ndef register_strategy(register):\n    register('typo', object)\n",
    )
    import os

    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    listing = subprocess.run(
        [sys.executable, "-m", "hyperion", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert "ModuleNotFoundError" in rows["broken_plugin"]["error"]
    assert "register_strategy" in rows["typo_plugin"]["error"]
    assert rows["strategies"]["error"] is None and "random" in rows["strategies"]["strategy"]
    assert listing.stderr.count("HYPERION_DISABLE_PLUGINS=broken_plugin") == 1
    # the warning names the distribution to fix or uninstall, and the missing module whole
    assert (
        "'broken_plugin' (from broken_plugin 0.1) is skipped: ModuleNotFoundError: No module named "
        "'no_such_module_anywhere'" in listing.stderr.replace("\n", " ")
    )
    assert "pip uninstall broken_plugin" in listing.stderr
    assert "Traceback" not in listing.stderr
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "from hyperion import tune, Float; print(tune(lambda c, x: x, {'x': Float(0, 1)}, max_trials=2)['study']['completed'])",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ran.stdout.strip() == "2", ran.stderr


def test_a_misspelled_hook_registered_at_run_time_is_refused():
    class Typo:
        @hyperion.hookimpl
        def register_strategy(self, register):  # the hook is register_strategies
            register("typo", object)

    with pytest.raises(pluggy.PluginValidationError, match="register_strategy"):
        plugins.register(Typo(), name="typo")
    assert "typo" not in plugins.registry().plugins


def test_a_factory_that_returns_the_wrong_kind_fails_when_resolved(register_plugin):
    class BadExecutors:
        @hyperion.hookimpl
        def register_executors(self, register):
            register("bad", lambda: object())

    register_plugin(BadExecutors(), name="bad-executors")
    with pytest.raises(
        hyperion.ConfigurationError, match="executor 'bad'.*not an object with the methods of.*Executor"
    ):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, executor="bad", max_trials=1)


def test_a_factory_rejecting_a_value_is_a_configuration_error():
    with pytest.raises(hyperion.ConfigurationError, match="strategy 'bayesian' rejected its arguments"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="bayesian", strategy_kwargs={"gamma": "0.1"}, max_trials=1)


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_disable_plugins_blocks_entry_points_by_name():
    code = "from hyperion_core.plugins import registry; r = registry(); print(r.names('strategy'), r.names('storage'))"
    plain = _run(code)
    blocked = _run(code, HYPERION_DISABLE_PLUGINS="strategies, llm, reporters")
    assert "'random'" in plain.stdout
    assert blocked.stdout.strip() == "[] ['memory', 'postgres', 'postgresql', 'sqlite']", blocked.stderr


def test_importing_hyperion_loads_no_plugin_and_no_heavy_dependency():
    code = (
        "import sys, hyperion; heavy = [m for m in ('sqlalchemy', 'litellm', 'ray', 'numpy', 'rich', 'cloudpickle') if m in sys.modules];"
        "import hyperion_core.plugins as p; print(heavy, p._pm is None)"
    )
    out = _run(code)
    assert out.stdout.strip() == "[] True", out.stderr


def test_registering_the_bundled_plugins_loads_no_numeric_library_until_one_is_used():
    """Strategies are registered by import path (hyperion_core.plugins.lazy): the registry, `plugins
    list` and `hyperion ask` on a random-search study start without numpy or scipy; a strategy's
    arguments are still checked against its real signature."""
    code = (
        "import sys; from hyperion_core.plugins import registry; r = registry(); "
        "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules)); "
        "r.strategy('random'); print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules)); "
        "from hyperion import ConfigurationError\n"
        "try:\n    r.strategy('gp', {'n_strtup': 3})\nexcept ConfigurationError as e:\n    print(e)"
    )
    out = _run(code).stdout.splitlines()
    assert out[0] == "[]" and out[1] == "[]", out
    assert "does not accept 'n_strtup'" in out[2] and "n_startup" in out[2]


def test_cli_plugins_list_json_and_table():
    out = _run("from hyperion.cli import main; main(['plugins', 'list', '--json'])")
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert rows["strategies"]["strategy"] == [
        "auto",
        "bayesian",
        "beam_search",
        "cmaes",
        "gp",
        "grid",
        "local",
        "nsga2",
        "pb2",
        "pbt",
        "random",
    ]
    assert rows["checkpoints"]["checkpoint store"] == ["*", "file"]
    assert rows["executors"]["distribution"] == "hyperion-tune"
    table = subprocess.run(
        [sys.executable, "-m", "hyperion", "plugins", "list"], capture_output=True, text=True, timeout=60
    )
    assert "executor: process, ray, thread" in table.stdout
    version = subprocess.run(
        [sys.executable, "-m", "hyperion", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.stdout.strip() == f"hyperion {hyperion.__version__}"


def test_every_logger_is_under_the_hyperion_namespace_with_a_null_handler():
    import importlib
    import logging
    import pkgutil

    for package in (
        "hyperion_core",
        "hyperion_storage",
        "hyperion_executors",
        "hyperion_strategies",
        "hyperion_policies",
        "hyperion_reporters",
        "hyperion_llm",
    ):
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            if not info.name.startswith("_worker"):
                importlib.import_module(f"{package}.{info.name}")
    ours = [name for name in logging.root.manager.loggerDict if name.split(".")[0].startswith("hyperion_")]
    assert ours == [], f"loggers outside the 'hyperion' namespace: {ours}"
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("hyperion").handlers)


def test_a_third_party_plugin_adds_a_command_through_register_commands(register_plugin, capsys):
    from hyperion.cli import main

    class Greeter:
        @hookimpl
        def register_commands(self, commands):
            hello = commands.add_parser("hello", help="say hello")
            hello.add_argument("--name", default="world")
            hello.set_defaults(handler=lambda args: print(f"hello {args.name}") or 0)

    class Clashing:  # takes a name a bundled command has: skipped with a warning, the CLI still works
        @hookimpl
        def register_commands(self, commands):
            commands.add_parser("studies")

    register_plugin(Greeter(), name="greeter")
    register_plugin(Clashing(), name="clashing")
    with pytest.warns(PluginWarning, match="'clashing' is skipped: its register_commands hook raised"):
        assert main(["hello", "--name", "Ada"]) == 0
    assert capsys.readouterr().out == "hello Ada\n"
    with pytest.warns(PluginWarning):
        assert main(["plugins", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["greeter"]["command"] == ["hello"]
    assert rows["dashboard"]["command"] == ["dashboard", "report"]  # the bundled dashboard, the same way
