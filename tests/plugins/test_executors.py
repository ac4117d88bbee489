"""The executor contract, run against every bundled executor: results, reports, stop, crashes."""

from __future__ import annotations

import pytest

from hyperion import Choice, ConfigurationError, Float, ObjectiveError, ObjectiveResult, tune
from tests.objectives import cooperative, crash, quadratic, reporting

# (executor, max_concurrent): the thread executor runs inline with one slot and on threads with more.
MODES = [("thread", 1), ("thread", 3), ("process", 1), ("process", 2)]


@pytest.mark.parametrize(("executor", "concurrent"), MODES)
def test_results_come_back_for_every_trial(executor, concurrent):
    result = tune(
        quadratic,
        {"x": Float(0, 1), "y": Float(0, 1)},
        max_trials=8,
        max_concurrent=concurrent,
        executor=executor,
        seed=3,
    )
    assert result["study"]["completed"] == 8
    assert all(t["metrics"]["x_seen"] == t["params"]["x"] for t in result["trials"])


@pytest.mark.parametrize(("executor", "concurrent"), MODES)
def test_reports_reach_the_study_and_drive_the_metric(executor, concurrent):
    result = tune(
        reporting,
        {"x": Float(0, 1)},
        max_trials=4,
        max_concurrent=concurrent,
        executor=executor,
        metric="loss",
        mode="min",
        seed=1,
    )
    for trial in result["trials"]:
        assert trial["last_step"] == 4
    assert result["best"]["value"] == min(t["params"]["x"] for t in result["trials"])


@pytest.mark.parametrize(("executor", "concurrent"), MODES)
def test_a_stop_request_reaches_should_stop(executor, concurrent):
    from hyperion import Kill
    from hyperion_strategies.random import RandomSearch

    class KillAfterThreeReports(RandomSearch):
        def kills(self, study):
            return [
                Kill(t.number, "pruned by the test")
                for t in study.running.values()
                if t.last_step is not None and t.last_step >= 3 and not t.stop_requested
            ]

    result = tune(
        cooperative,
        {"x": Float(0, 1)},
        strategy=KillAfterThreeReports(),
        max_trials=3,
        max_concurrent=concurrent,
        executor=executor,
        grace_period_s=30,
    )
    assert result["study"]["killed"] == 3
    for trial in result["trials"]:
        assert trial["state"] == "killed" and trial["kill_reason"] == "pruned by the test"
        assert 3 <= trial["metrics"]["stopped_at"] < 50  # it saw should_stop() turn true and ended


@pytest.mark.parametrize(("executor", "concurrent"), MODES)
def test_an_exception_fails_only_that_trial(executor, concurrent):
    result = tune(
        crash, {"how": Choice(["raise", "ok"])}, strategy="grid", max_concurrent=concurrent, executor=executor
    )
    by_how = {t["params"]["how"]: t for t in result["trials"]}
    assert by_how["raise"]["state"] == "failed"
    assert by_how["raise"]["error"].startswith("RuntimeError: boom from the objective")
    assert by_how["ok"]["state"] == "completed"


@pytest.mark.parametrize(
    ("how", "code"),
    [("exit", "exit code 3"), ("sigkill", "exit code -9 (SIGKILL)"), ("segfault", "exit code -11 (SIGSEGV)")],
)
def test_a_dying_worker_process_fails_the_trial_with_its_exit_code(how, code):
    result = tune(
        crash,
        {"how": Choice([how, "ok"])},
        strategy="grid",
        executor="process",
        max_trials=4,
        strategy_kwargs={},
        max_concurrent=1,
    )
    by_how = {t["params"]["how"]: t for t in result["trials"]}
    assert by_how[how]["state"] == "failed"
    assert code in by_how[how]["error"] and "worker process died" in by_how[how]["error"]
    assert by_how["ok"]["state"] == "completed"  # a replacement worker ran the next trial


def test_process_executor_runs_closures_and_lambdas():
    offset = 0.25

    def closure(ctx, x):
        ctx.report(step=0, seen=x)
        return ObjectiveResult(score=x + offset)

    result = tune(closure, {"x": Float(0, 1)}, executor="process", max_trials=3, max_concurrent=2, seed=0)
    assert all(t["score"] == pytest.approx(t["params"]["x"] + offset) for t in result["trials"])
    result = tune(lambda ctx, x: -x, {"x": Float(0, 1)}, executor="process", max_trials=2)
    assert result["study"]["completed"] == 2


def test_process_executor_refuses_an_unpicklable_objective_up_front():
    import threading

    lock = threading.Lock()

    def holds_a_lock(ctx, x):
        with lock:
            return x

    with pytest.raises(ObjectiveError, match="cannot send the objective to a worker process.*executor='thread'"):
        tune(holds_a_lock, {"x": Float(0, 1)}, executor="process", max_trials=1)


