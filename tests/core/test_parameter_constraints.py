"""Parameter constraints (forbidden combinations): no strategy runs a point outside them, the bundled ones
without even proposing one, a strategy that ignores them is asked again, and a mistake in them is said
before the first trial."""

from __future__ import annotations

import pytest

from hyperion import Choice, ConfigurationError, Float, Int, Proposal, SpaceError, Strategy, Study, load_study, tune
from tests.cli import hyperion as _cli

SPACE = {"layers": Int(1, 8), "units": Choice([64, 128, 256, 512]), "lr": Float(1e-4, 1e-1, log=True)}


def small_enough(p):
    return p["layers"] * p["units"] <= 1024


def cost(ctx, layers, units, lr):
    return -layers * units / 1000 + abs(lr - 0.01)  # best against the constraint's edge


@pytest.mark.parametrize(
    "strategy", ["random", "grid", "bayesian", "gp", "auto", "cmaes", "local", "nsga2", "beam_search"]
)
def test_no_bundled_strategy_runs_or_proposes_a_forbidden_point(strategy):
    result = tune(cost, SPACE, strategy=strategy, max_trials=30, mode="min", seed=1, parameter_constraints=small_enough)
    trials = result["trials"]
    assert len(trials) >= 25 and all(small_enough(t["params"]) for t in trials)
    # they keep to the constraints themselves: the loop never had to replace a proposal
    assert not any("broke the parameter constraints" in (t["rationale"] or "") for t in trials)
    assert result["best"]["params"]["layers"] * result["best"]["params"]["units"] <= 1024


def test_a_grid_counts_and_runs_only_the_allowed_points():
    space = {"a": Int(1, 4), "b": Int(1, 4)}
    result = tune(lambda ctx, a, b: a + b, space, strategy="grid", parameter_constraints=lambda p: p["a"] < p["b"])
    assert sorted((t["params"]["a"], t["params"]["b"]) for t in result["trials"]) == [
        (a, b) for a in range(1, 5) for b in range(1, 5) if a < b
    ]


class Stubborn(Strategy):
    """A third-party strategy that knows nothing of constraints: its first points are forbidden."""

    def setup(self, study):
        super().setup(study)
        self.calls = 0

    def propose(self, study, slots):
        self.calls += 1
        if self.calls <= 3:  # asked again after a forbidden point, it gives an allowed one
            return [Proposal({"layers": 8, "units": 512, "lr": 0.01}) for _ in range(slots)]
        return [Proposal(self.space.sample(self.rng)) for _ in range(slots)]


class Hopeless(Strategy):
    def propose(self, study, slots):
        return [Proposal({"layers": 8, "units": 512, "lr": 0.01}) for _ in range(slots)]


def test_a_strategy_that_ignores_the_constraints_is_asked_again_then_replaced():
    result = tune(cost, SPACE, strategy=Stubborn(), max_trials=5, seed=0, parameter_constraints=small_enough)
    assert len(result["trials"]) == 5 and all(small_enough(t["params"]) for t in result["trials"])
    result = tune(cost, SPACE, strategy=Hopeless(), max_trials=3, seed=0, parameter_constraints=small_enough)
    assert all(small_enough(t["params"]) for t in result["trials"])
    assert all(
        t["rationale"] == "random: the strategy's points broke the parameter constraints" for t in result["trials"]
    )


def test_ask_and_tell_keep_to_them():
    with Study(
        SPACE, strategy="bayesian", seed=2, parameter_constraints=[small_enough, lambda p: p["lr"] < 0.05]
    ) as study:
        for _ in range(15):
            trial = study.ask()
            assert small_enough(trial.params) and trial.params["lr"] < 0.05
            study.tell(trial, 1.0)


def test_initial_points_must_keep_to_them_and_what_they_leave_out_is_drawn_so():
    with pytest.raises(ConfigurationError, match=r"initial_points\[0\] breaks the parameter constraints"):
        tune(
            cost, SPACE, initial_points=[{"layers": 8, "units": 512}], parameter_constraints=small_enough, max_trials=1
        )
    result = tune(cost, SPACE, initial_points=[{"layers": 8}], parameter_constraints=small_enough, max_trials=1, seed=0)
    assert result["trials"][0]["params"]["layers"] == 8 and result["trials"][0]["params"]["units"] <= 128


def test_mistakes_are_said_before_any_trial():
    ran = []

    def objective(ctx, x):
        ran.append(x)
        return x

    with pytest.raises(ConfigurationError, match="must be a function of the parameters"):
        tune(objective, {"x": Float(0, 1)}, parameter_constraints="x < 0.5", max_trials=2)
    with pytest.raises(ConfigurationError, match=r"raised KeyError: 'y'.*point.get"):
        tune(objective, {"x": Float(0, 1)}, parameter_constraints=lambda p: p["y"] > 0, max_trials=2)
    with pytest.raises(SpaceError, match="keeps to the parameter constraints"):
        tune(objective, {"x": Float(0, 1)}, parameter_constraints=lambda p: p["x"] > 2, max_trials=2)
    assert ran == []


def test_the_constraint_sees_the_point_as_the_objective_does():
    """Nested dicts and fixed values included; a conditional parameter is there only when chosen."""
    seen = []

    def constraint(p):
        seen.append(p)
        return p["opt"]["name"] != "sgd" or p["opt"]["momentum"] < 0.5

    space = {
        "opt": Choice([{"name": "adam"}, {"name": "sgd", "momentum": Float(0, 1)}]),
        "net": {"width": Int(1, 4), "act": "relu"},
    }
    result = tune(
        lambda ctx, opt, net: net["width"],
        space,
        strategy="bayesian",
        max_trials=25,
        seed=3,
        parameter_constraints=constraint,
    )
    assert all(p["net"]["act"] == "relu" for p in seen)
    assert all(t["params"]["opt"].get("momentum", 0) < 0.5 for t in result["trials"])


def test_a_study_file_names_its_constraints_as_functions(tmp_path):
    (tmp_path / "objectives.py").write_text(
        "def quadratic(ctx, x, n):\n    return x * x + n\n\ndef small(p):\n    return p['x'] * p['n'] <= 1\n"
    )
    (tmp_path / "study.yaml").write_text(
        "mode: min\nstrategy: bayesian\nmax_trials: 12\nseed: 0\nobjective: objectives.py:quadratic\n"
        "parameter_constraints: [objectives.py:small]\nspace:\n  x: {float: [-2, 2]}\n  n: {int: [1, 3]}\n"
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    ran = _cli("run", "study.yaml", "--storage", url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    trials = load_study("study", storage=url)["trials"]
    assert len(trials) == 12 and all(t["params"]["x"] * t["params"]["n"] <= 1 for t in trials)
    (tmp_path / "bad.yaml").write_text((tmp_path / "study.yaml").read_text().replace("objectives.py:small", "nope"))
    ran = _cli("run", "bad.yaml", cwd=tmp_path)
    assert ran.returncode != 0 and "parameter_constraints takes 'module:function'" in ran.stderr


def test_a_perturbed_point_keeps_to_the_constraints():
    """What beam_search and pbt explore with: a neighbour of an allowed point is allowed too."""
    import random

    from hyperion_core.space import Space

    space = Space(SPACE).constrained([small_enough])
    rng = random.Random(0)
    edge = {"layers": 4, "units": 256, "lr": 0.01}  # on the constraint's edge: most moves up are forbidden
    moves = [space.perturb(edge, 0.3, rng) for _ in range(300)]
    assert all(small_enough(m) for m in moves)
    assert len({(m["layers"], m["units"]) for m in moves}) > 3  # and it still moves
