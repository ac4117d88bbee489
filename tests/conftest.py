"""Shared fixtures: a throw-away plugin registered on the live manager, and small objectives."""

from __future__ import annotations

import os

import pytest

from hyperion_core import plugins

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


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
