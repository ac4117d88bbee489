"""The contracts between the study loop and its plugins: strategies, policies, executors,
storages and reporters. Strategies and policies subclass their base classes; executors, storages and
reporters may also just match the protocol."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hyperion_core.goal import Goal
    from hyperion_core.models import Changes, Checkpoint, Event, Report, StudyRecord, Trial
    from hyperion_core.state import StudyState


# -- messages: what executors send to the loop's queue (slotted dataclasses: the hot path) --------------
@dataclass(slots=True)
class Started:
    """The objective is about to be called (its worker is up): `trial_timeout_s` counts from here."""

    trial_number: int


@dataclass(slots=True)
class Reported:
    """A ctx.report(step, **metrics) call of a running trial."""

    trial_number: int
    step: int
    metrics: dict[str, Any]


@dataclass(slots=True)
class Finished:
    """The objective returned: its score, metrics and artifacts. `saw_stop`: ctx.should_stop() had
    answered True before it returned (False: it ran to its own end before hearing of a stop or a pause)."""

    trial_number: int
    score: float | None
    metrics: dict[str, Any]
    artifacts: dict[str, Any]
    saw_stop: bool = True


@dataclass(slots=True)
class Checkpointed:
    """The trial saved a checkpoint at `step`; its files are at `location` in the study's store.
    `resumed_from`: the checkpoint this run of the trial started from (TrialSpec.resume), which tells a
    continued trial's saves from late ones of a run that died before it."""

    trial_number: int
    step: int
    location: str
    size: int | None = None
    resumed_from: str | None = None


@dataclass(slots=True)
class Failed:
    """The objective raised, returned something unusable, or its worker died (error: what happened).
    `lost`: the worker died under it (a SIGKILL, a lost Ray node), not the objective: a trial with a
    checkpoint then continues from it."""

    trial_number: int
    error: str
    lost: bool = False


@dataclass(slots=True)
class Wake:
    """No content: something off the loop's thread (an LLM call, a storage heartbeat) has news."""


Message = Started | Reported | Checkpointed | Finished | Failed | Wake
Emit = Callable[[Message], None]


@dataclass(slots=True, frozen=True)
class TrialSpec:
    """What an executor needs to run a trial anywhere (plain data: it is pickled to workers).

    `store`: the URL of the study's checkpoint store; `prefix`: where this trial's checkpoints go in it;
    `resume`: (location, step) of the checkpoint the trial continues from (None: it starts afresh).
    """

    number: int
    trial_id: str
    params: dict[str, Any]
    store: str | None = None
    prefix: str = ""
    resume: tuple[str, int] | None = None


@dataclass(slots=True)
class Proposal:
    """A point a strategy wants evaluated. `params` is flat (dotted paths) over the searched parameters."""

    params: dict[str, Any]
    parent_id: str | None = None
    rationale: str | None = None
    depth: int | None = None  # None: the parent's depth + 1 (or 0 without a parent)
    source: str | None = None  # what produced it, "<event kind> <id>": e.g. "llm_call 3", the study event
    # of kind "llm_call" whose data has "id": 3 (the trial view shows it)
    # continue from that trial's last checkpoint (PBT's exploit): the new trial loads its state and steps on
    checkpoint_from: int | None = None


@dataclass(slots=True)
class Kill:
    """A strategy's request to stop a running trial (e.g. a pruned beam-search branch); with `pause`,
    to pause it at its next checkpoint (it frees its slot and may be resumed with Proposal(resume=N))."""

    trial_number: int
    reason: str
    pause: bool = False


@dataclass(slots=True, frozen=True)
class Pause:
    """A policy's answer that pauses a trial (see Policy.should_stop): it stops, keeps its checkpoint,
    frees its slot, and continues when the policy's `promote` names it."""

    reason: str


class Strategy:
    """Proposes points to evaluate. Subclass and implement `propose`; the rest is optional.

    `setup` is called once before anything else; `observe` gets every finished trial (resumed ones
    too, before the first `propose`). Set `exhausted = True` when no further point will come.
    """

    #: Set True when no further point will come (a grid that is done); the loop then ends the study.
    exhausted: bool = False
    #: True when the strategy ends by itself (a grid): tune() then runs it to the end by default.
    finite: bool = False
    #: How many points a finite strategy proposes in all (a grid's size), for progress displays; else None.
    size: int | None = None

    def setup(self, study: StudyState) -> None:
        self.study = study
        self.space = study.space
        self.rng = random.Random(study.seed)

    @property
    def pending(self) -> bool:
        """True while the strategy thinks off the loop's thread (an LLM call in flight): the loop then
        waits for `study.wake()` instead of ending a study whose strategy proposed nothing."""
        return False

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        raise NotImplementedError

    def observe(self, trial: Trial) -> None:
        return None

    def kills(self, study: StudyState) -> list[Kill]:
        """Trials the strategy wants stopped (a pruned branch) or paused (Kill(pause=True)); asked after
        every tick. A Kill of a paused trial ends it (PBT: a member replaced by a better one's copy)."""
        return []

    def promote(self, study: StudyState, slots: int) -> list[int]:
        """Paused trials to resume now from their last checkpoint (at most `slots`); asked before
        `propose` whenever slots are free, also once the budget of new trials is spent."""
        return []

    def close(self, study: StudyState) -> None:
        """At the end of the study (e.g. to leave a line in the notes with `study.note()`)."""
        return None


