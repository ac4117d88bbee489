"""What runs inside a trial: the TrialContext the objective receives, and run_trial(), which every
executor uses to call the objective and turn its outcome into one message."""

from __future__ import annotations

import contextlib
import math
import shutil
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hyperion_core.checks import as_float, number, plain, plain_values
from hyperion_core.errors import CheckpointError
from hyperion_core.models import ObjectiveResult
from hyperion_core.protocols import Checkpointed, CheckpointStore, Emit, Failed, Finished, Reported, Started, TrialSpec
from hyperion_core.text import cap

#: The largest step a report may carry (what a 64-bit database integer holds).
MAX_STEP = 2**63 - 1


class TrialContext:
    """Passed to the objective as its first argument: report metrics, ask whether to stop, and save and
    load checkpoints (docs/checkpoints.md)."""

    __slots__ = ("trial_id", "number", "params", "_emit", "_stopped", "_step", "_spec", "_restored", "saw_stop")

    def __init__(self, spec: TrialSpec, emit: Emit, stopped: Callable[[], bool]) -> None:
        self.number = spec.number
        self.trial_id = spec.trial_id
        self.params = spec.params
        self._spec = spec
        self._emit = emit
        self._stopped = stopped
        # a trial that continues from a checkpoint continues its step counter too
        self._step = spec.resume[1] if spec.resume is not None else -1
        self._restored: Path | None = None
        self.saw_stop = False  # should_stop() has answered True

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
        """True once the study asks this trial to end (early stopping, time limit, pruning, a pause:
        save a checkpoint, if you have not at this step, and return)."""
        if self._stopped():
            self.saw_stop = True
            return True
        return False

    # -- checkpoints ---------------------------------------------------------------------------------------
    @property
    def checkpoint_step(self) -> int | None:
        """The step of the checkpoint this trial continues from (None: it starts afresh). Continue the
        loop after it: `for epoch in range(start, epochs)` with `start = (ctx.checkpoint_step or -1) + 1`."""
        return self._spec.resume[1] if self._spec.resume is not None else None

    @property
    def checkpoint_path(self) -> Path | None:
        """The local directory of the checkpoint this trial continues from, for files written in a
        `with ctx.checkpoint() as path:` block (None: it starts afresh). Read it; do not change it."""
        if self._spec.resume is None:
            return None
        if self._restored is None:
            try:
                self._restored = self._store().fetch(self._spec.resume[0])
            except OSError as exc:
                raise CheckpointError(
                    f"the checkpoint at step {self._spec.resume[1]} could not be loaded from {self._spec.store}: {exc}"
                ) from exc
        return self._restored

    def load_checkpoint(self) -> Any:
        """What `ctx.save_checkpoint(state)` saved at the checkpoint this trial continues from, or None
        when it starts afresh."""
        path = self.checkpoint_path
        if path is None:
            return None
        from hyperion_core.checkpoints import read_state

        try:
            return read_state(path)
        except FileNotFoundError:
            raise CheckpointError(
                f"the checkpoint at step {self.checkpoint_step} holds files, not a saved state (it was written "
                "with `with ctx.checkpoint() as path:`): read them from ctx.checkpoint_path"
            ) from None
        except OSError as exc:
            raise CheckpointError(f"the checkpoint at step {self.checkpoint_step} could not be read: {exc}") from exc

    def save_checkpoint(self, state: Any, step: int | None = None) -> None:
        """Save `state` (any picklable object: a dict of state_dicts, arrays, counters) as this trial's
        checkpoint at `step` (default: the step last reported). Raises CheckpointError when the store
        fails (a full disk): catch it to train on without this checkpoint."""
        from hyperion_core.checkpoints import write_state

        with self.checkpoint(step) as path:
            write_state(path, state)

    @contextlib.contextmanager
    def checkpoint(self, step: int | None = None) -> Iterator[Path]:
        """`with ctx.checkpoint() as path:` gives an empty directory for a framework to write its files
        into (trainer.save_checkpoint(path / "last.ckpt"), model.save(path / "model.keras")); at the
        end of the block they become this trial's checkpoint at `step` (default: the step last
        reported), at once and whole."""
        from hyperion_core.checkpoints import size_of, step_key

        store = self._store()
        if step is None:
            step = max(self._step, 0)
        elif type(step) is not int or step < 0:
            raise ValueError(f"a checkpoint's step is a whole number from 0, got {step!r}")
        key = step_key(self._spec.prefix, step)
        try:
            staged = store.stage(key)
        except OSError as exc:
            raise CheckpointError(f"the checkpoint at step {step} could not be saved to {store.url}: {exc}") from exc
        try:
            yield staged
            size = size_of(staged)
            location = store.commit(key, staged)
        except OSError as exc:
            shutil.rmtree(staged, ignore_errors=True)
            raise CheckpointError(f"the checkpoint at step {step} could not be saved to {store.url}: {exc}") from exc
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        origin = self._spec.resume[0] if self._spec.resume is not None else None
        self._emit(Checkpointed(self.number, step, location, size, origin))

    def _store(self) -> CheckpointStore:
        if self._spec.store is None:
            raise CheckpointError("this trial has no checkpoint store (its executor gave none)")
        from hyperion_core.checkpoints import open_store

        return open_store(self._spec.store)


def normalize_result(result: Any) -> tuple[float | None, dict[str, Any], dict[str, Any]]:
    """An objective's return value as (score, metrics, artifacts); TypeError/ValueError when unusable."""
    if isinstance(result, ObjectiveResult):
        score, metrics, artifacts = result.score, plain_values(result.metrics), result.artifacts
    elif isinstance(result, Mapping):  # {"val_loss": 0.2, "acc": 0.9}: metrics, as ObjectiveResult(metrics=...)
        if not all(isinstance(key, str) for key in result):
            raise TypeError(f"the objective returned a dict whose keys are not all metric names: {result!r:.80}")
        score, metrics, artifacts = None, plain_values(dict(result)), {}
    else:
        value = number(result)  # numpy scalars, 0-d arrays and tensors, Decimal: one conversion
        if value is None:
            raise TypeError(
                f"the objective returned {type(result).__name__} {result!r:.80}; "
                "return a number, a dict of metrics or ObjectiveResult(score=...)"
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
        emit(Finished(ctx.number, *outcome, saw_stop=ctx.saw_stop))
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
