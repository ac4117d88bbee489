"""The study loop's stopping part: asking a trial to stop (a policy, a strategy's pruning, a time
limit), the per-trial deadlines (counted from the executor's Started message), giving up on a trial that
does not stop within the grace period, and recording trials cut short by an error or Ctrl-C as
interrupted (resume runs them again)."""

from __future__ import annotations

import time
from collections.abc import Callable

from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Executor
from hyperion_core.state import StudyState
from hyperion_core.study_output import Outbox

#: How long past trial_timeout_s a submitted trial may take to start (a Ray actor, a worker process
#: coming up on a busy machine): the limit itself counts from the executor's Started message.
START_UP_ALLOWANCE_S = 120.0


class Stopper:
    """`end(trial, state)` is the loop's way to end a trial (it tells the strategy and the storage)."""

    def __init__(
        self,
        state: StudyState,
        executor: Executor,
        outbox: Outbox,
        end: Callable[[Trial, TrialState], None],
        *,
        grace_period_s: float,
        trial_timeout_s: float | None,
    ) -> None:
        self.state = state
        self.executor = executor
        self.outbox = outbox
        self.end = end
        self.grace_period_s = grace_period_s
        self.trial_timeout_s = trial_timeout_s
        #: whether abandon() really ends a trial (a process can be killed, a thread cannot)
        self.terminates = bool(getattr(executor, "terminates", False))
        self.stopping = False  # max_time_s reached: every trial is being stopped, none started
        self.deadlines: dict[int, float] = {}  # trial number -> when trial_timeout_s runs out
        self.not_started: set[int] = set()  # submitted, no Started yet: the deadline is the start-up's
        self.abandon_at: dict[int, float] = {}  # trial number -> when to give up waiting for it

    # -- deadlines -----------------------------------------------------------------------------------
    def submitted(self, number: int) -> None:
        if self.trial_timeout_s is not None:
            self.deadlines[number] = time.monotonic() + self.trial_timeout_s + START_UP_ALLOWANCE_S
            self.not_started.add(number)

    def started(self, number: int) -> None:
        if number in self.not_started and self.trial_timeout_s is not None:
            self.not_started.discard(number)
            if number in self.deadlines:
                self.deadlines[number] = time.monotonic() + self.trial_timeout_s

    def ended(self, number: int) -> None:
        self.abandon_at.pop(number, None)
        self.deadlines.pop(number, None)
        self.not_started.discard(number)

    def next_deadline(self) -> float | None:
        """The soonest moment something here is due (monotonic clock), or None."""
        soonest = min(self.abandon_at.values(), default=None)
        if self.deadlines:
            first = min(self.deadlines.values())
            soonest = first if soonest is None else min(soonest, first)
        return soonest

    def check(self) -> None:
        """Time out trials past trial_timeout_s, give up on those past their grace period."""
        if self.deadlines:
            self._time_out_trials()
        if self.abandon_at:
            self._abandon_overdue()

    # -- stopping ------------------------------------------------------------------------------------
    def request(
        self, trial: Trial, reason: str, by: str, step: int | None = None, give_up: bool = False, pause: bool = False
    ) -> None:
        """Ask a trial to stop; with `pause`, to stop at its checkpoint and wait (it is given the time it
        needs to save: never abandoned for a pause)."""
        trial.stop_requested = True
        trial.pausing = pause
        trial.kill_reason = reason
        self.executor.stop(trial.number)
        # A thread cannot be killed: under threads a policy's kill waits for the trial to end, while the
        # time limits (and executors that can terminate) give up after the grace period.
        if (self.terminates and not pause) or self.stopping or give_up:
            self.abandon_at[trial.number] = time.monotonic() + self.grace_period_s
        kind = "pause_requested" if pause else "kill_requested"
        self.outbox.event(kind, trial.number, {"reason": reason, "by": by, "step": step}, store=True)

    def stop_everything(self, reason: str) -> None:
        self.stopping = True
        self.state.note(f"{reason}: stopped {len(self.state.running)} running trial(s)")
        for trial in list(self.state.running.values()):
            if not trial.stop_requested or trial.pausing:
                trial.pausing = False  # the study ends: a trial asked to pause is stopped instead
                self.request(trial, reason, by="time limit")
            else:
                self.abandon_at.setdefault(trial.number, time.monotonic() + self.grace_period_s)

    def interrupt_running(self) -> None:
        """On an error or Ctrl-C: running trials are recorded as interrupted (resume runs them again)."""
        for trial in list(self.state.running.values()):
            self.executor.stop(trial.number)
            trial.state = TrialState.INTERRUPTED
            self.state.running.pop(trial.number, None)
            self.outbox.changes.trials.append(trial)

    def _time_out_trials(self) -> None:
        now = time.monotonic()
        for number, when in list(self.deadlines.items()):
            if when <= now:
                del self.deadlines[number]
                trial = self.state.running.get(number)
                if trial is not None and not trial.stop_requested:
                    late = (
                        " (the objective never started: its worker did not come up)"
                        if number in self.not_started
                        else ""
                    )
                    self.request(
                        trial,
                        f"trial_timeout_s={self.trial_timeout_s:g} reached{late}",
                        by="timeout",
                        step=trial.last_step,
                        give_up=True,
                    )
                elif trial is not None:
                    self.abandon_at.setdefault(number, now + self.grace_period_s)

    def _abandon_overdue(self) -> None:
        now = time.monotonic()
        for number, when in list(self.abandon_at.items()):
            if when <= now:
                trial = self.state.running[number]
                self.executor.abandon(number)
                trial.kill_reason = (
                    f"{trial.kill_reason}; did not stop within the {self.grace_period_s:g}s grace period"
                )
                self.end(trial, TrialState.KILLED)
