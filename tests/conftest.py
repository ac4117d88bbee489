"""Shared fixtures: a throw-away plugin registered on the live manager, and small objectives."""

from __future__ import annotations

import os

import pytest

from hyperion_core import plugins

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """A test that uses the PostgreSQL server belongs to the postgres suite (`pytest -m postgres`)."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def register_plugin():
    """Register plugin objects for one test; they are unregistered afterwards."""
    added: list[str] = []

    def add(obj: object, name: str | None = None) -> str:
        plugin_name = plugins.register(obj, name=name)
        added.append(plugin_name)
        return plugin_name

    yield add
    for name in added:
        plugins.unregister(name=name)


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a throw-away PostgreSQL server (skips, with how to enable, where none can be had;
    in CI a missing server is a failure)."""
    from tests.postgres import HOW_TO_ENABLE, PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail(HOW_TO_ENABLE + " (.ci/run installs them)")
        pytest.skip(HOW_TO_ENABLE)
    server = PostgresServer(bin_dir).start()
    yield server.url
    server.stop()


@pytest.fixture
def dict_storage():
    """The third-party storage of tests/dict_storage.py, registered for `dictstore://NAME` URLs."""
    from hyperion_core import plugins
    from tests.dict_storage import Plugin

    plugins.register(Plugin, name="dict-storage")
    yield
    plugins.unregister(name="dict-storage")
