"""Pause and resume: a policy's Pause and promote, promotion-based ASHA and Hyperband (resume=True), and
population-based training (pbt). One slot: the trial runs on the loop's thread, so every decision is
taken at the report that prompts it (deterministic, whatever the machine's load)."""

from __future__ import annotations

import math

import pytest

from hyperion import ConfigurationError, Float, ObjectiveResult, Pause, Policy, tune
from hyperion_storage.memory import MemoryStorage

EPOCHS = 8


def curve(lr: float, epoch: int) -> float:
    """A learning curve whose order never changes: a bigger lr (up to 0.5) is better at every epoch."""
    return 1.0 - math.exp(-(epoch + 1) * min(lr, 0.5))


def make_objective(log):
    def train(ctx, lr):
        state = ctx.load_checkpoint() or {"epoch": -1}
        log.append((ctx.number, ctx.checkpoint_step))
        for epoch in range(state["epoch"] + 1, EPOCHS):
            state["epoch"] = epoch
            ctx.report(epoch, acc=curve(lr, epoch))
            ctx.save_checkpoint(state)
            log.append((ctx.number, "epoch", epoch))
            if ctx.should_stop():
                break
        return ObjectiveResult(metrics={"acc": curve(lr, state["epoch"])})

    return train


def epochs_run(log, number=None):
    return [e[2] for e in log if len(e) == 3 and (number is None or e[0] == number)]


def starts(log, number=None):
    """The checkpoint step each start of a trial continued from (None: afresh)."""
    return [e[1] for e in log if len(e) == 2 and (number is None or e[0] == number)]


class PauseAtTwo(Policy):
    """Pauses every trial at epoch 2; promotes trial 0 only (once trial 1 has paused)."""

    def should_stop(self, study, trial):
        return Pause("waits at epoch 2") if trial.last_step == 2 and trial.number not in self.resumed else None

    def setup(self, study):
        super().setup(study)
        self.resumed: set[int] = set()

    def promote(self, study, slots):
        if 0 in study.paused and 1 in study.paused:
            self.resumed.add(0)
            return [0]
        return []


def test_a_paused_trial_frees_its_slot_and_continues_from_its_checkpoint_when_promoted():
    log: list = []
    storage = MemoryStorage()
    result = tune(
        make_objective(log),
        {"lr": Float(0.01, 0.5)},
        metric="acc",
        max_trials=2,
        seed=0,
        early_stopping=PauseAtTwo(),
        storage=storage,
    )
    first, second = result["trials"]
    assert first["state"] == "completed" and first["last_step"] == EPOCHS - 1
    assert epochs_run(log, 0) == list(range(EPOCHS))  # no epoch twice: it continued where it paused
    assert (0, 2) in log  # the promotion handed it its checkpoint at epoch 2
    # trial 1 ran while trial 0 waited, and was never promoted: ended with the study, its reason kept
    assert second["state"] == "killed" and "not resumed before the study ended" in second["kill_reason"]
    kinds = [(e["kind"], e["trial_number"]) for e in storage.load_events("train")]
    assert kinds.index(("trial_paused", 0)) < kinds.index(("trial_paused", 1)) < kinds.index(("trial_resumed", 0))
    assert log.index((1, None)) < log.index((0, 2))  # trial 1 took the slot trial 0 freed


def no_checkpoints(ctx, lr):
    """Reports every epoch, saves nothing, stops when asked (its result then is 0.0)."""
    for epoch in range(EPOCHS):
        ctx.report(epoch, acc=curve(lr, epoch))
        if ctx.should_stop():
            break
    return ObjectiveResult(metrics={"acc": 0.0})


def test_a_trial_that_saves_no_checkpoint_is_stopped_not_paused():
    result = tune(no_checkpoints, {"lr": Float(0.01, 0.5)}, metric="acc", max_trials=1, early_stopping=PauseAtTwo())
    trial = result["trials"][0]
    assert trial["state"] == "killed" and "not paused: it saved no checkpoint" in trial["kill_reason"]


