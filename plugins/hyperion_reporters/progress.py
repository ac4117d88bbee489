"""A live progress line (rich): trials done out of the cap, running, failed, killed, best, elapsed."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live

from hyperion_core.models import Event
from hyperion_core.protocols import Reporter
from hyperion_core.state import StudyState
from hyperion_core.terminal import Text
from hyperion_core.terminal import console as terminal_console
from hyperion_reporters._format import number, seconds


class ProgressReporter(Reporter):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or terminal_console(stderr=True)
        self._live: Live | None = None
        self._study: StudyState | None = None

    def on_event(self, event: Event, study: StudyState) -> None:
        # Rendering happens on rich's refresh thread (a few times a second), not per event.
        if self._live is None:
            self._study = study
            self._started = time.monotonic()
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()

    def __rich__(self) -> Any:
        study = self._study
        assert study is not None
        done = study.finished_count
        cap = study.max_trials
        text = Text(no_wrap=True, overflow="ellipsis")  # one line, whatever the terminal's width
        text.append(f"{study.name} ", style="bold")
        if cap:
            width = 20
            filled = int(width * min(done, cap) / cap)
            text.append("━" * filled, style="green")
            text.append("━" * (width - filled), style="grey37")
            text.append(f" {done}/{cap}")
        else:
            text.append(f"{done} trials")
        text.append(f"  {seconds(time.monotonic() - self._started)}")
        text.append(f"  running {len(study.running)}")
        if study.counts["failed"]:
            text.append(f"  failed {study.counts['failed']}", style="red")
        if study.counts["killed"]:
            text.append(f"  killed {study.counts['killed']}", style="yellow")
        best = study.best
        arrow = "↑" if study.mode == "max" else "↓"
        text.append(f"  best {study.metric}{arrow} ")
        text.append(number(best.value) if best else "-", style="bold cyan")
        if best:
            text.append(f" ({best.trial_id})")
        return text

    def close(self, study: StudyState) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None
            if not self.console.is_terminal:
                self.console.line()  # off a terminal rich leaves the last render unterminated
