"""Hugging Face Transformers: `Trainer(..., callbacks=[HyperionCallback(ctx)])` with evaluation on
(`eval_strategy="epoch"` or "steps"). Reports each evaluation's metrics (`eval_loss`, ...) as
`ctx.report(step=global_step, ...)`; when the trial is asked to stop, `control.should_training_stop`
ends training."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from hyperion.integrations._report import numbers


class HyperionCallback(TrainerCallback):
    """ctx: the trial context."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        self.ctx.report(step=state.global_step, **numbers(metrics or {}))
        if self.ctx.should_stop():
            control.should_training_stop = True
        return control
