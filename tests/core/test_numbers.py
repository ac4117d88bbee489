"""Numbers as users pass them: numpy scalars of every type, 0-d arrays and objects with __float__ or
__index__ (a 0-d CPU tensor) are the same numbers as Python's on every path that reads one from a user;
bool stays refused where a number is meant; a value too large for a float fails its trial only."""

from __future__ import annotations

import numpy as np
import pytest

from hyperion import Choice, ConfigurationError, Float, Int, ObjectiveResult, Study, tune
from hyperion_core.checks import number

FLOATS = [np.float16, np.float32, np.float64, np.longdouble, lambda v: np.array(v, dtype=np.float32)]
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, lambda v: np.array(v)]


class Tensor0d:
    """What a 0-d torch tensor offers: __float__, and __index__ that refuses unless it holds an integer."""

    def __init__(self, value):
        self.value = value

    def __float__(self):
        return float(self.value)

    def __index__(self):
        if not isinstance(self.value, int):
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return self.value


FLOATS.append(Tensor0d)
INTS.append(Tensor0d)
SPACE = {"x": Float(0, 1), "n": Int(1, 5)}


@pytest.mark.parametrize("make", FLOATS + INTS)
def test_the_one_conversion_gives_python_numbers(make):
    value = number(make(3))
    assert type(value) in (int, float) and value == 3


@pytest.mark.parametrize("refused", [True, np.bool_(True), np.array(True), np.complex64(1), np.array([1.0, 2.0]), "3"])
def test_bool_complex_arrays_and_text_are_not_numbers(refused):
    assert number(refused) is None


@pytest.mark.parametrize("make", FLOATS)
def test_a_reported_numpy_metric_stands_for_the_objective_metric(make):
    def objective(ctx, x, n):
        for step in range(3):
            ctx.report(step=step, val_accuracy=make(0.5 + x / 4 + step / 100))
            if ctx.should_stop():
                break
        return ObjectiveResult(score=make(x), metrics={"final": make(x)})

    result = tune(objective, SPACE, metric="val_accuracy", max_trials=6, seed=0, early_stopping="median")
    assert result["study"]["failed"] == 0, [t["error"] for t in result["trials"]][:1]
    assert result["study"]["killed"] >= 1  # median read the numpy reports and stopped the worse trials
    best = result["best"]
    assert type(best["score"]) is float and type(best["metrics"]["final"]) is float
    assert all(type(t["value"]) is float for t in result["trials"] if t["state"] == "completed")


@pytest.mark.parametrize("make", FLOATS + INTS)
def test_scores_bare_returns_metrics_and_constraints_take_numpy(make):
    bare = tune(lambda ctx, x, n: make(n), SPACE, max_trials=3, seed=0)
    assert bare["study"]["completed"] == 3 and bare["best"]["score"] == max(t["params"]["n"] for t in bare["trials"])
    result = tune(
        lambda ctx, x, n: ObjectiveResult(score=make(n), metrics={"mem": make(n)}),
        SPACE,
        metric="mem",
        mode="min",
        constraints={"mem": ("<=", make(4))},
        max_trials=8,
        seed=1,
    )
    assert result["study"]["completed"] == 8
    assert all(t["feasible"] == (t["params"]["n"] <= 4) for t in result["trials"])


@pytest.mark.parametrize("make", INTS)
def test_initial_points_warm_starts_spaces_and_options_take_numpy(make):
    space = {"x": Float(make(0), make(1)), "n": Int(make(1), make(5)), "width": Choice([make(8), make(16)])}
    point = {"x": make(1), "n": make(3), "width": make(16)}
    result = tune(
        lambda ctx, x, n, width: ObjectiveResult(score=n * width),
        space,
        initial_points=[point],
        warm_start_from=[{"params": point, "value": make(48)}],
        max_trials=make(3),
        max_concurrent=make(1),
        seed=make(7),
        strategy="bayesian",
    )
    first = result["trials"][0]["params"]
    assert first == {"x": 1, "n": 3, "width": 16} and type(first["n"]) is int and type(first["width"]) is int
    assert result["study"]["trials"] == 3
    assert any("learned from 1 finished trial" in note for note in result["study"]["notes"])


@pytest.mark.parametrize("make", FLOATS)
def test_ask_and_tell_take_numpy(make):
    study = Study(SPACE, metric="loss", mode="min", seed=0)
    trial = study.ask()
    trial.report(step=make(0), loss=make(0.25))  # a float step that is whole is a step
    study.tell(trial, make(0.5))
    trial = study.ask()
    study.tell(trial, ObjectiveResult(metrics={"loss": make(0.125)}))
    result = study.result()
    assert result["study"]["completed"] == 2
    assert result["best"]["metrics"]["loss"] == 0.125


def test_bool_is_still_not_a_score_or_a_metric():
    failed = tune(lambda ctx, x, n: np.bool_(True), SPACE, max_trials=1)
    assert failed["trials"][0]["state"] == "failed" and "the objective returned bool" in failed["trials"][0]["error"]
    flagged = tune(lambda ctx, x, n: ObjectiveResult(metrics={"ok": np.bool_(True)}), SPACE, metric="ok", max_trials=1)
    assert "metric 'ok' is" in flagged["trials"][0]["error"] and "not a number" in flagged["trials"][0]["error"]
    with pytest.raises(ConfigurationError, match="max_trials must be a whole number"):
        tune(lambda ctx, x, n: x, SPACE, max_trials=np.bool_(True))


def test_a_value_too_large_for_a_float_fails_only_its_trial():
    def objective(ctx, x, n):
        loss = 10**400 if ctx.number % 3 == 0 else x
        ctx.report(step=0, loss=loss)
        return ObjectiveResult(score=x, metrics={"loss": loss})

    for options in ({}, {"early_stopping": "median"}, {"constraints": {"loss": ("<=", 2.0)}}, {"strategy": "nsga2"}):
        result = tune(objective, SPACE, metric="loss", mode="min", max_trials=12, seed=3, **options)
        huge = [t for t in result["trials"] if t["number"] % 3 == 0]
        # failed ("not finite"), or killed first by early stopping (an infinite loss is the worst there is)
        assert len(huge) == 4 and all(
            (t["state"] == "failed" and "not finite" in t["error"]) or t["state"] == "killed" for t in huge
        ), options
        assert result["study"]["trials"] == 12 and result["study"]["failed"] <= 4


def test_a_bare_score_too_large_for_a_float_fails_its_trial_with_a_clear_reason():
    result = tune(lambda ctx, x, n: 10**400 if ctx.number == 0 else x, SPACE, max_trials=3, seed=0)
    assert result["trials"][0]["state"] == "failed"
    assert result["trials"][0]["error"].startswith(
        "ValueError: the objective returned an infinite (or too large) score"
    )
    assert result["study"]["completed"] == 2
