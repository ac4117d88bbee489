"""What the tracker reporters share. A tracker is somebody else's server: its calls run on a thread of
their own, in order, so a slow or unreachable tracker never holds the study up; the study's end waits
for them at most CLOSE_WAIT_S. A tracker that fails gets one warning and is left alone for the rest of
the study, which goes on."""

from __future__ import annotations

import importlib.util
import queue
import threading
from collections.abc import Callable
from typing import Any

from hyperion_core.errors import ConfigurationError
from hyperion_core.log import warn_user
from hyperion_core.text import redact_url

CLOSE_WAIT_S = 30.0  # the longest the end of a study waits for a tracker's last calls


class TrackerReporter:
    """Subclasses call `_later(what, call)` from on_event and `_finish(what, call)` from close, and name
    the package they need (`package`, installed by the extra `extra`): a missing one is refused before
    the first trial, since the user asked for this tracker."""

    name = "tracker"
    package = ""
    extra = ""

    def __init__(self) -> None:
        if self.package and importlib.util.find_spec(self.package) is None:
            raise ConfigurationError(
                f"reporters=['{self.name}'] needs the {self.package} package, which is not installed: "
                f"pip install 'hyperion-tune[{self.extra}]'"
            )
        self.broken: str | None = None
        self._unsaid: list[str] = []  # warnings from the tracker's thread, said on the loop's
        self._calls: queue.SimpleQueue[tuple[str, Callable[[], Any]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def _say(self) -> None:
        """The tracker thread's warnings, given on the loop's thread so that they point at the user's line."""
        while self._unsaid:
            warn_user(self._unsaid.pop(0))

    def _later(self, what: str, call: Callable[[], Any]) -> None:
        self._say()
        if self.broken is not None:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name=f"hyperion-{self.name}", daemon=True)
            self._worker.start()
        self._calls.put((what, call))

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            what, call = item
            if self.broken is not None:
                continue
            try:
                call()
            except Exception as exc:  # any tracker failure: the study goes on without it
                self.broken = f"{type(exc).__name__}: {redact_url(str(exc))[:300]}"
                self._unsaid.append(
                    f"the {self.name} reporter stopped at {what} ({self.broken}); the study goes on without it"
                )

    def _finish(self, what: str, call: Callable[[], Any]) -> None:
        """Queue the last call, then wait (bounded) for everything queued to be done."""
        if self._worker is None:
            return
        self._later(what, call)
        self._calls.put(None)
        self._worker.join(CLOSE_WAIT_S)
        if self._worker.is_alive() and self.broken is None:
            self.broken = f"no answer within {CLOSE_WAIT_S:g}s"
            self._unsaid.append(
                f"the {self.name} reporter did not finish within {CLOSE_WAIT_S:g}s; what it had not sent is "
                "not in the tracker (the study itself is complete)"
            )
        self._say()
