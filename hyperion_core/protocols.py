"""The contracts between the study loop and its plugins: strategies, policies, executors,
storages and reporters. Strategies and policies subclass their base classes; executors, storages and
reporters may also just match the protocol."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hyperion_core.models import Changes, Event, StudyRecord, Trial
    from hyperion_core.state import StudyState

# Messages executors send to the loop's queue (plain tuples: they are on the hot path).
#   (REPORTED, trial_number, step, metrics)   (FINISHED, trial_number, (score, metrics, artifacts))
#   (FAILED, trial_number, error_text)
REPORTED, FINISHED, FAILED = "reported", "finished", "failed"
Emit = Callable[[tuple], None]


@dataclass(slots=True)
class Proposal:
    """A point a strategy wants evaluated. `params` is flat (dotted paths) over the searched parameters."""

    params: dict[str, Any]
    parent_id: str | None = None
    rationale: str | None = None
    depth: int | None = None  # None: the parent's depth + 1 (or 0 without a parent)


@dataclass(slots=True)
class Kill:
    """A strategy's request to stop a running trial (e.g. a pruned beam-search branch)."""

    trial_number: int
    reason: str


class Strategy:
    """Proposes points to evaluate. Subclass and implement `propose`; the rest is optional.

    `setup` is called once before anything else; `observe` gets every finished trial (resumed ones
    too, before the first `propose`). Set `exhausted = True` when no further point will come.
    """

    exhausted: bool = False
    #: True when the strategy ends by itself (a grid): tune() then runs it to the end by default.
    finite: bool = False

    def setup(self, study: StudyState) -> None:
        self.study = study
        self.space = study.space
        self.rng = random.Random(study.seed)

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        raise NotImplementedError

    def observe(self, trial: Trial) -> None:
        return None

    def kills(self, study: StudyState) -> list[Kill]:
        return []


class Policy:
    """Early stopping: asked after a trial reports whether to stop it; returns a reason or None."""

    def setup(self, study: StudyState) -> None:
        self.study = study

    def should_stop(self, study: StudyState, trial: Trial) -> str | None:
        raise NotImplementedError

    def close(self, study: StudyState) -> None:
        """At the end of the study (e.g. to leave a note in study.notes)."""
        return None


@runtime_checkable
class Executor(Protocol):
    """Runs trials concurrently and turns what happens into messages for the loop."""

    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit) -> None: ...

    def submit(self, trial_number: int, trial_id: str, params: dict[str, Any]) -> None: ...

    def stop(self, trial_number: int) -> None:
        """Ask a trial to stop: its ctx.should_stop() turns true."""

    def abandon(self, trial_number: int) -> None:
        """Give up on a trial that ignored stop(): terminate it where possible, ignore it otherwise."""

    def shutdown(self) -> None: ...


@runtime_checkable
class Storage(Protocol):
    """Keeps studies. `write` persists one loop tick in one transaction.

    `open_study` creates a study or resumes it: trials a dead process left running come back as
    INTERRUPTED (the loop runs them again) and their partial reports are dropped.
    """

    url: str

    def open_study(self, name: str, space: dict[str, Any], metric: str, mode: str) -> StudyRecord: ...

    def write(self, study_name: str, changes: Changes) -> None: ...

    def load_trials(self, study_name: str) -> list[Trial]: ...

    def load_events(self, study_name: str) -> list[dict[str, Any]]: ...

    def list_studies(self) -> list[dict[str, Any]]: ...

    def delete_study(self, study_name: str) -> None: ...

    def close(self) -> None: ...


class Reporter:
    """Shows or records what happens. Only reporters print, and only when the user asked."""

    def on_event(self, event: Event, study: StudyState) -> None:
        return None

    def close(self, study: StudyState) -> None:
        return None
