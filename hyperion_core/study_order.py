"""reproducible=True: the loop applies trial outcomes in trial order, and each freed slot gets its trial
before the next outcome is seen, so trial n is proposed from trials 0..n-max_concurrent whatever finished
first (design.md, section 9). A collaborator of the StudyLoop with its own state: the held outcomes."""

from __future__ import annotations

from collections.abc import Callable

from hyperion_core.protocols import Failed, Finished
from hyperion_core.state import StudyState


class InOrder:
    def __init__(
        self,
        state: StudyState,
        fill: Callable[[], object],
        apply: Callable[[Finished | Failed], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.state, self.fill, self.apply, self.stopping = state, fill, apply, stopping
        self.held: dict[int, Finished | Failed] = {}
        self.releasing = False

    def hold(self, message: Finished | Failed) -> bool:
        """Keep an outcome back while a lower-numbered trial still runs (True: kept)."""
        running = self.state.running
        if message.trial_number in running and message.trial_number != min(running):
            self.held[message.trial_number] = message
            return True
        return False

    def release(self) -> None:
        """After an outcome was applied: the freed slot gets its trial, then the next held outcome goes."""
        if self.releasing:
            return
        self.releasing = True
        try:
            while True:
                if not self.stopping():
                    self.fill()
                lowest = min(self.state.running, default=None)
                message = self.held.pop(lowest, None) if lowest is not None else None
                if message is None:
                    return
                self.apply(message)
        finally:
            self.releasing = False
