"""The framework callbacks and tracker reporters with the real libraries: reports arrive per round with
the framework's own names, a median policy stops a bad trial mid-training and the framework really stops
(fewer rounds ran); MLflow read back from a local file store, W&B from its offline run files."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from hyperion import Float, HyperionWarning, ObjectiveResult, tune

pytestmark = pytest.mark.integrations

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 on JAX's CPU wheels

ROUNDS = 40
# Three good learning rates first (never checked: min_trials=3), then a hopeless one that the median
# policy must stop early.
POINTS = [{"lr": 0.3}, {"lr": 0.2}, {"lr": 0.25}, {"lr": 0.0005}]
STOPPING = {"early_stopping": "median", "early_stopping_kwargs": {"min_trials": 3, "warmup_steps": 3}}


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    return x, x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.1 * rng.normal(size=n)


def _check_the_bad_trial_stopped(result: dict, metric: str) -> None:
    good, bad = result["trials"][:3], result["trials"][3]
    assert all(t["state"] == "completed" and t["metrics"]["rounds"] == ROUNDS for t in good)
    assert bad["state"] == "killed" and bad["kill_reason"].startswith("median")
    assert bad["last_step"] < ROUNDS - 1 and bad["metrics"]["rounds"] < ROUNDS  # the framework stopped too
    assert metric in str(bad["kill_reason"])


def test_lightgbm_reports_each_round_and_stops_boosting():
    lgb = pytest.importorskip("lightgbm")
    from hyperion.integrations.lightgbm import HyperionCallback

    x, y = _data()

    def objective(ctx, lr):
        train, valid = lgb.Dataset(x[:300], y[:300]), lgb.Dataset(x[300:], y[300:])
        booster = lgb.train(
            {"learning_rate": lr, "verbose": -1, "num_leaves": 7},
            train,
            num_boost_round=ROUNDS,
            valid_sets=[valid],
            callbacks=[HyperionCallback(ctx)],
        )
        return ObjectiveResult(
            score=-booster.best_score["valid_0"]["l2"] if booster.best_score else 0.0,
            metrics={"rounds": booster.current_iteration()},
        )

    result = tune(
        objective,
        {"lr": Float(1e-4, 1, log=True)},
        initial_points=POINTS,
        max_trials=4,
        metric="valid_0-l2",
        mode="min",
        **STOPPING,
    )
    _check_the_bad_trial_stopped(result, "valid_0-l2")


def test_xgboost_reports_each_round_and_stops_boosting():
    xgb = pytest.importorskip("xgboost")
    from hyperion.integrations.xgboost import HyperionCallback

    x, y = _data()

    def objective(ctx, lr):
        train, valid = xgb.DMatrix(x[:300], y[:300]), xgb.DMatrix(x[300:], y[300:])
        booster = xgb.train(
            {"eta": lr, "max_depth": 3},
            train,
            num_boost_round=ROUNDS,
            evals=[(valid, "valid")],
            callbacks=[HyperionCallback(ctx)],
            verbose_eval=False,
        )
        return ObjectiveResult(metrics={"rounds": booster.num_boosted_rounds()})

    result = tune(
        objective,
        {"lr": Float(1e-4, 1, log=True)},
        initial_points=POINTS,
        max_trials=4,
        metric="valid-rmse",
        mode="min",
        **STOPPING,
    )
    _check_the_bad_trial_stopped(result, "valid-rmse")


def test_keras_reports_each_epoch_and_stops_training():
    keras = pytest.importorskip("keras")
    from hyperion.integrations.keras import HyperionCallback

    x, y = _data()

    def objective(ctx, lr):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
        history = model.fit(
            x[:300],
            y[:300],
            validation_data=(x[300:], y[300:]),
            epochs=ROUNDS,
            batch_size=100,
            verbose=0,
            callbacks=[HyperionCallback(ctx)],
        )
        return ObjectiveResult(metrics={"rounds": len(history.history["loss"])})

    points = [{"lr": 0.05}, {"lr": 0.04}, {"lr": 0.03}, {"lr": 0.00001}]
    result = tune(
        objective,
        {"lr": Float(1e-6, 1, log=True)},
        initial_points=points,
        max_trials=4,
        metric="val_loss",
        mode="min",
        **STOPPING,
    )
    _check_the_bad_trial_stopped(result, "val_loss")


def test_sklearn_cross_validation_reports_per_fold_and_stops_early():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import Ridge

    from hyperion.integrations.sklearn import cross_val_score

    x, y = _data()
    folds = []

    def objective(ctx, alpha):
        score = cross_val_score(ctx, Ridge(alpha=alpha), x, y, cv=8)
        folds.append(ctx.number)
        return score

    points = [{"alpha": 0.01}, {"alpha": 0.02}, {"alpha": 0.03}, {"alpha": 1e5}]
    result = tune(
        objective,
        {"alpha": Float(1e-3, 1e6, log=True)},
        initial_points=points,
        max_trials=4,
        early_stopping="median",
        early_stopping_kwargs={"min_trials": 3, "warmup_steps": 1},
    )
    bad = result["trials"][3]
    assert all(t["last_step"] == 7 for t in result["trials"][:3])  # eight folds each
    assert bad["state"] == "killed" and bad["last_step"] < 7


def test_mlflow_gets_a_parent_run_per_study_and_a_nested_run_per_trial(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from hyperion_reporters.mlflow_reporter import MLflowReporter

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # MLflow's local store (its file store is deprecated)
    storage = f"sqlite:///{tmp_path / 's.db'}"

    def objective(ctx, x):
        for step in range(3):
            ctx.report(step=step, loss=x + step)
        if x > 0.9:
            raise ValueError("too big")
        return ObjectiveResult(score=x, metrics={"final": 2 * x})

    tune(
        objective,
        {"x": Float(0, 1)},
        max_trials=5,
        seed=0,
        storage=storage,
        study_name="mlf",
        reporters=[MLflowReporter(tracking_uri=uri)],
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tune(
        objective,
        {"x": Float(0, 1)},
        max_trials=8,
        seed=0,
        storage=storage,
        study_name="mlf",
        reporters=["mlflow"],  # by name: MLFLOW_TRACKING_URI
    )  # resumed: the same parent run
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mlf")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("hyperion.parent") == "yes"]
    trials = [r for r in runs if "hyperion.trial" in r.data.tags]
    assert len(parents) == 1 and len(trials) == 8
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in trials)
    one = trials[0]
    assert "x" in one.data.params and one.data.tags["hyperion.state"] in ("completed", "failed")
    assert [m.step for m in client.get_metric_history(one.info.run_id, "loss")] == [0, 1, 2]
    best = parents[0].data.tags["hyperion.best_trial"]
    assert any(r.data.tags.get("hyperion.best") == "yes" and r.data.tags["hyperion.trial"] == best for r in trials)


def _wandb_records(path: Path):
    """The records of a W&B run file: a header, then LevelDB-style log records holding protobufs."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data, pos, chunks = path.read_bytes(), 7, b""
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:  # a block's tail too short for a header is padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunks += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            yield record
            chunks = b""
        elif kind == 0:
            break


