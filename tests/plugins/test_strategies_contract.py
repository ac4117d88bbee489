"""The strategy contract, run against every installed strategy: proposals stay in the space,
`slots` is respected, a seed makes a run reproducible, resumed and failed trials are observed first."""

from __future__ import annotations

import pytest

from hyperion import Bool, Choice, Float, Int, tune
from hyperion_core.goal import Goal
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


def scripted_llm(prompt: str) -> str:
    """A deterministic stand-in model: points derived from the prompt's text, children of named parents."""
    import hashlib
    import json
    import random

    rng = random.Random(hashlib.sha256(prompt.encode()).hexdigest())
    parents = [line.split()[1] for line in prompt.splitlines() if line.startswith("Parent ")]
    count = int(prompt.split("Suggest ")[1].split(" ")[0]) if "Suggest " in prompt else 2 * max(1, len(parents))
    point = lambda: {
        "lr": 10 ** rng.uniform(-5, 0),
        "dropout": rng.uniform(0, 0.5),
        "layers": rng.randint(1, 8),  # noqa: E731
        "optimizer": rng.choice(["sgd", "adam"]),
        "nested": {"bn": rng.random() < 0.5, "width": rng.randint(16, 256)},
    }
    items = [
        {"params": point(), "rationale": "scripted", **({"parent": parents[i % len(parents)]} if parents else {})}
        for i in range(count)
    ]
    return json.dumps({"suggestions": items})


# Strategies that need arguments to exist at all get them here (e.g. an LLM).
KWARGS: dict[str, dict] = {
    "llm_agent": {"llm": scripted_llm},
    "llm_branching_agent": {"llm": scripted_llm, "max_depth": 2, "beam_width": 2, "branch_factor": 2},
}
STRATEGIES = registry().names("strategy")


def objective(ctx, lr, dropout, layers, optimizer, nested):
    assert nested["fixed"] == "yes"
    return -abs(lr - 0.01) - dropout + layers / 10 + (optimizer == "adam") + nested["bn"]


def _strategy(name: str):
    return registry().create("strategy", name, **KWARGS.get(name, {}))


@pytest.mark.parametrize("name", STRATEGIES)
def test_proposals_stay_inside_the_space_and_respect_slots(name):
    space = Space(SPACE)
    state = StudyState("contract", space, Goal.of("score", "max"), seed=0)
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


@pytest.mark.parametrize("name", STRATEGIES)
def test_resumed_and_failed_trials_are_observed_before_the_first_proposal(name, tmp_path):
    url = f"sqlite:///{tmp_path / 'resume.db'}"

    def flaky(ctx, lr, dropout, layers, optimizer, nested):
        if ctx.number % 4 == 3:
            raise ValueError("every fourth trial fails")
        return objective(ctx, lr, dropout, layers, optimizer, nested)

    first = tune(
        flaky, SPACE, strategy=name, strategy_kwargs=KWARGS.get(name), storage=url, study_name="s", max_trials=8, seed=3
    )
    finished = {t["number"] for t in first["trials"] if t["state"] in ("completed", "failed", "killed")}
    assert any(t["state"] == "failed" for t in first["trials"])
    strategy = _strategy(name)
    seen: list[tuple[str, int]] = []
    observe, propose = strategy.observe, strategy.propose
    strategy.observe = lambda trial: (seen.append(("observe", trial.number)), observe(trial))[1]  # type: ignore[method-assign]
    strategy.propose = lambda study, slots: (seen.append(("propose", slots)), propose(study, slots))[1]  # type: ignore[method-assign]
    tune(flaky, SPACE, strategy=strategy, storage=url, study_name="s", max_trials=12, seed=3)
    first_proposal = next(i for i, (kind, _) in enumerate(seen) if kind == "propose")
    assert {n for kind, n in seen[:first_proposal] if kind == "observe"} == finished


def _flat(nested: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            out.update(_flat(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out
