"""Records of a study: the objective's result (pydantic, a user boundary) and the loop's own
trial, report and event records (slotted dataclasses: they live on the hot path)."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hyperion_core.checks import plain, plain_values
from hyperion_core.goal import Goal


class ObjectiveResult(BaseModel):
    """What an objective returns: a score, and optionally more metrics and artifacts."""

    model_config = ConfigDict(extra="forbid")

    score: float | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifacts: dict[str, Any] = Field(default_factory=dict)

    @field_validator("score", mode="before")
    @classmethod
    def _plain_score(cls, value: Any) -> Any:
        """A numpy scalar, a 0-d tensor or array: the same number as a Python float (checks.number)."""
        return plain(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _plain_metrics(cls, value: Any) -> Any:
        return plain_values(value) if isinstance(value, dict) else value


class TrialState(str, enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"
    INTERRUPTED = "interrupted"  # left running by a process that died; run again on resume
    PAUSED = "paused"  # stopped at a checkpoint by a policy or a strategy; resumed from it, or ended at the end

    @property
    def finished(self) -> bool:
        return self in (TrialState.COMPLETED, TrialState.FAILED, TrialState.KILLED)


@dataclass(slots=True, eq=False)
class Trial:
    """One evaluation of the objective. `params` is flat (dotted paths), fixed values included."""

    number: int
    params: dict[str, Any]
    state: TrialState = TrialState.RUNNING
    value: float | None = None  # the optimised metric (tune's `metric`), what strategies rank by
    score: float | None = None  # ObjectiveResult.score as returned
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    depth: int = 0
    rationale: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    last_step: int | None = None
    last_report: dict[str, Any] | None = None
    kill_reason: str | None = None
    stop_requested: bool = False
    values: list[float] | None = None  # several objectives: one value each, in tune()'s metric order
    violation: float | None = None  # with constraints: 0 when feasible, else how far outside (None: none)
    source: str | None = None  # what proposed it (Proposal.source); kept in the trial's decision event
    waiting: bool = False  # handed out by `hyperion ask` and left running: it waits for a `hyperion tell`
    pausing: bool = False  # a pause was asked (a policy's Pause, a strategy's Kill(pause=True))
    checkpoint_from: int | None = None  # starts from that trial's last checkpoint (PBT's exploit)

    @property
    def trial_id(self) -> str:
        return f"trial_{self.number:04d}"

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def to_dict(self, nested_params: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "number": self.number,
            "state": self.state.value,
            "params": self.params if nested_params is None else nested_params,
            "value": self.value,
            "score": self.score,
            "metrics": self.metrics,
            "artifacts": self.artifacts,
            "parent_id": self.parent_id,
            "depth": self.depth,
            "rationale": self.rationale,
            "error": self.error,
            "kill_reason": self.kill_reason,
            "values": self.values,
            "feasible": None if self.violation is None else self.violation == 0,
            "last_step": self.last_step,
            "started": self.started,
            "finished": self.finished,
            "duration_s": self.duration,
        }


@dataclass(slots=True)
class Report:
    """One ctx.report() call: a trial's metrics at a step."""

    trial_number: int
    step: int
    metrics: dict[str, Any]
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class Checkpoint:
    """A trial's saved state at a step: where its files are (a CheckpointStore location) and how big.
    `deleted`: retention removed it (a Changes entry telling the storage to forget it)."""

    trial_number: int
    step: int
    location: str
    size: int | None = None
    time: float = field(default_factory=time.time)
    deleted: bool = False


@dataclass(slots=True)
class Event:
    """Something the study loop decided or saw; reporters render these, storages keep them."""

    kind: str  # study_started, trial_started, trial_completed, trial_failed, trial_killed, decision, ...
    trial_number: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


@dataclass
class StudyRecord:
    """What a storage returns when it opens a study: its identity and the trials it already has."""

    name: str
    space: dict[str, Any]
    goal: Goal
    trials: list[Trial] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    # trial number -> [(step, metrics)]: the reports of finished trials, for policies after a resume
    history: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # join=True: the trials other processes run now (or left interrupted, for anyone to claim)
    foreign: list[Trial] = field(default_factory=list)
    # the configuration kept with the study beyond space and goal ({"constraints": ...}); None: not known
    config: dict[str, Any] | None = None
    # the checkpoints kept (not deleted), oldest first: what a resumed trial continues from
    checkpoints: list[Checkpoint] = field(default_factory=list)


@dataclass
class Changes:
    """One loop tick's changes, written by the storage in one transaction."""

    trials: list[Trial] = field(default_factory=list)  # new or changed (upserted by number)
    reports: list[Report] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)  # saved, or (deleted=True) removed
    # (trial number, step): the trial continues from its checkpoint at `step`; its reports after it go
    rewound: list[tuple[int, int]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.trials or self.reports or self.events or self.checkpoints or self.rewound)
