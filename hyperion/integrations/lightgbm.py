"""LightGBM: `lgb.train(..., callbacks=[HyperionCallback(ctx)])`.

Reports each boosting round as `ctx.report(step=round, **{"valid_0-l2": ...})` (LightGBM's own
"<dataset>-<metric>" names); when the trial is asked to stop, boosting stops at that round.

`HyperionCallback(ctx, checkpoint_every=10)` also saves the booster as the trial's checkpoint every 10
rounds. LightGBM loads a model only through `train(init_model=...)`: a trial that continues from a
checkpoint passes `init_model=callback.init_model` and `num_boost_round=callback.rounds_left(200)`
(both are the plain values, None and 200, when the trial starts afresh)."""

from __future__ import annotations

from typing import Any

import lightgbm

from hyperion.integrations._report import numbers

MODEL = "model.txt"


class HyperionCallback:
    """ctx: the trial context. checkpoint_every: save the booster every this many rounds (0: never).
    LightGBM calls this after every boosting round."""

    order = 30  # after LightGBM's own recording callbacks
    before_iteration = False

    def __init__(self, ctx: Any, checkpoint_every: int = 0) -> None:
        if type(checkpoint_every) is not int or checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be a whole number of rounds (0: never), got {checkpoint_every!r}")
        self.ctx, self.every = ctx, checkpoint_every
        path = ctx.checkpoint_path if checkpoint_every else None
        #: the model to continue from (train's init_model), or None
        self.init_model = str(path / MODEL) if path is not None else None
        self.offset = ctx.checkpoint_step + 1 if path is not None else 0

    def rounds_left(self, rounds: int) -> int:
        """num_boost_round for train(): the rounds of `rounds` the checkpoint has not boosted yet."""
        return max(0, rounds - self.offset)

    def __call__(self, env: Any) -> None:
        step = env.iteration  # LightGBM counts on from init_model's rounds
        results = env.evaluation_result_list or []
        metrics = numbers({f"{item[0]}-{item[1]}": item[2] for item in results})
        self.ctx.report(step=step, **metrics)
        if self.every and (step + 1) % self.every == 0:
            with self.ctx.checkpoint(step) as path:
                env.model.save_model(str(path / MODEL))
        last = env.iteration >= env.end_iteration - 1
        if not last and self.ctx.should_stop():  # at the last round a stop saves nothing: the trial keeps it
            raise lightgbm.callback.EarlyStopException(env.iteration, results)