class Policy:
    """Early stopping: asked after a trial reports whether to stop it. It answers None (continue), a
    reason (stop: the trial is killed) or `Pause(reason)` (the trial stops at its checkpoint and waits;
    `promote` later names the paused trials to continue, each from its last checkpoint)."""

    def setup(self, study: StudyState) -> None:
        self.study = study

    def should_stop(self, study: StudyState, trial: Trial) -> str | Pause | None:
        raise NotImplementedError

    def promote(self, study: StudyState, slots: int) -> list[int]:
        """Paused trials to resume now (at most `slots`), asked when slots are free, before new trials."""
        return []

    def close(self, study: StudyState) -> None:
        """At the end of the study (e.g. to leave a note with `study.note()`)."""
        return None


@runtime_checkable
class Executor(Protocol):
    """Runs trials concurrently and turns what happens into messages (Started, Reported, Finished, Failed).

    `run_trial` sends Started when the objective is about to be called, so `trial_timeout_s` does not
    count a worker's start-up; an executor that never sends it still has its trials timed out, later.

    `terminates` says whether `abandon` really ends a trial (a process can be killed, a thread cannot):
    the loop then gives a stopped trial the grace period and no longer. `capacity` is the most trials
    that fit at once (resources_per_trial against what the machine or cluster has; None: as many as
    asked); the loop reads it after `start` and never runs more. Executors with a pool of long-lived
    workers subclass `hyperion_core.pool.PooledExecutor`.
    """

    terminates: bool
    capacity: int | None

    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit) -> None: ...

    def submit(self, spec: TrialSpec) -> None:
        """Run a trial: `hyperion_core.context.TrialContext(spec, emit, stopped)` is its ctx."""

    def stop(self, trial_number: int) -> None:
        """Ask a trial to stop: its ctx.should_stop() turns true."""

    def abandon(self, trial_number: int) -> None:
        """Give up on a trial that ignored stop(): terminate it where possible, ignore it otherwise."""

    def shutdown(self) -> None: ...


@runtime_checkable
class InlineExecutor(Executor, Protocol):
    """An executor that can also run trials on the loop's own thread (one at a time, no deadline).

    The loop calls `start(..., inline=True)` and then `run_queued(emit)` each tick: it runs what was
    submitted, right there, and returns whether it ran anything.
    """

    def start(self, objective: Callable[..., Any], max_workers: int, emit: Emit, inline: bool = False) -> None: ...

    def run_queued(self, emit: Emit) -> bool: ...


@runtime_checkable
class Storage(Protocol):
    """Keeps studies. `write` persists one loop tick in one transaction.

    `open_study` creates a study or resumes it: trials a dead process left running come back as
    INTERRUPTED (the loop runs them again) and their partial reports are dropped. `config` is what a
    study keeps beyond space and goal (its constraints, its strategy's name): kept with a new study and
    returned in StudyRecord.config on resume, so that a resume compares it (None there: not known).
    """

    url: str

    def open_study(
        self, name: str, space: dict[str, Any], goal: Goal, config: dict[str, Any] | None = None
    ) -> StudyRecord: ...

    def write(self, study_name: str, changes: Changes) -> None: ...

    def describe_study(self, study_name: str) -> dict[str, Any]:
        """What a viewer needs to read a study without opening it: {"space": described space, "metrics":
        [...], "modes": [...], "config": kept config or {}, "created": time}."""

    def load_trials(self, study_name: str) -> list[Trial]: ...

    def load_reports(self, study_name: str) -> list[Report]: ...

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        """The study's event log, oldest first: {"trial_number", "kind", "time", **data} each."""

    def load_checkpoints(self, study_name: str, trial_number: int | None = None) -> list[Checkpoint]:
        """The checkpoints kept (retention has not deleted them), oldest first; one trial's or all.
        `write` gets them in `Changes.checkpoints` (deleted=True: forget it)."""

    def list_studies(self) -> list[dict[str, Any]]:
        """One dict per study: name, metrics, modes, created, updated, trials, best (None with several
        objectives), open_by, and a count per trial state."""

    def delete_study(self, study_name: str, force: bool = False) -> None:
        """Delete a study; one open in a live tune() is refused unless `force` (that run then stops)."""

    def close(self) -> None: ...


