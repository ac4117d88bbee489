"""Trial checkpoints (design.md, section 9): what a trial's ctx uses to save and load through the study's
checkpoint store, and the loop's Keeper, which records every checkpoint, applies retention, and says
which checkpoint a resumed, promoted or exploiting trial continues from.

A checkpoint is a directory in the store under "<study>/<trial_0007>/<step_000012>": `state.pkl` for
what `ctx.save_checkpoint(state)` pickled, and whatever files a `with ctx.checkpoint() as path:` block
wrote. Saves are atomic (the store commits a staged directory), so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hyperion_core.errors import ConfigurationError
from hyperion_core.log import get_logger
from hyperion_core.models import Checkpoint, Trial
from hyperion_core.protocols import CheckpointStore, TrialSpec

logger = get_logger(__name__)

STATE_FILE, TORCH_STATE_FILE = "state.pkl", "state.pt"
_stores: dict[str, CheckpointStore] = {}
_stores_lock = threading.Lock()


def open_store(url: str) -> CheckpointStore:
    """The checkpoint store at `url`, one object per process (workers open it from the TrialSpec)."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            from hyperion_core.plugins import registry

            store = _stores[url] = registry().checkpoint_store(url)
        return store


def default_store(storage_url: str) -> tuple[str, bool]:
    """Where checkpoints go when tune(checkpoints=None); returns (url, temporary). Next to a SQLite file
    ("exp.db" -> "exp.checkpoints"); for the memory storage a temporary directory removed at the end
    (nothing can resume from it later); for any other storage a directory under the system's temporary
    one, named after the storage, kept (a resume on this machine finds it; pass checkpoints= a shared
    path or URL for other machines)."""
    if storage_url.startswith("sqlite:///") and ":memory:" not in storage_url:
        path = Path(storage_url.removeprefix("sqlite:///").split("?", 1)[0])
        return str(path.with_suffix(".checkpoints").absolute()), False
    if storage_url in ("", "memory") or storage_url.startswith("sqlite://"):
        name = f"hyperion-checkpoints-{os.getpid()}-{os.urandom(4).hex()}"
        return os.path.join(tempfile.gettempdir(), name), True
    digest = hashlib.sha256(storage_url.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"hyperion-checkpoints-{digest}"), False


def study_key(study_name: str) -> str:
    """The store key of a study's checkpoints: its name made safe for any file system (user text never
    becomes a path as it is), with a short hash so that two names never share a directory."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", study_name)[:80].strip("._") or "study"
    digest = hashlib.sha256(study_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}-{digest}"


def step_key(prefix: str, step: int) -> str:
    return f"{prefix}/step_{step:06d}"


def write_state(folder: Path, state: Any) -> None:
    """What ctx.save_checkpoint(state) writes: with torch loaded in the process, torch.save (tensors are
    written as a bare torch.save writes them, not copied through pickle); else cloudpickle. Both take
    lambdas and classes of the user's own."""
    import cloudpickle

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.save(state, folder / TORCH_STATE_FILE, pickle_module=cloudpickle)
    else:
        with open(folder / STATE_FILE, "wb") as f:
            cloudpickle.dump(state, f, protocol=5)


