"""Bundled storages: memory (the default), and SQL for sqlite:// and postgresql:// URLs."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_storages(register: Register) -> None:
    from hyperion_storage.memory import MemoryStorage
    from hyperion_storage.sql import SQLStorage  # imports SQLAlchemy only when a SQL URL is opened

    register("memory", MemoryStorage)
    register("sqlite", SQLStorage)
    register("postgresql", SQLStorage)
    register("postgres", SQLStorage)
