"""Conditional spaces: a Choice between sub-spaces, with every strategy, grid expansion, resume, the
stored and shown records (inactive parameters absent). Search quality on conditional problems is
measured in benchmarks/conditional.py."""

from __future__ import annotations

import json
import random

import pytest

from hyperion import Choice, ConfigurationError, Float, Int, ObjectiveResult, SpaceError, StorageError, tune
from hyperion_core.plugins import registry
from hyperion_core.space import Space
from hyperion_storage.sql import SQLStorage
from tests.plugins.test_strategies_contract import KWARGS

SPACE = {
    "optimizer": Choice(
        [
            {"name": "adam", "lr": Float(1e-5, 1e-2, log=True)},
            {
                "name": "sgd",
                "lr": Float(1e-3, 1, log=True),
                "momentum": Float(0, 0.99),
                "schedule": Choice([None, {"kind": "step", "gamma": Float(0.1, 0.9)}]),
            },
        ]
    ),
    "layers": Int(1, 4),
}


def objective(ctx, optimizer, layers):
    assert set(optimizer) == ({"name", "lr"} if optimizer["name"] == "adam" else {"name", "lr", "momentum", "schedule"})
    if optimizer["name"] == "sgd" and optimizer["schedule"] is not None:
        assert optimizer["schedule"]["kind"] == "step" and 0.1 <= optimizer["schedule"]["gamma"] <= 0.9
    return -abs(optimizer["lr"] - 0.001) - 0.1 * layers - (optimizer["name"] == "sgd")


def test_the_objective_gets_the_chosen_option_with_its_values_and_nothing_else():
    space = Space(SPACE)
    rng = random.Random(0)
    for _ in range(50):
        flat = space.sample(rng)
        assert {k: v for k, v in space.validate(flat).items() if k in space.params} == flat
        nested = space.unflatten(flat)
        chosen = flat["optimizer"]
        assert nested["optimizer"]["name"] == chosen
        assert all(not k.startswith("optimizer[") or k.startswith(f"optimizer[{chosen}]") for k in flat)
    assert Space.described(space.describe()).describe() == space.describe()  # stored and rebuilt alike


def test_inactive_values_are_dropped_and_bad_options_named():
    space = Space(SPACE)
    point = {"optimizer": "adam", "optimizer[adam].lr": 0.001, "optimizer[sgd].momentum": 0.5, "layers": 2}
    assert space.validate(point) == {
        "optimizer": "adam",
        "optimizer[adam].lr": 0.001,
        "layers": 2,
        "optimizer[adam].name": "adam",
    }
    with pytest.raises(SpaceError, match=r"'optimizer\[sgd\].lr' is missing"):
        space.validate({"optimizer": "sgd", "layers": 2})
    with pytest.raises(SpaceError, match="defined twice"):
        Space({"a": Choice([{"name": "x", "b": Float(0, 1)}]), "a[x]": {"b": Float(0, 1)}})


@pytest.mark.parametrize("name", registry().names("strategy"))
@pytest.mark.parametrize("concurrent", [1, 3])
def test_every_strategy_searches_a_conditional_space(name, concurrent):
    result = tune(
        objective,
        SPACE,
        strategy=name,
        strategy_kwargs=KWARGS.get(name),
        max_trials=24,
        max_concurrent=concurrent,
        seed=4,
    )
    assert result["study"]["failed"] == 0, [t["error"] for t in result["trials"] if t["error"]][:1]
    assert result["study"]["completed"] > 0
    branches = {t["params"]["optimizer"]["name"] for t in result["trials"]}
    if name != "grid":  # the grid runs in order: 24 points do not reach the second option
        assert branches == {"adam", "sgd"}


def test_grid_expands_each_option_with_its_own_parameters():
    space = {"opt": Choice([{"name": "a", "x": Choice([1, 2])}, {"name": "b", "y": Choice([1, 2, 3])}, "none"])}
    result = tune(lambda ctx, opt: 1.0, space, strategy="grid")
    assert result["study"]["trials"] == 2 + 3 + 1
    assert sorted(json.dumps(t["params"], sort_keys=True) for t in result["trials"]) == sorted(
        json.dumps({"opt": o}, sort_keys=True)
        for o in [
            {"name": "a", "x": 1},
            {"name": "a", "x": 2},
            {"name": "b", "y": 1},
            {"name": "b", "y": 2},
            {"name": "b", "y": 3},
            "none",
        ]
    )


