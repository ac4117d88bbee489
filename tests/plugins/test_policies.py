"""Early-stopping policies on scripted report sequences (no timing), and end to end per executor."""

from __future__ import annotations

import math

import pytest

from hyperion import ConfigurationError, Float, ObjectiveResult, Proposal, Strategy, tune
from hyperion_core.goal import Goal
from hyperion_core.models import Trial
from hyperion_core.plugins import registry
from hyperion_core.space import Space
from hyperion_core.state import StudyState
from tests.objectives import reporting


class Script:
    """Feeds reports to a policy exactly as the study loop does, and records its decisions."""

    def __init__(self, name: str, tune_metric: str = "loss", tune_mode: str = "min", **kwargs) -> None:
        self.state = StudyState("s", Space({"x": Float(0, 1)}), Goal.of(tune_metric, tune_mode), seed=0)
        self.policy = registry().create("policy", name, **kwargs)
        self.policy.setup(self.state)
        self.stopped: dict[int, tuple[int, str]] = {}

    def trial(self) -> Trial:
        trial = Trial(number=len(self.state.trials), params={"x": 0.5})
        self.state.add(trial)
        return trial

    def report(self, trial: Trial, step: int, **metrics) -> str | None:
        self.state.history.setdefault(trial.number, []).append((step, metrics))
        trial.last_step, trial.last_report = step, metrics
        if trial.number in self.stopped:
            return None
        reason = self.policy.should_stop(self.state, trial)
        if reason:
            self.stopped[trial.number] = (step, reason)
        return reason

    def run(self, curves: list[list[float]], metric: str = "loss") -> None:
        """Trials one after another, each reporting its whole curve (step = index)."""
        for curve in curves:
            trial = self.trial()
            for step, value in enumerate(curve):
                if self.report(trial, step, **{metric: value}):
                    break


def test_median_stops_a_trial_worse_than_the_median_at_the_same_step():
    script = Script("median", check_interval=5, min_trials=3)
    good = [[1.0 - 0.01 * s for s in range(20)] for _ in range(3)]
    script.run(good + [[2.0] * 20, [0.5] * 20])
    assert list(script.stopped) == [3]
    step, reason = script.stopped[3]
    assert step == 4  # its 5th report is its first checkpoint
    assert reason.startswith("median: loss=2 at step 4 is worse than the median 0.96 of 3 other trials")


def test_median_compares_values_at_the_same_step_not_final_ones():
    # Earlier trials improve a lot late; a new trial at step 9 is compared with their step-9 values.
    script = Script("median", check_interval=10, min_trials=3)
    slow_starters = [[5.0 - 0.2 * s for s in range(30)] for _ in range(3)]  # 3.2 at step 9, -0.8 at step 29
    script.run(slow_starters + [[3.0] * 30])
    assert 3 not in script.stopped or script.stopped[3][0] > 9  # 3.0 beats 3.2 at step 9
    assert script.stopped[3][0] == 19  # at step 19 the others are at 1.2


def test_median_respects_min_trials_warmup_mode_and_missing_metrics():
    script = Script("median", check_interval=1, min_trials=3)
    script.run([[1.0] * 5, [1.0] * 5, [9.0] * 5])  # only two others: no comparison yet
    assert script.stopped == {}

    warm = Script("median", check_interval=1, min_trials=1, warmup_steps=3)
    warm.run([[1.0] * 6, [9.0] * 6])
    assert warm.stopped[1][0] == 3

    maxed = Script("median", tune_metric="acc", tune_mode="max", check_interval=1, min_trials=2)
    maxed.run([[0.9] * 3, [0.8] * 3, [0.1] * 3, [0.95] * 3], metric="acc")
    assert list(maxed.stopped) == [2]

    missing = Script("median", check_interval=1, min_trials=1)
    missing.run([[1.0] * 3])
    trial = missing.trial()
    assert missing.report(trial, 0, other=5.0) is None  # no "loss" in the report: not a kill
    assert "NaN" in missing.report(trial, 1, loss=math.nan)


