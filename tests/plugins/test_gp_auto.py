"""`gp` (Gaussian-process BO) and `auto` (picks and switches): what they find, how they treat every
parameter type, failures, concurrency and several objectives, and that auto says what it chose."""

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
from hyperion_strategies._gp_model import GP, _log_h
from hyperion_strategies._quadratic import quadratic_step
from hyperion_strategies.gp import GPSearch
from tests.plugins.test_bayesian import BRANIN, branin


def _best(strategy: str, seed: int, trials: int = 30, **kwargs) -> float:
    result = tune(branin, BRANIN, strategy=strategy, max_trials=trials, mode="min", seed=seed, strategy_kwargs=kwargs)
    return result["best"]["value"]


def test_gp_finds_branins_minimum_where_random_search_does_not():
    seeds = range(5)
    gp = [_best("gp", s) for s in seeds]
    random = [_best("random", s) for s in seeds]
    assert statistics.median(gp) < 0.45 and max(gp) < 0.6  # the minimum is 0.3979
    assert statistics.median(gp) < statistics.median(random) - 0.5


def _central_difference(f, x, step):
    """A central difference: its error is O(step**2), so it can be held to a tight tolerance where a
    one-sided difference (error O(step) times the curvature) cannot."""
    grad = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = step
        grad[i] = (f(x + e) - f(x - e)) / (2 * step)
    return grad


def test_the_marginal_likelihood_gradient_and_the_log_ei_gradient_are_right():
    rng = np.random.default_rng(0)
    x = rng.random((25, 3))
    y = np.sin(5 * x[:, 0]) + x[:, 1] ** 2
    model = GP(x, (y - y.mean()) / y.std())
    theta = model.theta + 0.1
    numeric = _central_difference(lambda t: model._neg_lml(t)[0], theta, 1e-5)
    assert np.allclose(numeric, model._neg_lml(theta)[1], rtol=1e-4, atol=1e-4)
    assert model.length[2] > model.length[0]  # the parameter that does nothing gets a long length scale
    points = rng.random((3, 3))
    best = float(model.y.min())
    value, grad = model.log_ei(points, best)
    for i in range(3):
        numeric = _central_difference(lambda p: model.log_ei(p[None], best)[0][0], points[i], 1e-5)
        assert np.allclose(numeric, grad[i], rtol=1e-4, atol=1e-4)
    # scoring without the gradient (products instead of differences) gives the same values, and the
    # posterior agrees with the textbook formulas solved directly
    assert np.allclose(model.log_ei(points, best, grad=False)[0], value, rtol=1e-9, atol=1e-9)
    kmat = model.signal * model._kernel(model.x, model.x) + (model.noise + 1e-8) * np.eye(len(x))
    ks = model.signal * model._kernel(points, model.x)
    mean, sd = model.predict(points)
    assert np.allclose(mean, ks @ np.linalg.solve(kmat, model.y), atol=1e-8)
    assert np.allclose(sd**2, model.signal - np.einsum("ij,ji->i", ks, np.linalg.solve(kmat, ks.T)), atol=1e-8)


def test_log_ei_is_finite_far_below_the_incumbent():
    from scipy.stats import norm

    z = np.array([-60.0, -30.0, -10.0, -1.0, 0.0, 3.0, 50.0])
    log_h, ratio = _log_h(z)
    assert np.all(np.isfinite(log_h)) and np.all(np.isfinite(ratio)) and np.all(ratio > 0)
    direct = np.log(z[3:] * norm.cdf(z[3:]) + norm.pdf(z[3:]))
    assert np.allclose(log_h[3:], direct)
    # `ratio` is the derivative of log_h in every region (the asymptotic one below -25 included)
    numeric = np.array([(_log_h(np.array([zi + 1e-4]))[0][0] - _log_h(np.array([zi - 1e-4]))[0][0]) / 2e-4 for zi in z])
    assert np.allclose(ratio, numeric, rtol=1e-6)


def test_the_quadratic_step_lands_on_a_quadratics_minimum():
    rng = np.random.default_rng(1)
    x = rng.random((30, 3))
    centre = np.array([0.3, 0.6, 0.45])
    y = ((x - centre) ** 2 * [1.0, 10.0, 100.0]).sum(axis=1)
    best = x[np.argmin(y)]
    assert np.allclose(quadratic_step(x, y, best), centre, atol=1e-6)
    assert quadratic_step(x, -y, best) is None  # a maximum is not a step to take
    assert quadratic_step(x[:5], y[:5], best) is None  # too few points for the fit


MIXED = {
    "lr": Float(1e-5, 1.0, log=True),
    "layers": Int(1, 6),
    "opt": Choice(["sgd", "adam", "rmsprop"]),
    "bn": Choice([True, False]),
}


def mixed(ctx, lr, layers, opt, bn):
    return abs(math.log10(lr) + 3) + abs(layers - 4) * 0.3 + {"sgd": 1.0, "adam": 0.0, "rmsprop": 0.5}[opt] + 0.2 * bn


