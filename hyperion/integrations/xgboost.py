"""XGBoost: `xgb.train(..., evals=[(dvalid, "valid")], callbacks=[HyperionCallback(ctx)])` (or the
scikit-learn API's `callbacks=`). Reports each round as `ctx.report(step=round, **{"valid-rmse": ...})`;
when the trial is asked to stop, boosting stops at that round.

`HyperionCallback(ctx, checkpoint_every=10, rounds=200)` also saves the booster as the trial's
checkpoint every 10 rounds; a trial that continues from one (a resume, a promotion, PBT) loads it before
boosting and stops once the booster has `rounds` trees (pass your num_boost_round), so it boosts only
the rounds left."""

from __future__ import annotations

from typing import Any

import xgboost

from hyperion.integrations._report import numbers

MODEL = "model.ubj"


class HyperionCallback(xgboost.callback.TrainingCallback):
    """ctx: the trial context. checkpoint_every: save the booster every this many rounds (0: never).
    rounds: the boosting rounds in all (num_boost_round), where a continued trial stops."""

    def __init__(self, ctx: Any, checkpoint_every: int = 0, rounds: int | None = None) -> None:
        super().__init__()
        if type(checkpoint_every) is not int or checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be a whole number of rounds (0: never), got {checkpoint_every!r}")
        self.ctx, self.every, self.rounds = ctx, checkpoint_every, rounds
        self.offset = 0

    def before_training(self, model: Any) -> Any:
        path = self.ctx.checkpoint_path if self.every else None
        if path is not None:
            model.load_model(str(path / MODEL))
            self.offset = model.num_boosted_rounds()
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
        step = epoch + self.offset
        metrics = numbers(
            {f"{data}-{metric}": values[-1] for data, per in evals_log.items() for metric, values in per.items()}
        )
        self.ctx.report(step=step, **metrics)
        if self.every and (step + 1) % self.every == 0:
            with self.ctx.checkpoint(step) as path:
                model.save_model(str(path / MODEL))
        if self.rounds is not None and model.num_boosted_rounds() >= self.rounds:
            return True  # every round is boosted: nothing to stop
        return bool(self.ctx.should_stop())  # True stops training
