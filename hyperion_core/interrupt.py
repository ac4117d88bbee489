"""Ctrl-C during tune(): what is finished is stored, running trials are recorded as interrupted, and the
user gets one line that says so and how to resume, not a traceback from inside Hyperion."""

from __future__ import annotations

import sys
from types import TracebackType

from hyperion_core.state import StudyState


def interrupted(state: StudyState, exc: KeyboardInterrupt) -> None:
    """Say that the study was interrupted and how to go on; the KeyboardInterrupt is then raised again
    (a script's own `except KeyboardInterrupt` still sees it), but if nothing catches it, the
    interpreter prints no traceback for it: the line below is the last word."""
    finished = state.finished_count
    where = state.storage_url
    if where and where != "memory" and "MemoryStorage" not in where:
        how = f"run the same tune() again (storage='{where}', study_name='{state.name}') to resume"
    else:
        how = "its trials were kept in memory only: pass storage='sqlite:///hyperion.db' to be able to resume"
    print(
        f"hyperion: study '{state.name}' interrupted (Ctrl-C) after {finished} finished trial(s); {how}",
        file=sys.stderr,
    )
    _quiet(exc)


def _quiet(exc: BaseException) -> None:
    """Let the interpreter's last-resort handler skip the traceback of this one exception (any other
    goes to the hook that was there before). Interactive shells with their own display are untouched."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if value is not exc:
            previous(kind, value, tb)

    sys.excepthook = hook