@pytest.mark.parametrize("policy", ["asha", "hyperband"])
def test_promotion_based_halving_pauses_and_promotes_instead_of_restarting(policy):
    log: list = []
    kwargs = {"min_resource": 1, "reduction_factor": 2, "max_resource": EPOCHS, "resume": True}
    # a good trial first: it waits alone at the first rung until a worse one arrives, then is promoted
    order = [0.3, 0.1, 0.05, 0.4, 0.02, 0.2, 0.01, 0.5]
    result = tune(
        make_objective(log),
        {"lr": Float(0.01, 0.5)},
        metric="acc",
        max_trials=8,
        initial_points=[{"lr": lr} for lr in order],
        early_stopping=policy,
        early_stopping_kwargs=kwargs,
    )
    trials = result["trials"]
    for trial in trials:  # every epoch of every trial ran once: a promotion continues, never restarts
        ran = epochs_run(log, trial["number"])
        assert ran == list(range(len(ran)))
    assert any(step is not None for step in starts(log)), "no trial was promoted from a pause"
    assert all(trial["state"] in ("completed", "killed") for trial in trials)
    completed = [t for t in trials if t["state"] == "completed"]
    assert completed and len(epochs_run(log)) < len(trials) * EPOCHS  # fewer epochs than running all
    # the learning curves never cross: halving keeps the trial with the largest lr to the end
    assert result["best"]["params"]["lr"] == max(t["params"]["lr"] for t in trials)


def test_resume_is_checked():
    with pytest.raises(ConfigurationError, match="resume must be True or False"):
        tune(make_objective([]), {"lr": Float(0.01, 0.5)}, early_stopping="asha", early_stopping_kwargs={"resume": 1})


# -- population-based training --------------------------------------------------------------------------
def test_pbt_replaces_the_worst_members_by_copies_of_the_best_and_records_the_lineage():
    log: list = []
    storage = MemoryStorage()
    result = tune(
        make_objective(log),
        {"lr": Float(0.01, 0.5, log=True)},
        strategy="pbt",
        strategy_kwargs={"population_size": 4, "perturbation_interval": 2},
        metric="acc",
        seed=0,
        storage=storage,
    )
    trials = {t["number"]: t for t in result["trials"]}
    copies = [t for t in trials.values() if t["parent_id"] is not None]
    assert copies, "no member was replaced"
    for copy in copies:
        parent = next(t for t in trials.values() if t["trial_id"] == copy["parent_id"])
        started_from = starts(log, copy["number"])[0]
        assert (
            started_from is not None and started_from <= parent["last_step"]
        )  # continued from the parent's checkpoint
        ran = epochs_run(log, copy["number"])
        assert ran == list(range(started_from + 1, started_from + 1 + len(ran)))  # its epochs go on from there
    replaced = [t for t in trials.values() if t["state"] == "killed"]
    assert replaced and all("replaced by a copy of" in t["kill_reason"] for t in replaced)
    # every member ends: four finish their training, the replaced ones were killed
    assert sum(t["state"] == "completed" for t in trials.values()) == 4
    for t in trials.values():  # at its final epoch: reported there, or copied from a member that was
        if t["state"] == "completed":
            assert (epochs_run(log, t["number"]) or starts(log, t["number"]))[-1] == EPOCHS - 1
    lineage = storage.lineage_view("train")
    assert {edge["parent_id"] for edge in lineage if edge.get("parent_id")} >= {c["parent_id"] for c in copies}


def test_pbt_options_are_checked():
    with pytest.raises(ConfigurationError, match="quantile_fraction"):
        tune(make_objective([]), {"lr": Float(0.01, 0.5)}, strategy="pbt", strategy_kwargs={"quantile_fraction": 0.9})
    with pytest.raises(ConfigurationError, match="population_size"):
        tune(make_objective([]), {"lr": Float(0.01, 0.5)}, strategy="pbt", strategy_kwargs={"population_size": 1})


