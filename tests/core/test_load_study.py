"""hyperion.load_study(): a stored study read back as tune() returns it, with trials_dataframe(); reading
never changes the study."""

from __future__ import annotations

import sys

import pytest

from hyperion import ConfigurationError, Float, Int, ObjectiveResult, StorageError, StudyResult, load_study, tune
from hyperion_storage.memory import MemoryStorage

SPACE = {"lr": Float(1e-4, 1e-1, log=True), "model": {"layers": Int(1, 4)}}


def objective(ctx, lr, model):
    ctx.report(step=0, loss=lr)
    return ObjectiveResult(score=-lr * model["layers"], metrics={"loss": lr * model["layers"]})


def test_a_stored_study_loads_as_tune_returned_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'hpo.db'}"
    ran = tune(objective, SPACE, storage=url, study_name="exp", strategy="bayesian", max_trials=6, seed=0)
    loaded = load_study("exp", storage=url)
    assert isinstance(loaded, StudyResult) and isinstance(ran, StudyResult)
    assert loaded["best"] == ran["best"]
    assert [t["params"] for t in loaded["trials"]] == [t["params"] for t in ran["trials"]]
    for key in ("trials", "completed", "failed", "killed", "metric", "mode"):
        assert loaded["study"][key] == ran["study"][key]
    assert loaded["study"]["strategy"] == "bayesian" and loaded["study"]["running"] == 0
    frame = loaded.trials_dataframe()
    assert list(frame["number"]) == list(range(6))
    assert {"value", "state", "datetime_start", "duration", "params_lr", "params_model.layers", "metrics_loss"} <= set(
        frame.columns
    )
    assert frame.loc[frame["value"].idxmax(), "trial_id"] == ran["best"]["trial_id"]


def test_a_memory_study_loads_from_the_storage_object_it_ran_in():
    storage = MemoryStorage()
    ran = tune(objective, SPACE, storage=storage, study_name="mem", max_trials=3, seed=1)
    assert load_study("mem", storage=storage)["best"] == ran["best"]


def test_what_cannot_be_loaded_is_a_clear_error(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'hpo.db'}"
    tune(objective, SPACE, storage=url, study_name="exp", max_trials=2)
    with pytest.raises(StorageError, match="no study named 'nope'"):
        load_study("nope", storage=url)
    with pytest.raises(StorageError, match="no database at"):
        load_study("exp", storage=f"sqlite:///{tmp_path / 'typo.db'}")
    assert not (tmp_path / "typo.db").exists()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigurationError, match="trials_dataframe\\(\\) needs pandas: pip install pandas"):
        load_study("exp", storage=url).trials_dataframe()