def test_process_executor_fails_a_trial_whose_result_cannot_be_sent_back():
    def returns_a_generator(ctx, x):
        return ObjectiveResult(score=x, artifacts={"gen": (i for i in range(3))})

    result = tune(returns_a_generator, {"x": Float(0, 1)}, executor="process", max_trials=1)
    assert result["trials"][0]["state"] == "failed"
    assert "could not be sent back" in result["trials"][0]["error"]


def test_process_executor_runs_an_objective_defined_in_a_scripts_main(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "from hyperion import tune, Float\n"
        "def objective(ctx, x):\n"
        "    ctx.report(step=0, x=x)\n"
        "    return -(x - 0.5) ** 2\n"
        "# no __main__ guard on purpose: workers must not re-run this script\n"
        "r = tune(objective, {'x': Float(0, 1)}, executor='process', max_trials=4, max_concurrent=2)\n"
        "print(r['study']['completed'], r['study']['failed'])\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.stdout.strip() == "4 0", run.stderr


def test_ctrl_c_marks_running_trials_interrupted_and_keeps_finished_ones():
    from hyperion_storage.memory import MemoryStorage

    def objective(ctx, x):
        if ctx.number == 2:
            raise KeyboardInterrupt
        return x

    storage = MemoryStorage()
    with pytest.raises(KeyboardInterrupt):
        tune(objective, {"x": Float(0, 1)}, max_trials=10, storage=storage, max_concurrent=1, seed=0)
    states = [t.state.value for t in storage.load_trials("objective")]
    assert states == ["completed", "completed", "interrupted"]


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_keyboard_interrupt_inside_a_worker_fails_only_that_trial(executor):
    def objective(ctx, x):
        if ctx.number == 1:
            raise KeyboardInterrupt
        return x

    result = tune(objective, {"x": Float(0, 1)}, max_trials=4, max_concurrent=2, executor=executor)
    assert [t["state"] for t in result["trials"]].count("failed") == 1
    assert result["trials"][1]["error"].startswith("KeyboardInterrupt")


def sees_its_gpus(ctx, x):
    import os

    return ObjectiveResult(score=x, metrics={"gpus": os.environ.get("CUDA_VISIBLE_DEVICES")})


def test_process_workers_each_get_their_own_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,7,9")  # a fake device list: nothing touches a GPU
    result = tune(
        sees_its_gpus,
        {"x": Float(0, 1)},
        executor="process",
        resources_per_trial={"gpu": 2},
        max_trials=8,
        max_concurrent=4,
    )
    assert result["study"]["completed"] == 8
    assert {t["metrics"]["gpus"] for t in result["trials"]} <= {"3,5", "7,9"}
    assert any("lowered to 2" in n for n in result["study"]["notes"])  # four devices, two per trial


def test_gpu_requests_that_cannot_be_met_are_clear_errors(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(ConfigurationError, match="asks for 2 GPU.*shows 1"):
        tune(sees_its_gpus, {"x": Float(0, 1)}, executor="process", resources_per_trial={"gpu": 2}, max_trials=1)
    with pytest.raises(ConfigurationError, match="executor='thread' cannot give each trial its own GPU"):
        tune(sees_its_gpus, {"x": Float(0, 1)}, resources_per_trial={"gpu": 1}, max_trials=1)
    with pytest.raises(ConfigurationError, match="resources_per_trial: 'cpu' must be a number >= 0"):
        tune(sees_its_gpus, {"x": Float(0, 1)}, resources_per_trial={"cpu": -1}, max_trials=1)


def test_process_executor_fails_a_trial_whose_result_this_process_cannot_read(tmp_path):
    """A result whose class only the worker can import (here: a module on the worker's path alone; the
    same happens with another Hyperion version in the worker) fails its trial; the study goes on."""
    folder = str(tmp_path)
    # written once, before any worker runs: two workers writing it at once could import a half-written file
    (tmp_path / "only_in_the_worker.py").write_text("class Stranger:\n    pass\n")

    def returns_a_stranger(ctx, x):
        import sys

        if x > 0.5:
            if folder not in sys.path:
                sys.path.insert(0, folder)
            from only_in_the_worker import Stranger

            return ObjectiveResult(score=x, artifacts={"model": Stranger()})
        return x

    result = tune(returns_a_stranger, {"x": Float(0, 1)}, executor="process", max_trials=6, max_concurrent=2, seed=3)
    states = {t["number"]: t for t in result["trials"]}
    strangers = [t for t in states.values() if t["params"]["x"] > 0.5]
    seen = [(t["number"], round(t["params"]["x"], 3), t["state"], t["error"]) for t in states.values()]
    assert strangers and all(t["state"] == "failed" for t in strangers), seen
    assert all("could not be read" in t["error"] and "only_in_the_worker" in t["error"] for t in strangers), seen
    assert all(t["state"] == "completed" for t in states.values() if t["params"]["x"] <= 0.5), seen
