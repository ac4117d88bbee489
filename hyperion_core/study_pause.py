"""The study loop's continuation part (design.md, section 9): checkpoints recorded as trials save them,
trials paused and promoted, trials whose worker died continued from their last checkpoint, and each
trial's TrialSpec (where it saves, what it continues from)."""

from __future__ import annotations

from hyperion_core.checkpoints import Keeper
from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Checkpointed, Executor, Failed, Policy, Strategy, TrialSpec
from hyperion_core.session import Session
from hyperion_core.state import StudyState
from hyperion_core.study_output import Outbox
from hyperion_core.study_stop import Stopper

#: How often one trial continues from its checkpoint after its worker died under it, before it fails.
MAX_RESTARTS = 3


class Continuation:
    def __init__(
        self,
        state: StudyState,
        keeper: Keeper,
        session: Session,
        executor: Executor,
        outbox: Outbox,
        stopper: Stopper,
        strategy: Strategy,
        policies: list[Policy],
    ) -> None:
        self.state, self.keeper, self.session = state, keeper, session
        self.executor, self.outbox, self.stopper = executor, outbox, stopper
        self.strategy, self.policies = strategy, policies
        self.restarts: dict[int, int] = {}

    def submit(self, trial: Trial, rerun: bool = False) -> None:
        """Hand a trial to the executor with its spec: it continues from its own last checkpoint (a rerun,
        a promotion, a restart), or from the trial it was copied from (PBT's exploit)."""
        keeper = self.keeper
        if rerun and self.state.joined and trial.number not in keeper.kept:
            keeper.load(self.session.checkpoints(trial.number))  # a rerun another process left behind
        source = trial.checkpoint_from if keeper.latest(trial.number) is None else None
        spec: TrialSpec = keeper.spec(trial, self.state.space.unflatten(trial.params), source)
        self.executor.submit(spec)

    def saved(self, message: Checkpointed) -> None:
        trial = self.state.running.get(message.trial_number)
        if trial is None:
            return  # an abandoned trial's late save: not this study's to keep
        changes = self.keeper.saved(
            message.trial_number, message.step, message.location, message.size, message.resumed_from
        )
        self.outbox.changes.checkpoints.extend(changes)

    # -- a worker lost under its trial ---------------------------------------------------------------------
    def restart(self, trial: Trial, message: Failed) -> bool:
        """The trial's worker died (not its objective): continue it from its last checkpoint, a few times;
        False when it has none (it fails as before)."""
        latest = self.keeper.latest(trial.number)
        if not message.lost or latest is None or trial.stop_requested:
            return False
        count = self.restarts.get(trial.number, 0)
        if count >= MAX_RESTARTS:
            return False
        self.restarts[trial.number] = count + 1
        self.rewind(trial, latest.step)
        self.outbox.event(
            "trial_restarted", trial.number, {"from_step": latest.step, "cause": message.error[:500]}, store=True
        )
        self.stopper.ended(trial.number)
        self.stopper.submitted(trial.number)
        self.submit(trial)
        return True

    def rewind(self, trial: Trial, step: int) -> None:
        """The trial goes back to `step` (its checkpoint, or a report at an earlier step than its last:
        it trains again from there): its reports after `step` go, here and in the storage."""
        history = self.state.history.get(trial.number)
        if history:
            history[:] = [(s, m) for s, m in history if s <= step]
            trial.last_step = history[-1][0] if history else None
            trial.last_report = history[-1][1] if history else None
        changes = self.outbox.changes  # this tick's reports after it go too; the storage drops the stored ones
        changes.reports = [r for r in changes.reports if r.trial_number != trial.number or r.step <= step]
        changes.rewound.append((trial.number, step))

    # -- pause and promotion -------------------------------------------------------------------------------
    def pause(self, trial: Trial) -> bool:
        """A trial asked to pause has ended: paused when it has a checkpoint to continue from; False
        when it has none (it is killed, as before)."""
        if self.keeper.latest(trial.number) is None:
            trial.kill_reason = f"{trial.kill_reason}; not paused: it saved no checkpoint to continue from"
            return False
        trial.state = TrialState.PAUSED
        self.state.running.pop(trial.number, None)
        self.state.paused[trial.number] = trial
        self.stopper.ended(trial.number)
        self.outbox.changes.trials.append(trial)
        self.strategy.observe(trial)
        data = {"reason": trial.kill_reason, "step": trial.last_step}
        self.outbox.event("trial_paused", trial.number, data, store=True)
        return True

    def promote(self, slots: int) -> int:
        """Resume the paused trials the policies and the strategy name (at most `slots`)."""
        if not self.state.paused or slots <= 0:
            return 0
        wanted: list[int] = []
        deciders: list[Policy | Strategy] = [*self.policies, self.strategy]
        for who in deciders:
            if len(wanted) < slots:
                wanted += [n for n in who.promote(self.state, slots - len(wanted)) if n not in wanted]
        started = 0
        for number in wanted[:slots]:
            trial = self.state.paused.pop(number, None)
            if trial is None:
                continue
            trial.state, trial.stop_requested, trial.pausing, trial.kill_reason = TrialState.RUNNING, False, False, None
            self.state.add(trial)
            self.stopper.submitted(number)
            self.outbox.changes.trials.append(trial)
            latest = self.keeper.latest(number)
            self.outbox.event("trial_resumed", number, {"from_step": latest.step if latest else None}, store=True)
            self.submit(trial)
            started += 1
        return started

    def end_paused(self, reason: str, numbers: list[int] | None = None) -> list[Trial]:
        """Paused trials that will not be resumed (a strategy replaced them, or the study is done)."""
        ended = []
        for number in list(self.state.paused) if numbers is None else numbers:
            trial = self.state.paused.pop(number, None)
            if trial is not None:
                trial.kill_reason = reason if numbers is not None else f"{trial.kill_reason}; {reason}"
                ended.append(trial)
        return ended

    def ended(self, trial: Trial) -> None:
        """Retention once a trial finished: the best finished trials keep their last checkpoint."""
        if not self.keeper.kept:
            return
        best = {t.number for t in self.state.top(self.keeper.best)} if self.keeper.best else set()
        self.outbox.changes.checkpoints.extend(self.keeper.ended(trial.number, best, self._finished))

    def _finished(self, number: int) -> bool:
        trials = self.state.trials
        return number < len(trials) and trials[number].state.finished
