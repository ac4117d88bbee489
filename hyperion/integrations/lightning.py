"""PyTorch Lightning: `Trainer(callbacks=[HyperionCallback(ctx)])`. Reports the logged metrics
(`trainer.callback_metrics`, e.g. `val_loss`) after each validation as `ctx.report(step=epoch, ...)`;
when the trial is asked to stop, `trainer.should_stop` ends training.

`HyperionCallback(ctx, checkpoint=True)` also saves Lightning's full checkpoint (model, optimizers,
loops) after each validation as the trial's checkpoint. Lightning restores one only through
`fit(ckpt_path=...)`: pass `trainer.fit(model, ..., ckpt_path=callback.ckpt_path)` (None when the trial
starts afresh), and a continued trial trains the epochs left of `max_epochs`."""

from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch import Callback
except ImportError:  # the older package name
    from pytorch_lightning import Callback  # type: ignore[no-redef]

from hyperion.integrations._report import numbers

CHECKPOINT = "last.ckpt"


class HyperionCallback(Callback):
    """ctx: the trial context. checkpoint: save Lightning's checkpoint after each validation."""

    def __init__(self, ctx: Any, checkpoint: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.checkpoint = checkpoint
        path = ctx.checkpoint_path if checkpoint else None
        #: give it to trainer.fit(ckpt_path=...): the checkpoint the trial continues from, or None
        self.ckpt_path = str(path / CHECKPOINT) if path is not None else None

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return  # Lightning's sanity check is not an epoch
        step = trainer.current_epoch
        self.ctx.report(step=step, **numbers(dict(trainer.callback_metrics)))
        if self.checkpoint:
            with self.ctx.checkpoint(step) as path:
                trainer.save_checkpoint(path / CHECKPOINT)
        last = trainer.max_epochs is not None and trainer.max_epochs > 0 and step >= trainer.max_epochs - 1
        if not last and self.ctx.should_stop():  # at the last epoch a stop saves nothing: the trial keeps it
            trainer.should_stop = True
