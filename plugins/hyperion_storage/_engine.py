"""How the SQL storage talks to its engine: SQLite's connection settings and each dialect's INSERT."""

from __future__ import annotations

from typing import Any


def insert_for(engine: Any) -> Any:
    """The dialect's INSERT (with ON CONFLICT, for upserts)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def configure_sqlite(engine: Any, read_only: bool, busy_timeout_s: float) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE for writers; a viewer changes nothing of the file."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        if not read_only:  # a viewer leaves the file's journal mode as it found it
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; fsync at checkpoints
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")  # writers: the lock now, not mid-way
