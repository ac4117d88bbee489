"""Warm starts: initial_points run first and count; warm_start_from teaches the strategy another
study's results without counting them; both with every strategy and on resume."""

from __future__ import annotations

import pytest

from hyperion import ConfigurationError, Float, Int, Study, tune
from hyperion_core.plugins import registry
from tests.plugins.test_strategies_contract import KWARGS, SPACE, objective

STRATEGIES = registry().names("strategy")
POINT = {"lr": 0.01, "dropout": 0.1, "layers": 3, "optimizer": "adam", "nested": {"bn": True, "width": 64}}


@pytest.mark.parametrize("name", STRATEGIES)
def test_initial_points_run_first_count_and_are_seen_by_every_strategy(name):
    partial = {"lr": 0.001, "nested": {"width": 32}}
    result = tune(
        objective,
        SPACE,
        strategy=name,
        strategy_kwargs=KWARGS.get(name),
        max_trials=6,
        seed=0,
        initial_points=[POINT, partial],
    )
    first, second = result["trials"][0], result["trials"][1]
    assert first["params"] == {**POINT, "nested": {**POINT["nested"], "fixed": "yes"}}
    assert second["params"]["lr"] == 0.001 and second["params"]["nested"]["width"] == 32
    assert second["rationale"].startswith("initial point 1; sampled")
    assert result["study"]["trials"] == 6


def test_bad_initial_points_name_the_point_and_the_parameter():
    with pytest.raises(ConfigurationError, match=r"initial_points\[1\]: parameter 'layers': 99 is not in Int\(1, 8\)"):
        tune(objective, SPACE, max_trials=3, initial_points=[POINT, {**POINT, "layers": 99}])
    with pytest.raises(ConfigurationError, match="unknown parameter"):
        tune(objective, SPACE, max_trials=3, initial_points=[{"nope": 1}])
    with pytest.raises(ConfigurationError, match="list of dicts"):
        tune(objective, SPACE, max_trials=3, initial_points={"lr": 0.1})


def test_initial_points_already_run_are_not_run_again_on_resume(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    points = [{"x": 0.1}, {"x": 0.2}, {"x": 0.3}]
    tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="s", max_trials=2, initial_points=points)
    result = tune(
        lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="s", max_trials=5, initial_points=points
    )
    assert [t["params"]["x"] for t in result["trials"][:3]] == [0.1, 0.2, 0.3]
    assert sum(1 for t in result["trials"] if (t["rationale"] or "").startswith("initial point")) == 3


@pytest.mark.parametrize("name", ["random", "bayesian", "beam_search", "grid"])
def test_warm_start_from_another_study_is_learned_not_counted(tmp_path, name):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old_space = {"x": Float(0, 1), "n": Int(1, 4), "gone": Float(0, 1)}
    tune(lambda ctx, x, n, gone: -((x - 0.2) ** 2), old_space, storage=url, study_name="old", max_trials=30, seed=1)
    new_space = {"x": Float(0, 0.5), "n": Int(1, 4)}
    with Study(new_space, strategy=name, warm_start_from=(url, "old"), max_trials=4, seed=0) as study:
        result = study.result()
    assert result["study"]["trials"] == 0  # learned from, not counted
    notes = " ".join(result["study"]["notes"])
    assert "learned from" in notes and "parameter(s) gone are not in this space" in notes
    assert "did not fit this space" in notes  # old trials with x > 0.5


def test_warm_start_steers_bayesian_from_its_first_proposal():
    """Without a warm start the first trial is a random sample; with one it comes from the model."""
    good = [{"params": {"x": 0.8 + i / 1000}, "value": 1.0} for i in range(30)]
    bad = [{"params": {"x": i / 100}, "value": 0.0} for i in range(30)]

    def first_proposals(warm):
        return [
            tune(
                lambda ctx, x: -abs(x - 0.8),
                {"x": Float(0, 1)},
                strategy="bayesian",
                warm_start_from=warm,
                max_trials=1,
                seed=s,
            )["trials"][0]["params"]["x"]
            for s in range(10)
        ]

    warm, cold = first_proposals(good + bad), first_proposals(None)
    assert sum(abs(x - 0.8) < 0.15 for x in warm) >= 7 > sum(abs(x - 0.8) < 0.15 for x in cold)
