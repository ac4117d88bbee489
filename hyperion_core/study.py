"""The study loop: the one owner of a study's state, from open to close (design.md, sections 1, 5, 9).

Its public steps are what every driver uses: `open` (plugins set up, a resumed study taken in, the
executor started), `fill` (the free slots get trials), `wait` (the next executor message, bounded),
`apply` (one message), `tick` (after a batch of messages: time limits, the strategy's kills), `flush`
(the tick's changes in one write, then reporters), `sync` (joined processes: the others' trials) and
`close`. `run()` is tune()'s driver; the ask-and-tell Study is another. Its parts are collaborators with
their own state: the Outbox (events, writes), the Stopper (deadlines, stopping), a Coordinator (alone, or
joined processes through the storage) and, with reproducible=True, InOrder (outcomes in trial order).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from hyperion_core import outcome
from hyperion_core.checkpoints import Keeper, default_store
from hyperion_core.coordinator import Coordinator, Joined, Solo
from hyperion_core.errors import HyperionError, StorageError
from hyperion_core.log import get_logger
from hyperion_core.models import Report, Trial, TrialState
from hyperion_core.protocols import (
    Checkpointed,
    Executor,
    Failed,
    Finished,
    InlineExecutor,
    Message,
    Pause,
    Policy,
    Proposal,
    Reported,
    Reporter,
    Started,
    Strategy,
    Wake,
)
from hyperion_core.session import JoinedSession, Session
from hyperion_core.space import Space
from hyperion_core.state import StudyState
from hyperion_core.study_drive import drive
from hyperion_core.study_order import InOrder
from hyperion_core.study_output import Outbox
from hyperion_core.study_pause import Continuation
from hyperion_core.study_stop import Stopper
from hyperion_core.text import cap, cap_values
from hyperion_core.warm import allowed_proposals, new_trials, not_run_yet

logger = get_logger(__name__)


class StudyLoop:
    def __init__(
        self,
        *,
        objective: Callable[..., Any],
        session: Session,
        space: Space,
        seed: int | None,
        strategy: Strategy,
        executor: Executor,
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
        initial: list[Proposal] | None = None,
        warm: tuple[list[Trial], list[str]] | None = None,
        constraints: dict[str, tuple[str, float]] | None = None,
        ordered: bool = False,
        keeper: Keeper | None = None,
    ) -> None:
        self.objective = objective
        self.queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        record = session.record
        self.state = state = StudyState(
            record.name,
            space,
            record.goal,
            # A resumed seeded study continues with a fresh (still reproducible) stream, not the first one.
            seed if seed is None or not record.trials else (seed * 1_000_003 + len(record.trials)) % 2**63,
            wake=lambda: self.queue.put(Wake()),
            record=lambda kind, data, number: self.outbox.record(kind, data, number),
        )
        state.storage_url = storage_url
        state.rank_killed = rank_killed
        self.session = session
        self.record = record
        self.strategy = strategy
        self.executor = executor
        self.outbox = Outbox(state, session, reporters)
        self.stopper = Stopper(
            state, executor, self.outbox, self._end, grace_period_s=grace_period_s, trial_timeout_s=trial_timeout_s
        )
        # joined: the storage coordinates this study's processes (numbers, budget, the others' trials)
        self.coordinator: Coordinator = (
            Joined(state, strategy, session, self.outbox)
            if isinstance(session, JoinedSession)
            else Solo(state, strategy)
        )
        # checkpoints: where trials save them (a temporary store unless tune() says otherwise), and pauses
        self.keeper = keeper or Keeper(*default_store("memory"), record.name, last=2, best=1)
        self.continuation = Continuation(
            state, self.keeper, session, executor, self.outbox, self.stopper, strategy, policies
        )
        self.constraints = dict(constraints or {})  # metric -> ("<=" or ">=", bound)
        self.initial = list(initial or [])  # initial_points, proposed before the strategy is asked
        self.warm = warm or ([], [])  # warm_start_from: trials of another study, and what to say of them
        self.policies, self.reporters = policies, reporters
        self.max_trials, self.default_max_trials = max_trials, default_max_trials
        self.max_concurrent, self.max_time_s = max_concurrent, max_time_s
        self.inline = False
        self.in_order = InOrder(state, self.fill, self._outcome, lambda: self.stopper.stopping) if ordered else None
        self._inline_executor: InlineExecutor | None = None
        self._inline_error: BaseException | None = None
        self._metrics_checked: set[str] = set()
        self._opened_at: float | None = None
        self._released = False

    # -- the step API ----------------------------------------------------------------------------------
    def open(self) -> None:
        """Set the plugins up, take in a resumed study, start the executor. On failure the storage is
        released (the loop owns it from here)."""
        self._opened_at = time.time()
        try:
            self._setup()
            self._start_executor()
        except BaseException:
            self._release()
            raise

    def fill(self, limit: int | None = None) -> int:
        """Start trials in the free slots (up to `limit` running at once; default max_concurrent): the
        paused trials promoted first, then new ones; returns how many started."""
        slots = (self.max_concurrent if limit is None else limit) - len(self.state.running)
        promoted = self.continuation.promote(slots)
        return promoted + self.coordinator.fill(self, slots - promoted, self.max_trials)

    def wait(self, timeout: float) -> Message | None:
        """The next executor message, or None when `timeout` seconds pass first."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def tick(self) -> None:
        """After a batch of messages: time limits, trials past their grace period, the strategy's kills."""
        self.stopper.check()
        if not self.stopper.stopping:
            for kill in self.strategy.kills(self.state):
                trial = self.state.running.get(kill.trial_number)
                if trial is not None and not trial.stop_requested:
                    self.stopper.request(trial, kill.reason, by="strategy", pause=kill.pause)
                elif kill.trial_number in self.state.paused and not kill.pause:
                    for ended in self.continuation.end_paused(kill.reason, [kill.trial_number]):
                        self._end(ended, TrialState.KILLED)

    def flush(self) -> None:
        """Write the tick's changes in one call, then show them to the reporters."""
        self.outbox.flush()

    def sync(self) -> None:
        """Joined processes: take in what the others did since the last look."""
        self.coordinator.sync()

    @property
    def done(self) -> bool:
        """No further trial will start: the budget is spent or the strategy has no more points."""
        if self.coordinator.waiting:
            return False
        return self.exhausted or (self.max_trials is not None and len(self.state.trials) >= self.max_trials)

    @property
    def exhausted(self) -> bool:
        """The strategy has no more points, or (joined) the study-wide budget is spent."""
        return self.strategy.exhausted or self.coordinator.spent

    def close(self, interrupt: bool = True, hand_out: bool = False) -> StudyState:
        """Stop the executor, write what is left, close the plugins, release the storage. Trials still
        running are interrupted (resume runs them again), or with `hand_out` wait for another's tell."""
        try:
            self._shut_down(interrupt and not hand_out)
            if hand_out:
                self.coordinator.hand_out()
        finally:
            self._release()
        return self.state

    def run(self) -> StudyState:
        """tune()'s driver: open, run the steps until the study is done, close; returns the final state."""
        completed = False
        try:
            try:
                self.open()
                self._drive()
                completed = True
            finally:
                if self._opened_at is not None and not self._released:
                    self._shut_down(interrupt=not completed)
        except StorageError as exc:
            self.state.note(
                f"the storage failed and the study stopped: {exc}; what it had not written is not stored", True
            )
            raise
        finally:
            self._release()
        outcome.warn_if_nothing_completed(self.state)
        return self.state

    # -- open and close --------------------------------------------------------------------------------
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
        outcome.judge_loaded(self.record.trials, self.constraints)  # `foreign` (join=True): what the others run now
        reruns = state.load(self.record.trials, self.record.history, self.record.foreign)
        self.keeper.load(self.record.checkpoints)
        self.coordinator.load(reruns)
        self.initial = not_run_yet(self.initial, state.trials)
        for trial in state.trials:
            if trial.state.finished:
                strategy.observe(trial)
        if self.max_trials is None and self.max_time_s is None and not strategy.finite:
            self.max_trials = self.default_max_trials
        state.joined = isinstance(self.coordinator, Joined)
        outcome.say_how_it_opened(state, len(reruns), self.max_trials)
        state.max_trials = self.max_trials if self.max_trials is not None else strategy.size
        self.outbox.event(
            "study_started", None, {"name": state.name, "storage": state.storage_url, "resumed": state.resumed}
        )
        self.outbox.show()

    def _start_executor(self) -> None:
        # One trial at a time and no deadline to enforce: an executor that can, runs trials right here.
        executor = self.executor
        # (a runtime protocol check is slow: it is made once here, never on the hot path)
        self.inline = self.max_concurrent == 1 and self.max_time_s is None and self.stopper.trial_timeout_s is None
        if self.inline and isinstance(executor, InlineExecutor):
            self._inline_executor = executor
            executor.start(self.objective, self.max_concurrent, self._apply_inline, inline=True)
        else:
            self.inline = False
            executor.start(self.objective, self.max_concurrent, self.queue.put)
        capacity = executor.capacity  # what fits at once given resources_per_trial
        if capacity is not None and capacity < self.max_concurrent:
            self.state.note(
                f"max_concurrent={self.max_concurrent} lowered to {capacity}: that many trials fit at once "
                "with resources_per_trial"
            )
            self.max_concurrent = capacity

    def _shut_down(self, interrupt: bool) -> None:
        """The executor's shutdown and the last write; with `interrupt`, trials still running (an error,
        Ctrl-C, an ask-and-tell study closed with trials not told) are recorded as interrupted."""
        if interrupt:
            self.stopper.interrupt_running()
        else:  # the study is done: paused trials nobody promoted end where they are
            for trial in self.continuation.end_paused("paused, and not resumed before the study ended"):
                self._end(trial, TrialState.KILLED)
        try:
            self.executor.shutdown()
        finally:
            try:
                self.outbox.flush()
                if not interrupt:
                    self.coordinator.sync()  # joined: the result describes the whole study as stored now
            finally:
                self.strategy.close(self.state)
                for policy in self.policies:
                    policy.close(self.state)

    def _release(self) -> None:
        """Once: the duration, the reporters' last word, the storage closed."""
        if self._released:
            return
        self._released = True
        state = self.state
        try:
            if self._opened_at is not None:
                state.duration = time.time() - self._opened_at
                for reporter in self.reporters:
                    reporter.close(state)
        finally:
            try:
                self.keeper.close()
            finally:
                self.session.close()

    # -- tune()'s driver -------------------------------------------------------------------------------
    def _drive(self) -> None:
        drive(self)

    def run_inline(self) -> bool:
        """Inline mode: run what was submitted, right here; True when anything ran."""
        inline = self._inline_executor
        if not (self.inline and inline is not None and inline.run_queued(self._apply_inline)):
            return False
        if self._inline_error is not None:
            raise self._inline_error
        return True

    # -- what the coordinator calls (coordinator.Host) -------------------------------------------------
    def proposed(self, slots: int) -> list[Trial]:
        """New trials (numbered later): the initial points first, then the strategy's proposals."""
        proposals = [self.initial.pop(0) for _ in range(min(slots, len(self.initial)))]
        if slots > len(proposals):
            proposals += allowed_proposals(self.state, self.strategy, slots - len(proposals))
        return new_trials(self.state, proposals, type(self.strategy).__name__)

    def start(self, trial: Trial, new: bool = True) -> None:
        """Take a numbered trial in and submit it to the executor."""
        self.state.add(trial)
        outbox = self.outbox
        if new and trial.rationale:
            decision = {"rationale": trial.rationale, "parent_id": trial.parent_id, "source": trial.source}
            outbox.event("decision", trial.number, decision)
        self.stopper.submitted(trial.number)
        outbox.changes.trials.append(trial)
        if self.reporters:
            outbox.event("trial_started", trial.number)
        self.continuation.submit(trial, rerun=not new)

    # -- messages ------------------------------------------------------------------------------------
    def _apply_inline(self, message: Message) -> None:
        """The emit of a trial that runs on this thread: an error of the loop's own (a storage failure,
        a misspelled metric) must end the study, not be taken for the objective's failure."""
        if self._inline_error is not None:
            return
        try:
            self.apply(message)
        except BaseException as exc:
            self._inline_error = exc
            if not isinstance(message, Wake):
                self.executor.stop(message.trial_number)  # let the objective end soon

    def apply(self, message: Message) -> None:
        """One executor message: a trial started, reported (policies may stop it) or ended."""
        match message:
            case Wake():
                return
            case Started(number):
                self.stopper.started(number)
            case Checkpointed():
                self.continuation.saved(message)
                self.outbox.flush()  # stored at once (with the reports before it): a crash resumes from it
            case Reported(number, step, metrics):
                trial = self.state.running.get(number)
                if trial is None:
                    return  # an abandoned trial speaking after we gave up on it
                self._reported(trial, step, metrics)
                if self.inline:  # the trial runs on this thread: strategy kills cannot wait for it to end
                    self.tick()
            case Finished() | Failed():
                if self.in_order is not None and self.in_order.hold(message):
                    return  # reproducible=True: it waits for the trials before it
                self._outcome(message)
                if self.in_order is not None:
                    self.in_order.release()
            case _:
                raise HyperionError(f"unknown executor message {message!r}")

    def _outcome(self, message: Finished | Failed) -> None:
        trial = self.state.running.get(message.trial_number)
        if trial is None:
            return
        if trial.stop_requested and isinstance(message, Finished) and not message.saw_stop:
            # it ran to its own end before it heard of the stop or the pause: stopping saved nothing, so
            # its finished result counts (the decision stays in the event log)
            trial.pausing = trial.stop_requested = False
            trial.kill_reason = None
        elif trial.pausing and self.continuation.pause(trial):
            return  # paused at its checkpoint: it waits for a promotion
        if isinstance(message, Finished):
            self._finished(trial, message.score, cap_values(message.metrics), cap_values(message.artifacts))
        elif self.continuation.restart(trial, message):
            return  # its worker died: it continues from its last checkpoint
        else:
            ended = TrialState.KILLED if trial.stop_requested else TrialState.FAILED
            self._end(trial, ended, error=cap(message.error))

    def _reported(self, trial: Trial, step: int, metrics: dict[str, Any]) -> None:
        state = self.state
        metrics = cap_values(metrics)
        if trial.last_step is not None and step < trial.last_step:  # it went back (a restart, a late report
            self.continuation.rewind(trial, step - 1)  # of a run that died): its curve is the latest run
        state.history.setdefault(trial.number, []).append((step, metrics))
        trial.last_step = step
        trial.last_report = metrics
        self.outbox.changes.reports.append(Report(trial.number, step, metrics))
        if trial.stop_requested or self.stopper.stopping:
            return
        for policy in self.policies:
            verdict = policy.should_stop(state, trial)
            if isinstance(verdict, Pause):
                self.stopper.request(trial, cap(verdict.reason) or "paused", by="policy", step=step, pause=True)
                break
            if verdict:
                self.stopper.request(trial, cap(verdict) or verdict, by="policy", step=step)
                break

    def _finished(self, trial: Trial, score: float | None, metrics: dict[str, Any], artifacts: dict[str, Any]) -> None:
        trial.score, trial.metrics, trial.artifacts = score, metrics, artifacts
        values, violation, error = outcome.judge(self.state, trial, self.constraints, self._check_metric_name)
        if trial.stop_requested:
            self._end(trial, TrialState.KILLED)
        elif error is not None:
            self._end(trial, TrialState.FAILED, error=error)
        else:
            trial.value, trial.violation = values[0], violation
            if self.state.multi_objective:
                trial.values = values
            self._end(trial, TrialState.COMPLETED)

    def _check_metric_name(
        self, metric: str, metrics: dict[str, Any], report: dict[str, Any], score: float | None
    ) -> None:
        if metric not in self._metrics_checked:  # each name once: the first trial that lacks it
            self._metrics_checked.add(metric)
            outcome.check_metric_name(self.state, metric, metrics, report, score)

    def _end(self, trial: Trial, new_state: TrialState, error: str | None = None) -> None:
        trial.state = new_state
        if new_state is TrialState.KILLED and self.state.rank_killed:
            trial.value = outcome.reported_value(trial, self.state.metric)
        trial.finished = time.time()
        if error is not None:
            trial.error = error
        self.stopper.ended(trial.number)
        self.state.finish(trial)
        self.outbox.changes.trials.append(trial)
        self.continuation.ended(trial)
        self.strategy.observe(trial)
        if self.reporters:
            self.outbox.event(f"trial_{new_state.value}", trial.number)
