"""The base of executors that keep a pool of long-lived workers, one trial at a time each: worker
processes, Ray actors, and any other kind (a Dask or a Kubernetes executor is a subclass of this with
six short methods). The base keeps the queue of submitted trials, which worker runs which trial, and the
rules every such executor shares: a stop that arrives before its trial started is kept for it; a worker
that dies fails the trial it ran with the cause and is replaced when next needed; a worker that cannot
be started fails the trial that needed it, never the study.

A subclass implements the template methods (`prepare`, `launch`, `send`, `ask_stop`, `kill`,
`release`, `finish`) and reports from its own threads with `ended(number)` (the worker is free again)
and `died(worker, cause)` (the worker is gone).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from hyperion_core.log import get_logger
from hyperion_core.protocols import Emit, Failed, TrialSpec

logger = get_logger(__name__)

W = TypeVar("W")


class PooledExecutor(Generic[W]):
    """An Executor (hyperion_core.protocols) over a pool of workers of type W."""

    #: a worker can be killed, so an abandoned trial really ends
    terminates = True
    #: the most trials that fit at once (None: as many as asked); a subclass sets it by prepare() at the latest
    capacity: int | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: list[W | None] = []
        self._free: list[int] = []  # slots without a trial
        self._queue: deque[TrialSpec] = deque()  # submitted, waiting for a free slot
        self._running: dict[int, int] = {}  # trial number -> slot
        self._current: dict[int, int] = {}  # slot -> trial number
        self._stop_early: set[int] = set()  # stops asked before their trial reached a worker
        self._closing = False
        self._emit: Emit = _nowhere

    # -- the template: what a kind of worker implements ------------------------------------------------
    def prepare(self, objective: Callable[..., Any], max_workers: int) -> int:
        """Once, before any worker: ship the objective, connect to the cluster, learn the capacity;
        returns how many workers to keep."""
        raise NotImplementedError

    def launch(self, slot: int) -> W:
        """Start the worker of this slot (it runs one trial at a time). Raise OSError or RuntimeError when
        it cannot be started: the trial that needed it then fails with that reason."""
        raise NotImplementedError

    def send(self, worker: W, spec: TrialSpec) -> None:
        """Hand the worker a trial; return at once. Its messages go to `self.emit`."""
        raise NotImplementedError

    def ask_stop(self, worker: W, number: int) -> None:
        """Make the trial's ctx.should_stop() true in the worker; it may come before the trial itself
        (a stop asked while the trial waited for a worker): keep it by trial number."""
        raise NotImplementedError

    def kill(self, worker: W) -> None:
        """End the worker now (its death then comes back through `died`)."""
        raise NotImplementedError

    def release(self, worker: W) -> None:
        """At shutdown: let an idle worker end."""
        self.kill(worker)

    def finish(self) -> None:
        """At shutdown, after every worker was released or killed: end what prepare() started."""
        return None

    # -- what a subclass reports -------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._closing

    def emit(self, message: Any) -> None:
        self._emit(message)

    def ended(self, number: int) -> None:
        """The trial's outcome was sent (or its worker's call returned): the worker takes the next trial."""
        with self._lock:
            slot = self._running.pop(number, None)
            if slot is None:
                return
            self._current.pop(slot, None)
            self._free.append(slot)
            self._dispatch()

    def died(self, worker: W, cause: str) -> None:
        """The worker is gone (`cause` says how): the trial it ran fails with the cause; a new worker takes
        its slot when a trial needs it."""
        with self._lock:
            slot = next((i for i, w in enumerate(self._workers) if w is worker), None)
            if slot is None:
                return  # already replaced
            self._workers[slot] = None
            number = self._current.pop(slot, None)
            if number is not None:
                self._running.pop(number, None)
                self._free.append(slot)
            self._dispatch()
        if number is not None and not self._closing:
            self._emit(Failed(number, cause, lost=True))

    # -- the Executor protocol ------------------------------------------------------------------------
    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit) -> None:
        self._emit = emit
        count = max(1, self.prepare(objective, max_workers))
        with self._lock:
            self._workers = [None] * count
            self._free = list(reversed(range(count)))
        for slot in range(count):  # warm up every worker now; one that fails to start is tried again later
            try:
                worker = self.launch(slot)
            except (OSError, RuntimeError) as exc:
                logger.warning("could not start worker %d: %s", slot, exc)
                continue
            with self._lock:
                self._workers[slot] = worker

    def submit(self, spec: TrialSpec) -> None:
        with self._lock:
            self._queue.append(spec)
            self._dispatch()

    def stop(self, trial_number: int) -> None:
        with self._lock:
            slot = self._running.get(trial_number)
            worker = self._workers[slot] if slot is not None else None
            if worker is None:
                self._stop_early.add(trial_number)  # it stops as soon as it starts
                return
        self._ask_stop(worker, trial_number)

    def abandon(self, trial_number: int) -> None:
        with self._lock:
            slot = self._running.get(trial_number)
            worker = self._workers[slot] if slot is not None else None
        if worker is not None:
            self.kill(worker)

    def shutdown(self) -> None:
        with self._lock:
            self._closing = True
            self._queue.clear()
            workers = [(w, slot in self._current) for slot, w in enumerate(self._workers) if w is not None]
        for worker, busy in workers:
            try:
                self.kill(worker) if busy else self.release(worker)  # a busy one runs a trial no one waits for
            except Exception as exc:  # already gone
                logger.debug("ending a worker: %s", exc)
        self.finish()

    # -- inside ------------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Give queued trials to free workers (the lock held)."""
        while self._queue and self._free and not self._closing:
            slot = self._free.pop()
            spec = self._queue.popleft()
            number = spec.number
            worker = self._workers[slot]
            if worker is None:
                try:
                    worker = self._workers[slot] = self.launch(slot)
                except (OSError, RuntimeError) as exc:  # out of processes or memory: this trial fails, not the study
                    self._free.append(slot)
                    self._stop_early.discard(number)
                    self._emit(Failed(number, f"could not start a worker for this trial ({exc}); lower max_concurrent"))
                    continue
            self._running[number] = slot
            self._current[slot] = number
            if number in self._stop_early:  # first: a worker keeps a stop by number until its trial starts
                self._stop_early.discard(number)
                self._ask_stop(worker, number)
            try:
                self.send(worker, spec)
            except (OSError, RuntimeError) as exc:  # the worker just died: its watcher reports that
                logger.debug("sending trial %d: %s", number, exc)

    def _ask_stop(self, worker: W, number: int) -> None:
        try:
            self.ask_stop(worker, number)
        except (OSError, RuntimeError) as exc:  # gone: its watcher reports that
            logger.debug("stopping trial %d: %s", number, exc)


def _nowhere(message: Any) -> None:
    return None
