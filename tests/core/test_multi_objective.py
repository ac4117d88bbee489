"""Several objectives and constraints: fronts (dominance, ties, NaN, failed and infeasible trials), the
strategies, resume, the CLI and the summary, early stopping's refusal."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from hyperion import ConfigurationError, Float, ObjectiveResult, tune
from hyperion_core.goal import Goal
from hyperion_core.pareto import crowding, front_indices, hypervolume, nondominated_ranks
from hyperion_reporters.summary import SummaryReporter

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": Float(0, 1), "y": Float(0, 1)}


def two(ctx, x, y):
    """accuracy up with x, latency up with x too: a trade-off; memory grows with y."""
    return ObjectiveResult(metrics={"accuracy": x, "latency_ms": 10 * x + y, "memory_gb": 10 * y})


def _dominated(a, b, modes):
    goal = Goal.of([f"m{i}" for i in range(len(modes))], list(modes))
    la, lb = goal.losses([a])[0], goal.losses([b])[0]
    return bool(np.all(lb <= la) and np.any(lb < la))


def test_pareto_helpers_agree_with_the_definitions():
    pts = np.array([[1, 5], [2, 3], [3, 1], [2, 4], [3, 3], [1, 5]], dtype=float)
    assert list(nondominated_ranks(pts)) == [0, 0, 0, 1, 1, 0]  # a tie of two front points: both on it
    assert set(front_indices(pts)) == {0, 1, 2, 5}
    assert math.isclose(hypervolume(pts, [4, 6]), 3 * 1 + 2 * 2 + 1 * 2)
    assert math.isclose(hypervolume(np.array([[0.0, 0.0, 0.0]]), [1, 2, 3]), 6.0)
    assert np.isinf(crowding(pts[[0, 1, 2]])[[0, 2]]).all()


@pytest.mark.parametrize("strategy", ["random", "grid", "bayesian", "nsga2", "beam_search"])
def test_the_result_has_the_front_and_no_best(strategy):
    result = tune(
        two,
        SPACE,
        strategy=strategy,
        metric=["accuracy", "latency_ms"],
        mode=["max", "min"],
        max_trials=30,
        seed=0,
        strategy_kwargs={"points": 4} if strategy == "grid" else None,
    )
    assert result["best"] is None and any("pareto_front" in n for n in result["study"]["notes"])
    front = result["pareto_front"]
    completed = [t for t in result["trials"] if t["state"] == "completed"]
    points = [[t["values"][0], t["values"][1]] for t in completed]
    on_front = {t["trial_id"] for t in front}
    for trial, point in zip(completed, points):
        dominated = any(_dominated(point, other, ["max", "min"]) for other in points)
        assert (trial["trial_id"] in on_front) == (not dominated)
    assert set(front[0]["values"]) == {"accuracy", "latency_ms"}
    assert result["study"]["metric"] == ["accuracy", "latency_ms"]


def test_failed_nan_and_infeasible_trials_are_never_on_the_front():
    def objective(ctx, x, y):
        if x < 0.2:
            raise RuntimeError("crashed")
        if x < 0.3:
            return ObjectiveResult(metrics={"accuracy": math.nan, "latency_ms": 1.0, "memory_gb": 1.0})
        return two(ctx, x, y)

    result = tune(
        objective,
        SPACE,
        metric=["accuracy", "latency_ms"],
        mode=["max", "min"],
        constraints={"memory_gb": ("<=", 5.0)},
        max_trials=60,
        seed=1,
    )
    by_id = {t["trial_id"]: t for t in result["trials"]}
    assert any(
        t["state"] == "failed" and "NaN" in t["error"] or "not finite" in (t["error"] or "") for t in by_id.values()
    )
    infeasible = [t for t in result["trials"] if t["feasible"] is False]
    assert infeasible and all(t["state"] == "completed" for t in infeasible)  # kept and marked
    assert all(by_id[t["trial_id"]]["feasible"] for t in result["pareto_front"])


def test_with_one_objective_the_best_is_the_best_feasible_trial():
    result = tune(
        lambda ctx, x, y: ObjectiveResult(score=x + y, metrics={"memory_gb": 10 * y}),
        SPACE,
        constraints={"memory_gb": ("<=", 3.0)},
        max_trials=40,
        seed=2,
    )
    feasible = [t for t in result["trials"] if t["feasible"]]
    assert result["best"]["value"] == max(t["value"] for t in feasible)
    assert result["best"]["value"] < max(t["value"] for t in result["trials"] if t["value"] is not None)
    with pytest.raises(ConfigurationError, match=r"constraints\['memory_gb'\]"):
        tune(two, SPACE, constraints={"memory_gb": ("<", 3)}, max_trials=1)


def test_a_missing_constraint_metric_fails_the_trial_with_the_reason():
    result = tune(lambda ctx, x, y: x, SPACE, constraints={"memory_gb": ("<=", 3.0)}, max_trials=2)
    assert all("constraint: the objective gave no value for metric 'memory_gb'" in t["error"] for t in result["trials"])


def test_bad_goals_and_early_stopping_without_a_named_metric_are_refused():
    with pytest.raises(ConfigurationError, match="as long as metric"):
        tune(two, SPACE, metric=["accuracy", "latency_ms"], mode=["max"], max_trials=1)
    with pytest.raises(ConfigurationError, match="twice"):
        tune(two, SPACE, metric=["accuracy", "accuracy"], max_trials=1)
    with pytest.raises(ConfigurationError, match="early stopping with several objectives needs the metric"):
        tune(two, SPACE, metric=["accuracy", "latency_ms"], mode=["max", "min"], early_stopping="median", max_trials=1)
    ok = tune(
        two,
        SPACE,
        metric=["accuracy", "latency_ms"],
        mode=["max", "min"],
        early_stopping="median",
        early_stopping_kwargs={"metric": "accuracy", "mode": "max"},
        max_trials=4,
    )
    assert ok["study"]["completed"] == 4


def test_a_multi_objective_study_resumes_and_the_cli_and_summary_show_the_front(tmp_path):
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    goal = {"metric": ["accuracy", "latency_ms"], "mode": ["max", "min"]}
    tune(two, SPACE, strategy="nsga2", storage=url, study_name="mo", max_trials=10, seed=0, **goal)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    result = tune(
        two,
        SPACE,
        strategy="nsga2",
        storage=url,
        study_name="mo",
        max_trials=25,
        seed=0,
        reporters=[SummaryReporter(console=console)],
        **goal,
    )
    assert result["study"]["resumed"] == 10 and result["study"]["completed"] == 25
    out = console.file.getvalue()
    assert f"Pareto front (max accuracy, min latency_ms): {len(result['pareto_front'])} trials" in out
    shown = subprocess.run(
        [sys.executable, "-m", "hyperion", "studies", "show", "mo", "--storage", url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )
    assert shown.returncode == 0, shown.stderr
    assert f"Pareto front: {len(result['pareto_front'])} trials" in shown.stdout
    assert all(t["trial_id"] in shown.stdout for t in result["pareto_front"][:10])
    with pytest.raises(ConfigurationError, match="goal changed"):
        tune(two, SPACE, storage=url, study_name="mo", max_trials=30, metric="accuracy")


def test_nsga2_and_bayesian_beat_random_on_a_two_objective_problem():
    """ZDT1 in 8 dimensions, 120 trials, 5 seeds: hypervolume of the front (benchmarks have the full set)."""
    import statistics

    def zdt1(ctx, **x):
        v = [x[f"x{i}"] for i in range(8)]
        g = 1 + 9 * sum(v[1:]) / 7
        return ObjectiveResult(metrics={"f1": v[0], "f2": g * (1 - math.sqrt(v[0] / g))})

    def median_hv(strategy):
        hvs = []
        for seed in range(5):
            r = tune(
                zdt1,
                {f"x{i}": Float(0, 1) for i in range(8)},
                strategy=strategy,
                metric=["f1", "f2"],
                mode="min",
                max_trials=120,
                seed=seed,
            )
            hvs.append(
                hypervolume(np.array([[t["values"]["f1"], t["values"]["f2"]] for t in r["pareto_front"]]), [1.1, 11])
            )
        return statistics.median(hvs)

    random_hv = median_hv("random")
    assert median_hv("nsga2") > random_hv and median_hv("bayesian") > random_hv


def test_when_no_trial_meets_the_constraints_it_is_said(tmp_path):
    import warnings as w

    from hyperion import HyperionWarning

    url = f"sqlite:///{tmp_path / 'c.db'}"
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        result = tune(
            lambda ctx, x, y: ObjectiveResult(score=x, metrics={"memory_gb": 100.0}),
            SPACE,
            storage=url,
            study_name="tight",
            constraints={"memory_gb": ("<=", 1.0)},
            max_trials=3,
        )
    assert result["best"] is None and result["study"]["completed"] == 3
    assert any(issubclass(c.category, HyperionWarning) and "met the constraints" in str(c.message) for c in caught)
    listing = subprocess.run(
        [sys.executable, "-m", "hyperion", "studies", "list", "--storage", url, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert [row["best"] for row in __import__("json").loads(listing.stdout)] == [None]  # no feasible best


def test_a_misspelled_metric_in_a_goal_list_or_a_constraint_is_refused_before_more_trials_run():
    calls = []

    def objective(ctx, x):
        calls.append(x)
        return ObjectiveResult(metrics={"accuracy": x, "latency": 1 - x, "memory_gb": x * 4})

    space = {"x": Float(0, 1)}
    with pytest.raises(ConfigurationError, match=r"metric 'latncy' .* did you mean metric=\['accuracy', 'latency'\]"):
        tune(objective, space, metric=["accuracy", "latncy"], mode=["max", "min"], max_trials=30)
    assert len(calls) == 1  # the first finished trial, not 30
    with pytest.raises(ConfigurationError, match=r"metric 'mem_gb' .* did you mean constraints=\{'memory_gb'"):
        tune(objective, space, metric="accuracy", constraints={"mem_gb": ("<=", 2.0)}, max_trials=30)
    assert len(calls) == 2


def test_constraints_are_part_of_a_stored_study_and_a_resume_compares_them(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'c.db'}"
    space = {"x": Float(0, 1)}

    def objective(ctx, x):
        return ObjectiveResult(score=x, metrics={"mem": x * 10})

    tune(objective, space, storage=url, study_name="s", max_trials=6, seed=0)
    with pytest.raises(ConfigurationError, match=r"the constraints changed from none to \{'mem': \['<=', 2.0\]\}"):
        tune(objective, space, storage=url, study_name="s", max_trials=10, constraints={"mem": ("<=", 2.0)})
    kept = tune(objective, space, storage=url, study_name="s", max_trials=8)  # the same search resumes
    assert kept["study"]["resumed"] == 6

    # A study from before constraints were kept (its config unknown) resumes with them, and its old
    # trials are judged against them: the best meets them.
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE hyperion_studies SET config = NULL")
    result = tune(
        objective,
        space,
        storage=url,
        study_name="s",
        max_trials=12,
        seed=1,
        initial_points=[{"x": 0.15}],
        constraints={"mem": ("<=", 2.0)},
    )
    assert any(t["metrics"]["mem"] > 2.0 for t in result["trials"][:8])  # old trials outside the constraints
    assert result["best"]["metrics"]["mem"] <= 2.0
    assert all(t["feasible"] == (t["metrics"]["mem"] <= 2.0) for t in result["trials"])
