"""An event log: one JSON object per line for every event of the study (for tools and audits)."""

from __future__ import annotations

import json
from pathlib import Path

from hyperion_core.models import Event
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState


class JsonlReporter(Reporter):
    def __init__(self, path: str | Path = "hyperion-events.jsonl") -> None:
        self.path = Path(path)
        self._file = None

    def on_event(self, event: Event, study: StudyState) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        record = {
            "time": event.time,
            "study": study.name,
            "kind": event.kind,
            "trial": event.trial_number,
            **event.data,
        }
        if event.trial_number is not None and event.kind.startswith("trial_") and event.kind != "trial_started":
            trial = study.trials[event.trial_number]
            record.update(value=trial.value, params=trial.params, error=trial.error, kill_reason=trial.kill_reason)
        self._file.write(json.dumps(record, default=str) + "\n")

    def close(self, study: StudyState) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
