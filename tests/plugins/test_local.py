"""`local` (a trust-region search run as asks and tells) and `auto`'s local phase: it converges where a
global search does not, starts from the best trial, restarts when done, never runs a known point twice,
copes with failures and several slots, and leaves no thread behind."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from hyperion import ConfigurationError, Float, Int, ObjectiveResult, tune

ROTATION = np.linalg.qr(np.random.default_rng(3).standard_normal((4, 4)))[0]


def valley(ctx, **x):
    """A rotated, ill-conditioned quadratic plus a quartic term (not a quadratic a model fits exactly)."""
    v = ROTATION @ (np.array([x[f"x{i}"] for i in range(4)]) - 0.7)
    return float(np.sum(10 ** (4 * np.arange(4) / 3) * v**2) + np.sum(v**4))


SPACE = {f"x{i}": Float(-3.0, 3.0) for i in range(4)}


def _run(strategy="local", objective=valley, space=SPACE, trials=150, seed=0, **kwargs):
    return tune(objective, space, strategy=strategy, mode="min", max_trials=trials, seed=seed, **kwargs)


def test_local_converges_where_random_search_does_not():
    local = [_run(seed=s)["best"]["value"] for s in range(2)]
    random = [_run("random", seed=s)["best"]["value"] for s in range(2)]
    assert max(local) < 1e-3 and min(random) > 1000 * max(local)


def test_it_starts_from_the_best_trial_of_a_resumed_study(tmp_path):
    from hyperion_core.plugins import registry

    storage = registry().storage(f"sqlite:///{tmp_path / 'l.db'}")
    first = _run("random", trials=30, seed=4, storage=storage, study_name="s")
    best = first["best"]["params"]
    resumed = _run(trials=31, seed=4, storage=storage, study_name="s")
    x = resumed["trials"][30]["params"]
    assert max(abs(x[k] - best[k]) for k in best) <= 0.2 * 6.0 + 1e-9  # within the first trust radius
    storage.close()


def test_a_converged_run_restarts_from_a_random_point():
    result = _run(
        objective=lambda ctx, x, y: (x - 0.1) ** 2 + (y + 0.2) ** 2,
        space={"x": Float(-1, 1), "y": Float(-1, 1)},
        trials=200,
    )
    assert any(n.startswith("local: restart 1 from a random point") for n in result["study"]["notes"])
    assert result["best"]["value"] < 1e-10


def test_known_points_are_not_run_again_on_whole_numbers():
    space = {"a": Int(0, 30), "b": Int(0, 30)}
    result = _run(objective=lambda ctx, a, b: (a - 7) ** 2 + 3 * (b - 21) ** 2, space=space, trials=60)
    points = [(t["params"]["a"], t["params"]["b"]) for t in result["trials"]]
    assert len(points) == len(set(points)) == 60 and result["best"]["value"] == 0


def test_failures_are_worse_than_anything_seen_and_the_search_goes_on():
    def half(ctx, **x):
        if x["x0"] > 2.5:
            raise ValueError("diverged")
        return valley(ctx, **x)

    result = _run(objective=half, trials=150, seed=1)
    assert result["best"]["value"] < 1e-2


def test_several_slots_run_neighbours_beside_the_solvers_point():
    """One trial of the solver's at a time (the others: neighbours of the best), in trial order."""
    result = _run(trials=240, seed=2, max_concurrent=3, reproducible=True)
    assert len(result["trials"]) == 240
    assert result["best"]["value"] < _run("random", trials=240, seed=2)["best"]["value"] / 50


def test_no_thread_is_left_behind():
    before = {t.ident for t in threading.enumerate() if t.name == "hyperion-local"}
    _run(trials=20)
    after = {t.ident for t in threading.enumerate() if t.name == "hyperion-local" and t.is_alive()}
    assert after <= before