def test_gp_handles_log_int_and_choice_parameters():
    result = tune(mixed, MIXED, strategy="gp", max_trials=40, mode="min", seed=0)
    best = result["best"]["params"]
    assert best["opt"] == "adam" and best["layers"] in (3, 4, 5) and result["best"]["value"] < 0.8
    keys = {tuple(sorted(t["params"].items())) for t in result["trials"]}
    assert len(keys) == 40  # never the same point twice


def test_gp_treats_failures_as_the_worst_and_spreads_concurrent_slots():
    def objective(ctx, x1, x2):
        if x1 > 7:
            raise ValueError("unstable")
        return branin(ctx, x1, x2)

    result = tune(objective, BRANIN, strategy="gp", max_trials=40, mode="min", seed=1, max_concurrent=4)
    late = result["trials"][20:]
    assert sum(t["state"] == "failed" for t in late) <= 4  # it learnt where trials fail
    assert result["best"]["value"] < 1.0


def test_parallel_gp_proposals_are_distinct():
    space = {"x": Float(0, 1), "y": Float(0, 1)}
    state = StudyState("t", Space(space), Goal.of("score", "min"), seed=0)
    for i in range(15):
        trial = Trial(number=i, params={"x": i / 14, "y": (i * 7 % 15) / 14}, state=TrialState.COMPLETED)
        trial.value = (trial.params["x"] - 0.3) ** 2 + (trial.params["y"] - 0.6) ** 2
        state.add(trial)
        state.finish(trial)
    strategy = GPSearch(local=False)
    strategy.setup(state)
    for trial in state.trials:
        strategy.observe(trial)
    points = [(p.params["x"], p.params["y"]) for p in strategy.propose(state, 4)]
    gaps = [math.dist(a, b) for i, a in enumerate(points) for b in points[i + 1 :]]
    assert min(gaps) > 1e-3  # the kriging believer: each slot goes somewhere else (without: 1e-7 apart)


def test_gp_with_several_objectives_finds_a_front():
    result = tune(
        lambda ctx, x, y: ObjectiveResult(score=x, metrics={"a": x + y, "b": (1 - x) ** 2 + y}),
        {"x": Float(0, 1), "y": Float(0, 1)},
        strategy="gp",
        metric=["a", "b"],
        mode=["min", "min"],
        max_trials=30,
        seed=0,
    )
    front = result["pareto_front"]
    assert len(front) >= 4 and statistics.median(t["params"]["y"] for t in front) < 0.15


def test_gp_rejects_bad_arguments():
    with pytest.raises(ConfigurationError, match="warp must be one of"):
        tune(branin, BRANIN, strategy="gp", strategy_kwargs={"warp": "cube"}, max_trials=2)
    with pytest.raises(ConfigurationError, match="n_restarts"):
        tune(branin, BRANIN, strategy="gp", strategy_kwargs={"n_restarts": 0}, max_trials=2)


def _auto(space, objective, trials=12, storage=None, **kwargs):
    return tune(objective, space, strategy="auto", max_trials=trials, mode="min", seed=0, storage=storage, **kwargs)


@pytest.mark.parametrize(
    ("space", "objective", "kwargs", "expect"),
    [
        (BRANIN, branin, {}, "auto: gp (2 parameter(s), 0 categorical, budget 12)"),
        (
            {"a": Choice(["x", "y"]), "b": Choice(["p", "q", "r"]), "c": Float(0, 1)},
            lambda ctx, a, b, c: c,
            {},
            "auto: bayesian (2 of 3 parameters are categorical)",
        ),
        (  # a Choice of three or more numbers is ordered: a number to the model, not a label
            {"a": Choice(["x", "y"]), "b": Choice([64, 16, 32]), "c": Choice([1e-3, 1e-2, 1e-1])},
            lambda ctx, a, b, c: c,
            {},
            "auto: gp (3 parameter(s), 1 categorical, budget 12)",
        ),
        (
            {"model": Choice([{"name": "svm", "c": Float(0.1, 10)}, {"name": "tree", "depth": Int(1, 5)}])},
            lambda ctx, model: 1.0,
            {},
            "auto: bayesian (a conditional space (tree-structured TPE))",
        ),
        (
            {f"x{i}": Float(0, 1) for i in range(25)},
            lambda ctx, **x: sum(x.values()),
            {},
            "auto: bayesian (25 parameters (more than 20))",
        ),
    ],
)
def test_auto_says_what_it_chose_and_why(space, objective, kwargs, expect):
    assert expect in _auto(space, objective, **kwargs)["study"]["notes"]


