"""The process executor: a pool of long-lived worker processes, one trial at a time each.

Each worker is `python -m hyperion_executors._worker` on one end of a socket pair; the objective is
sent once per worker (cloudpickle: closures, lambdas and __main__ functions work). One watcher
thread per worker forwards the worker's messages to the loop and notices its death (EOF on the
socket); the pool (hyperion_core.pool) then fails the running trial with the exit code and starts a
new worker for the next trial.
"""

from __future__ import annotations

import os
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
from hyperion_core.pool import PooledExecutor
from hyperion_core.protocols import Failed, Finished, TrialSpec
from hyperion_executors._resources import Allocation

logger = get_logger(__name__)

_EXIT_WAIT_S = 5.0  # how long to wait for a worker whose socket closed to report its exit code


class _Worker:
    """One worker process and the socket to it."""

    def __init__(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        self.proc = proc
        self.conn = conn
        self.send_lock = threading.Lock()

    def send(self, message: Any) -> None:
        with self.send_lock:
            self.conn.send(message)


class ProcessExecutor(PooledExecutor[_Worker]):
    """A worker that ignores should_stop() is terminated after the loop's grace period (terminates)."""

    def __init__(self, resources_per_trial: dict[str, float] | None = None) -> None:
        super().__init__()
        self._allocation = Allocation(resources_per_trial, "process")
        #: the most trials that fit at once given resources_per_trial (None: as many as asked)
        self.capacity = self._allocation.capacity
        self._watchers: list[threading.Thread] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    def prepare(self, objective: Callable[..., Any], max_workers: int) -> int:
        import cloudpickle

        try:
            self._payload = cloudpickle.dumps(objective)
        except Exception as exc:
            raise ObjectiveError(
                f"executor='process' cannot send the objective to a worker process: {type(exc).__name__}: {exc}. "
                "Make the objective a module-level function and create unpicklable things (open files, locks, "
                "database connections, GPU models) inside it, or use executor='thread'."
            ) from exc
        # no more workers than there are resources for (the loop follows)
        return max_workers if self.capacity is None else min(max_workers, self.capacity)

    def launch(self, slot: int) -> _Worker:
        parent, child = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hyperion_executors._worker", str(child.fileno())],
                pass_fds=(child.fileno(),),
                env={**os.environ, **self._allocation.env(slot)},
            )
        finally:
            child.close()
        worker = _Worker(proc, Connection(parent.detach()))
        # what shutdown waits for: the live ones (a long study replaces many dead workers)
        self._procs = [p for p in self._procs if p.poll() is None] + [proc]
        self._watchers = [w for w in self._watchers if w.is_alive()]
        worker.send(("init", list(sys.path), self._payload))
        watcher = threading.Thread(target=self._watch, args=(worker,), name=f"hyperion-worker-{slot}", daemon=True)
        self._watchers.append(watcher)
        watcher.start()
        return worker

    def send(self, worker: _Worker, spec: TrialSpec) -> None:
        worker.send(("run", spec))

    def ask_stop(self, worker: _Worker, number: int) -> None:
        worker.send(("stop", number))

    def kill(self, worker: _Worker) -> None:
        worker.proc.kill()  # its watcher sees the socket close and reports the death

    def release(self, worker: _Worker) -> None:
        try:
            worker.send(None)
        except OSError:
            pass

    def finish(self) -> None:
        for proc in self._procs:
            try:
                proc.wait(timeout=_EXIT_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
        for watcher in self._watchers:
            watcher.join(timeout=_EXIT_WAIT_S)

    # -- the watcher: one per worker process ---------------------------------------------------------
    def _watch(self, worker: _Worker) -> None:
        """Forward the worker's messages until its socket closes; then report its death with the exit code."""
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                code = _reap(worker)
                self.died(worker, f"the worker process died with {_describe_exit(code)} while running this trial")
                return
            except Exception as exc:  # a message this process cannot read (another Hyperion version in the
                # worker, a result that unpickles only there): the worker is ended and its trial fails, no hang
                worker.proc.kill()
                _reap(worker)
                self.died(worker, f"a message from the worker process could not be read: {type(exc).__name__}: {exc}")
                return
            if isinstance(message, tuple):
                if message[0] == "init_failed":
                    worker.proc.kill()
                    _reap(worker)
                    self.died(worker, message[1])
                    return
                continue  # ("ready",)
            self.emit(message)
            if isinstance(message, (Finished, Failed)):
                self.ended(message.trial_number)


def _reap(worker: _Worker) -> int | None:
    """The exit code of a worker whose socket closed (ended now if it lives on)."""
    try:
        code = worker.proc.wait(timeout=_EXIT_WAIT_S)
    except subprocess.TimeoutExpired:
        worker.proc.kill()
        code = worker.proc.wait(timeout=_EXIT_WAIT_S)
    worker.conn.close()
    return code


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "an unknown exit code"
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"