@pytest.mark.parametrize("name", ["local", "cmaes"])
def test_the_local_searches_refuse_several_objectives(name):
    with pytest.raises(ConfigurationError, match=f"{name} optimises one objective"):
        tune(
            lambda ctx, x: ObjectiveResult(score=x, metrics={"a": x, "b": -x}),
            {"x": Float(0, 1)},
            strategy=name,
            metric=["a", "b"],
            mode=["min", "max"],
            max_trials=3,
        )


def test_local_refuses_bad_arguments():
    with pytest.raises(ConfigurationError, match="radius"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="local", strategy_kwargs={"radius": 0}, max_trials=3)
    with pytest.raises(ConfigurationError, match="local_kwargs are for one local search: name it"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="auto", strategy_kwargs={"local_kwargs": {"radius": 0.1}})
    with pytest.raises(ConfigurationError, match="local must be one of auto, local, cmaes"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, strategy="auto", strategy_kwargs={"local": "nelder"}, max_trials=3)


def test_auto_goes_on_with_the_local_search_on_numeric_spaces_and_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = _run("auto", trials=60, storage=url)
    notes = [n for n in result["study"]["notes"] if n.startswith("auto:")]
    assert notes == [
        "auto: gp (4 parameter(s), 0 categorical, budget 60)",
        "auto: switched from gp to local (numeric parameters only: a local search from gp's best after 30 "
        "trials (0.5 of the budget), one trial at a time)",
    ]
    from hyperion_core.plugins import registry

    storage = registry().storage(url)
    events = [e for e in storage.load_events(result["study"]["name"]) if e["kind"] == "strategy_choice"]
    storage.close()
    assert [(e["strategy"], e["previous"]) for e in events] == [("gp", None), ("local", "gp")]
    assert result["best"]["value"] <= min(t["value"] for t in result["trials"][:30])
    assert math.isfinite(result["best"]["value"])


def test_auto_takes_cmaes_for_the_local_phase_when_trials_run_beside_it():
    result = _run("auto", trials=40, max_concurrent=3, reproducible=True)
    notes = [n for n in result["study"]["notes"] if n.startswith("auto: switched")]
    assert notes == [
        "auto: switched from gp to cmaes (numeric parameters only: a local search from gp's best after 20 "
        "trials (0.5 of the budget), trials running beside it)"
    ]


def test_two_studies_search_locally_at_once_in_one_process():
    """Each solver waits for its own trials: none holds a lock the other needs (scipy's public COBYQA
    would serialise them, and one waiting for a long trial would stall the other)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(_run, trials=150, seed=s) for s in (0, 1)]
        results = [r.result(timeout=300) for r in runs]
    assert all(r["best"]["value"] < 1e-3 for r in results)


def test_a_strategy_dropped_without_close_ends_its_solver():
    import gc

    from hyperion_core.goal import Goal
    from hyperion_core.space import Space
    from hyperion_core.state import StudyState
    from hyperion_strategies.local import LocalSearch

    strategy = LocalSearch()
    strategy.setup(StudyState("s", Space(SPACE), Goal.of("score", "min"), seed=0))
    strategy.propose(strategy.study, 1)  # the solver now waits for that point's value
    thread = strategy.thread
    assert thread is not None and thread.is_alive()
    del strategy
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_point_whose_trial_vanished_counts_as_worst_and_the_solver_goes_on():
    """A trial of the solver's that ends without a result (interrupted) must not leave the solver
    waiting for ever: the next proposal tells it the worst value and takes its next point."""
    from hyperion_core.goal import Goal
    from hyperion_core.space import Space
    from hyperion_core.state import StudyState
    from hyperion_strategies.local import LocalSearch

    strategy = LocalSearch()
    strategy.setup(StudyState("s", Space(SPACE), Goal.of("score", "min"), seed=0))
    first = strategy.propose(strategy.study, 1)[0].params
    assert strategy.waiting is not None  # no trial of it is running (study.pending is empty)
    second = strategy.propose(strategy.study, 1)[0].params
    assert strategy.waiting == strategy._key(second) and second != first
    strategy.close(strategy.study)
