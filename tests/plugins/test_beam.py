"""`beam_search`: the tree (lineage, depths, size), its end, and pruning through should_stop."""

from __future__ import annotations

import pytest

from hyperion import Choice, ConfigurationError, Float, Int, ObjectiveResult, tune


def objective(ctx, x, n, c):
    return -((x - 0.3) ** 2) - 0.01 * (n - 4) ** 2 + (0.5 if c == "a" else 0)


SPACE = {"x": Float(0, 1), "n": Int(1, 10), "c": Choice(["a", "b"])}


@pytest.mark.parametrize("concurrent", [1, 4])
def test_the_tree_has_lineage_bounded_depth_and_ends_by_itself(concurrent):
    kwargs = {"K": 2, "width": 3, "max_depth": 3}
    result = tune(
        objective,
        SPACE,
        strategy="beam_search",
        strategy_kwargs=kwargs,
        max_trials=500,
        max_concurrent=concurrent,
        seed=1,
    )
    trials = {t["trial_id"]: t for t in result["trials"]}
    assert len(trials) == 6 + 3 * 2 * 3  # initial K*width, then K*width per depth: exhausted before 500
    depths = [t["depth"] for t in trials.values()]
    assert depths.count(0) == 6 and max(depths) == 3
    for trial in trials.values():
        if trial["depth"] == 0:
            assert trial["parent_id"] is None
        else:
            parent = trials[trial["parent_id"]]
            assert parent["depth"] < trial["depth"] and parent["state"] == "completed"
            assert parent["trial_id"] in trial["rationale"]
    assert result["best"]["score"] >= max(t["score"] for t in trials.values() if t["depth"] == 0)


def test_children_perturb_their_parent_and_refine_with_depth():
    result = tune(
        objective, SPACE, strategy="beam_search", strategy_kwargs={"K": 3, "width": 4, "max_depth": 4}, seed=3
    )
    trials = {t["trial_id"]: t for t in result["trials"]}
    step = {}
    for t in trials.values():
        if t["parent_id"]:
            step.setdefault(t["depth"], []).append(abs(t["params"]["x"] - trials[t["parent_id"]]["params"]["x"]))
    mean = {d: sum(v) / len(v) for d, v in step.items()}
    assert mean[4] < mean[1]  # perturbations shrink with depth
    assert all(0 <= t["params"]["x"] <= 1 and 1 <= t["params"]["n"] <= 10 for t in trials.values())


def curves(ctx, x, n, c):
    """Reports a curve per step; a trial's level is fixed by x, so bad ones are bad from step 0."""
    level = -abs(x - 0.5)
    for step in range(20):
        ctx.report(step=step, score=level)
        if ctx.should_stop():
            return ObjectiveResult(score=level, metrics={"stopped_at": step})
    return ObjectiveResult(score=level, metrics={"stopped_at": None})


def test_prune_stops_running_trials_that_cannot_reach_the_beam():
    result = tune(
        curves,
        SPACE,
        strategy="beam_search",
        strategy_kwargs={"K": 2, "width": 3, "max_depth": 2},
        seed=0,
        grace_period_s=30,
    )
    killed = [t for t in result["trials"] if t["state"] == "killed"]
    assert killed, "some children were worse than two finished siblings"
    for trial in killed:
        assert trial["kill_reason"].startswith("beam pruned:") and "(K=2)" in trial["kill_reason"]
        assert trial["metrics"]["stopped_at"] == 0  # saw should_stop() right after its first report
        siblings = [
            t
            for t in result["trials"]
            if t["depth"] == trial["depth"] and t["state"] == "completed" and t["number"] < trial["number"]
        ]
        assert sum(t["score"] > trial["score"] for t in siblings) >= 2
    unpruned = tune(
        curves,
        SPACE,
        strategy="beam_search",
        strategy_kwargs={"K": 2, "width": 3, "max_depth": 2, "prune": False},
        seed=0,
    )
    assert unpruned["study"]["killed"] == 0


def test_bad_arguments_are_named():
    with pytest.raises(ConfigurationError, match="beam_search: K must be a whole number >= 1"):
        tune(objective, SPACE, strategy="beam_search", strategy_kwargs={"K": 0})
    with pytest.raises(ConfigurationError, match="does not accept 'beam'"):
        tune(objective, SPACE, strategy="beam_search", strategy_kwargs={"beam": 3})