def read_state(folder: Path) -> Any:
    """What write_state wrote; FileNotFoundError when the checkpoint holds no saved state."""
    if (folder / TORCH_STATE_FILE).is_file():
        import torch

        # on the CPU: a worker without the GPU it was saved from can read it; load_state_dict moves it
        return torch.load(folder / TORCH_STATE_FILE, weights_only=False, map_location="cpu")
    import cloudpickle

    with open(folder / STATE_FILE, "rb") as f:
        return cloudpickle.load(f)


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- the loop's side ----------------------------------------------------------------------------------------
class Keeper:
    """The loop's record of checkpoints: per trial, the ones kept (oldest first). Retention: a running,
    paused or interrupted trial keeps its last `last`; a finished trial keeps its last one only while it
    is among the study's best `best` (by StudyState.top); the rest are deleted in the background. A
    checkpoint another trial is loading (a resume, PBT's exploit) is never deleted under it."""

    def __init__(self, url: str, temporary: bool, study_name: str, last: int, best: int) -> None:
        self.url, self.temporary, self.study_name = url, temporary, study_name
        self.study_key = study_key(study_name)  # once: every trial's checkpoints go below it
        self.last, self.best = last, best
        self.kept: dict[int, list[Checkpoint]] = {}
        self.pinned: dict[str, set[int]] = {}  # location -> trials loading it
        self._doomed: deque[str] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def load(self, checkpoints: list[Checkpoint]) -> None:
        for checkpoint in sorted(checkpoints, key=lambda c: (c.trial_number, c.step)):
            self.kept.setdefault(checkpoint.trial_number, []).append(checkpoint)

    def latest(self, number: int) -> Checkpoint | None:
        kept = self.kept.get(number)
        return kept[-1] if kept else None

    def spec(self, trial: Trial, params: dict[str, Any], source: int | None = None) -> TrialSpec:
        """The trial's TrialSpec: it continues from its own last checkpoint, or `source`'s (PBT)."""
        origin = self.latest(trial.number if source is None else source)
        resume = (origin.location, origin.step) if origin is not None else None
        if resume is not None:
            self.pinned.setdefault(resume[0], set()).add(trial.number)
        return TrialSpec(trial.number, trial.trial_id, params, self.url, f"{self.study_key}/{trial.trial_id}", resume)

    def saved(
        self, number: int, step: int, location: str, size: int | None, resumed_from: str | None = None
    ) -> list[Checkpoint]:
        """A trial saved a checkpoint: returns the changes to store (it, and what retention dropped). A save
        of the run that started from a pinned checkpoint shows that it has loaded it: the pin goes (a late
        save of an earlier run, which died, does not)."""
        if resumed_from is not None:
            self._unpin(number, resumed_from)
        kept = self.kept.setdefault(number, [])
        new = Checkpoint(number, step, location, size)
        kept[:] = [c for c in kept if c.location != location]  # a step saved again after a resume
        kept.append(new)
        kept.sort(key=lambda c: c.step)
        return [new, *self._drop(number, keep=self.last)]

    def ended(self, number: int, best: set[int], finished: Callable[[int], bool]) -> list[Checkpoint]:
        """Trial `number` finished: every finished trial keeps its last checkpoint while it is among the
        study's best (`best`: their numbers) and none otherwise; the others keep theirs."""
        self._unpin(number)
        dropped: list[Checkpoint] = []
        for kept in [n for n in self.kept if finished(n)]:
            dropped += self._drop(kept, keep=1 if kept in best else 0)
        return dropped

    def _drop(self, number: int, keep: int) -> list[Checkpoint]:
        kept = self.kept.get(number, [])
        if len(kept) <= keep:
            return []
        cut = kept[: len(kept) - keep]
        dropped = [c for c in cut if c.location not in self.pinned]
        survivors = [c for c in cut if c.location in self.pinned] + kept[len(kept) - keep :]
        self.kept[number] = sorted(survivors, key=lambda c: c.step)
        if not self.kept[number]:
            del self.kept[number]
        for checkpoint in dropped:
            checkpoint.deleted = True
            self._delete_later(checkpoint.location)
        return dropped

    def _unpin(self, number: int, only: str | None = None) -> None:
        for location in [loc for loc, users in self.pinned.items() if number in users and only in (None, loc)]:
            self.pinned[location].discard(number)
            if not self.pinned[location]:
                del self.pinned[location]

    def _delete_later(self, location: str) -> None:
        self._doomed.append(location)
        if self._thread is None:
            self._thread = threading.Thread(target=self._delete_loop, name="hyperion-checkpoints", daemon=True)
            self._thread.start()
        self._wake.set()

    def _delete_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._doomed:
                location = self._doomed.popleft()
                try:
                    open_store(self.url).delete(location)
                except (OSError, ConfigurationError) as exc:  # a leak at worst, never a failed study
                    logger.warning("could not delete checkpoint %s: %s", location, exc)
            if self._closed:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Finish the deletions (bounded), and remove a temporary store."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.temporary:
            shutil.rmtree(self.url, ignore_errors=True)


def rewind_points(checkpoints: Iterable[Checkpoint]) -> dict[int, int]:
    """Trial number -> the step of its last kept checkpoint: an interrupted trial continues there, and a
    storage keeps its reports up to that step only."""
    points: dict[int, int] = {}
    for checkpoint in checkpoints:
        points[checkpoint.trial_number] = max(points.get(checkpoint.trial_number, -1), checkpoint.step)
    return points