def test_a_conditional_study_resumes_and_its_records_leave_inactive_parameters_out(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    tune(objective, SPACE, strategy="bayesian", storage=url, study_name="c", max_trials=6, seed=0)
    result = tune(objective, SPACE, strategy="bayesian", storage=url, study_name="c", max_trials=12, seed=0)
    assert result["study"]["resumed"] == 6 and result["study"]["completed"] == 12
    storage = SQLStorage(url)
    for trial in storage.load_trials("c"):
        active = {k for k in trial.params if k.startswith("optimizer[")}
        assert all(k.startswith(f"optimizer[{trial.params['optimizer']}]") for k in active)
    storage.close()


def test_bayesian_beats_random_search_on_a_model_choice():
    """The search quality the tree decomposition exists for (benchmarks/conditional.py has the figures)."""
    import statistics

    from benchmarks.conditional import SPACE as MODELS
    from benchmarks.conditional import loss

    def median_best(strategy):
        return statistics.median(
            tune(lambda ctx, model: loss(model), MODELS, strategy=strategy, mode="min", max_trials=60, seed=s)["best"][
                "value"
            ]
            for s in range(10)
        )

    assert median_best("bayesian") < median_best("random") / 10


def test_what_a_conditional_study_returns_is_accepted_back_as_input(tmp_path):
    from hyperion import HyperionWarning

    space = {
        "opt": Choice(
            [
                {"name": "adam", "lr": Float(1e-4, 1e-1, log=True)},
                {"name": "sgd", "lr": Float(1e-3, 1.0, log=True), "momentum": Float(0, 0.99)},
                "none",
            ]
        ),
        "batch": 32,
    }

    def objective(ctx, opt, batch):
        return opt["lr"] if isinstance(opt, dict) else 0.0

    first = tune(objective, space, max_trials=8, seed=0, storage=f"sqlite:///{tmp_path / 'c.db'}", study_name="c")
    best = first["best"]["params"]
    again = tune(objective, space, max_trials=2, initial_points=[best])
    assert again["trials"][0]["params"] == best
    rows = [{"params": t["params"], "value": t["value"]} for t in first["trials"]]
    warm = tune(objective, space, max_trials=2, warm_start_from=rows, strategy="bayesian")
    assert "learned from 8 finished trial(s)" in warm["study"]["notes"][0]
    stored = tune(objective, space, max_trials=2, warm_start_from=(f"sqlite:///{tmp_path / 'c.db'}", "c"))
    assert "learned from 8 finished trial(s)" in stored["study"]["notes"][0]
    with pytest.raises(ConfigurationError, match="initial_points\\[0\\]: parameter 'opt': .* is none of its options"):
        tune(objective, space, max_trials=1, initial_points=[{"opt": {"name": "rmsprop", "lr": 0.1}}])
    with pytest.raises(ConfigurationError, match="warm_start_from: a trial's params: a point must be a dict"):
        tune(objective, space, max_trials=1, warm_start_from=[{"params": [0.1, 0.2], "value": 1.0}])
    with pytest.warns(HyperionWarning, match="none of the 1 trial"):
        tune(objective, space, max_trials=1, warm_start_from=[{"params": {"opt": "none", "batch": 64}, "value": 1.0}])
    with pytest.raises(StorageError, match="no database at"):
        tune(objective, space, max_trials=1, warm_start_from=(f"sqlite:///{tmp_path / 'typo.db'}", "c"))
    assert not (tmp_path / "typo.db").exists()


def test_under_asha_the_tree_learns_from_the_trials_it_stops():
    """No strategy named under a policy: bayesian, whose tree ranks stopped trials by how far they got."""
    import statistics

    from benchmarks.conditional import SPACE as MODELS
    from benchmarks.conditional import loss

    def objective(ctx, model):
        final = loss(model)
        for epoch in range(9):
            ctx.report(step=epoch, loss=final + 1.0 / (epoch + 1))
            if ctx.should_stop():
                break
        return ObjectiveResult(metrics={"loss": final})

    def median_best(strategy):
        study = {"metric": "loss", "mode": "min", "max_trials": 60, "early_stopping": "asha"}
        return statistics.median(
            tune(objective, MODELS, strategy=strategy, seed=s, **study)["best"]["value"] for s in range(10)
        )

    assert median_best(None) < median_best("random") / 2