@runtime_checkable
class StudyViews(Protocol):
    """What the dashboard, `hyperion report`, `hyperion.plot` and `hyperion ask`/`tell` read: bounded
    views of one study. `hyperion_core.views.ComputedViews` computes them all from the Storage contract
    (inherit it); a storage may override any for speed (the SQL one aggregates in SQL)."""

    def seq_view(self, study_name: str) -> int: ...
    def study_view(self, study_name: str) -> dict[str, Any]: ...
    def history_view(self, study_name: str, cap: int = ...) -> dict[str, Any]: ...
    def sample_view(self, study_name: str, cap: int = ...) -> dict[str, Any]: ...
    def curves_view(
        self, study_name: str, metric: str, max_trials: int = ..., max_points: int = ...
    ) -> dict[str, Any]: ...
    def timeline_view(self, study_name: str, cap: int = ...) -> list[dict[str, Any]]: ...
    def lineage_view(self, study_name: str, cap: int = ...) -> list[dict[str, Any]]: ...
    def trials_view(
        self,
        study_name: str,
        *,
        sort: str = ...,
        descending: bool = ...,
        state: str | None = ...,
        ranges: dict[str, tuple[float | None, float | None]] | None = ...,
        equals: dict[str, str] | None = ...,
        offset: int = ...,
        limit: int = ...,
    ) -> dict[str, Any]: ...
    def trial_view(self, study_name: str, number: int, max_reports: int = ...) -> dict[str, Any] | None: ...
    def numbers_view(
        self,
        study_name: str,
        *,
        state: str | None = ...,
        ranges: dict[str, tuple[float | None, float | None]] | None = ...,
        equals: dict[str, str] | None = ...,
        cap: int = ...,
    ) -> list[int]: ...


@dataclass
class Claim:
    """What a joined process got from the shared storage in one transaction: interrupted trials to run
    again, numbers for its new trials, and what the other processes changed since its last look (a
    sync() fills only the last two)."""

    reruns: list[Trial] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    skipped: list[Trial] = field(default_factory=list)  # new trials not numbered: initial points run already
    foreign: list[Trial] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)


@runtime_checkable
class SharedStorage(Storage, Protocol):
    """A storage several processes can work one study through (tune(join=True)): it hands out trial
    numbers within a study-wide max_trials, interrupted trials of dead processes, and what the others
    changed since the last look. See hyperion_storage._join for the SQL one."""

    def join_study(
        self,
        name: str,
        space: dict[str, Any],
        goal: Goal,
        config: dict[str, Any] | None = None,
        stale_after_s: float = 60.0,
    ) -> StudyRecord:
        """open_study as one of several processes: the study's finished trials in `trials`, the ones the
        others run (or left interrupted for anyone to claim) in `foreign`; a process whose heartbeat is
        older than `stale_after_s` is taken for dead."""

    def claim(self, study_name: str, new: list[Trial], slots: int, max_trials: int | None) -> Claim: ...

    def sync(self, study_name: str) -> Claim: ...

    def hand_out(self, study_name: str) -> None:
        """This run's running trials are left waiting for a result told by another process (`hyperion
        ask` then `hyperion tell`): running, owned by no run, never reaped nor re-run."""


@runtime_checkable
class CheckpointStore(Protocol):
    """Where trials' checkpoints live: a directory per checkpoint, addressed by key ("<study>/<trial>/
    <step>"). Workers open the store from its `url` (hyperion_core.checkpoints.open_store), so it must be
    reachable from wherever trials run. Every method raises OSError when the store fails (a full disk, a
    lost connection): the save fails, never the study."""

    url: str

    def stage(self, key: str) -> Path:
        """A new empty local directory to write the checkpoint `key` into."""

    def commit(self, key: str, staged: Path) -> str:
        """Make the staged directory the checkpoint `key` (atomically: a reader never sees half of it);
        returns its location."""

    def fetch(self, location: str) -> Path:
        """A local directory holding the checkpoint at `location` (read it; do not change it)."""

    def delete(self, location: str) -> None:
        """Remove the checkpoint (already gone: nothing to do)."""


class Reporter:
    """Shows or records what happens. Only reporters print, and only when the user asked."""

    def on_event(self, event: Event, study: StudyState) -> None:
        return None

    def close(self, study: StudyState) -> None:
        return None
