"""The in-memory storage: studies live as long as the storage object (one tune() call by default)."""

from __future__ import annotations

import copy
import time
from typing import Any

from hyperion_core.checkpoints import rewind_points
from hyperion_core.errors import StorageError
from hyperion_core.goal import Goal
from hyperion_core.models import Changes, Checkpoint, Event, Report, StudyRecord, Trial, TrialState
from hyperion_core.views import ComputedViews


class MemoryStorage(ComputedViews):
    """Studies in this process's memory; the study views are the computed ones."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or "memory"
        self._studies: dict[str, StudyRecord] = {}
        self._trials: dict[str, dict[int, Trial]] = {}
        self._reports: dict[str, list[Report]] = {}
        self._events: dict[str, list[Event]] = {}
        self._checkpoints: dict[str, dict[tuple[int, int], Checkpoint]] = {}

    def open_study(
        self, name: str, space: dict[str, Any], goal: Goal, config: dict[str, Any] | None = None
    ) -> StudyRecord:
        if name not in self._studies:
            self._studies[name] = StudyRecord(name, space, goal, created=time.time(), config=config)
            self._trials[name] = {}
            self._reports[name] = []
            self._events[name] = []
            self._checkpoints[name] = {}
        record = self._studies[name]
        # As in every storage: trials left running (or paused) are interrupted, and their reports after
        # their last checkpoint dropped (they continue from it).
        left = {n for n, t in self._trials[name].items() if not t.state.finished}
        for number in left:
            self._trials[name][number].state = TrialState.INTERRUPTED
        kept = rewind_points(self._checkpoints[name].values())
        self._reports[name] = [
            r for r in self._reports[name] if r.trial_number not in left or r.step <= kept.get(r.trial_number, -1)
        ]
        history: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        for report in self._reports[name]:
            history.setdefault(report.trial_number, []).append((report.step, report.metrics))
        return StudyRecord(
            record.name,
            record.space,
            record.goal,
            self.load_trials(name),
            record.created,
            history,
            config=record.config,
            checkpoints=self.load_checkpoints(name),
        )

    def describe_study(self, study_name: str) -> dict[str, Any]:
        """A study's space description, goal (metrics, modes) and kept configuration (for load_study)."""
        record = self._studies.get(study_name)
        if record is None:
            raise StorageError(f"no study named '{study_name}' in {self.url}")
        return {
            "space": record.space,
            **record.goal.to_json(),
            "config": record.config or {},
            "created": record.created,
        }

    def write(self, study_name: str, changes: Changes) -> None:
        trials = self._trials[study_name]
        for trial in changes.trials:
            trials[trial.number] = trial
        if changes.rewound:
            cut = dict(changes.rewound)
            self._reports[study_name] = [
                r for r in self._reports[study_name] if r.step <= cut.get(r.trial_number, r.step)
            ]
        self._reports[study_name].extend(changes.reports)
        self._events[study_name].extend(changes.events)
        checkpoints = self._checkpoints[study_name]
        for checkpoint in changes.checkpoints:
            key = (checkpoint.trial_number, checkpoint.step)
            if checkpoint.deleted:
                checkpoints.pop(key, None)
            else:
                checkpoints[key] = copy.copy(checkpoint)

    def load_trials(self, study_name: str) -> list[Trial]:
        self._check(study_name)
        return [copy.copy(t) for t in sorted(self._trials[study_name].values(), key=lambda t: t.number)]

    def load_reports(self, study_name: str) -> list[Report]:
        self._check(study_name)
        return list(self._reports[study_name])

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        self._check(study_name)
        return [
            {"trial_number": e.trial_number, "kind": e.kind, "time": e.time, **e.data} for e in self._events[study_name]
        ]

    def load_checkpoints(self, study_name: str, trial_number: int | None = None) -> list[Checkpoint]:
        self._check(study_name)
        kept = self._checkpoints[study_name]
        return [
            copy.copy(c) for key, c in sorted(kept.items()) if trial_number is None or c.trial_number == trial_number
        ]

    def list_studies(self) -> list[dict[str, Any]]:
        out = []
        for record in self._studies.values():
            trials = list(self._trials[record.name].values())
            values = [t.value for t in trials if t.state is TrialState.COMPLETED and t.value is not None]
            out.append(
                {
                    "name": record.name,
                    **record.goal.to_json(),
                    "created": record.created,
                    "updated": max((t.finished or t.started for t in trials), default=record.created),
                    "open_by": None,
                    "trials": len(trials),
                    "best": None if record.goal.several else record.goal.best(values),
                    **{state.value: sum(t.state is state for t in trials) for state in TrialState},
                }
            )
        return out

    def delete_study(self, study_name: str, force: bool = False) -> None:
        self._check(study_name)
        for table in (self._studies, self._trials, self._reports, self._events, self._checkpoints):
            del table[study_name]

    def close(self) -> None:
        return None

    def _check(self, study_name: str) -> None:
        if study_name not in self._studies:
            raise StorageError(f"no study named '{study_name}' in {self.url}")
