"""executor="ray" on a real local Ray (num_cpus=2): reports and kills both ways, a worker killed with
SIGKILL mid-trial, a failing objective, a trial that ignores should_stop(), resources_per_trial."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from hyperion import ConfigurationError, Float, Kill, ObjectiveResult, tune
from hyperion_strategies.random import RandomSearch

pytestmark = pytest.mark.ray


SPACE = {"x": Float(0, 1)}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray  # the extra ray: pip install -e '.[ray]' (this module runs with -m ray)

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
        log_to_driver=False,
    )
    yield
    ray.shutdown()


RAY = {"executor": "ray", "resources_per_trial": {"cpu": 0.25}}


def reporting(ctx, x):
    for step in range(5):
        ctx.report(step=step, loss=x + step)
    return ObjectiveResult(score=x, metrics={"pid": os.getpid()})


def test_trials_run_on_ray_with_their_reports_and_the_study_counts_are_exact():
    result = tune(reporting, SPACE, max_trials=40, max_concurrent=4, seed=0, **RAY)
    assert result["study"]["completed"] == 40 and result["study"]["trials"] == 40
    assert [t["number"] for t in result["trials"]] == list(range(40))
    assert all(t["last_step"] == 4 for t in result["trials"])
    assert result["best"]["value"] == max(t["params"]["x"] for t in result["trials"])
    pids = {t["metrics"]["pid"] for t in result["trials"]}
    assert os.getpid() not in pids and len(pids) <= 4  # a pool of worker actors, each reused


def cooperative(ctx, x):
    for step in range(400):
        ctx.report(step=step, loss=x)
        if ctx.should_stop():
            return ObjectiveResult(score=x, metrics={"stopped_at": step})
        time.sleep(0.01)
    return ObjectiveResult(score=x, metrics={"stopped_at": -1})


class KillAtStepThree(RandomSearch):
    def kills(self, study):
        return [
            Kill(t.number, "pruned by the test")
            for t in study.running.values()
            if t.last_step is not None and t.last_step >= 3 and not t.stop_requested
        ]


def test_a_kill_reaches_should_stop_on_the_worker():
    result = tune(
        cooperative, SPACE, strategy=KillAtStepThree(), max_trials=4, max_concurrent=2, grace_period_s=30, **RAY
    )
    assert result["study"]["killed"] == 4
    for trial in result["trials"]:
        assert trial["kill_reason"] == "pruned by the test"
        assert 3 <= trial["metrics"]["stopped_at"] < 100  # it saw should_stop() turn true soon after


def stubborn(ctx, x):
    if ctx.number == 0:
        time.sleep(120)  # ignores should_stop(): the actor is killed after the grace period
    return x


def test_a_trial_that_ignores_stop_is_killed_and_its_worker_replaced():
    # trial_timeout_s counts from the objective's start (the Started message), not from submission: a
    # worker's start-up on a busy machine does not eat into it, so 3 s is plenty for the quick trials.
    result = tune(stubborn, SPACE, max_trials=6, max_concurrent=2, trial_timeout_s=3, grace_period_s=1, **RAY)
    assert (
        result["trials"][0]["state"] == "killed" and "trial_timeout_s=3 reached" in result["trials"][0]["kill_reason"]
    )
    assert "never started" not in result["trials"][0]["kill_reason"]
    assert result["study"]["completed"] == 5


def dies(ctx, x):
    if ctx.number == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    if ctx.number == 3:
        raise ValueError("a bad trial")
    return x


def test_a_worker_killed_mid_trial_and_a_failing_objective_fail_only_their_trials():
    result = tune(dies, SPACE, max_trials=10, max_concurrent=2, **RAY)
    states = {t["number"]: t for t in result["trials"]}
    assert states[2]["state"] == "failed" and "Ray worker running this trial died" in states[2]["error"]
    assert states[3]["state"] == "failed" and states[3]["error"].startswith("ValueError: a bad trial")
    assert result["study"]["completed"] == 8 and result["study"]["trials"] == 10


def test_resources_per_trial_cap_concurrency_and_impossible_ones_are_refused():
    result = tune(reporting, SPACE, executor="ray", resources_per_trial={"cpu": 1}, max_trials=4, max_concurrent=4)
    assert any("lowered to 2" in n for n in result["study"]["notes"])  # two CPUs, one per trial
    with pytest.raises(ConfigurationError, match="cannot hold even one trial.*special=1"):
        tune(reporting, SPACE, executor="ray", resources_per_trial={"special": 1}, max_trials=1)
    with pytest.raises(ConfigurationError, match="steps of 0.0001 below 1"):
        tune(reporting, SPACE, executor="ray", resources_per_trial={"cpu": 1e-9}, max_trials=1)
    with pytest.raises(ConfigurationError, match="whole number of 'cpu' above 1"):
        tune(reporting, SPACE, executor="ray", resources_per_trial={"cpu": 1.5}, max_trials=1)
    with pytest.raises(ConfigurationError, match="memory is in bytes"):
        tune(reporting, SPACE, executor="ray", resources_per_trial={"memory": 0.5}, max_trials=1)
    big = tune(reporting, SPACE, executor="ray", resources_per_trial={"cpu": 0.25, "memory": 2**20}, max_trials=2)
    assert big["study"]["completed"] == 2  # memory in bytes is not refused by a cap meant for counts


def test_executor_kwargs_are_checked_like_strategy_kwargs():
    with pytest.raises(ConfigurationError, match="executor 'ray' does not accept 'adress'.*accepts: address"):
        tune(reporting, SPACE, executor="ray", executor_kwargs={"adress": "auto"}, max_trials=1)


CLUSTER_STUDY = """
import ray
from hyperion import tune, Float, ObjectiveResult

