"""The study loop's stopping half: asking a trial to stop (a policy, a strategy's pruning, a time
limit), giving up on one that does not within the grace period, and recording trials interrupted by an
error or Ctrl-C as interrupted (resume runs them again)."""

from __future__ import annotations

import time
from typing import Any

from hyperion_core.models import Trial, TrialState


class StoppingLoop:
    """Mixed into StudyLoop (which provides state, executor, grace_period_s, the deadlines, _event, _end)."""

    state: Any
    executor: Any
    changes: Any
    terminates: bool
    stopping: bool
    grace_period_s: float
    trial_timeout_s: float | None
    trial_deadlines: dict[int, float]
    not_started: set[int]
    abandon_at: dict[int, float]
    _event: Any
    _end: Any

    def _request_stop(self, trial: Trial, reason: str, by: str, step: int | None = None, give_up: bool = False) -> None:
        trial.stop_requested = True
        trial.kill_reason = reason
        self.executor.stop(trial.number)
        # A thread cannot be killed: under threads a policy's kill waits for the trial to end, while the
        # time limits (and executors that can terminate) give up after the grace period.
        if self.terminates or self.stopping or give_up:
            self.abandon_at[trial.number] = time.monotonic() + self.grace_period_s
        self._event("kill_requested", trial.number, {"reason": reason, "by": by, "step": step}, store=True)

    def _time_out_trials(self) -> None:
        now = time.monotonic()
        for number, when in list(self.trial_deadlines.items()):
            if when <= now:
                del self.trial_deadlines[number]
                trial = self.state.running.get(number)
                if trial is not None and not trial.stop_requested:
                    late = (
                        " (the objective never started: its worker did not come up)"
                        if number in self.not_started
                        else ""
                    )
                    self._request_stop(
                        trial,
                        f"trial_timeout_s={self.trial_timeout_s:g} reached{late}",
                        by="timeout",
                        step=trial.last_step,
                        give_up=True,
                    )
                elif trial is not None:
                    self.abandon_at.setdefault(number, now + self.grace_period_s)

    def _stop_everything(self, reason: str) -> None:
        self.stopping = True
        self.state.note(f"{reason}: stopped {len(self.state.running)} running trial(s)")
        for trial in list(self.state.running.values()):
            if not trial.stop_requested:
                self._request_stop(trial, reason, by="time limit")
            else:
                self.abandon_at.setdefault(trial.number, time.monotonic() + self.grace_period_s)

    def _abandon_overdue(self) -> None:
        now = time.monotonic()
        for number, when in list(self.abandon_at.items()):
            if when <= now:
                trial = self.state.running[number]
                self.executor.abandon(number)
                trial.kill_reason = (
                    f"{trial.kill_reason}; did not stop within the {self.grace_period_s:g}s grace period"
                )
                self._end(trial, TrialState.KILLED)

    def _interrupt_running(self) -> None:
        """On an error or Ctrl-C: running trials are recorded as interrupted (resume runs them again)."""
        for trial in list(self.state.running.values()):
            self.executor.stop(trial.number)
            trial.state = TrialState.INTERRUPTED
            self.state.running.pop(trial.number, None)
            self.changes.trials.append(trial)
