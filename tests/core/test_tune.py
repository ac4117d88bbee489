"""tune(): argument checks before any trial, the result shape, failures, metrics, limits."""

from __future__ import annotations

import math
import threading
import time

import pytest

from hyperion import Choice, ConfigurationError, Float, Int, ObjectiveResult, Proposal, SpaceError, Strategy, tune
from hyperion_core.tune import DEFAULT_MAX_TRIALS

SPACE = {"x": Float(0, 1)}


def never_called(ctx, x):
    raise AssertionError("no trial may run when the arguments are bad")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mode": "maximize"}, "mode must be 'min' or 'max'"),
        ({"max_concurrent": 0}, "max_concurrent must be a whole number from 1 to 10,000"),
        ({"max_concurrent": 2.5}, "max_concurrent must be a whole number from 1 to 10,000"),
        ({"max_trials": 0}, "max_trials must be a whole number >= 1"),
        ({"max_time_s": -1}, "max_time_s must be a finite number of seconds > 0"),
        ({"metric": ""}, "metric must be a metric name"),
        ({"seed": "abc"}, "seed must be an integer"),
        ({"strategy_kwargs": {"points": 3}}, "strategy 'random' does not accept 'points'"),
        ({"strategy": "grid", "strategy_kwargs": {"points": 0}}, "grid: points must be a whole number >= 1"),
        ({"strategy_kwargs": [1]}, "strategy_kwargs must be a dict"),
        ({"early_stopping_kwargs": {"min_trials": 3}}, "early_stopping_kwargs given without early_stopping"),
        ({"storage": "experiments.db"}, "storage must be a URL such as 'sqlite:///experiments.db'"),
        ({"reporters": "summary"}, "reporters must be a list"),
        ({"study_name": "  "}, "study_name must be a non-empty string"),
        ({"strategy": Strategy}, "strategy must be a registered name"),
        ({"strategy": object()}, "not a subclass of hyperion_core.protocols.Strategy"),
    ],
)
def test_bad_arguments_fail_before_any_trial_with_what_to_change(kwargs, fragment):
    with pytest.raises(ConfigurationError) as info:
        tune(never_called, SPACE, **{"max_trials": 3, **kwargs})
    assert fragment in str(info.value)


def test_unknown_names_of_every_kind_fail_before_any_trial():
    from hyperion import UnknownPluginError

    for kwargs in ({"early_stopping": "nope"}, {"reporters": ["nope"]}, {"storage": "nope://x"}):
        with pytest.raises(UnknownPluginError):
            tune(never_called, SPACE, max_trials=1, **kwargs)


def test_bad_space_fails_with_the_dotted_path():
    with pytest.raises(SpaceError, match="'model.lr'"):
        tune(never_called, {"model": {"lr": Float(1, 0)}}, max_trials=1)


def test_objective_signature_is_checked_against_the_space():
    def wrong(ctx, y):
        return y

    with pytest.raises(ConfigurationError, match="does not accept space parameter"):
        tune(wrong, SPACE, max_trials=1)
    with pytest.raises(ConfigurationError, match="first argument must be the trial context"):
        tune(lambda *, x: x, SPACE, max_trials=1)
    with pytest.raises(ConfigurationError, match="needs argument"):
        tune(lambda ctx, x, y: x, SPACE, max_trials=1)


def test_result_shape_and_best_in_both_directions():
    def objective(ctx, x, opt):
        return ObjectiveResult(score=x, metrics={"loss": 1 - x}, artifacts={"path": f"/tmp/{x}"})

    space = {"x": Float(0, 1), "opt": Choice(["a", "b"])}
    result = tune(objective, space, max_trials=30, seed=1)
    best, study, trials = result["best"], result["study"], result["trials"]
    assert set(best) >= {"trial_id", "params", "score", "metrics"}
    assert best["score"] == max(t["score"] for t in trials)
    assert best["artifacts"] == {"path": f"/tmp/{best['params']['x']}"}
    assert study["completed"] == study["trials"] == 30 and study["failed"] == 0
    assert study["name"] == "objective" and study["storage"] == "memory"

    lowest = tune(objective, space, max_trials=30, seed=1, metric="loss", mode="min")
    assert lowest["best"]["metrics"]["loss"] == min(t["metrics"]["loss"] for t in lowest["trials"])
    assert lowest["best"]["trial_id"] == best["trial_id"]  # the same seed gives the same trials


def test_an_objective_may_return_a_dict_of_metrics():
    result = tune(
        lambda ctx, x: {"loss": (x - 0.3) ** 2, "x2": x * 2}, SPACE, metric="loss", mode="min", max_trials=12, seed=0
    )
    assert result["study"]["completed"] == 12
    best = result["best"]
    assert best["metrics"]["x2"] == 2 * best["params"]["x"]
    assert best["metrics"]["loss"] == min(t["metrics"]["loss"] for t in result["trials"])


