"""An event log: one JSON object per line for every event of the study (for tools and audits)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from hyperion_core.models import Event
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState
from hyperion_core.text import dumps


class JsonlReporter(Reporter):
    def __init__(self, path: str | Path = "hyperion-events.jsonl") -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None

    def on_event(self, event: Event, study: StudyState) -> None:
        if self._file is None:
            # Owner-only: an event log holds parameters, errors and model replies (mode 0600, like a key file).
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
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
        self._file.write(dumps(record) + "\n")

    def close(self, study: StudyState) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
