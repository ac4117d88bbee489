"""One run's hold on one study (design.md, section 9): a storage opens the study and the loop holds the
session, alone or joined, with typed write, claim, sync and close. The loop, the outbox and the
coordinators talk to the study through it; none of them tests for "joined"."""

from __future__ import annotations

from typing import Any

from hyperion_core.errors import ConfigurationError
from hyperion_core.goal import Goal
from hyperion_core.models import Changes, Checkpoint, StudyRecord, Trial
from hyperion_core.protocols import Claim, SharedStorage, Storage


class Session:
    """This run alone on the study: `record` is what the storage had when it was opened."""

    def __init__(self, storage: Storage, record: StudyRecord) -> None:
        self.storage = storage
        self.record = record
        self.name = record.name

    def write(self, changes: Changes) -> None:
        """One loop tick's changes, in one transaction (an empty one keeps a storage's heartbeat)."""
        self.storage.write(self.name, changes)

    def checkpoints(self, trial_number: int) -> list[Checkpoint]:
        """The checkpoints the storage keeps for a trial (one another process left behind, join=True)."""
        return self.storage.load_checkpoints(self.name, trial_number)

    def close(self) -> None:
        """Release the study (and the storage: the session is its one user)."""
        self.storage.close()


class JoinedSession(Session):
    """One of several processes working the study (join=True): the storage hands out numbers within the
    study-wide budget and what the others changed."""

    storage: SharedStorage

    def __init__(self, storage: SharedStorage, record: StudyRecord) -> None:
        super().__init__(storage, record)

    def claim(self, new: list[Trial], slots: int, max_trials: int | None) -> Claim:
        return self.storage.claim(self.name, new, slots, max_trials)

    def sync(self) -> Claim:
        return self.storage.sync(self.name)

    def hand_out(self) -> None:
        """This run's running trials wait for a tell from another process (`hyperion ask`/`tell`)."""
        self.storage.hand_out(self.name)


def open_session(
    storage: Storage,
    name: str,
    space: dict[str, Any],
    goal: Goal,
    config: dict[str, Any] | None = None,
    join: bool = False,
    stale_after_s: float = 60.0,
) -> Session:
    """Open (or resume) the study alone, or join it (a storage several processes share)."""
    if not join:
        return Session(storage, storage.open_study(name, space, goal, config))
    if not isinstance(storage, SharedStorage):
        raise ConfigurationError(
            "join=True makes several processes work one study through a storage they share: "
            "pass storage='sqlite:///file.db' (one machine) or 'postgresql://...' (many)"
        )
    return JoinedSession(storage, storage.join_study(name, space, goal, config, stale_after_s=stale_after_s))
