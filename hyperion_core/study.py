"""The study loop: the one owner of a study's state (design.md, sections 1 and 5).

It creates trials, submits them, drains the executors' messages, asks policies and the strategy,
and writes each tick's changes to the storage in one call. Nothing else changes the study.
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections.abc import Callable
from typing import Any

from hyperion_core.errors import HyperionError, SpaceError
from hyperion_core.models import Changes, Event, Report, Trial, TrialState
from hyperion_core.protocols import FAILED, FINISHED, REPORTED, Executor, Policy, Reporter, Storage, Strategy
from hyperion_core.state import StudyState

logger = logging.getLogger(__name__)

WAKE = "wake"  # a message with no content: a strategy that thinks off-thread has something to say
IDLE_WAKE_S = 5.0  # the longest the loop sleeps with no deadline ahead (a liveness re-check, not a poll)


class StudyLoop:
    def __init__(
        self,
        *,
        objective: Callable[..., Any],
        state: StudyState,
        strategy: Strategy,
        executor: Executor,
        storage: Storage,
        policies: list[Policy],
        reporters: list[Reporter],
        max_trials: int | None,
        max_concurrent: int,
        max_time_s: float | None,
        grace_period_s: float,
        trial_timeout_s: float | None = None,
        reruns: list[Trial] | None = None,
    ) -> None:
        self.objective = objective
        self.state = state
        self.strategy = strategy
        self.executor = executor
        self.storage = storage
        self.policies = policies
        self.reporters = reporters
        self.max_trials = max_trials
        self.max_concurrent = max_concurrent
        self.max_time_s = max_time_s
        self.trial_timeout_s = trial_timeout_s
        self.trial_deadlines: dict[int, float] = {}  # trial number -> when trial_timeout_s runs out
        self.grace_period_s = grace_period_s
        self.reruns = list(reruns or [])  # interrupted trials to run again, keeping their numbers
        self.changes = Changes()
        self.unreported: list[Event] = []  # events shown to reporters once the tick is written
        self.queue: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self.abandon_at: dict[int, float] = {}  # trial number -> when to give up waiting for it
        self.terminates = bool(getattr(executor, "terminates", False))
        self.stopping = False
        self._noted_score_as_metric = False

    # -- public ------------------------------------------------------------------------------------
    def run(self) -> None:
        state = self.state
        state.wake = lambda: self.queue.put((WAKE,))  # type: ignore[method-assign]
        state.record = lambda kind, data, trial_number=None: self._event(kind, trial_number, data, store=True)  # type: ignore[method-assign]
        # One trial at a time and no deadline to enforce: an executor that can, runs trials right here.
        self.inline = (
            self.max_concurrent == 1
            and self.max_time_s is None
            and self.trial_timeout_s is None
            and hasattr(self.executor, "run_queued")
        )
        if self.inline:
            self.executor.start(self.objective, self.max_concurrent, self._apply, inline=True)  # type: ignore[call-arg]
        else:
            self.executor.start(self.objective, self.max_concurrent, self.queue.put)
        completed_normally = False
        try:
            self._loop()
            completed_normally = True
        finally:
            if not completed_normally:
                self._interrupt_running()
            try:
                self.executor.shutdown()
            finally:
                self._flush()
                for policy in self.policies:
                    policy.close(self.state)

    # -- the loop ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        state = self.state
        deadline = time.monotonic() + self.max_time_s if self.max_time_s is not None else None
        while True:
            now = time.monotonic()
            if deadline is not None and not self.stopping and now >= deadline:
                self._stop_everything(f"max_time_s={self.max_time_s:g} reached")
            if not self.stopping:
                started = self._fill()
                if not state.running and not started and not self._done():
                    if getattr(self.strategy, "pending", False):
                        pass  # it is thinking off-thread and will wake us
                    elif not self._fill():  # asked once more: still nothing
                        state.notes.append(
                            f"the strategy proposed nothing while no trial was running (after "
                            f"{len(state.trials)} trials); ended the study instead of waiting forever"
                        )
                        logger.warning(state.notes[-1])
                        break
            if not state.running and (self.stopping or self._done()):
                break
            self._flush()
            if self.inline and self.executor.run_queued(self._apply):  # type: ignore[attr-defined]
                self._after_messages()
                continue
            timeouts = [t - now for t in self.abandon_at.values()]
            if self.trial_deadlines:
                timeouts.append(min(self.trial_deadlines.values()) - now)
            if deadline is not None and not self.stopping:
                timeouts.append(deadline - now)
            timeout = max(0.0, min(timeouts)) if timeouts else IDLE_WAKE_S
            try:
                message = self.queue.get(timeout=timeout)
            except queue.Empty:
                message = None
                self.storage.write(state.name, Changes())  # idle: lets a storage keep its heartbeat
            if message is not None:
                self._apply(message)
                while True:  # drain what is already there: a burst costs one tick
                    try:
                        self._apply(self.queue.get_nowait())
                    except queue.Empty:
                        break
            self._after_messages()

    def _after_messages(self) -> None:
        if self.trial_deadlines:
            self._time_out_trials()
        if self.abandon_at:
            self._abandon_overdue()
        if not self.stopping:
            for kill in self.strategy.kills(self.state):
                trial = self.state.running.get(kill.trial_number)
                if trial is not None and not trial.stop_requested:
                    self._request_stop(trial, kill.reason, by="strategy")

    def _done(self) -> bool:
        if self.reruns:
            return False
        if self.strategy.exhausted:
            return True
        return self.max_trials is not None and len(self.state.trials) >= self.max_trials

    def _fill(self) -> int:
        """Start trials in the free slots; returns how many started."""
        state = self.state
        slots = self.max_concurrent - len(state.running)
        started = 0
        while slots > 0 and self.reruns:
            old = self.reruns.pop(0)
            self._start(
                Trial(
                    number=old.number,
                    params=old.params,
                    parent_id=old.parent_id,
                    depth=old.depth,
                    rationale=old.rationale,
                )
            )
            slots -= 1
            started += 1
        if self.max_trials is not None:
            slots = min(slots, self.max_trials - len(state.trials))
        if slots <= 0 or self.strategy.exhausted:
            return started
        proposals = self.strategy.propose(state, slots)
        for proposal in proposals[:slots]:
            try:
                params = state.space.validate(proposal.params)
            except SpaceError as exc:
                raise HyperionError(
                    f"strategy {type(self.strategy).__name__} proposed a point outside the space: {exc}"
                ) from None
            depth = proposal.depth
            if depth is None:
                depth = 0
                if proposal.parent_id is not None:
                    parent = state.trial_by_id(proposal.parent_id)
                    depth = parent.depth + 1 if parent is not None else 1
            self._start(
                Trial(
                    number=len(state.trials),
                    params=params,
                    parent_id=proposal.parent_id,
                    depth=depth,
                    rationale=proposal.rationale,
                )
            )
            if proposal.rationale:
                self._event(
                    "decision",
                    state.trials[-1].number,
                    {"rationale": proposal.rationale, "parent_id": proposal.parent_id},
                )
            started += 1
        return started

    def _start(self, trial: Trial) -> None:
        self.state.add(trial)
        if self.trial_timeout_s is not None:
            self.trial_deadlines[trial.number] = time.monotonic() + self.trial_timeout_s
        self.changes.trials.append(trial)
        self.executor.submit(trial.number, trial.trial_id, self.state.space.unflatten(trial.params))
        if self.reporters:
            self._event("trial_started", trial.number)

    # -- messages ------------------------------------------------------------------------------------
    def _apply(self, message: tuple) -> None:
        kind = message[0]
        if kind == WAKE:
            return
        trial = self.state.running.get(message[1])
        if trial is None:
            return  # an abandoned trial speaking after we gave up on it
        if kind == REPORTED:
            self._reported(trial, message[2], message[3])
            if self.inline:  # the trial runs on this thread: strategy kills cannot wait for it to end
                self._after_messages()
        elif kind == FINISHED:
            self._finished(trial, *message[2])
        elif kind == FAILED:
            self._end(trial, TrialState.KILLED if trial.stop_requested else TrialState.FAILED, error=message[2])
        else:
            raise HyperionError(f"unknown executor message {kind!r}")

    def _reported(self, trial: Trial, step: int, metrics: dict[str, Any]) -> None:
        state = self.state
        state.history.setdefault(trial.number, []).append((step, metrics))
        trial.last_step = step
        trial.last_report = metrics
        self.changes.reports.append(Report(trial.number, step, metrics))
        if trial.stop_requested or self.stopping:
            return
        for policy in self.policies:
            reason = policy.should_stop(state, trial)
            if reason:
                self._request_stop(trial, reason, by="policy", step=step)
                break

    def _finished(self, trial: Trial, score: float | None, metrics: dict[str, Any], artifacts: dict[str, Any]) -> None:
        trial.score, trial.metrics, trial.artifacts = score, metrics, artifacts
        metric = self.state.metric
        if metric == "score":
            value = score
        elif metric in metrics:
            value = metrics[metric]
        elif trial.last_report and metric in trial.last_report:
            value = trial.last_report[metric]
        else:
            # tune(metric="throughput") with ObjectiveResult(score=throughput): the score is that metric.
            value = score
            if score is not None and not self._noted_score_as_metric:
                self._noted_score_as_metric = True
                self.state.notes.append(
                    f"metric '{metric}' was not in the trials' metrics or reports; their score was used"
                )
                logger.warning(self.state.notes[-1])
        if trial.stop_requested:
            self._end(trial, TrialState.KILLED)
            return
        error = None
        if value is None:
            where = (
                "ObjectiveResult(score=...)"
                if metric == "score"
                else f"ObjectiveResult(metrics={{'{metric}': ...}}) or ctx.report({metric}=...)"
            )
            error = f"the objective gave no value for metric '{metric}'; return it in {where}"
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            error = f"metric '{metric}' is {value!r} ({type(value).__name__}), not a number"
        elif math.isnan(value):
            error = f"metric '{metric}' is NaN"
        if error or value is None:
            self._end(trial, TrialState.FAILED, error=error)
        else:
            trial.value = float(value)
            self._end(trial, TrialState.COMPLETED)

    def _end(self, trial: Trial, new_state: TrialState, error: str | None = None) -> None:
        trial.state = new_state
        if new_state is TrialState.KILLED and self.state.rank_killed:
            trial.value = _reported_value(trial, self.state.metric)
        trial.finished = time.time()
        if error is not None:
            trial.error = error
        self.abandon_at.pop(trial.number, None)
        self.trial_deadlines.pop(trial.number, None)
        self.state.finish(trial)
        self.changes.trials.append(trial)
        self.strategy.observe(trial)
        if self.reporters:
            self._event(f"trial_{new_state.value}", trial.number)

    # -- stopping ----------------------------------------------------------------------------------
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
                    self._request_stop(
                        trial,
                        f"trial_timeout_s={self.trial_timeout_s:g} reached",
                        by="timeout",
                        step=trial.last_step,
                        give_up=True,
                    )
                elif trial is not None:
                    self.abandon_at.setdefault(number, now + self.grace_period_s)

    def _stop_everything(self, reason: str) -> None:
        self.stopping = True
        self.state.notes.append(f"{reason}: stopped {len(self.state.running)} running trial(s)")
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

    # -- output ------------------------------------------------------------------------------------
    def _event(self, kind: str, number: int | None, data: dict[str, Any] | None = None, store: bool = False) -> None:
        event = Event(kind, number, data or {})
        if store or kind == "decision":
            self.changes.events.append(event)
        if self.reporters:
            self.unreported.append(event)

    def _flush(self) -> None:
        """Write the tick's changes, then show them: what a reporter shows is already stored."""
        if self.changes:
            changes, self.changes = self.changes, Changes()
            self.storage.write(self.state.name, changes)
        if self.unreported:
            events, self.unreported = self.unreported, []
            for event in events:
                for reporter in self.reporters:
                    reporter.on_event(event, self.state)


def _reported_value(trial: Trial, metric: str) -> float | None:
    """A killed trial's last reported value of the metric (for rank_killed_trials=True)."""
    value = (trial.last_report or {}).get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)
