"""The study as the loop keeps it: every trial, the running ones, the running best and per-trial
report histories. The loop alone changes it; strategies, policies and reporters only read it."""

from __future__ import annotations

import bisect
import heapq
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from hyperion_core.goal import Direction, Goal
from hyperion_core.log import get_logger
from hyperion_core.models import Trial, TrialState
from hyperion_core.space import Space
from hyperion_core.text import cap

logger = get_logger(__name__)


class StudyState:
    """`wake` and `record` are the loop's doors for plugins (given by the loop that owns this state)."""

    def __init__(
        self,
        name: str,
        space: Space,
        goal: Goal,
        seed: int | None,
        *,
        wake: Callable[[], None] | None = None,
        record: Callable[[str, dict[str, Any], int | None], None] | None = None,
    ) -> None:
        self.name = name
        self.space = space
        self.goal = goal  # what is optimised; ranking and dominance are asked of it
        self.front: list[Trial] = []  # several objectives: the non-dominated feasible completed trials
        self.seed = seed
        self.trials: list[Trial] = []  # index == trial number
        self.running: dict[int, Trial] = {}
        self.elsewhere: dict[int, Trial] = {}  # join=True: trials other processes are running now
        self.paused: dict[int, Trial] = {}  # paused at a checkpoint, waiting for a promotion (or the end)
        self.best: Trial | None = None
        self.counts: Counter[str] = Counter()
        # trial number -> [(step, metrics)] in arrival order (steps ascend per trial)
        self.history: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        self.resumed = 0  # finished trials loaded from storage
        self.joined = False  # join=True: one of several processes on this study (the others' trials count)
        self.notes: list[str] = []  # user-facing remarks the summary shows (e.g. how the run ended)
        self.duration: float | None = None
        self.max_trials: int | None = None  # the cap in force, for progress displays
        self.rank_killed = False  # tune(rank_killed_trials=True): killed trials rank by their last report
        self.storage_url = ""

        self._wake = wake
        self._record = record

    def wake(self) -> None:
        """Wake the loop (for strategies that think off-thread). Any thread may call it."""
        if self._wake is not None:
            self._wake()

    def record(self, kind: str, data: dict[str, Any], trial_number: int | None = None) -> None:
        """Put a decision in the study's event log (call it from the loop's thread)."""
        if self._record is not None:
            self._record(kind, data, trial_number)

    def note(self, text: str, warn: bool = False) -> None:
        """A remark for the user: kept in the result's notes and shown by the summary; logged too."""
        text = cap(text, 2_000) or ""
        self.notes.append(text)
        logger.log(logging.WARNING if warn else logging.INFO, "study '%s': %s", self.name, text)

    # -- ranking -----------------------------------------------------------------------------------
    @property
    def metric(self) -> str:
        """The primary metric (the one `best` ranks by with one objective)."""
        return self.goal.metric

    @property
    def mode(self) -> Direction:
        """The primary metric's direction; rank with `goal.better`/`goal.loss` rather than decoding it."""
        return self.goal.direction

    @property
    def multi_objective(self) -> bool:
        return self.goal.several

    def better(self, a: float, b: float) -> bool:
        """True when value a is strictly better than b in this study's direction."""
        return self.goal.better(a, b)

    def sort_key(self, trial: Trial) -> float:
        """Sort key putting the best trial first (completed trials only have a value)."""
        return self.goal.loss(trial.value)

    def ranks(self, trial: Trial) -> bool:
        """Whether the trial competes for best: completed feasible ones, and killed ones if asked."""
        if trial.value is None or (trial.violation or 0) > 0:
            return False
        return trial.state is TrialState.COMPLETED or (self.rank_killed and trial.state is TrialState.KILLED)

    def top(self, k: int | None = None) -> list[Trial]:
        """The best trials first (several objectives: the Pareto front, by the first objective)."""
        if self.multi_objective:
            front = sorted(self.front, key=self.sort_key)
            return front if k is None else front[:k]
        done = (t for t in self.trials if self.ranks(t))
        if k is not None:  # the k best without sorting them all (retention asks after every trial)
            return heapq.nsmallest(k, done, key=self.sort_key)
        return sorted(done, key=self.sort_key)

    @property
    def pending(self) -> list[Trial]:
        """Every trial running now without a value yet: this process's and, with join=True, the other
        processes' (a model-based strategy treats them alike, e.g. as constant liars)."""
        return [*self.running.values(), *self.elsewhere.values()]

    @property
    def finished_count(self) -> int:
        return self.counts["completed"] + self.counts["failed"] + self.counts["killed"]

    def trial_by_id(self, trial_id: str | None) -> Trial | None:
        """The trial with this id ("trial_0007"), or None (for parent_id lookups)."""
        if not trial_id:
            return None
        try:
            number = int(trial_id.rsplit("_", 1)[-1])
        except ValueError:
            return None
        return self.trials[number] if 0 <= number < len(self.trials) else None

    # -- the loop's bookkeeping ---------------------------------------------------------------------
    def add(self, trial: Trial, ours: bool = True) -> None:
        """A new trial, or a newer record of a known one. `running` holds this process's running trials
        only; with join=True the others' are in `trials` too, in their state."""
        if trial.number == len(self.trials):
            self.trials.append(trial)
        else:  # a re-run of an interrupted trial keeps its number
            self.trials[trial.number] = trial
        if ours and trial.state is TrialState.RUNNING:
            self.running[trial.number] = trial
            self.elsewhere.pop(trial.number, None)
        elif trial.state is TrialState.RUNNING:
            self.elsewhere[trial.number] = trial
        else:
            self.elsewhere.pop(trial.number, None)

    def load(
        self,
        trials: list[Trial],
        history: dict[int, list[tuple[int, dict[str, Any]]]],
        foreign: list[Trial] | None = None,
    ) -> list[Trial]:
        """Take in a resumed study's trials (finished ones count, the others come back INTERRUPTED) and
        the reports of the finished ones; returns the trials to run again, by number. `foreign` (join=True)
        are trials other processes run or left for anyone to claim: kept as they are, never run here."""
        reruns = []
        others = {t.number for t in foreign or ()}
        for trial in sorted([*trials, *(foreign or ())], key=lambda t: t.number):
            if trial.number in others:
                self.add(trial, ours=False)
            elif trial.state.finished:
                self.add(trial)
                self.finish(trial)
                self.resumed += 1
            else:
                trial.state = TrialState.INTERRUPTED
                self.add(trial)
                reruns.append(trial)
        # a storage keeps an interrupted trial's reports up to its last checkpoint (it continues there)
        self.history.update({n: h for n, h in history.items() if n < len(self.trials) and n not in others})
        return reruns

    def finish(self, trial: Trial) -> None:
        self.running.pop(trial.number, None)
        self.elsewhere.pop(trial.number, None)
        self.counts[trial.state.value] += 1
        if self.multi_objective:
            if trial.values is not None and trial.state is TrialState.COMPLETED and self.ranks(trial):
                self._to_front(trial)
            return
        if self.ranks(trial) and trial.value is not None:  # ranks() says it has a value; mypy cannot see it
            best = self.best.value if self.best is not None else None
            if best is None or self.goal.better(trial.value, best):
                self.best = trial

    def _to_front(self, trial: Trial) -> None:
        """Keep the Pareto front: a trial no other dominates joins, and pushes out those it dominates."""
        mine, dominates = trial.values or [], self.goal.dominates
        kept = []
        for other in self.front:
            theirs = other.values or []
            if dominates(theirs, mine):
                return  # dominated: the front stays as it is
            if not dominates(mine, theirs):
                kept.append(other)
        self.front = [*kept, trial]

    def metric_value(self, trial_number: int, step: int, metric: str | None = None) -> float | None:
        """The trial's value of `metric` at `step`, or its latest value reported before it."""
        metric = metric or self.metric
        history = self.history.get(trial_number, ())
        # Steps ascend within a trial: bisect to the step, then look back for a report that has the metric.
        i = bisect.bisect_right(history, step, key=_step)
        while i > 0:
            i -= 1
            if metric in history[i][1]:
                value: float | None = history[i][1][metric]
                return value
        return None


def _step(entry: tuple[int, dict[str, Any]]) -> int:
    return entry[0]
