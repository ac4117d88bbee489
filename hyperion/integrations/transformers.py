"""Hugging Face Transformers: `Trainer(..., callbacks=[HyperionCallback(ctx)])` with evaluation on
(`eval_strategy="epoch"` or "steps"). Reports each evaluation's metrics (`eval_loss`, ...) as
`ctx.report(step=global_step, ...)`; when the trial is asked to stop, `control.should_training_stop`
ends training.

`HyperionCallback(ctx, checkpoint=True)` also has the Trainer save its checkpoint (model, optimizer,
scheduler, RNG and trainer state) at each evaluation and copies it as the trial's checkpoint. The
Trainer restores one only through `train(resume_from_checkpoint=...)`: pass
`trainer.train(resume_from_checkpoint=callback.resume_from_checkpoint)` (None when the trial starts
afresh), and a continued trial trains the steps left."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from hyperion.integrations._report import numbers


class HyperionCallback(TrainerCallback):
    """ctx: the trial context. checkpoint: save the Trainer's checkpoint at each evaluation."""

    def __init__(self, ctx: Any, checkpoint: bool = False) -> None:
        self.ctx = ctx
        self.checkpoint = checkpoint
        path = ctx.checkpoint_path if checkpoint else None
        #: give it to trainer.train(resume_from_checkpoint=...): the checkpoint it continues from, or None
        self.resume_from_checkpoint = str(path) if path is not None else None

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        self.ctx.report(step=state.global_step, **numbers(metrics or {}))
        if self.checkpoint:
            control.should_save = True  # the Trainer writes checkpoint-<step>; on_save copies it
        last = state.max_steps and state.global_step >= state.max_steps
        if not last and self.ctx.should_stop():  # at the end a stop saves nothing: the trial keeps it
            control.should_training_stop = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.checkpoint:
            saved = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if saved.is_dir():
                with self.ctx.checkpoint(state.global_step) as path:
                    shutil.copytree(saved, path, dirs_exist_ok=True)
        return control