def test_failed_trials_record_the_error_and_the_study_goes_on():
    def objective(ctx, x):
        if x < 0.25:
            raise ValueError("x too small")
        if x < 0.5:
            return math.nan
        if x < 0.75:
            return "not a number"
        return x  # a bare number is the score

    result = tune(objective, SPACE, max_trials=40, seed=0)
    errors = [t["error"] for t in result["trials"] if t["state"] == "failed"]
    assert result["study"]["failed"] == len(errors) > 0
    assert any(e.startswith("ValueError: x too small") for e in errors)
    assert any("NaN" in e for e in errors)
    assert any("return a number, a dict of metrics or ObjectiveResult(score=...)" in e for e in errors)
    assert result["best"]["score"] >= 0.75
    assert result["study"]["completed"] + result["study"]["failed"] == 40


def test_metric_is_read_from_metrics_then_the_last_report_else_the_trial_fails():
    def objective(ctx, x):
        ctx.report(step=0, val_loss=x + 1)
        ctx.report(step=1, val_loss=x)
        return ObjectiveResult(score=0.0)

    result = tune(objective, SPACE, max_trials=5, metric="val_loss", mode="min", seed=0)
    assert result["best"]["value"] == min(t["params"]["x"] for t in result["trials"])
    missing = tune(lambda ctx, x: ObjectiveResult(metrics={"acc": x}), SPACE, max_trials=2, metric="f1")
    assert missing["best"] is None
    assert "gave no value for metric 'f1'" in missing["trials"][0]["error"]


def test_a_metric_named_only_in_tune_is_the_score_with_a_note():
    result = tune(lambda ctx, x: ObjectiveResult(score=x), SPACE, max_trials=3, metric="throughput", seed=0)
    assert result["best"]["value"] == max(t["params"]["x"] for t in result["trials"])
    [note] = result["study"]["notes"]
    assert note.startswith("metric 'throughput' was not in the trials' metrics or reports; their score was used")


def test_seed_makes_a_sequential_run_reproducible():
    space = {"x": Float(0, 1), "n": Int(1, 100, log=True), "c": Choice(["a", "b", "c"])}
    first = tune(lambda ctx, **p: p["x"], space, max_trials=20, seed=7)
    second = tune(lambda ctx, **p: p["x"], space, max_trials=20, seed=7)
    other = tune(lambda ctx, **p: p["x"], space, max_trials=20, seed=8)
    assert [t["params"] for t in first["trials"]] == [t["params"] for t in second["trials"]]
    assert [t["params"] for t in first["trials"]] != [t["params"] for t in other["trials"]]


def test_max_trials_defaults_and_grid_smaller_than_max_trials():
    assert tune(lambda ctx, x: x, SPACE)["study"]["trials"] == DEFAULT_MAX_TRIALS
    grid_space = {"a": Choice([1, 2, 3]), "b": Choice(["x", "y"])}
    full = tune(lambda ctx, a, b: a, grid_space, strategy="grid")
    assert full["study"]["trials"] == 6
    assert {(t["params"]["a"], t["params"]["b"]) for t in full["trials"]} == {(a, b) for a in (1, 2, 3) for b in "xy"}
    capped = tune(lambda ctx, a, b: a, grid_space, strategy="grid", max_trials=100, max_concurrent=4)
    assert capped["study"]["trials"] == 6
    assert tune(lambda ctx, a, b: a, grid_space, strategy="grid", max_trials=4)["study"]["trials"] == 4


class _Silent(Strategy):
    """Proposes one point, then nothing, without ever saying it is exhausted."""

    def __init__(self):
        self.calls = 0

    def propose(self, study, slots):
        self.calls += 1
        return [Proposal({"x": 0.5})] if self.calls == 1 else []


def test_a_strategy_that_stops_proposing_ends_the_study_with_a_note():
    result = tune(lambda ctx, x: x, SPACE, strategy=_Silent(), max_trials=10)
    assert result["study"]["trials"] == 1
    assert "proposed nothing" in result["study"]["notes"][0]


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_max_time_s_returns_even_when_a_trial_ignores_should_stop(executor):
    from tests.objectives import stubborn

    result = tune(stubborn, SPACE, max_time_s=0.5, grace_period_s=0.3, max_concurrent=2, executor=executor)
    trials = result["trials"]
    assert len(trials) == 2
    assert all(t["state"] == "killed" for t in trials)
    assert all("max_time_s=0.5 reached" in t["kill_reason"] and "grace period" in t["kill_reason"] for t in trials)


def test_max_time_s_lets_cooperative_trials_finish_as_killed():
    release = threading.Event()

    def objective(ctx, x):
        while not ctx.should_stop():
            release.wait(0.01)
        return x

    result = tune(objective, SPACE, max_time_s=0.3, max_concurrent=3, grace_period_s=30)
    assert result["study"]["killed"] == 3 and result["best"] is None
    assert all(t["kill_reason"] == "max_time_s=0.3 reached" for t in result["trials"])


