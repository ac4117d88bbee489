"""The study loop: the one owner of a study's state, from setup to teardown (design.md, sections 1 and 5).

It sets the plugins up, takes in a resumed study, creates trials, submits them, drains the executors'
messages, asks policies and the strategy, writes each tick's changes to the storage in one call, shows
reporters only what is stored, and tears everything down. Nothing else changes the study.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from hyperion_core.errors import ConfigurationError, HyperionError, SpaceError, StorageError
from hyperion_core.log import get_logger
from hyperion_core.models import Changes, Event, Report, StudyRecord, Trial, TrialState
from hyperion_core.outcome import _again, _reported_value, check_metric_name, judge, warn_if_nothing_completed
from hyperion_core.protocols import (
    Executor,
    Failed,
    Finished,
    InlineExecutor,
    Message,
    Policy,
    Proposal,
    Reported,
    Reporter,
    SharedStorage,
    Started,
    Storage,
    Strategy,
    Wake,
)
from hyperion_core.space import Space
from hyperion_core.state import StudyState
from hyperion_core.study_join import JoinedLoop
from hyperion_core.study_output import OutputLoop
from hyperion_core.study_stop import StoppingLoop
from hyperion_core.text import cap, cap_values

logger = get_logger(__name__)

IDLE_WAKE_S = 5.0  # the longest the loop sleeps at once (a liveness re-check and heartbeat, not a poll)
#: How long past trial_timeout_s a submitted trial may take to start (a Ray actor, a worker process
#: coming up on a busy machine): the limit itself counts from the executor's Started message.
START_UP_ALLOWANCE_S = 120.0


class StudyLoop(JoinedLoop, StoppingLoop, OutputLoop):
    def __init__(
        self,
        *,
        objective: Callable[..., Any],
        record: StudyRecord,
        space: Space,
        seed: int | None,
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
        rank_killed: bool = False,
        storage_url: str = "memory",
        default_max_trials: int | None = None,
        join: bool = False,
        initial: list[Proposal] | None = None,
        warm: tuple[list[Trial], list[str]] | None = None,
        constraints: dict[str, tuple[str, float]] | None = None,
    ) -> None:
        self.objective = objective
        self.queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.state = StudyState(
            record.name,
            space,
            record.metric,
            record.mode,
            # A resumed seeded study continues with a fresh (still reproducible) stream, not the first one.
            seed if seed is None or not record.trials else (seed * 1_000_003 + len(record.trials)) % 2**63,
            wake=lambda: self.queue.put(Wake()),
            record=self._record,
        )
        self.state.storage_url = storage_url
        self.state.rank_killed = rank_killed
        self.record = record
        self.strategy = strategy
        self.executor = executor
        self.storage = storage
        # join=True: the storage coordinates this study's processes (numbers, budget, the others' trials)
        self.joined: SharedStorage | None = storage if join and isinstance(storage, SharedStorage) else None
        if join and self.joined is None:
            raise ConfigurationError("join=True needs a storage shared by the processes: sqlite:/// or postgresql://")
        self._claims_spent = False
        self.constraints = dict(constraints or {})  # metric -> ("<=" or ">=", bound)
        self.initial = list(initial or [])  # initial_points, proposed before the strategy is asked
        self.warm = warm or ([], [])  # warm_start_from: trials of another study, and what to say of them
        self.policies = policies
        self.reporters = reporters
        self.max_trials = max_trials
        self.default_max_trials = default_max_trials
        self.max_concurrent = max_concurrent
        self.max_time_s = max_time_s
        self.trial_timeout_s = trial_timeout_s
        self.trial_deadlines: dict[int, float] = {}  # trial number -> when trial_timeout_s runs out
        self.not_started: set[int] = set()  # submitted, no Started yet: the deadline is the start-up's
        self.grace_period_s = grace_period_s
        self.reruns: list[Trial] = []  # interrupted trials to run again, keeping their numbers
        self.changes = Changes()
        self.unreported: list[Event] = []  # events shown to reporters once the tick is written
        self.abandon_at: dict[int, float] = {}  # trial number -> when to give up waiting for it
        self.terminates = bool(getattr(executor, "terminates", False))
        self.stopping = False
        self.inline = False
        self._inline_executor: Any = None
        self._inline_error: BaseException | None = None
        self._metric_checked = False

    # -- public ------------------------------------------------------------------------------------
    def run(self) -> StudyState:
        """Set up, run the study to its end, tear down; returns the final state."""
        started = time.time()
        state = self.state
        try:
            self._setup()
            self._start_executor()
            completed_normally = False
            try:
                self._loop()
                completed_normally = True
            finally:
                self._shut_down(completed_normally)
        except StorageError as exc:
            state.note(f"the storage failed and the study stopped: {exc}; what it had not written is not stored", True)
            raise
        finally:
            state.duration = time.time() - started
            for reporter in self.reporters:
                reporter.close(state)
        warn_if_nothing_completed(self.state)
        return state

    def _setup(self) -> None:
        state, strategy = self.state, self.strategy
        strategy.setup(state)
        for policy in self.policies:
            policy.setup(state)
        warm_trials, warm_notes = self.warm
        for trial in warm_trials:  # another study's results: learned from, not this study's trials
            strategy.observe(trial)
        for note in warm_notes:
            state.note(note)
        # join=True: `foreign` is what the other processes run now, or left for anyone to claim
        self.reruns = state.load(self.record.trials, self.record.history, self.record.foreign)
        done = {
            t.rationale.split(";")[0] for t in state.trials if t.rationale and t.rationale.startswith("initial point")
        }
        self.initial = [p for p in self.initial if (p.rationale or "").split(";")[0] not in done]
        for trial in state.trials:
            if trial.state.finished:
                strategy.observe(trial)
        if state.multi_objective:
            state.note(
                "several objectives: result['best'] is None; the non-dominated trials are in result['pareto_front']"
            )
        if state.resumed or self.reruns:
            state.note(
                f"resumed from {state.storage_url}: {state.resumed} finished trial(s) loaded"
                + (f", {len(self.reruns)} interrupted trial(s) to run again" if self.reruns else "")
            )
        if self.max_trials is None and self.max_time_s is None and not strategy.finite:
            self.max_trials = self.default_max_trials
        state.max_trials = self.max_trials if self.max_trials is not None else strategy.size
        self._event("study_started", None, {"name": state.name, "storage": state.storage_url, "resumed": state.resumed})
        self._show()

    def _start_executor(self) -> None:
        # One trial at a time and no deadline to enforce: an executor that can, runs trials right here.
        executor = self.executor
        # (a runtime protocol check is slow: it is made once here, never on the hot path)
        self.inline = self.max_concurrent == 1 and self.max_time_s is None and self.trial_timeout_s is None
        if self.inline and isinstance(executor, InlineExecutor):
            self._inline_executor = executor
            executor.start(self.objective, self.max_concurrent, self._apply_inline, inline=True)
        else:
            self.inline = False
            executor.start(self.objective, self.max_concurrent, self.queue.put)
        capacity = getattr(executor, "capacity", None)  # what fits at once given resources_per_trial
        if capacity is not None and capacity < self.max_concurrent:
            self.state.note(
                f"max_concurrent={self.max_concurrent} lowered to {capacity}: that many trials fit at once "
                "with resources_per_trial"
            )
            self.max_concurrent = capacity

    def _shut_down(self, completed_normally: bool) -> None:
        """The executor's shutdown and the last write; trials still running (an error, Ctrl-C, an
        ask-and-tell study closed with trials not told) are recorded as interrupted."""
        if not completed_normally:
            self._interrupt_running()
        try:
            self.executor.shutdown()
        finally:
            try:
                self._flush()
            finally:
                self.strategy.close(self.state)
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
                    if self.strategy.pending:
                        pass  # it is thinking off-thread and will wake us
                    elif not self._fill():  # asked once more: still nothing
                        state.note(
                            f"the strategy proposed nothing while no trial was running (after "
                            f"{len(state.trials)} trials); ended the study instead of waiting forever",
                            warn=True,
                        )
                        break
            if not state.running and (self.stopping or self._done()):
                break
            self._flush()
            if self.joined is not None:
                self._sync()
            if self.inline and self._inline_executor.run_queued(self._apply_inline):
                if self._inline_error is not None:
                    raise self._inline_error
                self._after_messages()
                continue
            timeouts = [t - now for t in self.abandon_at.values()]
            if self.trial_deadlines:
                timeouts.append(min(self.trial_deadlines.values()) - now)
            if deadline is not None and not self.stopping:
                timeouts.append(deadline - now)
            # Every wait is bounded (design.md, principle 3), whatever the deadlines say.
            timeout = min(max(0.0, min(timeouts)), IDLE_WAKE_S) if timeouts else IDLE_WAKE_S
            try:
                message: Message | None = self.queue.get(timeout=timeout)
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
        if self.strategy.exhausted or self._claims_spent:
            return True
        return self.max_trials is not None and len(self.state.trials) >= self.max_trials

    def _fill(self) -> int:
        """Start trials in the free slots; returns how many started."""
        if self.joined is not None:
            return self._fill_joined()
        state = self.state
        slots = self.max_concurrent - len(state.running)
        started = 0
        while slots > 0 and self.reruns:
            self._start(_again(self.reruns.pop(0)), new=False)
            slots -= 1
            started += 1
        if self.max_trials is not None:
            slots = min(slots, self.max_trials - len(state.trials))
        if slots <= 0 or self.strategy.exhausted:
            return started
        for trial in self._proposed(slots):
            trial.number = len(state.trials)
            self._start(trial)
            started += 1
        return started

    def _proposed(self, slots: int) -> list[Trial]:
        """New trials (numbered later) from the strategy's proposals, each checked against the space."""
        state = self.state
        out = []
        if self.initial:  # initial_points go first
            proposals = [self.initial.pop(0) for _ in range(min(slots, len(self.initial)))]
            if slots > len(proposals):
                proposals += self.strategy.propose(state, slots - len(proposals))[: slots - len(proposals)]
        else:
            proposals = self.strategy.propose(state, slots)[:slots]
        validate = state.space.validate
        for proposal in proposals:
            try:
                params = validate(proposal.params)
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
            out.append(
                Trial(
                    number=-1,
                    params=params,
                    parent_id=proposal.parent_id,
                    depth=depth,
                    rationale=cap(proposal.rationale) if proposal.rationale else None,
                    source=proposal.source,
                )
            )
        return out

    def _start(self, trial: Trial, new: bool = True) -> None:
        self.state.add(trial)
        if new and trial.rationale:
            decision = {"rationale": trial.rationale, "parent_id": trial.parent_id, "source": trial.source}
            self._event("decision", trial.number, decision)
        if self.trial_timeout_s is not None:
            self.trial_deadlines[trial.number] = time.monotonic() + self.trial_timeout_s + START_UP_ALLOWANCE_S
            self.not_started.add(trial.number)
        self.changes.trials.append(trial)
        if self.reporters:
            self._event("trial_started", trial.number)
        self.executor.submit(trial.number, trial.trial_id, self.state.space.unflatten(trial.params))

    # -- messages ------------------------------------------------------------------------------------
    def _apply_inline(self, message: Message) -> None:
        """The emit of a trial that runs on this thread: an error of the loop's own (a storage failure,
        a misspelled metric) must end the study, not be taken for the objective's failure."""
        if self._inline_error is not None:
            return
        try:
            self._apply(message)
        except BaseException as exc:
            self._inline_error = exc
            if not isinstance(message, Wake):
                self.executor.stop(message.trial_number)  # let the objective end soon

    def _apply(self, message: Message) -> None:
        match message:
            case Wake():
                return
            case Started(number):
                if number in self.not_started and self.trial_timeout_s is not None:
                    self.not_started.discard(number)
                    if number in self.trial_deadlines:
                        self.trial_deadlines[number] = time.monotonic() + self.trial_timeout_s
            case Reported(number, step, metrics):
                trial = self.state.running.get(number)
                if trial is None:
                    return  # an abandoned trial speaking after we gave up on it
                self._reported(trial, step, metrics)
                if self.inline:  # the trial runs on this thread: strategy kills cannot wait for it to end
                    self._after_messages()
            case Finished(number, score, metrics, artifacts):
                trial = self.state.running.get(number)
                if trial is not None:
                    self._finished(trial, score, cap_values(metrics), cap_values(artifacts))
            case Failed(number, error):
                trial = self.state.running.get(number)
                if trial is not None:
                    ended = TrialState.KILLED if trial.stop_requested else TrialState.FAILED
                    self._end(trial, ended, error=cap(error))
            case _:
                raise HyperionError(f"unknown executor message {message!r}")

    def _reported(self, trial: Trial, step: int, metrics: dict[str, Any]) -> None:
        state = self.state
        metrics = cap_values(metrics)
        state.history.setdefault(trial.number, []).append((step, metrics))
        trial.last_step = step
        trial.last_report = metrics
        self.changes.reports.append(Report(trial.number, step, metrics))
        if trial.stop_requested or self.stopping:
            return
        for policy in self.policies:
            reason = policy.should_stop(state, trial)
            if reason:
                self._request_stop(trial, cap(reason) or reason, by="policy", step=step)
                break

    def _finished(self, trial: Trial, score: float | None, metrics: dict[str, Any], artifacts: dict[str, Any]) -> None:
        trial.score, trial.metrics, trial.artifacts = score, metrics, artifacts
        values, violation, error = judge(self.state, trial, self.constraints, self._check_metric_name)
        if trial.stop_requested:
            self._end(trial, TrialState.KILLED)
        elif error is not None:
            self._end(trial, TrialState.FAILED, error=error)
        else:
            trial.value, trial.violation = values[0], violation
            if self.state.multi_objective:
                trial.values = values
            self._end(trial, TrialState.COMPLETED)

    def _check_metric_name(self, metrics: dict[str, Any], report: dict[str, Any], score: float | None) -> None:
        if not self._metric_checked:
            self._metric_checked = True
            check_metric_name(self.state, metrics, report, score)

    def _end(self, trial: Trial, new_state: TrialState, error: str | None = None) -> None:
        trial.state = new_state
        if new_state is TrialState.KILLED and self.state.rank_killed:
            trial.value = _reported_value(trial, self.state.metric)
        trial.finished = time.time()
        if error is not None:
            trial.error = error
        self.abandon_at.pop(trial.number, None)
        self.trial_deadlines.pop(trial.number, None)
        self.not_started.discard(trial.number)
        self.state.finish(trial)
        self.changes.trials.append(trial)
        self.strategy.observe(trial)
        if self.reporters:
            self._event(f"trial_{new_state.value}", trial.number)
