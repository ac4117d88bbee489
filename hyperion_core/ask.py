"""Ask-and-tell: `Study` drives the same StudyLoop that tune() runs (design.md, section 8), one call at a
time, so storage writes, resume, early stopping, the strategy's view and reporters are the same.
Your code runs the trials: `ask()` hands one out, `trial.report()` reports, `tell()` ends it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hyperion_core.config import StudyConfig
from hyperion_core.context import TrialContext, _describe, normalize_result
from hyperion_core.errors import ConfigurationError, HyperionError
from hyperion_core.protocols import Emit, Failed, Finished, Message, Policy, Reporter, Strategy, TrialSpec
from hyperion_core.result import result_of
from hyperion_core.study import StudyLoop
from hyperion_core.tune import open_loop


class StudyFinished(HyperionError):
    """ask() has no trial to give: the budget (max_trials) is spent or the strategy has no more points."""


class AskedTrial(TrialContext):
    """A trial handed out by `Study.ask()`: `params` (nested as the space), `number`, `trial_id`,
    `report(step, **metrics)`, `should_stop()`. Give it back with `study.tell(trial, result)`."""

    __slots__ = ("owner",)
    owner: Study | None  # the Study that asked it: tell() refuses another study's trial

    def __repr__(self) -> str:
        return f"AskedTrial(number={self.number}, params={self.params!r})"


def _told_from_outside(ctx: Any, **params: Any) -> None:
    """The objective of an ask-and-tell study: the caller runs trials; Hyperion never calls this."""
    raise HyperionError("an ask-and-tell study's trials are run by its caller: use ask() and tell()")


class _HandOver:
    """The executor of an ask-and-tell study: a submitted trial waits for ask() to hand it out."""

    terminates = False
    capacity: int | None = None  # the caller runs as many as it asks for

    def __init__(self) -> None:
        self.waiting: list[TrialSpec] = []

    def start(self, objective: Any, max_workers: int, emit: Emit) -> None:
        return None

    def submit(self, spec: TrialSpec) -> None:
        self.waiting.append(spec)

    def stop(self, trial_number: int) -> None:
        return None  # should_stop() reads the trial's stop_requested

    def abandon(self, trial_number: int) -> None:
        return None

    def shutdown(self) -> None:
        return None


class Study:
    """An ask-and-tell study. The arguments mean what they mean for tune(); `max_trials` (default: no
    limit) caps what ask() hands out. Use it as a context manager, or call close(): trials asked and
    not told are then recorded as interrupted (a later Study of the same name hands them out again).
    Thread-safe: several threads may ask and tell at once."""

    def __init__(
        self,
        space: Mapping[str, Any],
        strategy: str | Strategy | None = None,
        strategy_kwargs: Mapping[str, Any] | None = None,
        storage: str | Any | None = None,
        study_name: str = "study",
        metric: str | Sequence[str] = "score",
        mode: str | Sequence[str] = "max",
        early_stopping: str | Policy | None = None,
        early_stopping_kwargs: Mapping[str, Any] | None = None,
        seed: int | None = None,
        max_trials: int | None = None,
        reporters: Sequence[str | Reporter] | None = None,
        join: bool = False,
        initial_points: Sequence[Mapping[str, Any]] | None = None,
        warm_start_from: tuple[str, str] | Sequence[Mapping[str, Any]] | None = None,
        constraints: Mapping[str, tuple[str, float]] | None = None,
        parameter_constraints: Callable[[dict[str, Any]], Any]
        | Sequence[Callable[[dict[str, Any]], Any]]
        | None = None,
    ) -> None:
        options = dict(locals())
        del options["self"]
        self._open(StudyConfig.of(**options))

    @classmethod
    def from_config(cls, config: StudyConfig) -> Study:
        """A Study of a validated configuration (a config file's, see hyperion_core.config)."""
        study = cls.__new__(cls)
        study._open(config)
        return study

    def _open(self, config: StudyConfig) -> None:
        self._strategy_name = config.strategy
        self._handover = _HandOver()
        self._loop: StudyLoop = open_loop(config, _told_from_outside, executor=self._handover)
        self._lock = threading.RLock()
        self._started = time.time()
        self._closed = False
        self._loop.open()  # on failure the loop has released the storage

    # -- the two doors ---------------------------------------------------------------------------------
    def ask(self, timeout: float = 60.0) -> AskedTrial:
        """The next trial to run: an interrupted one first (resume), else the strategy's next point.
        Raises StudyFinished when there is none; waits up to `timeout` for a strategy that thinks
        off-thread (an LLM)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._check_open()
            loop = self._loop
            asked_again = False
            while True:
                started = loop.fill(limit=len(loop.state.running) + 1)
                loop.flush()
                if started:
                    spec = self._handover.waiting.pop(0)
                    return self._asked(AskedTrial(spec, self._emit, self._stop_flag(spec.number)))
                if not loop.strategy.pending and not asked_again:
                    asked_again = True  # asked once more: an off-thread call may have ended just now
                    continue
                if not loop.strategy.pending or time.monotonic() >= deadline:
                    break
                # an LLM call in flight: wait for its wake-up, within the timeout
                message = loop.wait(max(0.0, min(1.0, deadline - time.monotonic())))
                if message is not None:
                    loop.apply(message)
            why = (
                f"max_trials={loop.max_trials} reached"
                if loop.max_trials is not None and len(loop.state.trials) >= loop.max_trials
                else "the strategy has no more points"
                if loop.exhausted
                else f"the strategy proposed nothing within {timeout:g}s"
            )
            raise StudyFinished(f"study '{loop.state.name}': no trial to ask: {why}")

    def tell(self, trial: AskedTrial | int, result: Any) -> None:
        """End a trial: `result` is a number (the score), an ObjectiveResult, a dict of metrics, or the
        exception it raised (the trial then fails with it). A trial stopped by early stopping is recorded
        as killed."""
        if isinstance(trial, AskedTrial):
            if trial.owner is not self:
                raise ConfigurationError(
                    f"trial {trial.number} was asked by another Study, not by study '{self._loop.state.name}': "
                    "tell each study its own trials"
                )
            number = trial.number
        elif isinstance(trial, int) and not isinstance(trial, bool) and trial >= 0:
            number = trial
        else:
            raise ConfigurationError(
                f"tell() takes the trial ask() returned, or its number (0 or more), got {trial!r:.80}"
            )
        message: Message
        if isinstance(result, BaseException):
            message = Failed(number, _describe(result))
        else:
            try:
                message = Finished(number, *normalize_result(result))
            except (TypeError, ValueError) as exc:
                message = Failed(number, f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._check_open()
            if number not in self._loop.state.running:
                known = number < len(self._loop.state.trials)
                raise ConfigurationError(
                    f"trial {number} is not running in study '{self._loop.state.name}': "
                    + ("it was told already (or stopped)" if known else "it was never asked")
                )
            self._deliver(message)

    # -- what asked trials call ----------------------------------------------------------------------
    def _emit(self, message: Message) -> None:
        with self._lock:
            if not self._closed:
                self._deliver(message)

    def _deliver(self, message: Message) -> None:
        loop = self._loop
        loop.apply(message)
        loop.tick()
        loop.flush()

    def _asked(self, trial: AskedTrial) -> AskedTrial:
        trial.owner = self
        return trial

    def _stop_flag(self, number: int) -> Any:
        trial = self._loop.state.trials[number]
        return lambda: trial.stop_requested or self._closed

    # -- the study -----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._loop.state.name

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trial so far ({"trial_id", "params", "score", "value", "metrics", ...}), or None."""
        with self._lock:
            best: dict[str, Any] | None = self.result()["best"]
            return best

    @property
    def trials(self) -> list[dict[str, Any]]:
        with self._lock:
            trials: list[dict[str, Any]] = self.result()["trials"]
            return trials

    def result(self) -> dict[str, Any]:
        """What tune() would return for this study now."""
        with self._lock:
            state = self._loop.state
            state.duration = time.time() - self._started
            return result_of(state, self._strategy_name)

    def close(self, keep_asked: bool = False) -> None:
        """Write what is left and release the study; asked trials not told are recorded as interrupted
        (with `keep_asked`, in a storage that supports it, they stay running for a later tell)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._loop.close(hand_out=keep_asked)

    def adopt(self, number: int) -> AskedTrial:
        """A trial another process asked and left running (`hyperion ask`), to tell it from here."""
        with self._lock:
            self._check_open()
            state = self._loop.state
            trial = state.elsewhere.get(number)
            if trial is not None and not trial.waiting:
                raise ConfigurationError(
                    f"trial {number} of study '{state.name}' is being run by another worker, not waiting for a "
                    "result: only a trial `hyperion ask` handed out can be told from here"
                )
            if trial is None:
                raise ConfigurationError(
                    f"trial {number} of study '{state.name}' is not waiting for a result"
                    + (
                        f" (it is {state.trials[number].state.value})"
                        if number < len(state.trials)
                        else " (no such trial)"
                    )
                )
            state.add(trial)  # ours now
            spec = self._loop.keeper.spec(trial, state.space.unflatten(trial.params))
            return self._asked(AskedTrial(spec, self._emit, self._stop_flag(number)))

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError(f"study '{self._loop.state.name}' is closed; open a new Study to go on")

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a study dropped without close(): still release it
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass
