"""Priors on parameters: what a user expects to be good leads the model-based strategies at first and
the data later; a wrong prior costs some trials, not the result; a bad prior is refused by name."""

from __future__ import annotations

import random
import statistics

import pytest

from hyperion import Bool, Choice, Float, Int, SpaceError, tune
from hyperion_core.config import space_of
from hyperion_core.space import Space


def bowl(ctx, lr, width, act):
    """The optimum at lr=0.003, width=48, act='gelu' (lr on a log scale)."""
    import math

    return (math.log10(lr) - math.log10(0.003)) ** 2 + ((width - 48) / 100) ** 2 + (act != "gelu") * 0.5


def space(lr_prior=None, width_prior=None, act_prior=None, confidence="medium"):
    return {
        "lr": Float(1e-5, 1.0, log=True, prior=lr_prior, confidence=confidence),
        "width": Int(8, 512, log=True, prior=width_prior, confidence=confidence),
        "act": Choice(["relu", "tanh", "gelu", "silu"], prior=act_prior, confidence=confidence),
    }


def _best(strategy, sp, trials, seed):
    return tune(bowl, sp, strategy=strategy, mode="min", max_trials=trials, seed=seed)["best"]["value"]


def test_draws_from_a_prior_sit_around_it_by_confidence():
    rng = random.Random(0)
    for confidence, near in (("low", 0.4), ("high", 0.95)):
        sp = Space(
            {
                "x": Float(0, 1, prior=0.3, confidence=confidence),
                "c": Choice(["a", "b", "c"], prior="b", confidence=confidence),
            }
        )
        draws = [sp.sample(rng, prior=True) for _ in range(2000)]
        assert statistics.mean(abs(d["x"] - 0.3) < 0.1 for d in draws) > near - 0.15
        assert abs(statistics.mean(d["c"] == "b" for d in draws) - {"low": 0.4, "high": 0.85}[confidence]) < 0.05
    plain = [Space({"x": Float(0, 1, prior=0.3)}).sample(rng) for _ in range(2000)]
    assert statistics.mean(abs(d["x"] - 0.3) < 0.1 for d in plain) < 0.25  # sample() without prior=: uniform


@pytest.mark.parametrize("strategy", ["gp", "bayesian", "auto"])
def test_a_good_prior_finds_the_optimum_sooner(strategy):
    seeds = range(5)
    with_prior = [_best(strategy, space(0.003, 48, "gelu"), 12, s) for s in seeds]
    without = [_best(strategy, space(), 12, s) for s in seeds]
    assert statistics.median(with_prior) < statistics.median(without) / 3


@pytest.mark.parametrize("strategy", ["gp", "bayesian"])
def test_a_wrong_prior_costs_trials_not_the_result(strategy):
    """The prior's weight falls as trials finish (piBO): the data wins in the end."""
    wrong = space(0.5, 400, "relu", confidence="high")
    results = [_best(strategy, wrong, 60, s) for s in range(3)]
    assert statistics.median(results) < 0.25  # the right option and a lr within a factor of 3


def test_the_local_searches_start_at_the_prior():
    """local evaluates the prior first; cmaes centres its first generation on it."""
    result = tune(bowl, space(0.003, 48, "gelu"), strategy="local", mode="min", max_trials=1, seed=0)
    first = result["trials"][0]["params"]
    assert abs(first["lr"] - 0.003) < 1e-9 and first["width"] == 48
    from hyperion_core.goal import Goal
    from hyperion_core.state import StudyState
    from hyperion_strategies.cmaes import CMAES

    sp = Space(space(0.003, 48, "gelu"))
    cmaes = CMAES()
    cmaes.setup(StudyState("s", sp, Goal.of("score", "min"), seed=0))
    cmaes.propose(cmaes.study, 1)
    assert cmaes.run is not None
    expected = [sp.params["lr"].to_unit(0.003), sp.params["width"].to_unit(48)]
    assert [round(float(v), 9) for v in cmaes.run.mean] == [round(v, 9) for v in expected]


def test_bad_priors_are_refused_by_name():
    with pytest.raises(SpaceError, match=r"parameter 'lr': prior 2.0 is not in Float"):
        Space({"lr": Float(0.0, 1.0, prior=2.0)})
    with pytest.raises(SpaceError, match=r"parameter 'act': prior 'elu' is not in Choice"):
        Space({"act": Choice(["relu", "gelu"], prior="elu")})
    with pytest.raises(SpaceError, match="confidence must be one of low, medium, high"):
        Space({"n": Int(1, 5, prior=2, confidence="certain")})
    with pytest.raises(SpaceError, match=r"prior 'yes' is not in"):
        Space({"flag": Bool(prior="yes")})


def test_a_prior_is_guidance_not_part_of_the_space(tmp_path):
    """Not stored: a resume with another prior is the same study."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    tune(bowl, space(0.003), strategy="bayesian", mode="min", max_trials=4, seed=0, storage=url, study_name="p")
    again = tune(bowl, space(0.1), strategy="bayesian", mode="min", max_trials=6, seed=0, storage=url, study_name="p")
    assert again["study"]["trials"] == 6
    assert Space(space(0.003)).describe() == Space(space()).describe()


def test_a_study_file_writes_priors_beside_the_range():
    parsed = space_of(
        {
            "lr": {"float": [1e-5, 1.0], "log": True, "prior": 0.003, "confidence": "high"},
            "act": {"choice": ["relu", "gelu"], "prior": "gelu"},
            "bn": {"bool": True, "prior": False},
        }
    )
    sp = Space(parsed)
    assert sp.params["lr"].prior == 0.003 and sp.params["lr"].confidence == "high"
    assert sp.params["act"].prior == "gelu" and sp.params["bn"].prior is False


def test_an_ordinal_choice_is_drawn_around_its_prior_by_rank():
    """Choice([16, ..., 1024], prior=64): the first draws fall on 64 and its neighbours, as the models
    weigh it (a Gaussian on the option's rank), not on far ends."""
    import random

    from hyperion_core.space import Space

    space = Space({"units": Choice([1024, 16, 32, 64, 128, 256, 512], prior=64, confidence="high")})
    draws = [space.sample(random.Random(seed), prior=True)["units"] for seed in range(300)]
    assert set(draws) <= {32, 64, 128} and draws.count(64) > 150
