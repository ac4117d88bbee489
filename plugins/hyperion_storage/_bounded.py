"""Every storage operation bounded in time and translated: a SQLAlchemy or decoding error becomes a
StorageError naming what failed (secrets scrubbed), and on PostgreSQL an operation that outlives its
bound cuts the connection's socket, so a server that stops answering ends in an error, not a stall."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hyperion_core.errors import StorageError
from hyperion_core.text import scrub

OPERATION_TIMEOUT_S = 60.0  # the longest one PostgreSQL operation may take before the storage gives up
CONNECT_TIMEOUT_S = 10  # PostgreSQL: the longest a connection attempt may take
T = TypeVar("T")


class _Lost(Exception):
    """A fenced write found the study no longer ours."""


class BoundedMixin:
    """The bounded half of SQLStorage (it provides engine, _sa, url, _secrets, _pg)."""

    _sa: Any
    engine: Any
    url: str
    _secrets: list[str]
    _pg: bool

    def _scrub(self, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return scrub(text, self._secrets)

    def _run(self, what: str, fn: Callable[[], T]) -> T:
        """Run one storage operation: every SQLAlchemy or decoding error becomes a StorageError naming
        what failed (secrets scrubbed), and on PostgreSQL the operation is bounded in time even when the
        server stops answering (its connection is cut and the error says so)."""
        if not self._pg:
            return self._translate(what, fn)
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["value"] = self._translate(what, fn)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="hyperion-sql", daemon=True).start()
        if not done.wait(_bounds()):
            self._cut_connections()
            raise StorageError(
                f"cannot {what} in {self.url}: the database did not answer within "
                f"{_bounds():g}s; check that the server is up and reachable"
            )
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value

    def _translate(self, what: str, fn: Callable[[], T]) -> T:
        sa = self._sa
        try:
            return fn()
        except (StorageError, _Lost):
            raise
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            why = self._scrub(exc)
            if "disk is full" in why.lower() or "no space left" in why.lower() or getattr(exc, "errno", None) == 28:
                why += " (free some space on its disk; what this write held is not stored, what was written before is)"
            raise StorageError(f"cannot {what} in {self.url}: {why}") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:  # undecodable: a damaged file
            raise StorageError(
                f"cannot {what} in {self.url}: the stored data is damaged ({type(exc).__name__}: {exc})"
            ) from None

    def _track_connections(self) -> None:
        from sqlalchemy import event

        self._checked_out: set[Any] = set()

        @event.listens_for(self.engine, "checkout")
        def _out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            self._checked_out.add(dbapi_connection)

        @event.listens_for(self.engine, "checkin")
        def _in(dbapi_connection: Any, _record: Any) -> None:
            self._checked_out.discard(dbapi_connection)

    def _cut_connections(self) -> None:
        """Shut the sockets of connections in use, so threads blocked on a frozen server get an error."""
        for connection in list(getattr(self, "_checked_out", ())):
            try:
                fd = os.dup(connection.fileno())
            except Exception:
                continue
            sock = socket.socket(fileno=fd)  # owns the duplicate; shutdown acts on the shared connection
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                sock.close()


def _bounds() -> float:
    # read at call time: a test may lower the timeouts of this module
    return float(OPERATION_TIMEOUT_S + CONNECT_TIMEOUT_S)
