"""`cmaes` (CMA-ES with restarts) and `auto`'s local phase: the search distribution learns a problem's
scaling, warm starts from finished trials, never re-runs a known point, copes with failures, several
slots and plateaus, and refuses what it cannot do."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from hyperion import Choice, ConfigurationError, Float, Int, tune
from hyperion_strategies.cmaes import Gaussian

ROTATION = np.linalg.qr(np.random.default_rng(7).standard_normal((5, 5)))[0]


def ellipsoid(ctx, **x):
    """A rotated ellipsoid of condition 1e6 (not separable): BBOB's f10 in spirit."""
    v = ROTATION @ (np.array([x[f"x{i}"] for i in range(5)]) - 1.0)
    return float(np.sum(10 ** (6 * np.arange(5) / 4) * v**2))


SPACE = {f"x{i}": Float(-5.0, 5.0) for i in range(5)}


def _best(strategy, objective=ellipsoid, space=SPACE, trials=400, seed=0, **kwargs):
    return tune(objective, space, strategy=strategy, mode="min", max_trials=trials, seed=seed, **kwargs)


def test_the_gaussian_converges_on_a_sphere_at_cma_es_speed():
    """The update rules as published: on a 5-d sphere the step size shrinks geometrically and the
    mean reaches the optimum to 1e-8 within 100 generations (the tutorial's rate is about 1e-1 per
    10 generations of 8 points here)."""
    rng = np.random.default_rng(0)
    g = Gaussian(rng.random(5), 0.3, np.ones(5), 8)
    for _ in range(100):
        xs = [g.draw(rng) for _ in range(8)]
        g.update(xs, [float(np.sum((x - 0.3) ** 2)) for x in xs])
    assert float(np.sum((g.mean - 0.3) ** 2)) < 1e-8
    assert g.sigma < 1e-3


def test_the_covariance_learns_the_problems_scaling():
    """On an axis-parallel ellipsoid the learned covariance's axes line up with the problem's: the
    variance along the steep axis ends far below the flat one's."""
    rng = np.random.default_rng(1)
    g = Gaussian(np.full(3, 0.8), 0.2, np.ones(3), 7)
    scale = np.array([1.0, 1e2, 1e4])
    for _ in range(120):
        xs = [g.draw(rng) for _ in range(7)]
        g.update(xs, [float(np.sum(scale * (x - 0.5) ** 2)) for x in xs])
    variances = np.diag(g.cov)
    assert variances[0] > 100 * variances[2]


def test_cmaes_solves_an_ill_conditioned_problem_random_search_cannot():
    seeds = range(3)
    cma = [_best("cmaes", trials=800, seed=s)["best"]["value"] for s in seeds]
    random = [_best("random", trials=800, seed=s)["best"]["value"] for s in seeds]
    assert statistics.median(cma) < 2.0 and statistics.median(random) > 1000 * statistics.median(cma)


def test_cmaes_never_runs_a_point_twice_on_whole_numbers():
    """Int parameters: once the step size is small many draws round to a point already run; its known
    value is told to the search without a trial."""
    space = {"a": Int(0, 20), "b": Int(0, 20)}
    result = _best("cmaes", lambda ctx, a, b: (a - 3) ** 2 + 10 * (b - 17) ** 2, space, trials=80)
    points = [(t["params"]["a"], t["params"]["b"]) for t in result["trials"]]
    assert len(points) == len(set(points)) == 80
    assert result["best"]["value"] == 0


def test_cmaes_warm_starts_from_the_trials_it_finds(tmp_path):
    """A resumed study: the first generation is drawn around the best trial, not at random."""

    def bowl(ctx, x, y):
        return (x - 4.0) ** 2 + (y + 4.0) ** 2

    space = {"x": Float(-5.0, 5.0), "y": Float(-5.0, 5.0)}
    from hyperion_core.plugins import registry

    storage = registry().storage(f"sqlite:///{tmp_path / 'w.db'}")
    first = tune(bowl, space, strategy="random", mode="min", max_trials=40, seed=3, storage=storage, study_name="w")
    best = first["best"]["params"]
    resumed = tune(bowl, space, strategy="cmaes", mode="min", max_trials=46, seed=3, storage=storage, study_name="w")
    fresh = [t["params"] for t in resumed["trials"] if t["number"] >= 40]
    spread = max(max(abs(p["x"] - best["x"]), abs(p["y"] - best["y"])) for p in fresh)
    assert len(fresh) == 6 and spread < 5.0  # within the best trials' spread of the best, not the whole box
    storage.close()


def test_failed_trials_rank_last_and_the_search_goes_on():
    def half(ctx, **x):
        if x["x0"] > 2.0:
            raise ValueError("diverged")
        return ellipsoid(ctx, **x)

    result = _best("cmaes", half, trials=800, seed=1)
    assert any(t["state"] == "failed" for t in result["trials"])
    assert result["best"]["value"] < _best("random", half, trials=800, seed=1)["best"]["value"] / 1000


def test_cmaes_with_several_slots_finishes_and_converges():
    result = _best("cmaes", trials=800, seed=2, max_concurrent=4, reproducible=True)  # the same run every time
    assert len(result["trials"]) == 800
    assert result["best"]["value"] < _best("random", trials=800, seed=2)["best"]["value"] / 1000


def test_a_flat_problem_restarts_with_a_larger_population():
    result = _best("cmaes", lambda ctx, x, y: 1.0, {"x": Float(0, 1), "y": Float(0, 1)}, trials=300)
    restarts = [n for n in result["study"]["notes"] if n.startswith("cmaes: restart")]
    assert restarts and restarts[0] == "cmaes: restart 1 with population 12 (its values stopped moving)"


def test_categorical_parameters_follow_the_best_trial():
    space = {"x": Float(-3.0, 3.0), "kind": Choice(["good", "bad", "worse"])}

    def f(ctx, x, kind):
        return x * x + {"good": 0.0, "bad": 5.0, "worse": 10.0}[kind]

    result = _best("cmaes", f, space, trials=120)
    assert result["best"]["params"]["kind"] == "good" and result["best"]["value"] < 1e-3
    late = [t["params"]["kind"] for t in result["trials"][60:]]
    assert late.count("good") > len(late) / 2


def test_cmaes_refuses_bad_arguments():  # several objectives: test_local
    with pytest.raises(ConfigurationError, match="sigma0"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="cmaes", strategy_kwargs={"sigma0": 2}, max_trials=3)
    with pytest.raises(ConfigurationError, match="popsize"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="cmaes", strategy_kwargs={"popsize": 1}, max_trials=3)


def test_auto_can_go_on_with_cmaes_and_says_so():
    result = _best("auto", trials=60, seed=0, strategy_kwargs={"local": "cmaes"})
    notes = [n for n in result["study"]["notes"] if n.startswith("auto:")]
    assert notes == [
        "auto: gp (5 parameter(s), 0 categorical, budget 60)",
        "auto: switched from gp to cmaes (numeric parameters only: a local search from gp's best after 30 "
        "trials (0.5 of the budget))",
    ]
    gp_best = min(t["value"] for t in result["trials"][:30])
    assert result["best"]["value"] <= gp_best and math.isfinite(result["best"]["value"])
