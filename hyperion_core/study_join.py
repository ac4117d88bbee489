"""The study loop's join=True half: claims from the storage (interrupted trials, numbers within the
study-wide budget) and what the other processes did, taken into the state (design.md, section 8)."""

from __future__ import annotations

from typing import Any

from hyperion_core.models import Report, Trial
from hyperion_core.outcome import _again


class JoinedLoop:
    """Mixed into StudyLoop (which provides state, strategy, joined, max_concurrent, ...)."""

    state: Any
    strategy: Any
    joined: Any
    max_concurrent: int
    max_trials: int | None
    reporters: list[Any]
    _claims_spent: bool
    _proposed: Any
    _start: Any
    _event: Any

    def _fill_joined(self) -> int:
        """join=True: the database hands out interrupted trials and numbers (max_trials is study-wide)."""
        slots = self.max_concurrent - len(self.state.running)
        if slots <= 0 or self._claims_spent:
            return 0
        new = [] if self.strategy.exhausted else self._proposed(slots)
        claim = self.joined.claim(self.state.name, new, slots, self.max_trials)  # type: ignore[union-attr]
        self._apply_foreign(claim.foreign, claim.reports)
        for old in claim.reruns:
            self._start(_again(old), new=False)
        for trial in new[: len(claim.numbers)]:  # the claim numbered these (and wrote them as ours)
            self._start(trial)
        if not claim.reruns and len(claim.numbers) < len(new):
            self._claims_spent = True  # the study-wide budget is used up (by every process together)
        return len(claim.reruns) + len(claim.numbers)

    def _sync(self) -> None:
        """join=True: take in what the other processes did since the last look."""
        changes = self.joined.sync(self.state.name)  # type: ignore[union-attr]
        self._apply_foreign(changes.foreign, changes.reports)

    def _apply_foreign(self, trials: list[Trial], reports: list[Report]) -> None:
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
                if self.reporters:
                    self._event(f"trial_{trial.state.value}", trial.number)