def test_auto_switches_from_gp_to_bayesian_and_records_it(tmp_path):
    """A space with a categorical parameter goes on with bayesian (numeric ones only: cmaes, test_cmaes)."""
    url = f"sqlite:///{tmp_path / 'auto.db'}"
    space = {**BRANIN, "shift": Choice([0.0, 1.0])}
    result = _auto(
        space,
        lambda ctx, shift, **p: branin(ctx, **p) + shift,
        trials=30,
        storage=url,
        strategy_kwargs={"gp_trials": 15},
    )
    notes = [n for n in result["study"]["notes"] if n.startswith("auto:")]
    assert notes == [
        "auto: gp (3 parameter(s), 1 categorical, budget 30)",
        "auto: switched from gp to bayesian (15 trials finished (gp stops at gp_trials=15))",
    ]
    from hyperion_core.plugins import registry

    storage = registry().storage(url)
    events = [e for e in storage.load_events(result["study"]["name"]) if e["kind"] == "strategy_choice"]
    storage.close()
    assert [(e["strategy"], e["previous"]) for e in events] == [("gp", None), ("bayesian", "gp")]
    assert result["best"]["value"] < 1.5


def test_auto_goes_on_with_bayesian_once_a_policy_stops_a_trial():
    """gp models finished trials only; TPE learns from the stopped ones too (by how far they got)."""

    def objective(ctx, x, y):
        for epoch in range(9):
            ctx.report(step=epoch, loss=(x - 0.3) ** 2 + (y - 0.6) ** 2 + 1.0 / (epoch + 1))
            if ctx.should_stop():
                break
        return ObjectiveResult(metrics={"loss": (x - 0.3) ** 2 + (y - 0.6) ** 2})

    space = {"x": Float(0, 1), "y": Float(0, 1)}
    result = tune(
        objective, space, strategy="auto", metric="loss", mode="min", max_trials=20, early_stopping="asha", seed=0
    )
    notes = [n for n in result["study"]["notes"] if n.startswith("auto:")]
    first_stop = next(i for i, t in enumerate(result["trials"]) if t["state"] == "killed")
    assert notes[0] == "auto: gp (2 parameter(s), 0 categorical, budget 20)"
    assert notes[1:] == [
        "auto: switched from gp to bayesian (1 trial(s) stopped early: TPE learns from them by how far they got)"
    ]
    assert first_stop < 19 and result["study"]["killed"] > 5


def test_auto_with_several_objectives_uses_multi_objective_tpe():
    result = tune(
        lambda ctx, x: ObjectiveResult(score=x, metrics={"a": x, "b": 1 - x}),
        {"x": Float(0, 1)},
        strategy="auto",
        metric=["a", "b"],
        mode=["min", "min"],
        max_trials=10,
        seed=0,
    )
    assert "auto: bayesian (several objectives (multi-objective TPE))" in result["study"]["notes"]


def test_a_choice_of_thousands_of_options_keeps_gp_bounded_and_auto_picks_bayesian():
    space = {"c": Choice([f"o{i}" for i in range(5_000)]), "x": Float(0, 1), "y": Float(0, 1)}

    def objective(ctx, c, x, y):
        return x + y + (int(c[1:]) % 7) / 7

    result = tune(objective, space, strategy="gp", max_trials=30, seed=0)
    assert result["study"]["completed"] == 30
    assert any("c has more than 32 options: the model leaves them out" in n for n in result["study"]["notes"])
    from hyperion_strategies.gp import GPSearch

    gp = GPSearch()
    gp.setup(StudyState("s", Space(space), Goal.of("score", "max"), 0))
    assert gp.encoding.width == 2  # the two numbers: not 5,002 columns
    auto = tune(objective, space, strategy="auto", max_trials=5, seed=0)
    assert any("auto: bayesian (a Choice of 5000 options" in n for n in auto["study"]["notes"])
    assert not any(n.startswith("gp:") for n in auto["study"]["notes"])


def test_gp_limits_every_blas_to_one_thread_scipys_own_included():
    """scipy loads its own OpenBLAS when scipy.linalg is first imported; the limit must reach it (it was
    set before, and the GP's Cholesky solves ran on every core of a busy machine)."""
    import subprocess
    import sys

    code = (
        "import json\n"
        "from threadpoolctl import threadpool_info\n"
        "from hyperion_strategies.gp import _one_blas_thread\n"
        "with _one_blas_thread():\n"
        "    import scipy.linalg\n"
        "    blas = [i for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "print(json.dumps([(i['filepath'].rsplit('/', 1)[-1], i['num_threads']) for i in blas]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    import json

    libraries = json.loads(out.stdout)
    assert libraries and all(threads == 1 for _, threads in libraries), libraries


def test_gp_searches_a_grid_of_numbers_by_its_order():
    """A log-spaced grid of learning rates and a grid of widths: read as ordered numbers, gp reaches the
    best pair (1e-2, 256) within 25 trials on every seed; random search over the same 136 pairs rarely does."""
    space = {
        "lr": Choice([10 ** (-5 + i / 4) for i in range(17)]),
        "units": Choice([1024, 16, 32, 64, 128, 256, 512, 8]),
    }

    def objective(ctx, lr, units):
        return (math.log10(lr) + 2) ** 2 + (math.log2(units) - 8) ** 2

    def hits(strategy: str) -> int:
        runs = [tune(objective, space, strategy=strategy, max_trials=25, mode="min", seed=seed) for seed in range(5)]
        return sum(run["best"]["value"] < 1e-9 for run in runs)

    assert hits("gp") == 5 and hits("auto") == 5
    assert hits("random") <= 1
