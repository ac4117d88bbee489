"""The storage contract: every storage (memory, SQLite, PostgreSQL) passes the same suite."""

from __future__ import annotations

import uuid

import pytest

from hyperion import Choice, ConfigurationError, Float, Int, ObjectiveResult, StorageError, tune
from hyperion_core.goal import Goal
from hyperion_core.models import Changes, Event, Report, Trial, TrialState
from hyperion_core.plugins import registry

SPACE = {"x": Float(0, 1), "n": Int(1, 4), "opt": Choice(["adam", "sgd"]), "model": {"depth": Int(1, 3), "tag": "v1"}}
DESCRIBED = {"x": {"type": "Float", "low": 0, "high": 1, "log": False}}


@pytest.fixture(params=["memory", "sqlite", "third-party", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage_spec(request, tmp_path):
    """A storage URL (SQL, a third-party plugin's) or a shared instance (memory): what a user passes as
    tune(storage=...)."""
    if request.param == "memory":
        from hyperion_storage.memory import MemoryStorage

        return MemoryStorage()
    if request.param == "third-party":
        request.getfixturevalue("dict_storage")
        return f"dictstore://{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("postgres_url")


def _open(spec):
    if not isinstance(spec, str):
        return spec
    return registry().create("storage", spec.split("://")[0], spec)


def _name() -> str:
    return f"study-{uuid.uuid4().hex[:8]}"


def objective(ctx, x, n, opt, model):
    ctx.report(step=0, loss=1 - x)
    if ctx.should_stop():  # pruned: it ends here (a trial that ran to its end would keep its result)
        return ObjectiveResult(score=x)
    ctx.report(step=1, loss=0.5 - x)
    if n == 4 and opt == "sgd":
        raise ValueError("unlucky")
    return ObjectiveResult(score=x, metrics={"loss": 0.5 - x, "nested": {"a": [1, 2]}}, artifacts={"path": f"/m/{x}"})


def test_open_write_reload_round_trips_every_field(storage_spec):
    storage, name = _open(storage_spec), _name()
    record = storage.open_study(name, DESCRIBED, Goal.of("loss", "min"))
    assert record.trials == [] and record.goal == Goal.of("loss", "min")
    trial = Trial(number=0, params={"x": 0.5, "model.tag": "v1"}, parent_id=None, depth=0, rationale="because")
    storage.write(
        name,
        Changes(
            trials=[trial],
            reports=[Report(0, 0, {"loss": 1.5})],
            events=[Event("decision", 0, {"rationale": "because"})],
        ),
    )
    trial.state, trial.value, trial.score = TrialState.COMPLETED, 0.25, 0.9
    trial.metrics, trial.artifacts, trial.finished, trial.last_step = (
        {"loss": 0.25, "l": [1, {"a": None}]},
        {"p": "/x"},
        trial.started + 1,
        0,
    )
    storage.write(name, Changes(trials=[trial], reports=[Report(0, 1, {"loss": 0.25})]))
    failed = Trial(
        number=1, params={"x": 0.1, "model.tag": "v1"}, state=TrialState.FAILED, error="ValueError: bad\ntrace"
    )
    storage.write(name, Changes(trials=[failed, failed]))  # the same trial twice in one tick is one row
    (loaded, loaded_failed) = storage.load_trials(name)
    for field in (
        "number",
        "params",
        "state",
        "value",
        "score",
        "metrics",
        "artifacts",
        "parent_id",
        "depth",
        "rationale",
        "started",
        "finished",
        "last_step",
    ):
        assert getattr(loaded, field) == getattr(trial, field), field
    assert loaded_failed.state is TrialState.FAILED and loaded_failed.error == "ValueError: bad\ntrace"
    events = storage.load_events(name)
    assert events[0]["kind"] == "decision" and events[0]["rationale"] == "because"
    storage.close()
    again = _open(storage_spec)
    reopened = again.open_study(name, DESCRIBED, Goal.of("loss", "min"))
    assert [t.number for t in reopened.trials] == [0, 1]
    assert reopened.history[0] == [(0, {"loss": 1.5}), (1, {"loss": 0.25})]
    again.close()


def test_list_and_delete_studies(storage_spec):
    storage, name = _open(storage_spec), _name()
    storage.open_study(name, DESCRIBED, Goal.of("score", "min"))
    trials = [Trial(number=i, params={"x": i / 10}, state=TrialState.COMPLETED, value=float(i)) for i in range(3)]
    trials.append(Trial(number=3, params={"x": 0.9}, state=TrialState.KILLED))
    storage.write(name, Changes(trials=trials))
    info = {s["name"]: s for s in storage.list_studies()}[name]
    assert (info["trials"], info["completed"], info["killed"], info["best"], info["modes"]) == (4, 3, 1, 0.0, ["min"])
    storage.delete_study(name)
    assert name not in {s["name"] for s in storage.list_studies()}
    with pytest.raises(StorageError, match=f"no study named '{name}'"):
        storage.load_trials(name)
    storage.close()


def test_tune_resumes_a_study_counting_finished_trials(storage_spec):
    name = _name()
    first = tune(objective, SPACE, storage=storage_spec, study_name=name, max_trials=12, seed=3)
    assert first["study"]["resumed"] == 0
    second = tune(objective, SPACE, storage=storage_spec, study_name=name, max_trials=20, seed=3, max_concurrent=3)
    assert second["study"]["trials"] == 20 and second["study"]["resumed"] == 12
    assert [t["params"] for t in second["trials"][:12]] == [t["params"] for t in first["trials"]]
    new_points = {repr(t["params"]) for t in second["trials"][12:]}
    assert not new_points & {repr(t["params"]) for t in first["trials"]}  # a resumed seed does not replay
    assert second["best"]["score"] == max(t["score"] for t in second["trials"] if t["state"] == "completed")
    third = tune(objective, SPACE, storage=storage_spec, study_name=name, max_trials=20)
    assert third["study"]["trials"] == 20 and third["study"]["resumed"] == 20  # nothing left to do


def test_grid_resume_runs_only_the_points_not_yet_run(storage_spec):
    name, space = _name(), {"a": Choice([1, 2, 3]), "b": Choice(["x", "y"])}
    tune(lambda ctx, a, b: a, space, strategy="grid", storage=storage_spec, study_name=name, max_trials=4)
    rest = tune(lambda ctx, a, b: a, space, strategy="grid", storage=storage_spec, study_name=name)
    pairs = [(t["params"]["a"], t["params"]["b"]) for t in rest["trials"]]
    assert len(pairs) == len(set(pairs)) == 6


def test_a_changed_space_is_an_error_naming_the_differences(storage_spec):
    name = _name()
    tune(objective, SPACE, storage=storage_spec, study_name=name, max_trials=2)
    changed = {**SPACE, "x": Float(0, 2), "opt": Choice(["adam", "sgd", "lion"])}
    with pytest.raises(ConfigurationError) as info:
        tune(objective, changed, storage=storage_spec, study_name=name, max_trials=4)
    message = str(info.value)
    assert "'x' changed from Float(0, 1) to Float(0, 2)" in message
    assert "'opt' changed from Choice(['adam', 'sgd'])" in message
    assert "Use another study_name" in message
    with pytest.raises(ConfigurationError, match="goal changed from max score to min score"):
        tune(objective, SPACE, storage=storage_spec, study_name=name, max_trials=4, mode="min")


def test_trials_left_running_are_run_again_with_their_number_and_params(storage_spec):
    name = _name()
    storage = _open(storage_spec)
    from hyperion_core.space import Space

    storage.open_study(name, Space(SPACE).describe(), Goal.of("score"))
    params = {"x": 0.75, "n": 2, "opt": "adam", "model.depth": 1, "model.tag": "v1"}
    done = Trial(number=0, params={**params, "x": 0.5}, state=TrialState.COMPLETED, value=0.5, score=0.5)
    storage.write(name, Changes(trials=[done, Trial(number=1, params=params)], reports=[Report(1, 0, {"loss": 9})]))
    if hasattr(storage, "engine"):  # SQL: the run that left it running is gone
        from hyperion_storage._schema import studies

        with storage.engine.begin() as conn:
            conn.execute(studies.update().values(owner="gone-host|1|x", heartbeat=0.0))
        storage.close()
    result = tune(objective, SPACE, storage=storage_spec, study_name=name, max_trials=3, seed=0)
    rerun = result["trials"][1]
    assert rerun["state"] == "completed" and rerun["params"]["x"] == 0.75 and rerun["number"] == 1
    assert result["study"]["trials"] == 3 and result["study"]["resumed"] == 1
    final = _open(storage_spec)
    reports = final.open_study(name, Space(SPACE).describe(), Goal.of("score")).history[1]
    assert reports == [(0, {"loss": 0.25}), (1, {"loss": -0.25})]  # the dead attempt's report is gone
    final.close()


def test_failures_and_kills_are_stored_with_their_reason(storage_spec):
    from hyperion import Kill
    from hyperion_strategies.random import RandomSearch

    class KillOdd(RandomSearch):
        def kills(self, study):
            return [
                Kill(t.number, "odd trials are pruned")
                for t in study.running.values()
                if t.number % 2 and t.last_step is not None and not t.stop_requested
            ]

    name = _name()
    tune(objective, SPACE, storage=storage_spec, study_name=name, strategy=KillOdd(), max_trials=10, seed=1)
    storage = _open(storage_spec)
    trials = storage.load_trials(name)
    assert all(
        t.state is TrialState.KILLED and t.kill_reason == "odd trials are pruned" for t in trials if t.number % 2
    )
    assert any(t.state is TrialState.FAILED and t.error.startswith("ValueError: unlucky") for t in trials) or all(
        not (t.params["n"] == 4 and t.params["opt"] == "sgd") for t in trials
    )
    kills = [e for e in storage.load_events(name) if e["kind"] == "kill_requested"]
    assert {e["trial_number"] for e in kills} == {t.number for t in trials if t.number % 2}
    storage.close()
