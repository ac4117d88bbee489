"""The study loop's outbox: the tick's changes (trials, reports, events) written to the storage in one
call, after which reporters see what was written and nothing before (design.md, principle 4)."""

from __future__ import annotations

from typing import Any

from hyperion_core.models import Changes, Event
from hyperion_core.protocols import Reporter
from hyperion_core.session import Session
from hyperion_core.state import StudyState
from hyperion_core.text import cap_values


class Outbox:
    def __init__(self, state: StudyState, session: Session, reporters: list[Reporter]) -> None:
        self.state = state
        self.session = session
        self.reporters = reporters
        self.changes = Changes()
        self.unreported: list[Event] = []  # events shown to reporters once the tick is written

    def record(self, kind: str, data: dict[str, Any], trial_number: int | None = None) -> None:
        """A plugin's decision for the event log (StudyState.record)."""
        self.event(kind, trial_number, data, store=True)

    def event(self, kind: str, number: int | None, data: dict[str, Any] | None = None, store: bool = False) -> None:
        event = Event(kind, number, cap_values(data) if data else {})
        if store or kind == "decision":
            self.changes.events.append(event)
        if self.reporters:
            self.unreported.append(event)

    def flush(self) -> None:
        """Write the tick's changes, then show them: what a reporter shows is already stored. A failed
        write keeps the changes (the next flush tries again) and shows nothing."""
        if self.changes:
            self.session.write(self.changes)
            self.changes = Changes()
        self.show()

    def show(self) -> None:
        if self.unreported:
            events, self.unreported = self.unreported, []
            for event in events:
                for reporter in self.reporters:
                    reporter.on_event(event, self.state)
