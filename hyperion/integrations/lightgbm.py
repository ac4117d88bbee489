"""LightGBM: `lgb.train(..., callbacks=[HyperionCallback(ctx)])`.

Reports each boosting round as `ctx.report(step=round, **{"valid_0-l2": ...})` (LightGBM's own
"<dataset>-<metric>" names); when the trial is asked to stop, boosting stops at that round."""

from __future__ import annotations

from typing import Any

import lightgbm

from hyperion.integrations._report import numbers


class HyperionCallback:
    """ctx: the trial context. LightGBM calls this after every boosting round."""

    order = 30  # after LightGBM's own recording callbacks
    before_iteration = False

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def __call__(self, env: Any) -> None:
        results = env.evaluation_result_list or []
        metrics = numbers({f"{item[0]}-{item[1]}": item[2] for item in results})
        self.ctx.report(step=env.iteration, **metrics)
        if self.ctx.should_stop():
            raise lightgbm.callback.EarlyStopException(env.iteration, results)
