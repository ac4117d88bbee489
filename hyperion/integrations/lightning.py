"""PyTorch Lightning: `Trainer(callbacks=[HyperionCallback(ctx)])`. Reports the logged metrics
(`trainer.callback_metrics`, e.g. `val_loss`) after each validation as `ctx.report(step=epoch, ...)`;
when the trial is asked to stop, `trainer.should_stop` ends training."""

from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch import Callback
except ImportError:  # the older package name
    from pytorch_lightning import Callback  # type: ignore[no-redef]

from hyperion.integrations._report import numbers


class HyperionCallback(Callback):
    """ctx: the trial context."""

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return  # Lightning's sanity check is not an epoch
        self.ctx.report(step=trainer.current_epoch, **numbers(dict(trainer.callback_metrics)))
        if self.ctx.should_stop():
            trainer.should_stop = True
