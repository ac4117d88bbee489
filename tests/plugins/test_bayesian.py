"""The `bayesian` (TPE) strategy: it learns, spreads parallel proposals, handles log scale,
failures and kills."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from hyperion import Choice, ConfigurationError, Float, Int, ObjectiveResult, tune
from hyperion_core.goal import Goal
from hyperion_core.models import Trial, TrialState
from hyperion_core.space import Space
from hyperion_core.state import StudyState
from hyperion_strategies.tpe import BANDWIDTH, GAMMA, RUNNING_GAMMA, STOPPED_BANDWIDTH, TPESearch


def branin(ctx, x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN = {"x1": Float(-5, 10), "x2": Float(0, 15)}


def _best(strategy: str, seed: int, trials: int = 80) -> float:
    result = tune(branin, BRANIN, strategy=strategy, max_trials=trials, mode="min", seed=seed)
    return result["best"]["value"]


def test_bayesian_beats_random_on_branin():
    seeds = range(7)
    bayesian = [_best("bayesian", s) for s in seeds]
    random = [_best("random", s) for s in seeds]
    assert statistics.median(bayesian) < statistics.median(random)
    assert sum(b < r for b, r in zip(bayesian, random)) >= 5


def _state_with(trials: list[Trial], space: dict, mode: str = "min") -> StudyState:
    state = StudyState("t", Space(space), Goal.of("score", mode), seed=0)
    for trial in trials:
        state.add(trial)
        if trial.state.finished:
            state.finish(trial)
    return state


def _observed(trials: list[Trial], space: dict, **kwargs) -> tuple[StudyState, TPESearch]:
    """A study holding `trials` and a TPESearch (with `kwargs`) that has observed them."""
    state = _state_with(trials, space)
    strategy = TPESearch(**kwargs)
    strategy.setup(state)
    for trial in trials:
        strategy.observe(trial)
    return state, strategy


def test_parallel_proposals_spread_out_with_the_constant_liar():
    space = {"x": Float(0, 1), "y": Float(0, 1)}
    done = [
        Trial(
            number=i,
            params={"x": i / 19, "y": (i * 7 % 19) / 19},
            state=TrialState.COMPLETED,
            value=(i / 19 - 0.3) ** 2 + ((i * 7 % 19) / 19 - 0.6) ** 2,
        )
        for i in range(20)
    ]
    state, strategy = _observed(done, space)
    proposals = strategy.propose(state, 6)
    points = [(p.params["x"], p.params["y"]) for p in proposals]
    gaps = [math.dist(a, b) for i, a in enumerate(points) for b in points[i + 1 :]]
    assert len(set(points)) == 6 and min(gaps) > 1e-3
    # A running trial at the best point repels the next proposal away from it as well.
    running = Trial(number=20, params=dict(zip(("x", "y"), points[0])))
    state.add(running)
    again = strategy.propose(state, 1)[0].params
    assert math.dist((again["x"], again["y"]), points[0]) > 1e-3


def test_log_scale_is_searched_in_log_space():
    def objective(ctx, lr):
        return (math.log10(lr) + 4) ** 2  # best at lr = 1e-4

    result = tune(objective, {"lr": Float(1e-7, 1.0, log=True)}, strategy="bayesian", max_trials=50, mode="min", seed=2)
    assert abs(math.log10(result["best"]["params"]["lr"]) + 4) < 0.3
    late = [t["params"]["lr"] for t in result["trials"][30:]]
    assert statistics.median(abs(math.log10(v) + 4) for v in late) < 1.0  # it concentrates around 1e-4


def test_mixed_space_values_keep_their_types_and_nesting():
    space = {"opt": Choice(["sgd", "adam"]), "n": Int(1, 64, log=True), "model": {"drop": Float(0, 0.5), "tag": "x"}}

    def objective(ctx, opt, n, model):
        assert isinstance(n, int) and opt in ("sgd", "adam") and model["tag"] == "x"
        return (opt == "adam") + abs(math.log2(n) - 3) + model["drop"]

    result = tune(objective, space, strategy="bayesian", max_trials=40, mode="min", seed=0, max_concurrent=3)
    assert result["study"]["failed"] == 0
    assert result["best"]["params"]["opt"] == "sgd"


def test_failed_and_killed_trials_repel():
    def objective(ctx, x):
        if x > 0.8:
            raise RuntimeError("diverged")  # the region that fails is also where the score would be best
        return ObjectiveResult(score=x)

    result = tune(objective, {"x": Float(0, 1)}, strategy="bayesian", max_trials=40, seed=1)
    late = [t for t in result["trials"][20:]]
    assert sum(t["state"] == "failed" for t in late) < 10  # it does not keep running into the failures
    assert 0.7 < result["best"]["params"]["x"] <= 0.8

    space = {"x": Float(0, 1)}
    trials = [Trial(number=i, params={"x": 0.05 * i}, state=TrialState.COMPLETED, value=0.05 * i) for i in range(10)]
    trials.append(Trial(number=10, params={"x": 0.0}, state=TrialState.KILLED))  # stopped before any report
    _, strategy = _observed(trials, space, n_startup=2)
    assert strategy.rejected.size == 1 and strategy.done.size == 10


def _stopped(number: int, x: float, step: int, value: float) -> Trial:
    return Trial(number=number, params={"x": x}, state=TrialState.KILLED, last_step=step, last_report={"score": value})


def test_stopped_trials_rank_after_finished_ones_by_how_far_they_got():
    space = {"x": Float(0, 1)}
    trials = [
        Trial(number=0, params={"x": 0.1}, state=TrialState.COMPLETED, value=5.0),
        _stopped(1, 0.2, 9, 0.1),  # the best value of all, but at step 9 only
        _stopped(2, 0.3, 27, 3.0),
        _stopped(3, 0.4, 27, 2.0),
        Trial(number=4, params={"x": 0.5}, state=TrialState.COMPLETED, value=4.0),
        _stopped(5, 0.6, 1, 0.0),
    ]
    _, strategy = _observed(trials, space)
    order = strategy.done.ranked(np.arange(strategy.done.size))
    assert [trials[i].params["x"] for i in order] == [0.5, 0.1, 0.4, 0.3, 0.2, 0.6]
    assert strategy.rejected.size == 0 and strategy.stopped == 4


def test_kernels_widen_once_a_trial_is_stopped_unless_the_width_is_given():
    space = {"x": Float(0, 1)}
    finished = [Trial(number=i, params={"x": i / 10}, state=TrialState.COMPLETED, value=i) for i in range(5)]
    assert _observed(finished, space)[1].bandwidth == BANDWIDTH
    assert _observed([*finished, _stopped(5, 0.9, 3, 9.0)], space)[1].bandwidth == STOPPED_BANDWIDTH
    assert _observed([*finished, _stopped(5, 0.9, 3, 9.0)], space, bandwidth=0.5)[1].bandwidth == 0.5


def test_the_good_set_narrows_while_trials_run_unless_gamma_is_given():
    """40 finished trials in five parameters: 4 good ones one at a time or beside one or two running
    trials, 2 beside three or more (four slots: their results are late). Kept at 4: in fewer than five
    parameters, with a gamma the user set, under early stopping and with several objectives."""
    space = {f"x{k}": Float(0, 1) for k in range(5)}

    def point(i: int) -> dict:
        return {f"x{k}": (i * (k + 3) % 40) / 40 for k in range(5)}

    done = [
        Trial(number=i, params=point(i), state=TrialState.COMPLETED, value=sum(v * v for v in point(i).values()))
        for i in range(40)
    ]
    state, strategy = _observed(done, space)
    strategy.propose(state, 1)
    assert strategy.share == GAMMA and strategy.gamma(0) == GAMMA
    strategy.propose(state, 3)  # the third sees two running: the proposals before it
    assert strategy.share == GAMMA and strategy.gamma(2) == GAMMA
    strategy.propose(state, 4)  # the fourth sees three running
    assert strategy.share == RUNNING_GAMMA < GAMMA
    for number in range(40, 43):  # other slots' trials, running
        state.add(Trial(number=number, params=point(number)))
    strategy.propose(state, 1)
    assert strategy.share == RUNNING_GAMMA
    assert _observed(done, space, gamma=0.2)[1].gamma(3) == 0.2
    stopped = Trial(number=40, params=point(40), state=TrialState.KILLED, last_step=3, last_report={"score": 9.0})
    assert _observed([*done, stopped], space)[1].gamma(5) == GAMMA
    narrow = [Trial(number=t.number, params={"x": t.params["x0"]}, state=t.state, value=t.value) for t in done]
    assert _observed(narrow, {"x": Float(0, 1)})[1].gamma(5) == GAMMA
    several = StudyState("t", Space(space), Goal.of(["a", "b"], ["min", "min"]), seed=0)
    strategy = TPESearch()
    strategy.setup(several)  # several objectives: the fronts shape the good set
    assert strategy.gamma(5) == GAMMA


def test_under_asha_it_learns_from_the_trials_it_stops():
    """Few trials finish under ASHA; the stopped ones still say where the good region is: proposals
    after the random start gather near the optimum (x = 0.8) where random ones spread over [0, 1]."""

    def objective(ctx, x):
        for epoch in range(27):
            ctx.report(step=epoch, loss=abs(x - 0.8) + 1.0 / (epoch + 1))
            if ctx.should_stop():
                break
        return ObjectiveResult(metrics={"loss": abs(x - 0.8)})

    def late_distance(strategy: str | None, seed: int) -> float:
        study = {"metric": "loss", "mode": "min", "max_trials": 60, "early_stopping": "asha"}
        result = tune(objective, {"x": Float(0, 1)}, strategy=strategy, seed=seed, **study)
        assert result["study"]["strategy"] == (strategy or "bayesian")  # none named under asha: bayesian
        assert result["study"]["killed"] > 40  # most trials were stopped early
        return statistics.median(abs(t["params"]["x"] - 0.8) for t in result["trials"][20:])

    for seed in range(3):
        assert late_distance(None, seed) < 0.7 * late_distance("random", seed)


def test_bad_arguments_are_named():
    for kwargs, fragment in (
        ({"gamma": 1.5}, "gamma"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"n_startup": 0}, "n_startup"),
    ):
        with pytest.raises(ConfigurationError, match=fragment):
            tune(branin, BRANIN, strategy="bayesian", strategy_kwargs=kwargs, max_trials=2)


def test_a_parameter_of_few_values_keeps_its_neighbours_in_play():
    """Thirty trials, the best all at layers=3: the kernels over an Int (and an ordinal Choice) stay at
    least half a value wide, so proposals still try 2 and 4 now and then, while a Float narrows."""
    space = {"layers": Int(1, 5), "units": Choice([16, 32, 64, 128, 256]), "x": Float(0, 1)}
    trials = [
        Trial(
            number=i,
            params={"layers": 3 if i % 3 else 1 + i % 5, "units": 64 if i % 3 else 16, "x": (i % 10) / 10},
            state=TrialState.COMPLETED,
            value=abs((i % 10) / 10 - 0.5) + (0.0 if i % 3 else 1.0),
        )
        for i in range(30)
    ]
    state, strategy = _observed(trials, space)
    proposals = [p.params for _ in range(200) for p in strategy.propose(state, 1)]
    layers = [p["layers"] for p in proposals]
    units = [p["units"] for p in proposals]
    assert layers.count(3) > 100 and 0 < layers.count(2) + layers.count(4) < 100
    assert units.count(64) > 100 and units.count(32) + units.count(128) > 0
