"""The study loop's output: events (stored when they are decisions or records) and each tick's write
to the storage, after which reporters see what was written and nothing before."""

from __future__ import annotations

from typing import Any

from hyperion_core.models import Changes, Event
from hyperion_core.text import cap_values


class OutputLoop:
    """Mixed into StudyLoop (which provides state, storage, reporters, changes and unreported)."""

    state: Any
    storage: Any
    reporters: list[Any]
    changes: Changes
    unreported: list[Event]

    def _record(self, kind: str, data: dict[str, Any], trial_number: int | None = None) -> None:
        self._event(kind, trial_number, data, store=True)

    def _event(self, kind: str, number: int | None, data: dict[str, Any] | None = None, store: bool = False) -> None:
        event = Event(kind, number, cap_values(data) if data else {})
        if store or kind == "decision":
            self.changes.events.append(event)
        if self.reporters:
            self.unreported.append(event)

    def _flush(self) -> None:
        """Write the tick's changes, then show them: what a reporter shows is already stored. A failed
        write keeps the changes (the next flush tries again) and shows nothing."""
        if self.changes:
            self.storage.write(self.state.name, self.changes)
            self.changes = Changes()
        self._show()

    def _show(self) -> None:
        if self.unreported:
            events, self.unreported = self.unreported, []
            for event in events:
                for reporter in self.reporters:
                    reporter.on_event(event, self.state)