def _finished_wandb_records(path: Path) -> list:
    """The records of a run file once W&B's service has written the run's exit record: it writes the file
    from its own process, which may still be flushing when run.finish() returns (bounded: 60 s)."""
    import time

    deadline = time.monotonic() + 60
    while True:
        try:
            records = list(_wandb_records(path))
        except Exception:  # a record still being written
            if time.monotonic() > deadline:
                raise
            records = []
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def test_wandb_offline_writes_a_run_per_trial_grouped_by_study(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))

    def objective(ctx, x):
        for step in range(3):
            ctx.report(step=step, loss=x + step)
        return ObjectiveResult(score=x, metrics={"final": 2 * x})

    result = tune(objective, {"x": Float(0, 1)}, max_trials=2, seed=0, study_name="wb", reporters=["wandb"])
    files = sorted((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 2
    seen = {}
    for path in files:
        run, summary, steps = None, {}, []
        for record in _finished_wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                run = record.run
            elif kind == "summary":
                summary.update(
                    {u.key or ".".join(u.nested_key): json.loads(u.value_json) for u in record.summary.update}
                )
            elif kind == "history":
                steps.append({i.key or ".".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
        config = {u.key: json.loads(u.value_json) for u in run.config.update}
        assert run.run_group == "wb" and run.display_name == config["hyperion.trial"]
        assert [h["_step"] for h in steps] == [0, 1, 2] and all("loss" in h for h in steps)
        assert summary["hyperion.state"] == "completed" and summary["final"] == 2 * config["x"]
        seen[config["hyperion.trial"]] = config["x"]
    assert seen == {t["trial_id"]: t["params"]["x"] for t in result["trials"]}


def test_a_tracker_that_is_down_warns_once_and_the_study_goes_on(tmp_path):
    pytest.importorskip("mlflow")
    from hyperion_reporters.mlflow_reporter import MLflowReporter

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tune(
            lambda ctx, x: x,
            {"x": Float(0, 1)},
            max_trials=4,
            reporters=[MLflowReporter(tracking_uri="http://127.0.0.1:9/")],
        )  # nothing listens there
    assert result["study"]["completed"] == 4
    ours = [w for w in caught if issubclass(w.category, HyperionWarning) and "mlflow reporter" in str(w.message)]
    assert len(ours) == 1


def _lightning_regression(torch, pl, optimizer):
    """A one-layer LightningModule that logs val_loss, trained with `optimizer` (a torch.optim class)."""

    class Model(pl.LightningModule):
        def __init__(self, lr):
            super().__init__()
            self.layer, self.lr = torch.nn.Linear(5, 1), lr

        def training_step(self, batch, _):
            return torch.nn.functional.mse_loss(self.layer(batch[0]).squeeze(-1), batch[1])

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(batch[0]).squeeze(-1), batch[1]))

        def configure_optimizers(self):
            return optimizer(self.parameters(), lr=self.lr)

    return Model


def _hf_regression(torch):
    """A one-layer torch module as the Hugging Face Trainer takes it (a dict with the loss)."""

    class Regression(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(5, 1)

        def forward(self, inputs, labels=None):
            out = self.layer(inputs).squeeze(-1)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    return Regression


@pytest.mark.torch
def test_lightning_and_transformers_stop_training_the_frameworks_way():
    """Opt-in (-m torch): PyTorch Lightning's trainer.should_stop and the Hugging Face Trainer's
    control.should_training_stop, on tiny models."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("lightning")
    pytest.importorskip("transformers")
    import lightning.pytorch as pl

    from hyperion.integrations.lightning import HyperionCallback as LightningCallback

    x, y = (torch.tensor(a, dtype=torch.float32) for a in _data())

    Model = _lightning_regression(torch, pl, torch.optim.SGD)

    def lightning_objective(ctx, lr):
        loader = lambda a, b: torch.utils.data.DataLoader(torch.utils.data.TensorDataset(a, b), batch_size=100)  # noqa: E731
        trainer = pl.Trainer(
            max_epochs=ROUNDS,
            callbacks=[LightningCallback(ctx)],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(Model(lr), loader(x[:300], y[:300]), loader(x[300:], y[300:]))
        return ObjectiveResult(metrics={"rounds": trainer.current_epoch})

    points = [{"lr": 0.05}, {"lr": 0.04}, {"lr": 0.03}, {"lr": 0.00001}]
    result = tune(
        lightning_objective,
        {"lr": Float(1e-6, 1, log=True)},
        initial_points=points,
        max_trials=4,
        metric="val_loss",
        mode="min",
        **STOPPING,
    )
    assert result["trials"][3]["state"] == "killed" and result["trials"][3]["metrics"]["rounds"] < ROUNDS

    from transformers import Trainer, TrainingArguments

    from hyperion.integrations.transformers import HyperionCallback as HFCallback

    Regression = _hf_regression(torch)
    rows = [{"inputs": a, "labels": b} for a, b in zip(x, y)]

    def hf_objective(ctx, lr):
        torch.manual_seed(0)
        args = TrainingArguments(
            output_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "hf"),
            learning_rate=lr,
            num_train_epochs=ROUNDS,
            eval_strategy="epoch",
            save_strategy="no",
            report_to=[],
            per_device_train_batch_size=100,
            optim="sgd",
            disable_tqdm=True,
            use_cpu=True,
        )
        trainer = Trainer(
            model=Regression(),
            args=args,
            train_dataset=rows[:300],
            eval_dataset=rows[300:],
            callbacks=[HFCallback(ctx)],
        )
        trainer.train()
        return ObjectiveResult(metrics={"rounds": round(trainer.state.epoch)})

    result = tune(
        hf_objective,
        {"lr": Float(1e-6, 1, log=True)},
        initial_points=points,
        max_trials=4,
        metric="eval_loss",
        mode="min",
        **STOPPING,
    )
    assert result["trials"][3]["state"] == "killed" and result["trials"][3]["metrics"]["rounds"] < ROUNDS


def test_keras_checkpoint_true_continues_a_trial_where_it_stopped(tmp_path):
    keras = pytest.importorskip("keras")
    from hyperion.integrations.keras import HyperionCallback

    x, y = _data()
    epochs = 6

    def fit(ctx, lr, until):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
        callback = HyperionCallback(ctx, checkpoint=True)
        return model.fit(x[:300], y[:300], epochs=until, batch_size=100, shuffle=False, verbose=0, callbacks=[callback])

    def objective(ctx, lr):
        history = fit(ctx, lr, epochs)
        return ObjectiveResult(metrics={"loss": history.history["loss"][-1], "epochs": len(history.history["loss"])})

    def dies_after_three(ctx, lr):
        if ctx.checkpoint_step is None:  # the first run trains 3 epochs, then its process "dies"
            fit(ctx, lr, 3)
            raise KeyboardInterrupt
        return objective(ctx, lr)

    url = f"sqlite:///{tmp_path / 'k.db'}"
    options = dict(metric="loss", mode="min", max_trials=1, storage=url)
    whole = tune(objective, {"lr": 0.05}, study_name="whole", **options)["trials"][0]
    assert whole["metrics"]["epochs"] == epochs
    with pytest.raises(KeyboardInterrupt):
        tune(dies_after_three, {"lr": 0.05}, study_name="cut", **options)
    trial = tune(dies_after_three, {"lr": 0.05}, study_name="cut", **options)["trials"][0]
    assert trial["metrics"]["epochs"] == epochs - 3 and trial["last_step"] == epochs - 1  # only the epochs left
    # the weights and Adam's moments came back: the same loss as the uninterrupted run
    assert trial["metrics"]["loss"] == pytest.approx(whole["metrics"]["loss"], rel=1e-5)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_boosting_checkpoints_continue_a_trial_with_the_rounds_left(tmp_path, library):
    lib = pytest.importorskip(library)
    x, y = _data()

    def boost(ctx, lr, stop_after=None):
        """ROUNDS rounds in all, a checkpoint every 5; `stop_after`: the process "dies" after that round."""
        if library == "lightgbm":
            from hyperion.integrations.lightgbm import HyperionCallback

            callback = HyperionCallback(ctx, checkpoint_every=5)
            booster = lib.train(
                {"learning_rate": lr, "verbose": -1, "num_leaves": 7, "deterministic": True, "num_threads": 1},
                lib.Dataset(x[:300], y[:300]),
                num_boost_round=stop_after or callback.rounds_left(ROUNDS),
                init_model=callback.init_model,
                valid_sets=[lib.Dataset(x[300:], y[300:])],
                callbacks=[callback],
            )
            return booster.current_iteration(), booster.predict(x[300:])
        from hyperion.integrations.xgboost import HyperionCallback

        booster = lib.train(
            {"eta": lr, "max_depth": 3, "nthread": 1},
            lib.DMatrix(x[:300], y[:300]),
            num_boost_round=stop_after or ROUNDS,
            evals=[(lib.DMatrix(x[300:], y[300:]), "valid")],
            callbacks=[HyperionCallback(ctx, checkpoint_every=5, rounds=ROUNDS)],
            verbose_eval=False,
        )
        return booster.num_boosted_rounds(), booster.predict(lib.DMatrix(x[300:]))

    def objective(ctx, lr):
        rounds, predictions = boost(ctx, lr)
        return ObjectiveResult(metrics={"rounds": rounds, "first": float(predictions[0]), "from": ctx.checkpoint_step})

    def dies_after_twelve(ctx, lr):
        if ctx.checkpoint_step is None:
            boost(ctx, lr, stop_after=12)  # checkpoints at rounds 5 and 10 (steps 4 and 9)
            raise KeyboardInterrupt
        return objective(ctx, lr)

    url = f"sqlite:///{tmp_path / 'b.db'}"
    options = dict(metric="rounds", max_trials=1, storage=url)
    whole = tune(objective, {"lr": 0.2}, study_name="whole", **options)["trials"][0]["metrics"]
    with pytest.raises(KeyboardInterrupt):
        tune(dies_after_twelve, {"lr": 0.2}, study_name="cut", **options)
    cut = tune(dies_after_twelve, {"lr": 0.2}, study_name="cut", **options)["trials"][0]
    assert cut["metrics"]["from"] == 9 and cut["metrics"]["rounds"] == whole["rounds"] == ROUNDS
    assert cut["last_step"] == ROUNDS - 1
    assert cut["metrics"]["first"] == pytest.approx(whole["first"], rel=1e-6)  # the same model in the end


@pytest.mark.torch
def test_lightning_and_transformers_checkpoints_continue_a_trial(tmp_path):
    """Opt-in (-m torch): with checkpoint=True a trial cut short continues from the framework's own
    checkpoint (ckpt_path= / resume_from_checkpoint=) and trains only what is left."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("lightning")
    pytest.importorskip("transformers")
    import lightning.pytorch as pl
    from transformers import Trainer, TrainingArguments

    from hyperion.integrations.lightning import HyperionCallback as LightningCallback
    from hyperion.integrations.transformers import HyperionCallback as HFCallback

    x, y = (torch.tensor(a, dtype=torch.float32) for a in _data())
    epochs = 6

    Model = _lightning_regression(torch, pl, torch.optim.Adam)

    def loader(a, b):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(a, b), batch_size=100)

    def lightning(ctx, lr, cut=False):
        torch.manual_seed(0)
        callback = LightningCallback(ctx, checkpoint=True)
        trainer = pl.Trainer(
            max_epochs=3 if cut else epochs,
            callbacks=[callback],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            deterministic=True,
        )
        model = Model(lr)
        trainer.fit(model, loader(x[:300], y[:300]), loader(x[300:], y[300:]), ckpt_path=callback.ckpt_path)
        return float(model.layer.weight.sum())

    Regression = _hf_regression(torch)
    rows = [{"inputs": a, "labels": b} for a, b in zip(x, y)]

    def transformers(ctx, lr, cut=False):
        torch.manual_seed(0)
        callback = HFCallback(ctx, checkpoint=True)
        args = TrainingArguments(
            output_dir=str(tmp_path / f"hf{ctx.number}{cut}"),
            learning_rate=lr,
            num_train_epochs=epochs,
            max_steps=9 if cut else -1,
            eval_strategy="epoch",
            save_strategy="no",
            report_to=[],
            lr_scheduler_type="constant",  # the same learning rates whether cut at 9 steps or not
            per_device_train_batch_size=100,
            disable_tqdm=True,
            use_cpu=True,
        )
        model = Regression()
        trainer = Trainer(
            model=model, args=args, train_dataset=rows[:300], eval_dataset=rows[300:], callbacks=[callback]
        )
        trainer.train(resume_from_checkpoint=callback.resume_from_checkpoint)
        return float(model.layer.weight.sum())

    for name, train in [("lightning", lightning), ("transformers", transformers)]:

        def objective(ctx, lr, train=train):
            return ObjectiveResult(metrics={"w": train(ctx, lr), "from": ctx.checkpoint_step})

        def dies_midway(ctx, lr, train=train, objective=objective):
            if ctx.checkpoint_step is None:
                train(ctx, lr, cut=True)  # half the training, then the process "dies"
                raise KeyboardInterrupt
            return objective(ctx, lr)

        url = f"sqlite:///{tmp_path / (name + '.db')}"
        options = dict(metric="w", max_trials=1, storage=url)
        whole = tune(objective, {"lr": 0.05}, study_name="whole", **options)["trials"][0]
        with pytest.raises(KeyboardInterrupt):
            tune(dies_midway, {"lr": 0.05}, study_name="cut", **options)
        cut = tune(dies_midway, {"lr": 0.05}, study_name="cut", **options)["trials"][0]
        assert cut["metrics"]["from"] is not None, name
        assert cut["metrics"]["w"] == pytest.approx(whole["metrics"]["w"], rel=1e-4), name  # the same model