# -- several slots, worker processes: decisions arrive while trials run on (no timing is assumed) ------
def tracked(ctx, lr):
    """The epochs a trial ran travel in its checkpoint, so a completed trial tells its whole history."""
    state = ctx.load_checkpoint() or {"epoch": -1, "ran": []}
    for epoch in range(state["epoch"] + 1, EPOCHS):
        state["epoch"] = epoch
        state["ran"].append(epoch)
        ctx.report(epoch, acc=curve(lr, epoch))
        ctx.save_checkpoint(state)
        if ctx.should_stop():
            break
    return ObjectiveResult(metrics={"acc": curve(lr, state["epoch"]), "ran": state["ran"]})


@pytest.mark.parametrize(
    "options",
    [
        {
            "early_stopping": "asha",
            "early_stopping_kwargs": {"reduction_factor": 2, "max_resource": EPOCHS, "resume": True},
        },
        {"strategy": "pbt", "strategy_kwargs": {"population_size": 4, "perturbation_interval": 2}},
    ],
    ids=["asha", "pbt"],
)
def test_pauses_with_several_worker_processes_never_repeat_an_epoch(tmp_path, options):
    result = tune(
        tracked,
        {"lr": Float(0.01, 0.5)},
        metric="acc",
        max_trials=10,
        max_concurrent=3,
        executor="process",
        seed=0,
        checkpoints=str(tmp_path / "ck"),
        **options,
    )
    assert {t["state"] for t in result["trials"]} <= {"completed", "killed"}
    completed = [t for t in result["trials"] if t["state"] == "completed"]
    assert completed
    for trial in completed:
        ran = trial["metrics"]["ran"]
        assert ran == list(range(ran[0], EPOCHS))  # from its start (a PBT copy starts later) to the end, once each


