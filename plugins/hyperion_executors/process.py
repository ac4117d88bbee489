"""The process executor: a pool of long-lived worker processes, one trial at a time each.

Each worker is `python -m hyperion_executors._worker` on one end of a socket pair; the objective is
sent once per worker (cloudpickle: closures, lambdas and __main__ functions work). One watcher
thread per worker forwards the worker's messages to the loop and notices its death (EOF on the
socket), which fails the running trial with the exit code; the worker is then replaced.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from hyperion_core.errors import ObjectiveError
from hyperion_core.log import get_logger
from hyperion_core.protocols import Emit, Failed, Finished
from hyperion_executors._resources import Allocation

logger = get_logger(__name__)

_EXIT_WAIT_S = 5.0  # how long to wait for a worker whose socket closed to report its exit code


class _Slot:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.current: int | None = None
        self.lock = threading.Lock()


class ProcessExecutor:
    #: A worker that ignores should_stop() is terminated after the loop's grace period.
    terminates = True

    def __init__(self, resources_per_trial: dict[str, float] | None = None) -> None:
        self._allocation = Allocation(resources_per_trial, "process")
        #: the most trials that fit at once given resources_per_trial (None: as many as asked)
        self.capacity = self._allocation.capacity
        self._jobs: queue.SimpleQueue[tuple[int, str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._slots: list[_Slot] = []
        self._by_trial: dict[int, _Slot] = {}
        self._watchers: list[threading.Thread] = []
        self._closing = False

    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit) -> None:
        import cloudpickle

        try:
            self._payload = cloudpickle.dumps(objective)
        except Exception as exc:
            raise ObjectiveError(
                f"executor='process' cannot send the objective to a worker process: {type(exc).__name__}: {exc}. "
                "Make the objective a module-level function and create unpicklable things (open files, locks, "
                "database connections, GPU models) inside it, or use executor='thread'."
            ) from exc
        self._emit = emit
        if self.capacity is not None:  # no more workers than there are resources for (the loop follows)
            max_workers = min(max_workers, self.capacity)
        for index in range(max_workers):
            slot = _Slot(index)
            self._slots.append(slot)
            try:
                self._spawn(slot)
            except OSError as exc:  # the watcher tries again for its first trial, and fails that trial if it must
                logger.warning("could not start worker process %d: %s", index, exc)
            watcher = threading.Thread(target=self._watch, args=(slot,), name=f"hyperion-worker-{index}", daemon=True)
            self._watchers.append(watcher)
            watcher.start()

    def _spawn(self, slot: _Slot) -> None:
        parent, child = socket.socketpair()
        try:
            slot.proc = subprocess.Popen(
                [sys.executable, "-m", "hyperion_executors._worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                env={**os.environ, **self._allocation.env(slot.index)},
            )
        finally:
            child.close()
        slot.conn = Connection(parent.detach())
        slot.conn.send(("init", list(sys.path), self._payload))

    # -- the watcher: one per worker slot -------------------------------------------------------------
    def _watch(self, slot: _Slot) -> None:
        ready = False
        while True:
            job = self._jobs.get()
            if job is None:
                return
            number = job[0]
            with slot.lock:
                if slot.proc is None or slot.proc.poll() is not None:
                    ready = False
                    try:
                        self._spawn(slot)
                    except OSError as exc:  # out of processes or memory: this trial fails, the study goes on
                        slot.proc = None
                        self._emit(Failed(number, f"could not start a worker process ({exc}); lower max_concurrent"))
                        continue
                slot.current = number
                self._by_trial[number] = slot
            try:
                if not ready:
                    ready = self._await_ready(slot, number)
                    if not ready:
                        continue
                slot.conn.send(("run", *job))  # type: ignore[union-attr]
                self._pump(slot, number)
            finally:
                with slot.lock:
                    slot.current = None
                    self._by_trial.pop(number, None)
                if slot.proc is not None and slot.proc.poll() is not None:
                    ready = False

    def _await_ready(self, slot: _Slot, number: int) -> bool:
        message = self._recv(slot, number)
        if message is None:
            return False
        if isinstance(message, tuple) and message[0] == "init_failed":
            self._emit(Failed(number, message[1]))
            self._reap(slot)
            return False
        return True

    def _pump(self, slot: _Slot, number: int) -> None:
        while True:
            message = self._recv(slot, number)
            if message is None:
                return
            self._emit(message)
            if isinstance(message, (Finished, Failed)):
                return

    def _recv(self, slot: _Slot, number: int) -> Any:
        """The worker's next message, or None after reporting its death as the trial's failure."""
        try:
            return slot.conn.recv()  # type: ignore[union-attr]
        except (EOFError, OSError):
            code = self._reap(slot)
            if not self._closing:
                self._emit(
                    Failed(number, f"the worker process died with {_describe_exit(code)} while running this trial")
                )
            return None

    def _reap(self, slot: _Slot) -> int | None:
        proc = slot.proc
        if proc is None:
            return None
        try:
            code = proc.wait(timeout=_EXIT_WAIT_S)
        except subprocess.TimeoutExpired:  # its socket closed but it lives on: end it
            proc.kill()
            code = proc.wait(timeout=_EXIT_WAIT_S)
        if slot.conn is not None:
            slot.conn.close()
        slot.proc, slot.conn = None, None
        return code

    # -- the loop's calls ------------------------------------------------------------------------------
    def submit(self, trial_number: int, trial_id: str, params: dict[str, Any]) -> None:
        self._jobs.put((trial_number, trial_id, params))

    def stop(self, trial_number: int) -> None:
        slot = self._by_trial.get(trial_number)
        if slot is not None and slot.conn is not None:
            try:
                slot.conn.send(("stop", trial_number))
            except OSError:
                pass  # the worker is gone; its watcher reports that

    def abandon(self, trial_number: int) -> None:
        slot = self._by_trial.get(trial_number)
        if slot is None:
            return
        with slot.lock:
            if slot.current == trial_number and slot.proc is not None:
                slot.proc.kill()  # the watcher sees the socket close and replaces the worker

    def shutdown(self) -> None:
        self._closing = True
        for _ in self._watchers:
            self._jobs.put(None)
        for slot in self._slots:
            proc, conn = slot.proc, slot.conn
            if proc is None:
                continue
            if slot.current is not None:
                proc.kill()  # still inside a trial the study no longer waits for
            elif conn is not None:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for slot in self._slots:
            if slot.proc is not None:
                try:
                    slot.proc.wait(timeout=_EXIT_WAIT_S)
                except subprocess.TimeoutExpired:
                    slot.proc.kill()
        for watcher in self._watchers:
            watcher.join(timeout=_EXIT_WAIT_S)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "an unknown exit code"
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"
