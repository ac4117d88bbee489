"""Bundled storages: memory (the default)."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_storages(register: Register) -> None:
    from hyperion_storage.memory import MemoryStorage

    register("memory", MemoryStorage)
