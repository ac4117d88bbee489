"""The Ray executor: trials run on a Ray cluster (a local one, or `ray start` / `ray://` clusters).

The study loop stays the one owner, on the driver (design.md, section 8). A pool of `max_concurrent`
worker actors each receives the objective once, at creation, and runs trials one after another.
A trial's reports and its outcome travel through one small channel actor, in order; a watcher thread
on the driver long-polls that channel and turns what it gets into the loop's messages. Stop requests
go straight to the worker actor (a second thread in it), so `ctx.should_stop()` is a local flag.
A worker (or node) that dies fails its trial with the cause; Ray's own retries are off, so the
storage is the only record of what re-runs. Abandoning a trial kills its actor, which is replaced.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from hyperion_core.errors import ConfigurationError, ObjectiveError
from hyperion_core.log import get_logger
from hyperion_core.protocols import Emit, Failed

logger = get_logger(__name__)

_POLL_S = 0.05
_FLUSH_S = 0.02  # the longest a report waits in a worker before it is sent (one call per batch)
_RAY_NAMES = {
    "cpu": "CPU",
    "gpu": "GPU",
    "memory": "memory",
}  # the longest the watcher waits on the channel before it checks for dead workers


class RayExecutor:
    """address: None starts a local Ray (or uses the one your program already started with
    ray.init()); "auto" joins the cluster of this machine; "ray://host:10001" a remote one.
    runtime_env: passed to Ray as it is (working_dir, pip, env_vars, ...). init_kwargs: more
    ray.init() arguments. resources_per_trial: {"cpu": 2, "gpu": 1, "<custom>": n} per trial."""

    terminates = True

    def __init__(
        self,
        address: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        init_kwargs: dict[str, Any] | None = None,
        resources_per_trial: dict[str, float] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigurationError("executor='ray' needs Ray: pip install 'hyperion-tune[ray]'") from exc
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise ConfigurationError(f"executor_kwargs: runtime_env must be a dict, got {runtime_env!r}")
        self._ray = ray
        self.address = address
        self.runtime_env = runtime_env
        self.init_kwargs = dict(init_kwargs or {})
        self.resources = dict(resources_per_trial or {})
        for name, amount in self.resources.items():
            _check_ray_amount(name, amount)
        self._started_ray = False
        self.capacity: int | None = None  # known once Ray is up (start)
        self._lock = threading.Lock()
        self._workers: list[Any] = []  # slot -> actor
        self._free: list[int] = []  # slots without a trial
        self._queue: list[tuple[int, str, dict[str, Any]]] = []  # submitted, waiting for a free slot
        self._running: dict[Any, tuple[int, int]] = {}  # run ref -> (slot, trial number)
        self._slot_of: dict[int, int] = {}  # trial number -> slot
        self._closing = threading.Event()

    # -- setup -----------------------------------------------------------------------------------------
    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit) -> None:
        import cloudpickle

        ray = self._ray
        try:
            payload = cloudpickle.dumps(objective)
        except Exception as exc:
            raise ObjectiveError(
                f"executor='ray' cannot send the objective to the cluster: {type(exc).__name__}: {exc}. Make it a "
                "module-level function and create unpicklable things (files, locks, connections) inside it."
            ) from exc
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, **self.init_kwargs}
            if self.address is not None:
                kwargs["address"] = self.address
            env = self.runtime_env
            if self.address is None:  # a local cluster: its workers import what this process imports
                env_vars = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
                env = {**(env or {}), "env_vars": {**env_vars, **(env or {}).get("env_vars", {})}}
            if env is not None:
                kwargs["runtime_env"] = env
            ray.init(**kwargs)
            self._started_ray = True
        self.capacity = self._capacity(ray.cluster_resources())
        max_workers = min(max_workers, self.capacity)
        self._emit = emit
        self._payload = ray.put(payload)  # in the object store once; each worker fetches it once
        self._channel = _channel_class(ray).remote()
        self._worker_class = _worker_class(ray)
        for slot in range(max_workers):
            self._workers.append(self._new_worker())
            self._free.append(slot)
        self._watcher = threading.Thread(target=self._watch, name="hyperion-ray-watcher", daemon=True)
        self._watcher.start()

    def _capacity(self, cluster: dict[str, float]) -> int:
        """How many trials the cluster holds at once with resources_per_trial (never more: a worker
        that can never be placed would wait forever)."""
        wanted = {"CPU": 1.0, **{_RAY_NAMES.get(k, k): float(v) for k, v in self.resources.items()}}
        fits = [int(cluster.get(name, 0.0) // amount) for name, amount in wanted.items() if amount > 0]
        capacity = min(fits) if fits else 10_000
        if capacity < 1:
            have = ", ".join(f"{k}={v:g}" for k, v in sorted(cluster.items()) if not k.startswith("node:")) or "none"
            raise ConfigurationError(
                f"the Ray cluster cannot hold even one trial: resources_per_trial asks for "
                f"{', '.join(f'{k}={v:g}' for k, v in wanted.items())}, the cluster has {have}"
            )
        return capacity

    def _new_worker(self) -> Any:
        options: dict[str, Any] = {"max_restarts": 0, "max_task_retries": 0, "max_concurrency": 2}
        resources = dict(self.resources)
        options["num_cpus"] = resources.pop("cpu", 1)
        if "gpu" in resources:
            options["num_gpus"] = resources.pop("gpu")
        if "memory" in resources:
            options["memory"] = resources.pop("memory")
        if resources:
            options["resources"] = resources
        return self._worker_class.options(**options).remote(self._payload, self._channel)

    # -- the loop's calls ----------------------------------------------------------------------------
    def submit(self, trial_number: int, trial_id: str, params: dict[str, Any]) -> None:
        with self._lock:
            self._queue.append((trial_number, trial_id, params))
            self._dispatch()

    def _dispatch(self) -> None:
        """Give queued trials to free workers (called with the lock held)."""
        while self._queue and self._free:
            number, trial_id, params = self._queue.pop(0)
            slot = self._free.pop()
            ref = self._workers[slot].run.remote(number, trial_id, params)
            self._running[ref] = (slot, number)
            self._slot_of[number] = slot

    def stop(self, trial_number: int) -> None:
        with self._lock:
            slot = self._slot_of.get(trial_number)
            if slot is not None:
                self._workers[slot].stop.remote(trial_number)
            else:
                self._queue = [job for job in self._queue if job[0] != trial_number]

    def abandon(self, trial_number: int) -> None:
        """Force the trial's end: its actor is killed (the same as ray.cancel(force=True) for a task)."""
        with self._lock:
            slot = self._slot_of.get(trial_number)
            if slot is not None:
                self._ray.kill(self._workers[slot], no_restart=True)  # the watcher sees it die and replaces it

    def shutdown(self) -> None:
        self._closing.set()
        ray = self._ray
        with self._lock:
            for worker in self._workers:
                try:
                    ray.kill(worker, no_restart=True)
                except Exception:  # already gone
                    pass
            try:
                ray.kill(self._channel, no_restart=True)
            except Exception:
                pass
        if hasattr(self, "_watcher"):
            self._watcher.join(timeout=10)
        if self._started_ray:
            ray.shutdown()

    # -- the watcher ---------------------------------------------------------------------------------
    def _watch(self) -> None:
        ray = self._ray
        pending_take = self._channel.take.remote(_POLL_S)
        while not self._closing.is_set():
            with self._lock:
                refs = list(self._running)
            ready, _ = ray.wait([pending_take, *refs], num_returns=1, timeout=_POLL_S * 4)
            if self._closing.is_set():
                return
            if pending_take in ready:
                try:
                    messages = ray.get(pending_take)
                except Exception as exc:  # the channel itself is gone: nothing more can arrive
                    if not self._closing.is_set():
                        logger.warning("the Ray channel actor died: %s", exc)
                    return
                for message in messages:
                    self._emit(message)
                pending_take = self._channel.take.remote(_POLL_S)
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0) if refs else ([], [])
            for ref in done:
                self._ended(ref)

    def _ended(self, ref: Any) -> None:
        """A worker's run call returned: normally (its outcome came through the channel) or with an error
        (the actor or its node died)."""
        ray = self._ray
        with self._lock:
            slot, number = self._running.pop(ref)
            self._slot_of.pop(number, None)
        try:
            ray.get(ref)
            died = None
        except Exception as exc:
            died = _describe_death(exc)
        with self._lock:
            if died is not None:
                self._workers[slot] = self._new_worker()
            self._free.append(slot)
            self._dispatch()
        if died is not None:
            # After a death the channel may still hold the trial's last messages: flush them first so
            # a trial that finished just before is not failed (the loop ignores trials already ended).
            try:
                for message in ray.get(self._channel.take.remote(0.0), timeout=5):
                    self._emit(message)
            except Exception:
                pass
            self._emit(Failed(number, f"the Ray worker running this trial died: {died}"))