def test_median_metric_and_mode_can_differ_from_tunes():
    script = Script("median", tune_metric="score", tune_mode="max", check_interval=1, min_trials=1)
    assert script.policy.goal == Goal.of("score", "max")
    override = Script(
        "median", tune_metric="score", tune_mode="max", check_interval=1, min_trials=1, metric="val", mode="min"
    )
    assert override.policy.goal == Goal.of("val", "min")

    def objective(ctx, x):  # tune optimises accuracy; the policy watches the loss curve
        for step in range(10):
            ctx.report(step=step, val_loss=1 - x)
            if ctx.should_stop():
                break
        return ObjectiveResult(score=x)

    class Falling(Strategy):
        def propose(self, study, slots):
            return [Proposal({"x": 0.9 - 0.2 * (len(study.trials) + i)}) for i in range(slots)]

    result = tune(
        objective,
        {"x": Float(0, 1)},
        strategy=Falling(),
        max_trials=4,
        metric="score",
        mode="max",
        early_stopping="median",
        early_stopping_kwargs={"check_interval": 2, "min_trials": 1, "metric": "val_loss", "mode": "min"},
    )
    assert [t["state"] for t in result["trials"]] == ["completed", "killed", "killed", "killed"]


def test_percentile_forgives_one_check_outside_the_top_fifth_but_not_two_in_a_row():
    # Ten trials set the bar; at each step the top fifth of them is below 1.0 (loss, min).
    others = [[0.5 + 0.1 * i] * 4 for i in range(10)]  # 0.5 .. 1.4
    script = Script("percentile", min_trials=3)
    script.run(others)
    slow_starter = script.trial()  # outside the top fifth at its first report only: it goes on
    assert script.report(slow_starter, 0, loss=1.3) is None
    assert script.report(slow_starter, 1, loss=0.55) is None
    assert script.report(slow_starter, 2, loss=1.3) is None  # the count starts again after a pass
    steady = script.trial()
    assert script.report(steady, 0, loss=1.1) is None
    reason = script.report(steady, 1, loss=1.1)
    assert reason is not None and reason.startswith("percentile: loss=1.1 at step 1 is outside the best 20%")
    assert "(2 checks in a row)" in reason
    # the bar: the 11 others' values at step 1 (0.5, 0.55, 0.6, 0.7, ... 1.4), best first, 20% of the way down
    assert "(worse than 0.6)" in reason and "of the 11 other trials" in reason


def test_median_with_keep_and_patience_for_a_maximised_metric():
    script = Script("median", tune_metric="acc", tune_mode="max", min_trials=3, keep=0.25, patience=3)
    script.run([[0.1 * i] * 5 for i in range(1, 9)], metric="acc")  # 0.1 .. 0.8; the best quarter: >= 0.625
    trial = script.trial()
    assert [script.report(trial, s, acc=0.6) for s in range(2)] == [None, None]
    reason = script.report(trial, 2, acc=0.6)
    assert reason is not None and "outside the best 25%" in reason and "(3 checks in a row)" in reason
    kept = script.trial()
    assert all(script.report(kept, s, acc=0.7) is None for s in range(5))  # inside the top quarter: never stopped


def test_median_is_unchanged_by_the_default_keep_and_patience():
    explicit = Script("median", min_trials=3, keep=0.5, patience=1)
    default = Script("median", min_trials=3)
    curves = [[1.0 + ((7 * i + 3 * s) % 5) * 0.1 for s in range(6)] for i in range(12)]
    explicit.run(curves)
    default.run(curves)
    assert explicit.stopped == default.stopped and default.stopped


@pytest.mark.parametrize(("name", "interval"), [("aggressive", 25), ("patient", 200), ("median", 1)])
def test_presets_check_at_their_interval(name, interval):
    script = Script(name, min_trials=1)
    script.run([[1.0] * 400, [2.0] * 400])
    assert script.stopped[1][0] == interval - 1


def test_asha_keeps_the_top_third_at_each_rung():
    script = Script("asha", min_resource=1, reduction_factor=3)
    # Rungs at steps 1, 3, 9, 27. Trials arrive best-first, so later ones face a full rung.
    levels = [1.0, 2.0, 3.0, 0.5, 4.0, 5.0]
    script.run([[level] * 30 for level in levels])
    assert 0 not in script.stopped and 3 not in script.stopped  # the two best run to the end
    for number in (1, 2, 4, 5):
        step, reason = script.stopped[number]
        assert step in (1, 3, 9) and reason.startswith("asha: loss=")


