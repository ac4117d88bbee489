"""XGBoost: `xgb.train(..., evals=[(dvalid, "valid")], callbacks=[HyperionCallback(ctx)])` (or the
scikit-learn API's `callbacks=`). Reports each round as `ctx.report(step=round, **{"valid-rmse": ...})`;
when the trial is asked to stop, boosting stops at that round."""

from __future__ import annotations

from typing import Any

import xgboost

from hyperion.integrations._report import numbers


class HyperionCallback(xgboost.callback.TrainingCallback):
    """ctx: the trial context."""

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
        metrics = numbers(
            {f"{data}-{metric}": values[-1] for data, per in evals_log.items() for metric, values in per.items()}
        )
        self.ctx.report(step=epoch, **metrics)
        return bool(self.ctx.should_stop())  # True stops training
