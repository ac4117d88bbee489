"""Keras 3 (any backend): `model.fit(..., callbacks=[HyperionCallback(ctx)])`. Reports each epoch's
logs (`loss`, `val_loss`, `val_accuracy`, ...) as `ctx.report(step=epoch, ...)`; when the trial is asked
to stop, `model.stop_training` ends training after that epoch."""

from __future__ import annotations

from typing import Any

import keras

from hyperion.integrations._report import numbers


class HyperionCallback(keras.callbacks.Callback):
    """ctx: the trial context."""

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.ctx.report(step=epoch, **numbers(logs or {}))
        if self.ctx.should_stop():
            self.model.stop_training = True
