"""Keras 3 (any backend): `model.fit(..., callbacks=[HyperionCallback(ctx)])`. Reports each epoch's
logs (`loss`, `val_loss`, `val_accuracy`, ...) as `ctx.report(step=epoch, ...)`; when the trial is asked
to stop, `model.stop_training` ends training after that epoch.

`HyperionCallback(ctx, checkpoint=True)` also saves the model's weights and its optimizer's state as the
trial's checkpoint after every epoch, and a trial that continues from one (a resume, a promotion, PBT)
loads them when training begins and trains only the epochs left of `fit(epochs=...)`."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from hyperion.integrations._report import numbers

WEIGHTS, OPTIMIZER = "model.weights.h5", "optimizer.npz"


class HyperionCallback(keras.callbacks.Callback):
    """ctx: the trial context. checkpoint: save and restore the weights and the optimizer's state."""

    def __init__(self, ctx: Any, checkpoint: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.checkpoint = checkpoint
        self.offset = 0  # epochs trained before this fit() (in the checkpoint it continues from)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        path = self.ctx.checkpoint_path if self.checkpoint else None
        if path is None:
            return
        self.model.load_weights(path / WEIGHTS)
        optimizer = self.model.optimizer
        if (path / OPTIMIZER).is_file():
            optimizer.build(self.model.trainable_variables)
            saved = np.load(path / OPTIMIZER)
            for i, variable in enumerate(optimizer.variables):
                variable.assign(saved[f"v{i}"])
        self.offset = self.ctx.checkpoint_step + 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        step = epoch + self.offset
        self.ctx.report(step=step, **numbers(logs or {}))
        if self.checkpoint:
            with self.ctx.checkpoint(step) as path:
                self.model.save_weights(path / WEIGHTS)
                variables = self.model.optimizer.variables
                np.savez(path / OPTIMIZER, **{f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(variables)})
        if step >= self.params.get("epochs", step + 2) - 1:
            self.model.stop_training = True  # every epoch of fit(epochs=...) is trained: nothing to stop
        elif self.ctx.should_stop():
            self.model.stop_training = True
