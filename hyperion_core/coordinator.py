"""Who hands out a study's trials: this process alone (numbers counted here, interrupted trials run again
first), or the storage shared by several joined processes (numbers, the study-wide budget and the other
processes' trials come from the database; design.md, section 8). The loop holds one of the two."""

from __future__ import annotations

from typing import Protocol

from hyperion_core.models import Report, Trial
from hyperion_core.outcome import _again
from hyperion_core.protocols import Strategy
from hyperion_core.session import JoinedSession
from hyperion_core.state import StudyState
from hyperion_core.study_output import Outbox

#: How many claims one fill may make when initial points turn out to be run already by another process.
MAX_REFILLS = 8


class Host(Protocol):
    """What a coordinator needs of the loop: the strategy's next trials, and a way to start one."""

    def proposed(self, slots: int) -> list[Trial]: ...

    def start(self, trial: Trial, new: bool = True) -> None: ...


class Coordinator(Protocol):
    #: True once no further trial will be handed out here (the study-wide budget is spent)
    spent: bool

    def load(self, reruns: list[Trial]) -> None:
        """The interrupted trials a resume found, to run again first."""

    @property
    def waiting(self) -> bool:
        """Trials wait to run again: the study is not done whatever max_trials says."""

    def fill(self, host: Host, slots: int, max_trials: int | None) -> int:
        """Start up to `slots` trials; returns how many started."""

    def sync(self) -> None:
        """Take in what the other processes did since the last look (nothing when alone)."""

    def hand_out(self) -> None:
        """Leave the running trials to be told by another process (joined only)."""


class Solo:
    """One process owns the study: it numbers trials itself."""

    spent = False

    def __init__(self, state: StudyState, strategy: Strategy) -> None:
        self.state = state
        self.strategy = strategy
        self.reruns: list[Trial] = []

    def load(self, reruns: list[Trial]) -> None:
        self.reruns = list(reruns)

    @property
    def waiting(self) -> bool:
        return bool(self.reruns)

    def fill(self, host: Host, slots: int, max_trials: int | None) -> int:
        state = self.state
        started = 0
        while slots > 0 and self.reruns:
            host.start(_again(self.reruns.pop(0)), new=False)
            slots -= 1
            started += 1
        if max_trials is not None:
            slots = min(slots, max_trials - len(state.trials))
        if slots <= 0 or self.strategy.exhausted:
            return started
        for trial in host.proposed(slots):
            trial.number = len(state.trials)
            host.start(trial)
            started += 1
        return started

    def sync(self) -> None:
        return None

    def hand_out(self) -> None:
        return None  # alone, a trial left running is interrupted at the next open: told from here only


class Joined:
    """join=True: the database hands out interrupted trials and numbers (max_trials is study-wide), and
    each look takes in the trials and reports of the other processes."""

    def __init__(self, state: StudyState, strategy: Strategy, session: JoinedSession, outbox: Outbox) -> None:
        self.state = state
        self.strategy = strategy
        self.session = session
        self.outbox = outbox
        self.spent = False

    def load(self, reruns: list[Trial]) -> None:
        return None  # the database hands interrupted trials out through claim()

    @property
    def waiting(self) -> bool:
        return False

    def fill(self, host: Host, slots: int, max_trials: int | None) -> int:
        started = 0
        for _ in range(MAX_REFILLS):  # bounded: initial points another process ran are replaced
            if slots <= 0 or self.spent:
                break
            new = [] if self.strategy.exhausted else host.proposed(slots)
            claim = self.session.claim(new, slots, max_trials)
            self._take_in(claim.foreign, claim.reports)
            for old in claim.reruns:
                host.start(_again(old), new=False)
            numbered = [t for t in new if t.number >= 0]  # the claim numbered these (and wrote them as ours)
            for trial in numbered:
                host.start(trial)
            if not claim.reruns and len(claim.numbers) < len(new) - len(claim.skipped):
                self.spent = True  # the study-wide budget is used up (by every process together)
            started += len(claim.reruns) + len(numbered)
            slots -= len(claim.reruns) + len(numbered)
            if not claim.skipped:
                break
        return started

    def hand_out(self) -> None:
        self.session.hand_out()

    def sync(self) -> None:
        changes = self.session.sync()
        self._take_in(changes.foreign, changes.reports)

    def _take_in(self, trials: list[Trial], reports: list[Report]) -> None:
        state = self.state
        for report in reports:
            state.history.setdefault(report.trial_number, []).append((report.step, report.metrics))
        for trial in trials:  # in number order: the database's numbers have no gaps
            if trial.number in state.running:
                continue  # ours (a rerun we claimed)
            known = state.trials[trial.number] if trial.number < len(state.trials) else None
            if known is not None and known.state.finished:
                continue
            state.add(trial, ours=False)
            if trial.state.finished:
                state.finish(trial)
                self.strategy.observe(trial)
                self.outbox.event(f"trial_{trial.state.value}", trial.number)