def test_asha_judges_a_trial_whose_first_report_comes_after_a_rung():
    script = Script("asha", min_resource=2, reduction_factor=2)
    first, second = script.trial(), script.trial()
    assert script.report(first, 10, loss=1.0) is None  # passes rungs 2, 4, 8 at once (alone there)
    assert script.report(second, 10, loss=3.0).startswith("asha: loss=3 at rung step 2")


def test_hyperband_spreads_trials_over_brackets_that_start_later():
    script = Script("hyperband", min_resource=1, reduction_factor=3, max_resource=27)
    assert [ladder.steps[:1] for ladder in script.policy.ladders] == [[1], [3], [9], []]  # the last never halts
    script.run([[float(10 - i)] * 30 for i in range(8)])  # later trials are better: nobody is stopped
    assert script.stopped == {}
    worse = Script("hyperband", min_resource=1, reduction_factor=3, max_resource=27)
    worse.run([[float(i)] * 30 for i in range(12)])  # later trials are worse
    first_stops: dict[int, int] = {}
    for number, (step, _) in sorted(worse.stopped.items()):
        first_stops.setdefault(worse.policy.bracket_of(number), step)
    assert first_stops[0] < first_stops[1]  # bracket 0 halves from step 1, bracket 1 from step 3


def test_hyperband_deals_trials_to_brackets_in_hyperbands_proportions():
    """Most trials go to the brackets that halve early (Li et al.: 27, 12, 6 and 4 of every 49 for four
    brackets at reduction factor 3), interleaved so that every bracket starts early."""
    policy = Script("hyperband", min_resource=1, reduction_factor=3, max_resource=52).policy
    brackets = [policy.bracket_of(n) for n in range(49)]
    assert [brackets.count(b) for b in range(4)] == [27, 12, 6, 4]
    assert set(brackets[:6]) == {0, 1, 2, 3}
    assert [policy.bracket_of(n) for n in range(49, 98)] == brackets


def test_bad_policy_arguments_name_the_problem():
    with pytest.raises(ConfigurationError, match="check_interval must be a whole number >= 1"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, early_stopping="median", early_stopping_kwargs={"check_interval": 0})
    with pytest.raises(ConfigurationError, match="reduction_factor must be a whole number >= 2"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, early_stopping="asha", early_stopping_kwargs={"reduction_factor": 1})
    with pytest.raises(ConfigurationError, match="does not accept 'interval'"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, early_stopping="median", early_stopping_kwargs={"interval": 3})
    with pytest.raises(ConfigurationError, match="keep .* must be a number from 0.01 to 1"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, early_stopping="percentile", early_stopping_kwargs={"keep": 0})
    with pytest.raises(ConfigurationError, match="patience must be a whole number >= 1"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, early_stopping="median", early_stopping_kwargs={"patience": 0})


def curve_objective(ctx, x):
    """Good trials (x >= 0.5) report a low loss for 100 steps. Bad ones report a high loss until they
    are told to stop (bounded at 10 s), so whether they were stopped never depends on timing."""
    import time

    loss = 0.1 if x >= 0.5 else 1.0
    deadline = time.monotonic() + 10
    step = 0
    while step < 100 or (loss > 0.5 and time.monotonic() < deadline):
        ctx.report(step=step, loss=loss)
        if ctx.should_stop():
            return ObjectiveResult(score=-loss, metrics={"loss": loss, "ran": step + 1})
        step += 1
        if step >= 100:
            time.sleep(0.001)
    return ObjectiveResult(score=-loss, metrics={"loss": loss, "ran": step})


class Alternate(Strategy):
    """Good, good, good, bad, good, bad, ...: deterministic."""

    def propose(self, study, slots):
        start = len(study.trials)
        return [Proposal({"x": 0.9 if (n := start + i) < 3 or n % 2 == 0 else 0.1}) for i in range(slots)]