def test_nothing_prints_unless_asked(capsys):
    tune(lambda ctx, x: x, SPACE, max_trials=5)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_study_name_defaults_to_the_objective_name():
    def train_net(ctx, x):
        return x

    assert tune(train_net, SPACE, max_trials=1)["study"]["name"] == "train_net"
    assert tune(lambda ctx, x: x, SPACE, max_trials=1)["study"]["name"] == "study"
    assert tune(train_net, SPACE, max_trials=1, study_name="mine")["study"]["name"] == "mine"


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_trial_timeout_ends_a_hung_trial_and_the_study_goes_on(executor):
    from tests.objectives import stubborn

    def quick_or_hung(ctx, x):
        return x

    result = tune(stubborn, SPACE, max_trials=3, trial_timeout_s=0.3, grace_period_s=0.2, executor=executor, seed=0)
    assert [t["state"] for t in result["trials"]] == ["killed"] * 3
    assert all(t["kill_reason"].startswith("trial_timeout_s=0.3 reached") for t in result["trials"])
    assert all("grace period" in t["kill_reason"] for t in result["trials"])  # it ignored should_stop()
    fine = tune(quick_or_hung, SPACE, max_trials=3, trial_timeout_s=30, executor=executor)
    assert fine["study"]["completed"] == 3


def test_trial_timeout_is_checked_like_the_other_limits():
    with pytest.raises(ConfigurationError, match="trial_timeout_s must be a finite number of seconds > 0"):
        tune(never_called, SPACE, max_trials=1, trial_timeout_s=0)


class _SlowStartExecutor:
    """A thread executor whose workers take `start_up_s` to come up before the objective is called (a Ray
    actor or a worker process on a busy machine); with `never`, they never do."""

    terminates = False
    capacity = None

    def __init__(self, start_up_s: float, never: bool = False) -> None:
        from hyperion_executors.thread import ThreadExecutor

        self.inner = ThreadExecutor()
        self.start_up_s, self.never = start_up_s, never
        self.released = threading.Event()

    def start(self, objective, max_workers, emit):
        self.inner.start(objective, max_workers, emit)

    def submit(self, spec):
        def later():
            if self.never:
                self.released.wait(60)
                return
            time.sleep(self.start_up_s)
            self.inner.submit(spec)

        threading.Thread(target=later, daemon=True).start()

    def stop(self, trial_number):
        self.inner.stop(trial_number)

    def abandon(self, trial_number):
        self.inner.abandon(trial_number)

    def shutdown(self):
        self.released.set()
        self.inner.shutdown()


def test_trial_timeout_counts_from_the_objectives_start_not_the_workers_start_up():
    result = tune(
        lambda ctx, x: x,
        SPACE,
        max_trials=2,
        max_concurrent=2,
        trial_timeout_s=3,
        executor=_SlowStartExecutor(start_up_s=4),
    )
    # 4 s of start-up did not count against the 3 s limit (3 s leaves a loaded machine room to run an
    # instant objective once it has started: the limit itself is not what this checks)
    assert result["study"]["completed"] == 2


def test_a_trial_whose_worker_never_comes_up_still_ends(monkeypatch):
    import hyperion_core.study_stop

    monkeypatch.setattr(hyperion_core.study_stop, "START_UP_ALLOWANCE_S", 0.2)
    result = tune(
        lambda ctx, x: x,
        SPACE,
        max_trials=1,
        trial_timeout_s=0.2,
        grace_period_s=0.1,
        executor=_SlowStartExecutor(0, never=True),
    )
    assert result["trials"][0]["state"] == "killed"
    assert "never started" in result["trials"][0]["kill_reason"]


def test_a_stopped_trial_that_reported_its_score_under_the_name_score_is_ranked_by_it():
    """metric='score' and ctx.report(score=...): a trial stopped early returns no score, and its reported
    one stands for it (it used to end the study with "did you mean metric='score'?")."""
    from hyperion import Policy

    class StopOdd(Policy):
        def should_stop(self, study, trial):
            return "odd" if trial.number % 2 and trial.last_step == 1 else None

    def objective(ctx, x):
        for step in range(3):
            ctx.report(step=step, score=x + step)
            if ctx.should_stop():
                return None
        return x + 2

    result = tune(
        objective, {"x": Float(0, 1)}, max_trials=4, early_stopping=StopOdd(), rank_killed_trials=True, seed=0
    )
    states = [t["state"] for t in result["trials"]]
    assert states == ["completed", "killed", "completed", "killed"]
    killed = result["trials"][1]
    assert killed["value"] == killed["params"]["x"] + 1  # its last reported score