def objective(ctx, x):
    import time
    time.sleep(0.05)
    return ObjectiveResult(score=x, metrics={"node": ray.get_runtime_context().get_node_id()})

r = tune(objective, {"x": Float(0, 1)}, executor="ray", executor_kwargs={"address": "127.0.0.1:PORT"},
         resources_per_trial={"cpu": 1}, max_trials=30, max_concurrent=2)
print(r["study"]["completed"], len({t["metrics"]["node"] for t in r["trials"]}))
"""


@pytest.mark.ray_cluster
def test_a_study_runs_across_a_head_and_a_second_node(tmp_path):
    """Opt-in (-m ray_cluster): a real `ray start --head` plus a second node on this machine."""
    import shutil
    import socket
    import subprocess

    ray_bin = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import tempfile

    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="hr", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    common = ["--num-cpus=1", "--disable-usage-stats", f"--temp-dir={temp}"]
    started = []
    try:
        head = subprocess.run(
            [
                ray_bin,
                "start",
                "--head",
                f"--port={port}",
                "--node-ip-address=127.0.0.1",
                "--include-dashboard=false",
                *common,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert head.returncode == 0, head.stderr
        started.append(head)
        node = subprocess.run(
            [ray_bin, "start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", *common],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert node.returncode == 0, node.stderr
        script = tmp_path / "study.py"
        script.write_text(CLUSTER_STUDY.replace("PORT", str(port)))
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        completed, nodes = map(int, run.stdout.split()[-2:])
        assert completed == 30 and nodes == 2
    finally:
        pids = subprocess.run(["pgrep", "-f", temp], capture_output=True, text=True).stdout.split()
        for pid in pids:  # only this test's cluster: its processes carry its temp dir
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(temp, ignore_errors=True)


def test_a_worker_killed_mid_trial_continues_from_its_checkpoint_on_ray(tmp_path):
    marker = tmp_path / "killed"

    def train(ctx, x):
        state = ctx.load_checkpoint() or {"epoch": -1, "starts": []}
        state["starts"].append(ctx.checkpoint_step)
        for epoch in range(state["epoch"] + 1, 8):
            state["epoch"] = epoch
            ctx.report(epoch, loss=x + epoch)
            ctx.save_checkpoint(state)
            if epoch == 4 and not marker.exists():
                marker.write_text("once")
                os.kill(os.getpid(), signal.SIGKILL)  # the actor dies: its node is lost
        return ObjectiveResult(score=x, metrics={"starts": state["starts"]})

    result = tune(train, SPACE, max_trials=1, checkpoints=str(tmp_path / "ck"), **RAY)
    trial = result["trials"][0]
    assert trial["state"] == "completed" and trial["metrics"]["starts"] == [None, 4]


def test_pbt_runs_on_ray(tmp_path):
    def train(ctx, lr):
        state = ctx.load_checkpoint() or {"w": 0.0, "epoch": -1}
        for epoch in range(state["epoch"] + 1, 12):
            state["w"] += lr * (1 - state["w"])
            state["epoch"] = epoch
            ctx.report(epoch, acc=state["w"])
            ctx.save_checkpoint(state)
            if ctx.should_stop():
                break
        return ObjectiveResult(metrics={"acc": state["w"]})

    result = tune(
        train,
        {"lr": Float(0.01, 0.5, log=True)},
        strategy="pbt",
        strategy_kwargs={"population_size": 4, "perturbation_interval": 3},
        metric="acc",
        max_concurrent=2,
        seed=0,
        checkpoints=str(tmp_path / "ck"),
        **RAY,
    )
    states = [t["state"] for t in result["trials"]]
    assert states.count("completed") == 4 and set(states) <= {"completed", "killed"}
    assert result["best"]["value"] > 0.5