@pytest.mark.parametrize(
    ("executor", "concurrent", "policy"),
    [("thread", 1, "median"), ("thread", 2, "median"), ("process", 2, "median"), ("thread", 1, "percentile")],
)
def test_end_to_end_bad_trials_stop_good_ones_run_to_the_end(executor, concurrent, policy):
    result = tune(
        curve_objective,
        {"x": Float(0, 1)},
        strategy=Alternate(),
        max_trials=9,
        max_concurrent=concurrent,
        executor=executor,
        metric="loss",
        mode="min",
        early_stopping=policy,
        early_stopping_kwargs={"check_interval": 10, "min_trials": 2},
        grace_period_s=30,
    )
    for trial in result["trials"]:
        if trial["params"]["x"] >= 0.5:
            assert trial["state"] == "completed" and trial["metrics"]["ran"] == 100
        else:
            assert trial["state"] == "killed" and trial["kill_reason"].startswith(f"{policy}: loss=")
            assert trial["metrics"]["ran"] < 1000  # it saw should_stop() and ended
            if policy == "percentile":  # outside the top fifth at its 10th report: forgiven; stopped at the 20th
                assert trial["metrics"]["ran"] >= 20 and "(2 checks in a row)" in trial["kill_reason"]
    assert result["best"]["params"]["x"] == 0.9
    assert result["study"]["killed"] == sum(t["params"]["x"] < 0.5 for t in result["trials"]) > 0


def test_a_trial_that_ignores_should_stop_is_terminated_under_processes():
    from tests.objectives import stubborn_reporter

    result = tune(
        stubborn_reporter,
        {"x": Float(0, 1)},
        max_trials=4,
        max_concurrent=1,
        executor="process",
        strategy="grid",
        strategy_kwargs={"points": 4},
        early_stopping="median",
        metric="loss",
        mode="min",
        early_stopping_kwargs={"check_interval": 1, "min_trials": 1},
        grace_period_s=0.5,
    )
    killed = [t for t in result["trials"] if t["state"] == "killed"]
    assert killed and all("grace period" in t["kill_reason"] for t in killed)


def test_killed_trials_rank_only_when_asked():
    def objective(ctx, x):  # reports its score and runs until stopped (bounded at 10 s)
        import time

        deadline = time.monotonic() + 10
        while not ctx.should_stop() and time.monotonic() < deadline:
            ctx.report(step=0, score=x)
            time.sleep(0.005)
        return ObjectiveResult(score=x)

    kwargs = dict(strategy="grid", strategy_kwargs={"points": 3}, max_concurrent=3, max_time_s=0.3, grace_period_s=10)
    plain = tune(objective, {"x": Float(0, 1)}, **kwargs)
    assert plain["study"]["killed"] == 3 and plain["best"] is None  # killed trials do not rank by default
    ranked = tune(objective, {"x": Float(0, 1)}, rank_killed_trials=True, **kwargs)
    assert ranked["best"]["params"]["x"] == 1.0 and ranked["best"]["value"] == 1.0


def test_the_summary_notes_when_early_stopping_never_checked():
    result = tune(
        reporting, {"x": Float(0, 1)}, max_trials=4, early_stopping="patient", metric="loss", mode="min", seed=0
    )
    assert any("early stopping never checked a trial" in note for note in result["study"]["notes"])


def test_the_none_policy_never_stops_a_trial():
    from hyperion import Float, tune

    def objective(ctx, x):
        for step in range(5):
            ctx.report(step=step, loss=x * 100 + step)  # every curve far worse than the one before
        return -x

    result = tune(objective, {"x": Float(0, 1)}, early_stopping="none", metric="loss", mode="min", max_trials=8)
    assert result["study"]["killed"] == 0 and result["study"]["completed"] == 8


def test_percentile_bar_next_to_diverged_trials_is_a_number_not_nan():
    from hyperion_policies.median import _bar

    assert _bar([1.0, 2.0, 3.0, 4.0, 5.0], 0.2, "min") == pytest.approx(1.8)
    assert _bar([1.0, 2.0, 3.0, 4.0, 5.0], 0.2, "max") == pytest.approx(4.2)
    assert _bar([1.0, 2.0, 3.0, 4.0, 5.0], 0.25, "min") == 2.0  # on a value
    # most trials diverged (loss inf): the bar is inf, so a finite trial is not stopped
    assert _bar([1.0, math.inf, math.inf, math.inf, math.inf], 0.2, "min") == math.inf
    assert _bar([math.inf, 3.0, -math.inf], 0.2, "max") == 3.0
    script = Script("percentile", min_trials=3)
    script.run([[1.0] * 3] + [[math.inf] * 3] * 4)
    finite = script.trial()
    assert [script.report(finite, s, loss=2.0) for s in range(3)] == [None, None, None]
