"""The thread executor: a fixed pool of daemon threads; good for I/O-bound objectives and
objectives that release the GIL (numpy, torch).

With one trial at a time and no time limit the loop asks for `inline` mode: trials then run on the
loop's own thread, which saves two thread switches per trial (it doubles throughput for cheap
objectives) and changes nothing a trial can observe except the thread it runs on.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from hyperion_core.context import TrialContext, run_trial
from hyperion_core.errors import ConfigurationError
from hyperion_core.protocols import Emit, Failed, TrialSpec
from hyperion_executors._resources import Allocation


class ThreadExecutor:
    #: A thread cannot be killed: an abandoned trial finishes in the background, unheard.
    terminates = False

    def __init__(self, resources_per_trial: dict[str, float] | None = None) -> None:
        if (resources_per_trial or {}).get("gpu"):
            raise ConfigurationError(
                "executor='thread' cannot give each trial its own GPU (threads share one process and its devices): "
                "use executor='process' or executor='ray' with resources_per_trial"
            )
        #: the most trials that fit at once given resources_per_trial (None: as many as asked)
        self.capacity = Allocation(resources_per_trial, "thread").capacity
        self._jobs: queue.SimpleQueue[TrialSpec | None] = queue.SimpleQueue()
        self._stopped: set[int] = set()
        self._abandoned: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._inline = False
        self._pending: deque[TrialSpec] = deque()
        self._lock = threading.Lock()
        self._busy = 0  # trials submitted to the pool and not yet ended
        self._live = 0  # pool threads that take jobs

    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit, inline: bool = False) -> None:
        self._objective = objective
        self._emit = emit
        self._inline = inline

    def _ensure_thread(self, trial_number: int) -> bool:
        """Threads start with the trials that need them (the loop never submits more than max_concurrent);
        False, and the trial failed, when the system refuses a new thread."""
        with self._lock:
            self._busy += 1
            if self._busy <= self._live:
                return True
            self._live += 1
        try:
            self._add_thread()
        except RuntimeError as exc:  # "can't start new thread": this trial fails, the study goes on
            with self._lock:
                self._busy -= 1
                self._live -= 1
            self._emit(Failed(trial_number, f"could not start a thread for this trial ({exc}); lower max_concurrent"))
            return False
        return True

    def run_queued(self, emit: Emit) -> bool:
        """Inline mode: run the submitted trials on the calling (loop) thread; False if there were none."""
        ran = False
        while self._pending:
            spec = self._pending.popleft()
            number = spec.number
            ctx = TrialContext(spec, emit, functools.partial(self._stopped.__contains__, number))
            run_trial(self._objective, ctx, emit, interruptible=True)
            self._stopped.discard(number)
            ran = True
        return ran

    def _add_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"hyperion-trial-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        jobs, stopped, emit, objective = self._jobs, self._stopped, self._emit, self._objective
        while True:
            job = jobs.get()
            if job is None:
                return
            number = job.number
            ctx = TrialContext(job, emit, functools.partial(stopped.__contains__, number))
            run_trial(objective, ctx, emit)
            stopped.discard(number)
            with self._lock:
                self._busy -= 1
                if number in self._abandoned:
                    self._live -= 1
                    return  # a replacement thread took this one's place when it was abandoned

    def submit(self, spec: TrialSpec) -> None:
        if self._inline:
            self._pending.append(spec)
        elif self._ensure_thread(spec.number):
            self._jobs.put(spec)

    def stop(self, trial_number: int) -> None:
        self._stopped.add(trial_number)

    def abandon(self, trial_number: int) -> None:
        with self._lock:
            self._abandoned.add(trial_number)
            self._live += 1
        try:
            self._add_thread()  # keep the pool's capacity while the abandoned trial runs on
        except RuntimeError:
            with self._lock:
                self._live -= 1

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        # Daemon threads still inside a trial (abandoned, or a study that was interrupted) are not
        # waited for: they end with the trial, or with the interpreter.
