"""One Goal for what a study optimises, one StudyConfig for every option of tune() and Study."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from hyperion import ConfigurationError, Float, Int, ObjectiveResult, Study, load_study, tune
from hyperion_core.config import StudyConfig
from hyperion_core.goal import Goal

SPACE = {"x": Float(0, 1)}


def test_a_goal_ranks_and_dominates_in_its_directions():
    loss = Goal.of("loss", "min")
    acc = Goal.of("accuracy")  # mode defaults to max
    assert loss.better(0.1, 0.2) and not loss.better(0.2, 0.1) and not loss.better(0.1, 0.1)
    assert acc.better(0.9, 0.8) and acc.loss(0.9) == -0.9 and acc.loss(None) == math.inf
    assert loss.best([3.0, 1.0, 2.0]) == 1.0 and acc.best([3.0, 1.0]) == 3.0 and acc.best([]) is None
    assert sorted([0.2, None, 0.9], key=acc.loss) == [0.9, 0.2, None]
    two = Goal.of(["accuracy", "latency_ms"], ["max", "min"])
    assert (
        two.several
        and two.metric == "accuracy"
        and two.direction == "max"
        and str(two) == "max accuracy, min latency_ms"
    )
    assert two.dominates([0.9, 10], [0.8, 10]) and not two.dominates([0.9, 20], [0.8, 10])
    assert not two.dominates([0.9, 10], [0.9, 10])
    assert two.losses([[0.9, 10.0]]).tolist() == [[-0.9, 10.0]] and two.losses([]).shape == (0, 2)
    assert Goal.from_json(two.to_json()) == two and Goal.of(["accuracy"], "max") == acc


@pytest.mark.parametrize(
    ("metric", "mode", "fragment"),
    [
        ("", "max", "metric must be a metric name"),
        (["a", "a"], "max", "lists a metric twice"),
        (["a", "b"], ["max"], "as long as metric"),
        ("a", "maximize", "mode must be 'min' or 'max'"),
        (3, "max", "metric must be a metric name"),
    ],
)
def test_a_bad_goal_says_what_to_write(metric, mode, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Goal.of(metric, mode)


def test_one_config_checks_every_option_once_and_names_it():
    config = StudyConfig.of(space=SPACE, max_trials=np.int64(5), max_time_s=np.float32(2.5), seed=np.int32(3))
    assert (config.max_trials, config.max_time_s, config.seed) == (5, 2.5, 3)
    assert type(config.max_trials) is int and config.goal == Goal.of("score", "max")
    with pytest.raises(ConfigurationError, match="unknown option 'max_trial'"):
        StudyConfig.of(space=SPACE, max_trial=5)
    with pytest.raises(ConfigurationError, match="max_concurrent"):
        StudyConfig.of(space=SPACE, max_concurrent=0)
    with pytest.raises(ConfigurationError, match="study_name must be at most 255"):
        StudyConfig.of(space=SPACE, study_name="s" * 256)
    kept = StudyConfig.of(space=SPACE, strategy="tpe", constraints={"mem": ("<=", np.float64(2))}).kept()
    assert kept == {"constraints": {"mem": ["<=", 2.0]}, "strategy": "tpe"}


def test_a_study_that_names_no_strategy_gets_random_and_bayesian_under_early_stopping():
    assert StudyConfig.of(space=SPACE).strategy == "random"
    assert StudyConfig.of(space=SPACE, early_stopping="none").strategy == "random"
    assert StudyConfig.of(space=SPACE, early_stopping="moasha", metric=["a", "b"]).strategy == "random"
    for policy in ("asha", "hyperband", "median", "aggressive", "patient", "percentile"):
        assert StudyConfig.of(space=SPACE, early_stopping=policy).strategy == "bayesian"
        assert StudyConfig.of(space=SPACE, early_stopping=policy, strategy="random").strategy == "random"
    with Study(SPACE, early_stopping="asha") as study:
        study.tell(study.ask(), 0.5)
        assert study.result()["study"]["strategy"] == "bayesian"


def test_a_config_file_dict_validates_to_the_same_config():
    """What a config file holds (lists where Python has tuples) gives the config tune() would build."""
    from_python = StudyConfig.of(
        space=SPACE,
        metric="loss",
        mode="min",
        constraints={"mem": ("<=", 2.0)},
        warm_start_from=("sqlite:///a.db", "s"),
    )
    from_file = StudyConfig.model_validate(
        {
            "space": SPACE,
            "goal": {"metric": "loss", "mode": "min"},
            "constraints": {"mem": ["<=", 2]},
            "warm_start_from": ["sqlite:///a.db", "s"],
        }
    )
    assert from_file.goal == from_python.goal and from_file.constraints == from_python.constraints
    assert from_file.warm_start_from == from_python.warm_start_from


def test_study_and_tune_refuse_the_same_options_the_same_way():
    """Study used to skip checks tune() made (early stopping on several objectives without a metric)."""
    bad = {"metric": ["a", "b"], "early_stopping": "median"}
    with pytest.raises(ConfigurationError, match="early stopping with several objectives") as from_tune:
        tune(lambda ctx, x: x, SPACE, max_trials=1, **bad)
    with pytest.raises(ConfigurationError, match="early stopping with several objectives") as from_study:
        Study(SPACE, **bad)
    assert str(from_tune.value) == str(from_study.value)
    with pytest.raises(ConfigurationError, match="study_name must be at most"):
        Study(SPACE, study_name="s" * 300)


def test_a_file_of_schema_4_with_several_objectives_is_migrated_to_lists(tmp_path):
    path = tmp_path / "v4.db"
    url = f"sqlite:///{path}"

    def objective(ctx, x):
        return ObjectiveResult(metrics={"accuracy": x, "latency_ms": 10 * x})

    goal = {"metric": ["accuracy", "latency_ms"], "mode": ["max", "min"]}
    tune(objective, SPACE, storage=url, study_name="mo", max_trials=3, seed=0, **goal)
    con = sqlite3.connect(path)  # as schema 4 wrote it: comma-joined strings
    con.execute("UPDATE hyperion_studies SET metric = 'accuracy,latency_ms', mode = 'max,min'")
    con.execute("UPDATE hyperion_meta SET value = '4' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    result = tune(objective, SPACE, storage=url, study_name="mo", max_trials=5, seed=0, **goal)
    assert result["study"]["resumed"] == 3 and result["study"]["metric"] == ["accuracy", "latency_ms"]
    assert load_study("mo", storage=url)["study"]["mode"] == ["max", "min"]
    con = sqlite3.connect(path)
    assert con.execute("SELECT metric, mode FROM hyperion_studies").fetchone() == (
        '["accuracy", "latency_ms"]',
        '["max", "min"]',
    )


def test_one_encoding_serves_every_model_based_strategy():
    from hyperion import Bool, Choice, Int
    from hyperion_core.encoding import Encoding
    from hyperion_core.space import Space

    space = Space({"lr": Float(1e-4, 1e-1, log=True), "n": Int(1, 9), "opt": Choice(["a", "b", "c"]), "on": Bool()})
    enc = Encoding(space)
    params = {"lr": 1e-3, "n": 5, "opt": "c", "on": False}
    assert enc.numeric == ["lr", "n"] and enc.categorical == ["opt", "on"] and enc.sizes == [3, 2]
    assert enc.units(params) == pytest.approx([1 / 3, 0.5]) and enc.indices(params) == [2, 0]
    assert enc.one_hot(params).tolist() == pytest.approx([1 / 3, 0.5, 0, 0, 1, 1, 0])
    inactive = {"lr": 1e-3, "opt": "a"}  # a conditional space's point where n and on are inactive
    assert enc.units(inactive, fill=lambda: 0.25) == pytest.approx([1 / 3, 0.25])
    assert enc.indices(inactive, fill=lambda size: size - 1) == [0, 1] and enc.indices(inactive) == [0, -1]
    narrow = Encoding(space, leave_out={"opt"})
    assert narrow.categorical == ["on"] and narrow.width == 4


@pytest.mark.parametrize("strategy", ["bayesian", "gp", "nsga2"])
def test_reproducible_parallel_runs_give_the_same_trials_whatever_the_timing(strategy):
    """Two runs at four slots whose trials finish in opposite orders (the first run: in number order; the
    second: the later trials of each window first) propose the same points trial for trial."""
    import time

    def run(later_first: bool):
        def objective(ctx, x, n):
            delay = (3 - ctx.number % 4) if later_first else (ctx.number % 4)
            time.sleep(0.01 * delay)
            return ObjectiveResult(score=-((x - 0.3) ** 2) - n, metrics={"x": x})

        space = {"x": Float(0, 1), "n": Int(1, 3)}
        result = tune(objective, space, strategy=strategy, max_trials=24, max_concurrent=4, seed=7, reproducible=True)
        return [t["params"] for t in result["trials"]]

    assert run(False) == run(True)
    with pytest.raises(ConfigurationError, match="pass seed="):
        tune(lambda ctx, x: x, SPACE, max_trials=2, max_concurrent=2, reproducible=True)
