"""The strategy contract, run against every installed strategy: proposals stay in the space,
`slots` is respected, a seed makes a run reproducible, resumed trials are observed."""

from __future__ import annotations

import pytest

from hyperion import Bool, Choice, Float, Int, tune
from hyperion_core.plugins import registry
from hyperion_core.space import Space
from hyperion_core.state import StudyState

SPACE = {
    "lr": Float(1e-5, 1.0, log=True),
    "dropout": Float(0.0, 0.5),
    "layers": Int(1, 8),
    "optimizer": Choice(["sgd", "adam", "rmsprop"]),
    "nested": {"bn": Bool(), "width": Int(16, 256, log=True), "fixed": "yes"},
}
# Strategies that need arguments to exist at all get them here (e.g. an LLM).
KWARGS: dict[str, dict] = {}
STRATEGIES = registry().names("strategy")


def objective(ctx, lr, dropout, layers, optimizer, nested):
    assert nested["fixed"] == "yes"
    return -abs(lr - 0.01) - dropout + layers / 10 + (optimizer == "adam") + nested["bn"]


def _strategy(name: str):
    return registry().create("strategy", name, **KWARGS.get(name, {}))


@pytest.mark.parametrize("name", STRATEGIES)
def test_proposals_stay_inside_the_space_and_respect_slots(name):
    space = Space(SPACE)
    state = StudyState("contract", space, "score", "max", seed=0)
    strategy = _strategy(name)
    strategy.setup(state)
    for slots in (1, 3, 5):
        proposals = strategy.propose(state, slots)
        assert len(proposals) <= slots
        for proposal in proposals:
            space.validate(proposal.params)  # raises if outside


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("concurrent", [1, 3])
def test_every_trial_runs_with_valid_params(name, concurrent):
    result = tune(
        objective,
        SPACE,
        strategy=name,
        strategy_kwargs=KWARGS.get(name),
        max_trials=25,
        max_concurrent=concurrent,
        seed=1,
    )
    assert 0 < result["study"]["trials"] <= 25
    assert result["study"]["failed"] == 0
    space = Space(SPACE)
    for trial in result["trials"]:
        assert space.contains({k: v for k, v in _flat(trial["params"]).items()})


@pytest.mark.parametrize("name", STRATEGIES)
def test_a_seed_makes_a_sequential_run_reproducible(name):
    runs = [
        tune(objective, SPACE, strategy=name, strategy_kwargs=KWARGS.get(name), max_trials=20, seed=11)
        for _ in range(2)
    ]
    assert [t["params"] for t in runs[0]["trials"]] == [t["params"] for t in runs[1]["trials"]]


def _flat(nested: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            out.update(_flat(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out
