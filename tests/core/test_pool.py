"""The pooled-executor base: a new kind of worker is six short methods, and the pool's rules (a stop before
the trial started, a dead worker, a worker that cannot start) hold for it as for processes and Ray."""

from __future__ import annotations

import threading

from hyperion import Float, ObjectiveResult, tune
from hyperion_core.context import TrialContext, run_trial
from hyperion_core.pool import PooledExecutor
from hyperion_core.protocols import TrialSpec


class _Worker:
    def __init__(self, pool: ThreadWorkers, slot: int) -> None:
        self.pool, self.slot = pool, slot
        self.stopped: set[int] = set()
        self.dead = False


class ThreadWorkers(PooledExecutor[_Worker]):
    """Workers that are threads standing in for remote machines; `fail_launches` of them cannot start, and
    a trial with x above `die_above` takes its worker down with it."""

    def __init__(self, fail_launches: int = 0, die_above: float = 2.0) -> None:
        super().__init__()
        self.fail_launches, self.die_above = fail_launches, die_above
        self.launched = 0

    def prepare(self, objective, max_workers):
        self.objective = objective
        return max_workers

    def launch(self, slot):
        if self.fail_launches > 0:
            self.fail_launches -= 1
            raise OSError("no room on the cluster")
        self.launched += 1
        return _Worker(self, slot)

    def send(self, worker, spec):
        number, params = spec.number, spec.params

        def run():
            if params["x"] > self.die_above:
                worker.dead = True
                self.died(worker, f"node lost while running x={params['x']}")
                return
            ctx = TrialContext(spec, self.emit, lambda: number in worker.stopped)
            run_trial(self.objective, ctx, self.emit)
            self.ended(number)

        threading.Thread(target=run, daemon=True).start()

    def ask_stop(self, worker, number):
        worker.stopped.add(number)

    def kill(self, worker):
        worker.dead = True


def test_a_new_kind_of_worker_is_a_short_subclass_and_follows_the_pool_rules():
    def objective(ctx, x):
        return ObjectiveResult(score=x)

    points = [{"x": 0.1}, {"x": 0.9}, {"x": 0.5}, {"x": 0.3}]
    pool = ThreadWorkers(fail_launches=0, die_above=0.8)
    result = tune(objective, {"x": Float(0, 1)}, executor=pool, max_concurrent=1, max_trials=4, initial_points=points)
    by_x = {t["params"]["x"]: t for t in result["trials"]}
    assert by_x[0.9]["state"] == "failed" and "node lost while running x=0.9" in by_x[0.9]["error"]
    assert all(by_x[x]["state"] == "completed" for x in (0.1, 0.5, 0.3))
    assert pool.launched == 2  # one at start, one to replace the lost worker


def test_a_worker_that_cannot_start_fails_its_trial_not_the_study():
    pool = ThreadWorkers(fail_launches=3)  # both slots at start, then the first trial's retry
    result = tune(lambda ctx, x: x, {"x": Float(0, 1)}, executor=pool, max_concurrent=2, max_trials=4, seed=0)
    states = sorted(t["state"] for t in result["trials"])
    assert states == ["completed", "completed", "completed", "failed"]
    failed = next(t for t in result["trials"] if t["state"] == "failed")
    assert "could not start a worker" in failed["error"] and "no room on the cluster" in failed["error"]


def test_a_stop_that_comes_before_the_trial_reached_a_worker_is_kept_for_it():
    import queue

    pool = ThreadWorkers()
    seen = []
    finished: queue.Queue[int] = queue.Queue()
    first_may_end = threading.Event()

    def objective(ctx, x):
        seen.append(ctx.should_stop())
        if ctx.number == 0:
            first_may_end.wait(30)  # trial 1 waits for the one worker until the stop was asked
        return x

    pool.start(objective, 1, lambda m: finished.put(m.trial_number) if type(m).__name__ == "Finished" else None)
    pool.submit(TrialSpec(0, "trial_0000", {"x": 0.2}))
    pool.submit(TrialSpec(1, "trial_0001", {"x": 0.3}))  # waits for the one worker
    pool.stop(1)
    first_may_end.set()
    assert [finished.get(timeout=30), finished.get(timeout=30)] == [0, 1]
    assert seen == [False, True]
    pool.shutdown()
