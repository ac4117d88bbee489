"""A third-party storage written against the declared contracts alone (hyperion_core.protocols.Storage,
with the study views from hyperion_core.views.ComputedViews): it imports nothing of Hyperion's own
storages. Registered for the URL scheme `dictstore://NAME`; every storage of one NAME in this process
shares its studies, as a database would."""

from __future__ import annotations

import copy
import time
from typing import Any

from hyperion_core.errors import StorageError
from hyperion_core.goal import Goal
from hyperion_core.hookspecs import hookimpl
from hyperion_core.models import Changes, Checkpoint, Report, StudyRecord, Trial, TrialState
from hyperion_core.views import ComputedViews

DATABASES: dict[str, dict[str, dict[str, Any]]] = {}


class DictStorage(ComputedViews):
    def __init__(self, url: str) -> None:
        self.url = url
        self.studies = DATABASES.setdefault(url, {})

    def _study(self, name: str) -> dict[str, Any]:
        if name not in self.studies:
            raise StorageError(f"no study named '{name}' in {self.url}")
        return self.studies[name]

    def open_study(
        self, name: str, space: dict[str, Any], goal: Goal, config: dict[str, Any] | None = None
    ) -> StudyRecord:
        study = self.studies.setdefault(
            name,
            {
                "space": space,
                "goal": goal,
                "config": config,
                "created": time.time(),
                "trials": {},
                "reports": [],
                "events": [],
                "checkpoints": {},
            },
        )
        left = {n for n, t in study["trials"].items() if not t.state.finished}
        for number in left:
            study["trials"][number].state = TrialState.INTERRUPTED
        last: dict[int, int] = {}  # an interrupted trial continues from its last checkpoint: keep reports to it
        for number, step in study["checkpoints"]:
            last[number] = max(last.get(number, -1), step)
        study["reports"] = [
            r for r in study["reports"] if r.trial_number not in left or r.step <= last.get(r.trial_number, -1)
        ]
        history: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        for report in study["reports"]:
            history.setdefault(report.trial_number, []).append((report.step, report.metrics))
        return StudyRecord(
            name,
            study["space"],
            study["goal"],
            self.load_trials(name),
            study["created"],
            history,
            config=study["config"],
            checkpoints=self.load_checkpoints(name),
        )

    def write(self, study_name: str, changes: Changes) -> None:
        study = self._study(study_name)
        for trial in changes.trials:
            study["trials"][trial.number] = copy.copy(trial)
        for number, step in changes.rewound:
            study["reports"] = [r for r in study["reports"] if r.trial_number != number or r.step <= step]
        study["reports"].extend(changes.reports)
        study["events"].extend(changes.events)
        for checkpoint in changes.checkpoints:
            key = (checkpoint.trial_number, checkpoint.step)
            if checkpoint.deleted:
                study["checkpoints"].pop(key, None)
            else:
                study["checkpoints"][key] = copy.copy(checkpoint)

    def load_checkpoints(self, study_name: str, trial_number: int | None = None) -> list[Checkpoint]:
        kept = self._study(study_name)["checkpoints"]
        return [copy.copy(c) for k, c in sorted(kept.items()) if trial_number in (None, c.trial_number)]

    def describe_study(self, study_name: str) -> dict[str, Any]:
        study = self._study(study_name)
        return {
            "space": study["space"],
            **study["goal"].to_json(),
            "config": study["config"] or {},
            "created": study["created"],
        }

    def load_trials(self, study_name: str) -> list[Trial]:
        return [copy.copy(t) for _, t in sorted(self._study(study_name)["trials"].items())]

    def load_reports(self, study_name: str) -> list[Report]:
        return list(self._study(study_name)["reports"])

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        return [
            {"trial_number": e.trial_number, "kind": e.kind, "time": e.time, **e.data}
            for e in self._study(study_name)["events"]
        ]

    def list_studies(self) -> list[dict[str, Any]]:
        out = []
        for name, study in self.studies.items():
            trials = list(study["trials"].values())
            goal: Goal = study["goal"]
            values = [t.value for t in trials if t.state is TrialState.COMPLETED and t.value is not None]
            out.append(
                {
                    "name": name,
                    **goal.to_json(),
                    "created": study["created"],
                    "updated": max((t.finished or t.started for t in trials), default=study["created"]),
                    "open_by": None,
                    "trials": len(trials),
                    "best": None if goal.several else goal.best(values),
                    **{state.value: sum(t.state is state for t in trials) for state in TrialState},
                }
            )
        return out

    def delete_study(self, study_name: str, force: bool = False) -> None:
        self._study(study_name)
        del self.studies[study_name]

    def close(self) -> None:
        return None


class Plugin:
    @staticmethod
    @hookimpl
    def register_storages(register: Any) -> None:
        register("dictstore", DictStorage)