def _check_ray_amount(name: str, amount: float) -> None:
    """Ray's own rules for an amount, said before Ray refuses it with a bare ValueError: memory in whole
    bytes; other resources in steps of 0.0001 below 1 and whole numbers above it."""
    if name == "memory":
        if amount != int(amount) or amount < 1:
            raise ConfigurationError(f"resources_per_trial: memory is in bytes (e.g. 2 * 1024**3), got {amount!r}")
        return
    if 0 < amount < 1 and round(amount, 4) != amount or amount and round(amount, 4) == 0:
        raise ConfigurationError(
            f"resources_per_trial: Ray counts {name!r} in steps of 0.0001 below 1 (e.g. 0.25), got {amount!r}"
        )
    if amount > 1 and amount != int(amount):
        raise ConfigurationError(f"resources_per_trial: Ray needs a whole number of {name!r} above 1, got {amount!r}")


def _describe_death(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


_classes: dict[str, Any] = {}


def _channel_class(ray: Any) -> Any:
    if "channel" not in _classes:
        import asyncio

        @ray.remote(num_cpus=0, max_restarts=0)
        class _Channel:
            """Messages from every worker, in the order each sent them; the driver long-polls `take`."""

            def __init__(self) -> None:
                self.messages: list[Any] = []
                self.event = asyncio.Event()

            async def put(self, batch: list[Any]) -> None:
                self.messages.extend(batch)
                self.event.set()

            async def take(self, timeout: float) -> list[Any]:
                if not self.messages and timeout > 0:
                    try:
                        await asyncio.wait_for(self.event.wait(), timeout)
                    except asyncio.TimeoutError:
                        pass
                out, self.messages = self.messages, []
                self.event.clear()
                return out

        _classes["channel"] = _Channel
    return _classes["channel"]


def _worker_class(ray: Any) -> Any:
    if "worker" not in _classes:

        @ray.remote
        class _Worker:
            """Runs trials one after another with the objective it was given once."""

            def __init__(self, payload: bytes, channel: Any) -> None:
                import cloudpickle

                self.objective = cloudpickle.loads(payload)
                self.channel = channel
                self.stopped: set[int] = set()
                self.outbox: list[Any] = []
                self.lock = threading.Lock()
                threading.Thread(target=self._flush_often, daemon=True).start()

            def stop(self, number: int) -> None:
                self.stopped.add(number)

            def _flush(self) -> None:
                with self.lock:
                    batch, self.outbox = self.outbox, []
                    if batch:  # under the lock: batches leave in order (one caller's calls run in order)
                        self.channel.put.remote(batch)

            def _flush_often(self) -> None:
                while True:  # reports leave within _FLUSH_S; outcomes at once (below)
                    time.sleep(_FLUSH_S)
                    if self.outbox:
                        self._flush()

            def run(self, number: int, trial_id: str, params: dict[str, Any]) -> None:
                from hyperion_core.context import TrialContext, run_trial
                from hyperion_core.protocols import Reported

                def emit(message: Any) -> None:
                    with self.lock:
                        self.outbox.append(message)
                    if not isinstance(message, Reported):
                        self._flush()

                ctx = TrialContext(number, trial_id, params, emit, lambda: number in self.stopped)
                run_trial(self.objective, ctx, emit)
                self.stopped.discard(number)

        _classes["worker"] = _Worker
    return _classes["worker"]
