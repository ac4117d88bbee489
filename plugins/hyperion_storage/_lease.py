"""Who owns a stored study: a lease per run (host, pid and a random token), a heartbeat that a
background thread keeps fresh whatever the objective does, and the rule that tells a live owner from
a dead one. Writes are fenced on the token by the storage (design.md, section 8)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from hyperion_core.log import get_logger

logger = get_logger(__name__)

HEARTBEAT_S = 10.0  # how often an owner refreshes its heartbeat
STALE_OWNER_S = 120.0  # an owner whose heartbeat is this old is taken for dead

_live_tokens: set[str] = set()  # the leases this process holds now


class Lease:
    """This run's identity as an owner: `host|pid|token`, the token unique per storage object."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self.owner = f"{socket.gethostname()}|{os.getpid()}|{self.token}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: str | None = None  # set by the heartbeat when another process took the study
        self._interval = HEARTBEAT_S

    def hold(self, beat: Callable[[float], bool], stale_after_s: float = STALE_OWNER_S) -> None:
        """Start keeping the lease: `beat(now)` refreshes the heartbeat and says whether we still own.
        It beats at least three times within `stale_after_s`, so one late beat never looks like death."""
        _live_tokens.add(self.token)
        self._interval = min(HEARTBEAT_S, stale_after_s / 3)
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(beat,), name="hyperion-heartbeat", daemon=True)
        self._thread.start()

    def _run(self, beat: Callable[[float], bool]) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not beat(time.time()):
                    self.lost = "another process took the study over or deleted it"
                    return
            except Exception as exc:  # a storage hiccup: the next write reports it; the beat goes on
                logger.debug("heartbeat failed: %s", exc)

    def release(self) -> None:
        _live_tokens.discard(self.token)
        self._stop.set()


def describe(owner: str) -> str:
    host, pid, _ = (owner.split("|") + ["", "", ""])[:3]
    return f"process {pid} on {host}"


def owner_alive(owner: str | None, heartbeat: float | None, now: float, stale_after_s: float | None = None) -> bool:
    """Whether the run recorded as `owner` still holds its lease.

    A lease of this process is alive while its storage is open. On this host, a process that is gone
    is dead at once, and so is any earlier run with our own PID (a container restarted as PID 1 is not
    its own predecessor). Otherwise the heartbeat decides: a live owner refreshes it every HEARTBEAT_S.
    """
    if not owner:
        return False
    host, pid, token = (owner.split("|") + ["", "", ""])[:3]
    if token in _live_tokens:
        return True
    fresh = now - (heartbeat or 0.0) < (STALE_OWNER_S if stale_after_s is None else stale_after_s)
    if host != socket.gethostname():
        return fresh
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    return fresh and _pid_alive(int(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True
