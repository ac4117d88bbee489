"""The study views are a declared contract: the computed ones (any storage) answer as the SQL ones do, and
a third-party storage written against the protocols alone serves load_study and ask-and-tell."""

from __future__ import annotations

import pytest

from hyperion import Choice, Float, Int, ObjectiveResult, Study, load_study, tune
from hyperion_core.models import Changes, Event
from hyperion_core.plugins import registry
from hyperion_core.protocols import Storage, StudyViews

SPACE = {"x": Float(0, 1), "n": Int(1, 4), "opt": Choice(["adam", "sgd"])}


def objective(ctx, x, n, opt):
    if n == 1 and opt == "sgd":
        raise ValueError("unlucky")
    for step in range(4):
        ctx.report(step=step, loss=1 - x + 0.1 * step * n)
        if ctx.should_stop():
            return None
    return ObjectiveResult(score=x, metrics={"loss": 1 - x})


def _copy(sql, target, name):
    """The same study in another storage: every trial, report and event."""
    info = sql.describe_study(name)
    from hyperion_core.goal import Goal

    target.open_study(name, info["space"], Goal.of(info["metrics"], info["modes"]), info["config"])
    events = [
        Event(e.pop("kind"), e.pop("trial_number"), e, e.pop("time"))
        for e in (dict(row) for row in sql.load_events(name))
    ]
    target.write(name, Changes(trials=sql.load_trials(name), reports=sql.load_reports(name), events=events))


@pytest.mark.parametrize("mode", ["max", "min"])
def test_the_computed_views_answer_as_the_sql_views_do(tmp_path, dict_storage, mode):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    tune(
        objective,
        SPACE,
        storage=url,
        study_name="s",
        max_trials=24,
        seed=3,
        mode=mode,
        early_stopping="median",
        early_stopping_kwargs={"metric": "loss", "mode": "min", "min_trials": 2, "check_interval": 1},
    )
    sql = registry().storage(url, read_only=True)
    assert all(sql.study_view("s")["counts"][state] for state in ("completed", "failed", "killed"))
    other = registry().storage(f"dictstore://views-{mode}")
    _copy(sql, other, "s")
    assert isinstance(other, StudyViews) and isinstance(other, Storage)

    def same(view, *args, drop=(), **kwargs):
        a, b = getattr(sql, view)("s", *args, **kwargs), getattr(other, view)("s", *args, **kwargs)
        for key in drop:
            for side in (a, b):
                side.pop(key, None)
        assert a == b, view

    same("study_view", drop=("seq", "open_by", "created", "updated", "state"))
    same("history_view")
    same("history_view", cap=5)  # thinned the same way
    same("sample_view")
    same("sample_view", cap=4)
    same("curves_view", "loss")
    same("curves_view", "loss", max_trials=6)
    same("lineage_view")
    for sort in ("number", "value", "duration", "state", "last_step"):
        for descending in (False, True):
            same("trials_view", sort=sort, descending=descending, limit=200)
    same("trials_view", state="killed")
    same("numbers_view", state="completed")
    same("numbers_view", ranges={"x": (0.2, 0.7)}, equals={"opt": "adam"})
    same("trials_view", ranges={"x": (0.2, 0.7)}, equals={"opt": "adam"}, offset=1, limit=3)
    timeline = [{**row, "worker": None} for row in sql.timeline_view("s")]
    assert timeline == other.timeline_view("s")
    for number in (0, 5, 23):
        a, b = sql.trial_view("s", number), other.trial_view("s", number)
        a.pop("worker"), b.pop("worker")
        assert a == b
    assert sql.trial_view("s", 99) is None and other.trial_view("s", 99) is None
    sql.close()


def test_a_third_party_storage_serves_load_study_and_ask_and_tell(dict_storage):
    url = "dictstore://ask"
    with Study(SPACE, storage=url, study_name="a", seed=0, max_trials=4) as study:
        for _ in range(4):
            trial = study.ask()
            trial.report(0, loss=1.0)
            study.tell(trial, trial.params["x"])
    result = tune(lambda ctx, x, n, opt: x, SPACE, storage=url, study_name="b", max_trials=5, seed=0)
    loaded = load_study("b", storage=url)
    assert loaded["best"] == result["best"] and len(loaded["trials"]) == 5
    assert load_study("a", storage=url)["study"]["completed"] == 4
    storage = registry().storage(url)
    assert storage.study_view("a")["counts"]["completed"] == 4
    assert storage.curves_view("a", "loss")["trials_with_reports"] == 4