def test_pb2_chooses_a_copys_parameters_by_its_gp_bandit_and_keeps_them_in_the_space():
    log: list = []
    result = tune(
        make_objective(log),
        {"lr": Float(0.01, 0.5, log=True)},
        strategy="pb2",
        strategy_kwargs={"population_size": 6, "perturbation_interval": 2, "min_segments": 3},
        metric="acc",
        seed=0,
    )
    copies = [t for t in result["trials"] if t["parent_id"] is not None]
    assert copies and all(0.01 <= t["params"]["lr"] <= 0.5 for t in copies)
    assert sum(t["state"] == "completed" for t in result["trials"]) == 6
    # the bandit learned that a larger lr improves members more: the late copies sit high in the range
    late = copies[len(copies) // 2 :]
    assert sum(t["params"]["lr"] for t in late) / len(late) > 0.1


def test_pb2_options_are_checked():
    with pytest.raises(ConfigurationError, match="min_segments"):
        tune(make_objective([]), {"lr": Float(0.01, 0.5)}, strategy="pb2", strategy_kwargs={"min_segments": 1})


# -- several objectives ---------------------------------------------------------------------------------
def two_objectives(ctx, lr, width):
    """Accuracy grows with lr and width; latency grows with width: a real trade-off (the Pareto front)."""
    state = ctx.load_checkpoint() or {"epoch": -1}
    for epoch in range(state["epoch"] + 1, EPOCHS):
        state["epoch"] = epoch
        ctx.report(epoch, acc=curve(lr, epoch) * width, latency=width**2)
        ctx.save_checkpoint(state)
        if ctx.should_stop():
            break
    return ObjectiveResult(metrics={"acc": curve(lr, state["epoch"]) * width, "latency": width**2})


@pytest.mark.parametrize("resume", [False, True])
def test_moasha_halves_on_the_pareto_rank_of_several_metrics(resume):
    points = [
        {"lr": lr, "width": w}
        for lr, w in [
            (0.3, 1.0),
            (0.01, 1.0),
            (0.3, 0.2),
            (0.02, 0.5),
            (0.01, 0.3),
            (0.25, 0.6),
            (0.015, 0.9),
            (0.2, 0.4),
            (0.011, 0.8),
        ]
    ]
    result = tune(
        two_objectives,
        {"lr": Float(0.01, 0.5), "width": Float(0.1, 1.0)},
        metric=["acc", "latency"],
        mode=["max", "min"],
        max_trials=len(points),
        initial_points=points,
        early_stopping="moasha",
        early_stopping_kwargs={"reduction_factor": 3, "max_resource": EPOCHS, "resume": resume},
    )
    trials = result["trials"]
    stopped = [t for t in trials if t["state"] == "killed"]
    assert stopped and all(t["kill_reason"].startswith("moasha: acc=") for t in stopped[:1])
    # a trial dominated at its rung (small lr, and no smaller latency than a faster learner) never finished
    dominated = [t for t in trials if t["params"]["lr"] < 0.05 and t["params"]["width"] >= 0.8]
    assert all(t["state"] == "killed" for t in dominated)
    assert all(t["feasible"] is not False for t in result["pareto_front"])
    assert {tuple(sorted(t["params"].items())) for t in result["pareto_front"]} <= {
        tuple(sorted(t["params"].items())) for t in trials if t["state"] == "completed"
    }


def test_moasha_needs_several_metrics():
    with pytest.raises(ConfigurationError, match="moasha halves on several metrics"):
        tune(make_objective([]), {"lr": Float(0.01, 0.5)}, metric="acc", early_stopping="moasha", max_trials=1)


def test_pbt_with_a_trial_budget_lets_every_member_finish():
    """max_trials caps the copies: once spent, a member waiting to be replaced trains on instead."""
    result = tune(
        make_objective([]),
        {"lr": Float(0.01, 0.5, log=True)},
        strategy="pbt",
        strategy_kwargs={"population_size": 4, "perturbation_interval": 2},
        metric="acc",
        max_trials=5,
        seed=0,
    )
    states = [t["state"] for t in result["trials"]]
    assert len(states) == 5 and states.count("completed") == 4 and states.count("killed") == 1


def test_a_trial_that_ends_before_hearing_of_its_pause_is_completed_not_paused():
    class PauseAtTheEnd(Policy):
        def should_stop(self, study, trial):
            return Pause("the last rung") if trial.last_step == EPOCHS - 1 else None

    def never_asks(ctx, lr):  # reports, saves, and returns at its end without calling should_stop()
        for epoch in range(EPOCHS):
            ctx.report(epoch, acc=curve(lr, epoch))
            ctx.save_checkpoint({"epoch": epoch})
        return ObjectiveResult(metrics={"acc": curve(lr, EPOCHS - 1)})

    result = tune(never_asks, {"lr": Float(0.01, 0.5)}, metric="acc", max_trials=2, early_stopping=PauseAtTheEnd())
    assert [t["state"] for t in result["trials"]] == ["completed", "completed"]
    assert all(t["kill_reason"] is None for t in result["trials"])


def test_a_trial_that_ends_before_hearing_of_its_stop_keeps_its_result():
    """Stopping saved nothing (the trial had ended): its finished result counts; the decision stays in
    the event log. A trial that hears the stop and returns early is killed as before."""

    class StopAtTheEnd(Policy):
        def should_stop(self, study, trial):
            return "the last step is the worst" if trial.last_step == EPOCHS - 1 else None

    def listens(ctx, lr):
        for epoch in range(EPOCHS):
            ctx.report(epoch, acc=curve(lr, epoch))
            if epoch < EPOCHS - 1 and ctx.should_stop():  # nothing left to save after the last epoch
                break
        return ObjectiveResult(metrics={"acc": curve(lr, EPOCHS - 1)})

    storage = MemoryStorage()
    kept = tune(
        listens, {"lr": Float(0.01, 0.5)}, metric="acc", max_trials=2, early_stopping=StopAtTheEnd(), storage=storage
    )
    assert [t["state"] for t in kept["trials"]] == ["completed", "completed"] and kept["best"] is not None
    assert sum(e["kind"] == "kill_requested" for e in storage.load_events("listens")) == 2
    stopped = tune(no_checkpoints, {"lr": Float(0.01, 0.5)}, metric="acc", max_trials=2, early_stopping=StopAtTheEnd())
    assert [t["state"] for t in stopped["trials"]] == ["killed", "killed"]
