"""Reading and managing stored studies (what `hyperion studies`, `hyperion ask/tell` and a dashboard
use): list them, describe one, read its trials and events, delete it (refused while a live run has it
open, unless forced)."""

from __future__ import annotations

import json
import time
from typing import Any

from hyperion_core.errors import StorageError
from hyperion_core.models import Checkpoint, Report, Trial, TrialState
from hyperion_storage._bounded import BoundedMixin
from hyperion_storage._codec import goal_of
from hyperion_storage._join import JOINED
from hyperion_storage._lease import describe, owner_alive


class AdminMixin(BoundedMixin):
    """The management half of SQLStorage (it provides engine, _sa, _schema, url, _run, _ids, ...)."""

    _sa: Any
    _schema: Any
    engine: Any
    url: str
    _owner: str
    _ids: dict[str, int]
    _study_id: Any
    _trials: Any
    _checkpoints: Any
    _live_runs: Any

    def describe_study(self, study_name: str) -> dict[str, Any]:
        """A stored study's space description, goal (metrics, modes) and kept configuration (for `hyperion ask`
        and `tell`)."""
        s = self._schema

        def read() -> dict[str, Any]:
            with self.engine.connect() as conn:
                row = conn.execute(
                    self._sa.select(
                        s.studies.c.space, s.studies.c.metric, s.studies.c.mode, s.studies.c.config, s.studies.c.created
                    ).where(s.studies.c.name == study_name)
                ).first()
                if row is None:
                    raise StorageError(f"no study named '{study_name}' in {self.url}")
                config = json.loads(row[3]) if row[3] else {}
                goal = goal_of({"metric": row[1], "mode": row[2]})
                return {"space": json.loads(row[0]), **goal.to_json(), "config": config, "created": row[4]}

        return self._run(f"read study '{study_name}'", read)

    def load_trials(self, study_name: str) -> list[Trial]:
        def load() -> list[Trial]:
            with self.engine.connect() as conn:
                trials: list[Trial] = self._trials(conn, self._study_id(conn, study_name))
                return trials

        return self._run(f"read study '{study_name}'", load)

    def load_reports(self, study_name: str) -> list[Report]:
        sa, r = self._sa, self._schema.reports

        def load() -> list[Report]:
            with self.engine.connect() as conn:
                study_id = self._study_id(conn, study_name)
                rows = conn.execute(
                    sa.select(r.c.trial_number, r.c.step, r.c.metrics, r.c.time)
                    .where(r.c.study_id == study_id)
                    .order_by(r.c.id)
                )
                return [Report(n, step, json.loads(m), tm) for n, step, m, tm in rows]

        return self._run(f"read the reports of study '{study_name}'", load)

    def load_checkpoints(self, study_name: str, trial_number: int | None = None) -> list[Checkpoint]:
        def load() -> list[Checkpoint]:
            with self.engine.connect() as conn:
                kept: list[Checkpoint] = self._checkpoints(conn, self._study_id(conn, study_name), trial_number)
                return kept

        return self._run(f"read the checkpoints of study '{study_name}'", load)

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        sa, s = self._sa, self._schema

        def load() -> list[dict[str, Any]]:
            with self.engine.connect() as conn:
                study_id = self._study_id(conn, study_name)
                rows = conn.execute(sa.select(s.events).where(s.events.c.study_id == study_id).order_by(s.events.c.id))
                return [
                    {"trial_number": r.trial_number, "kind": r.kind, "time": r.time, **json.loads(r.data)} for r in rows
                ]

        return self._run(f"read the events of study '{study_name}'", load)

    def list_studies(self) -> list[dict[str, Any]]:
        return self._run("list the studies", self._list_studies)

    def _list_studies(self) -> list[dict[str, Any]]:
        sa, s = self._sa, self._schema
        now = time.time()
        with self.engine.connect() as conn:
            counts: dict[int, dict[str, int]] = {}
            for study_id, state, n in conn.execute(
                sa.select(s.trials.c.study_id, s.trials.c.state, sa.func.count()).group_by(
                    s.trials.c.study_id, s.trials.c.state
                )
            ):
                counts.setdefault(study_id, {})[state] = n
            out = []
            for row in conn.execute(sa.select(s.studies).order_by(s.studies.c.created)).mappings():
                by_state = counts.get(row["id"], {})
                goal = goal_of(row)
                best_of = sa.func.max if goal.direction == "max" else sa.func.min
                feasible = sa.or_(s.trials.c.violation.is_(None), s.trials.c.violation <= 0)
                best = (
                    None  # several objectives: a front, not one best
                    if goal.several
                    else conn.execute(
                        sa.select(best_of(s.trials.c.value)).where(
                            s.trials.c.study_id == row["id"], s.trials.c.state == "completed", feasible
                        )
                    ).scalar()
                )
                open_by = self._open_by(conn, row["id"], row["owner"], row["heartbeat"], now)
                out.append(
                    {
                        "name": row["name"],
                        **goal.to_json(),
                        "created": row["created"],
                        "updated": row["updated"],
                        "open_by": open_by,
                        "trials": sum(by_state.values()),
                        "best": best,
                        **{state.value: by_state.get(state.value, 0) for state in TrialState},
                    }
                )
            return out

    def delete_study(self, study_name: str, force: bool = False) -> None:
        """Delete a study. One that a live tune() has open is refused unless `force`; that tune() then
        stops at its next write with a StorageError saying the study was deleted."""
        s = self._schema

        def delete() -> None:
            with self.engine.begin() as conn:
                study_id = self._study_id(conn, study_name)
                row = conn.execute(
                    self._sa.select(s.studies.c.owner, s.studies.c.heartbeat).where(s.studies.c.id == study_id)
                ).first()
                live = self._open_by(conn, study_id, row[0], row[1], time.time()) if row is not None else None
                if live and row is not None and row[0] != self._owner and not force:
                    raise StorageError(
                        f"study '{study_name}' is open in a running tune() ({live}); stop it first, "
                        "or delete anyway with --force (that run then stops with an error)"
                    )
                conn.execute(s.runs.delete().where(s.runs.c.study_id == study_id))
                for table in (s.reports, s.events, s.trials):
                    conn.execute(table.delete().where(table.c.study_id == study_id))
                conn.execute(s.studies.delete().where(s.studies.c.id == study_id))

        self._run(f"delete study '{study_name}'", delete)
        self._ids.pop(study_name, None)

    def _open_by(self, conn: Any, study_id: int, owner: str | None, heartbeat: float | None, now: float) -> str | None:
        """Who has the study open now, in words (None: no live run)."""
        if owner == JOINED:
            live = self._live_runs(conn, study_id, now)
            return f"{len(live)} joined process(es): {describe(live[0])}, ..." if live else None
        return describe(owner) if owner and owner_alive(owner, heartbeat, now) else None
