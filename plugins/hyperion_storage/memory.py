"""The in-memory storage: studies live as long as the storage object (one tune() call by default)."""

from __future__ import annotations

import copy
import time
from typing import Any

from hyperion_core.errors import StorageError
from hyperion_core.models import Changes, Event, Report, StudyRecord, Trial


class MemoryStorage:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or "memory"
        self._studies: dict[str, StudyRecord] = {}
        self._trials: dict[str, dict[int, Trial]] = {}
        self.reports: dict[str, list[Report]] = {}
        self.events: dict[str, list[Event]] = {}

    def open_study(self, name: str, space: dict[str, Any], metric: str, mode: str) -> StudyRecord:
        if name not in self._studies:
            self._studies[name] = StudyRecord(name, space, metric, mode, created=time.time())
            self._trials[name] = {}
            self.reports[name] = []
            self.events[name] = []
        record = self._studies[name]
        return StudyRecord(
            record.name, record.space, record.metric, record.mode, self.load_trials(name), record.created
        )

    def write(self, study_name: str, changes: Changes) -> None:
        trials = self._trials[study_name]
        for trial in changes.trials:
            trials[trial.number] = trial
        self.reports[study_name].extend(changes.reports)
        self.events[study_name].extend(changes.events)

    def load_trials(self, study_name: str) -> list[Trial]:
        if study_name not in self._trials:
            raise StorageError(f"no study named '{study_name}' in {self.url}")
        return [copy.copy(t) for t in sorted(self._trials[study_name].values(), key=lambda t: t.number)]

    def list_studies(self) -> list[dict[str, Any]]:
        return [
            {
                "name": r.name,
                "metric": r.metric,
                "mode": r.mode,
                "created": r.created,
                "trials": len(self._trials[r.name]),
            }
            for r in self._studies.values()
        ]

    def delete_study(self, study_name: str) -> None:
        if study_name not in self._studies:
            raise StorageError(f"no study named '{study_name}' in {self.url}")
        for table in (self._studies, self._trials, self.reports, self.events):
            del table[study_name]

    def close(self) -> None:
        return None
