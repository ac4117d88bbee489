"""What runs inside a trial: the TrialContext the objective receives, and run_trial(), which every
executor uses to call the objective and turn its outcome into one message."""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from typing import Any

from hyperion_core.checks import as_float, number, plain, plain_values
from hyperion_core.models import ObjectiveResult
from hyperion_core.protocols import Emit, Failed, Finished, Reported, Started
from hyperion_core.text import cap

#: The largest step a report may carry (what a 64-bit database integer holds).
MAX_STEP = 2**63 - 1


class TrialContext:
    """Passed to the objective as its first argument."""

    __slots__ = ("trial_id", "number", "params", "_emit", "_stopped", "_step")

    def __init__(
        self, number: int, trial_id: str, params: dict[str, Any], emit: Emit, stopped: Callable[[], bool]
    ) -> None:
        self.number = number
        self.trial_id = trial_id
        self.params = params
        self._emit = emit
        self._stopped = stopped
        self._step = -1

    def report(self, step: int | None = None, **metrics: Any) -> None:
        """Record metrics at a step (default: one more than the last). Early stopping reads these."""
        if step is None:
            step = self._step + 1
        elif type(step) is not int:
            step = plain(step)
        if isinstance(step, float) and math.isfinite(step) and float(step).is_integer():
            step = int(step)
        elif isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"ctx.report(step=...) takes a whole number, got {step!r}")
        if not 0 <= step <= MAX_STEP:
            raise ValueError(f"ctx.report(step=...) takes a step from 0 to {MAX_STEP} (2**63 - 1), got {step!r}")
        self._step = step
        self._emit(Reported(self.number, step, plain_values(metrics)))

    def should_stop(self) -> bool:
        """True once the study asks this trial to end (early stopping, time limit, pruning)."""
        return self._stopped()


def normalize_result(result: Any) -> tuple[float | None, dict[str, Any], dict[str, Any]]:
    """An objective's return value as (score, metrics, artifacts); TypeError/ValueError when unusable."""
    if isinstance(result, ObjectiveResult):
        score, metrics, artifacts = result.score, plain_values(result.metrics), result.artifacts
    else:
        value = number(result)  # numpy scalars, 0-d arrays and tensors, Decimal: one conversion
        if value is None:
            raise TypeError(
                f"the objective returned {type(result).__name__} {result!r:.80}; "
                "return ObjectiveResult(score=...) or a number"
            )
        score, metrics, artifacts = value, {}, {}
    if score is not None:
        score = as_float(score)  # an int too large for a float (10**400) is an infinity here, not a crash
        if score is None or not math.isfinite(score):
            kind = "a NaN" if score is not None and math.isnan(score) else "an infinite (or too large)"
            raise ValueError(f"the objective returned {kind} score; return a finite number")
    return score, metrics, artifacts


def run_trial(objective: Callable[..., Any], ctx: TrialContext, emit: Emit, interruptible: bool = False) -> None:
    """Call the objective: emit STARTED, then exactly one FINISHED or FAILED message.

    With `interruptible` (the trial runs on the thread that called tune(), where there is no time limit
    to count and so no STARTED) a KeyboardInterrupt is the user's Ctrl-C and propagates; anywhere else it
    would kill a worker silently, so it fails the trial.
    """
    if not interruptible:
        emit(Started(ctx.number))
    try:
        outcome = normalize_result(objective(ctx, **ctx.params))
    except KeyboardInterrupt as exc:
        if interruptible:
            raise
        emit(Failed(ctx.number, _describe(exc)))
        return
    except BaseException as exc:  # the objective's failure is the trial's, never the study's
        emit(Failed(ctx.number, _describe(exc)))
        return
    try:
        emit(Finished(ctx.number, *outcome))
    except Exception as exc:  # e.g. an artifact the process executor cannot pickle
        emit(Failed(ctx.number, f"the trial's result could not be sent back: {_describe(exc)}"))


def _describe(exc: BaseException) -> str:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # Keep the error line first so tables can show it; the traceback follows for debugging.
    try:
        head = f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception whose __str__ raises is still the trial's failure
        head = type(exc).__name__
    return cap(head + "\n" + "".join(tb[-6:])) or head
