"""The Ray executor: trials run on a Ray cluster (a local one, or `ray start` / `ray://` clusters).

The study loop stays the one owner, on the driver (design.md, section 8). A pool (hyperion_core.pool)
of `max_concurrent` worker actors each receives the objective once, at creation, and runs trials one
after another.
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
from hyperion_core.pool import PooledExecutor
from hyperion_core.protocols import TrialSpec

logger = get_logger(__name__)

_POLL_S = 0.05
_FLUSH_S = 0.02  # the longest a report waits in a worker before it is sent (one call per batch)
_RAY_NAMES = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}  # resources_per_trial's names -> Ray's


class RayExecutor(PooledExecutor[Any]):
    """address: None starts a local Ray (or uses the one your program already started with
    ray.init()); "auto" joins the cluster of this machine; "ray://host:10001" a remote one.
    runtime_env: passed to Ray as it is (working_dir, pip, env_vars, ...). init_kwargs: more
    ray.init() arguments. resources_per_trial: {"cpu": 2, "gpu": 1, "<custom>": n} per trial."""

    def __init__(
        self,
        address: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        init_kwargs: dict[str, Any] | None = None,
        resources_per_trial: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
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
        self.capacity: int | None = None  # known once Ray is up (prepare)
        self._calls_lock = threading.Lock()
        self._calls: dict[Any, tuple[Any, int]] = {}  # run ref -> (actor, trial number)
        self._stopping = threading.Event()

    # -- the pool's template ----------------------------------------------------------------------------
    def prepare(self, objective: Callable[..., Any], max_workers: int) -> int:
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
        self._payload = ray.put(payload)  # in the object store once; each worker fetches it once
        self._channel = _channel_class(ray).remote()
        self._worker_class = _worker_class(ray)
        self._watcher = threading.Thread(target=self._watch, name="hyperion-ray-watcher", daemon=True)
        self._watcher.start()
        return min(max_workers, self.capacity)

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

    def launch(self, slot: int) -> Any:
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

    def send(self, worker: Any, spec: TrialSpec) -> None:
        number = spec.number
        with self._calls_lock:
            self._calls[worker.run.remote(spec)] = (worker, number)

    def ask_stop(self, worker: Any, number: int) -> None:
        worker.stop.remote(number)  # a second thread of the actor: should_stop() is a local flag there

    def kill(self, worker: Any) -> None:
        """Force the trial's end: the actor is killed (the same as ray.cancel(force=True) for a task)."""
        self._ray.kill(worker, no_restart=True)  # the watcher sees its call fail and reports the death

    def finish(self) -> None:
        self._stopping.set()
        try:
            self._ray.kill(self._channel, no_restart=True)
        except Exception:
            pass
        if hasattr(self, "_watcher"):
            self._watcher.join(timeout=10)
        if self._started_ray:
            self._ray.shutdown()

    # -- the watcher ---------------------------------------------------------------------------------
    def _watch(self) -> None:
        ray = self._ray
        pending_take = self._channel.take.remote(_POLL_S)
        while not self._stopping.is_set():
            with self._calls_lock:
                refs = list(self._calls)
            ready, _ = ray.wait([pending_take, *refs], num_returns=1, timeout=_POLL_S * 4)
            if self._stopping.is_set():
                return
            if pending_take in ready:
                try:
                    messages = ray.get(pending_take)
                except Exception as exc:  # the channel itself is gone: nothing more can arrive
                    if not self._stopping.is_set():
                        logger.warning("the Ray channel actor died: %s", exc)
                    return
                for message in messages:
                    self.emit(message)
                pending_take = self._channel.take.remote(_POLL_S)
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0) if refs else ([], [])
            for ref in done:
                pending_take = self._returned(ref, pending_take)

    def _returned(self, ref: Any, pending_take: Any) -> Any:
        """A worker's run call returned: normally (its outcome came through the channel) or with an error
        (the actor or its node died). Returns the channel's take call to wait on next."""
        ray = self._ray
        with self._calls_lock:
            worker, number = self._calls.pop(ref)
        try:
            ray.get(ref)
        except Exception as exc:
            # After a death the channel may still hold the trial's last messages (its last reports and
            # checkpoints, which the trial continues from): the take in flight first, then what is left,
            # all before the death, so a trial that finished just before is not failed either.
            for take in (pending_take, self._channel.take.remote(0.0)):
                try:
                    for message in ray.get(take, timeout=5):
                        self.emit(message)
                except Exception:
                    pass
            self.died(worker, f"the Ray worker running this trial died: {_describe_death(exc)}")
            return self._channel.take.remote(_POLL_S)
        self.ended(number)
        return pending_take


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

            def _flush(self, wait: bool = False) -> None:
                with self.lock:
                    batch, self.outbox = self.outbox, []
                    if batch:  # under the lock: batches leave in order (one caller's calls run in order)
                        sent = self.channel.put.remote(batch)
                        if wait:  # a checkpoint: in the channel before the trial goes on, so that a death
                            ray.get(sent, timeout=30)  # after it still finds it recorded

            def _flush_often(self) -> None:
                while True:  # reports leave within _FLUSH_S; outcomes at once (below)
                    time.sleep(_FLUSH_S)
                    if self.outbox:
                        self._flush()

            def run(self, spec: Any) -> None:
                from hyperion_core.context import TrialContext, run_trial
                from hyperion_core.protocols import Checkpointed, Reported

                def emit(message: Any) -> None:
                    with self.lock:
                        self.outbox.append(message)
                    if not isinstance(message, Reported):
                        self._flush(wait=isinstance(message, Checkpointed))

                number = spec.number
                ctx = TrialContext(spec, emit, lambda: number in self.stopped)
                run_trial(self.objective, ctx, emit)
                self.stopped.discard(number)

        _classes["worker"] = _Worker
    return _classes["worker"]
