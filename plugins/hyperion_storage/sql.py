"""The SQL storage (SQLAlchemy 2 Core): sqlite:///file.db and postgresql://user@host/db.

One transaction per loop tick. SQLite runs in WAL mode, takes its write lock up front
(BEGIN IMMEDIATE) and waits on a busy timeout, so parallel tune() processes queue for the lock
instead of failing with "database is locked". A study is open in one tune() at a time: a second
one is refused while the first lives, and takes over (re-running the trials it left) once it died.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import Any

from hyperion_core.errors import StorageError
from hyperion_core.models import Changes, StudyRecord, Trial, TrialState

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's transaction (SQLite)
HEARTBEAT_S = 10.0  # how often an open study's owner refreshes its heartbeat
STALE_OWNER_S = 120.0  # an owner on another host silent this long is taken for dead


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


class SQLStorage:
    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from hyperion_storage import _schema

        self._sa, self._schema = sa, _schema
        self.url = url
        engine_url = url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            engine_url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, not psycopg2
        try:
            if engine_url.startswith("sqlite"):
                self.engine = sa.create_engine(engine_url, connect_args={"timeout": BUSY_TIMEOUT_S})
                _configure_sqlite(self.engine)
            else:
                self.engine = sa.create_engine(engine_url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise StorageError(
                f"storage {url!r} needs the {exc.name!r} driver: pip install 'hyperion-tune[postgres]'"
            ) from exc
        except sa.exc.ArgumentError as exc:
            raise StorageError(f"storage URL {url!r} is not valid: {exc}") from exc
        self._owner = f"{socket.gethostname()}|{os.getpid()}|{uuid.uuid4().hex[:12]}"
        self._ids: dict[str, int] = {}
        self._heartbeat_at = 0.0
        self._create_schema()

    # -- schema ---------------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        sa, schema = self._sa, self._schema
        try:
            with self.engine.begin() as conn:
                schema.metadata.create_all(conn)
                row = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first()
                if row is None:
                    conn.execute(schema.meta.insert().values(key="schema_version", value=str(schema.SCHEMA_VERSION)))
                elif int(row[0]) > schema.SCHEMA_VERSION:
                    raise StorageError(
                        f"{self.url} was written by a newer Hyperion (schema version {row[0]}; this one reads "
                        f"up to {schema.SCHEMA_VERSION}): upgrade with pip install -U hyperion-tune"
                    )
        except sa.exc.IntegrityError:
            pass  # another process created the schema at the same moment: it is there now
        except sa.exc.OperationalError as exc:
            raise StorageError(f"cannot open storage {self.url}: {exc.orig}") from exc

    # -- studies ----------------------------------------------------------------------------------------
    def open_study(self, name: str, space: dict[str, Any], metric: str, mode: str) -> StudyRecord:
        try:
            return self._open_study(name, space, metric, mode)
        except self._sa.exc.IntegrityError:
            # Another process created a study of this name between our look and our insert (PostgreSQL;
            # SQLite's BEGIN IMMEDIATE serialises this): look again, now it exists.
            return self._open_study(name, space, metric, mode)
        except self._sa.exc.OperationalError as exc:
            raise StorageError(f"cannot open study '{name}' in {self.url}: {exc.orig}") from exc

    def _open_study(self, name: str, space: dict[str, Any], metric: str, mode: str) -> StudyRecord:
        sa, s = self._sa, self._schema
        now = time.time()
        with self.engine.begin() as conn:
            query = sa.select(s.studies).where(s.studies.c.name == name)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is None:
                study_id = conn.execute(
                    s.studies.insert().values(
                        name=name,
                        space=_dumps(space),
                        metric=metric,
                        mode=mode,
                        created=now,
                        updated=now,
                        owner=self._owner,
                        heartbeat=now,
                    )
                ).inserted_primary_key[0]
                self._ids[name] = study_id
                return StudyRecord(name, space, metric, mode, [], created=now)
            self._check_owner(name, row, now)
            study_id = row["id"]
            self._ids[name] = study_id
            conn.execute(s.studies.update().where(s.studies.c.id == study_id).values(owner=self._owner, heartbeat=now))
            # Trials a dead process left running: their partial reports go; the trials run again.
            left = (
                conn.execute(
                    sa.select(s.trials.c.number).where(
                        s.trials.c.study_id == study_id, s.trials.c.state.in_(("running", "interrupted"))
                    )
                )
                .scalars()
                .all()
            )
            if left:
                conn.execute(
                    s.reports.delete().where(s.reports.c.study_id == study_id, s.reports.c.trial_number.in_(left))
                )
                conn.execute(
                    s.trials.update()
                    .where(s.trials.c.study_id == study_id, s.trials.c.number.in_(left))
                    .values(state="interrupted")
                )
            record = StudyRecord(name, json.loads(row["space"]), row["metric"], row["mode"], created=row["created"])
            record.trials = self._trials(conn, study_id)
            record.history = self._history(conn, study_id)
            return record

    def _check_owner(self, name: str, row: Any, now: float) -> None:
        owner = row["owner"]
        if not owner or owner == self._owner:
            return
        host, pid, _ = (owner.split("|") + ["", "", ""])[:3]
        if host == socket.gethostname():
            alive = _pid_alive(int(pid)) if pid.isdigit() else False
        else:
            alive = now - (row["heartbeat"] or 0) < STALE_OWNER_S
        if alive:
            raise StorageError(
                f"study '{name}' is open in another tune() (process {pid} on {host}); one process runs a study "
                "at a time: to run its trials in parallel raise max_concurrent (executor='process' for CPU-bound "
                "work), or give each process its own study_name (they can share the storage)"
            )
        logger.info("study '%s': taking over from %s, which is gone", name, owner)

    def write(self, study_name: str, changes: Changes) -> None:
        sa, s = self._sa, self._schema
        study_id = self._ids[study_name]
        now = time.time()
        trials = {t.number: t for t in changes.trials}  # a trial started and finished in one tick: once
        try:
            with self.engine.begin() as conn:
                if trials:
                    insert = _insert_for(self.engine)(s.trials)
                    rows = [_trial_row(study_id, t) for t in trials.values()]
                    update = {c: insert.excluded[c] for c in rows[0] if c not in ("study_id", "number")}
                    conn.execute(insert.on_conflict_do_update(index_elements=["study_id", "number"], set_=update), rows)
                if changes.reports:
                    conn.execute(
                        s.reports.insert(),
                        [
                            {
                                "study_id": study_id,
                                "trial_number": r.trial_number,
                                "step": r.step,
                                "metrics": _dumps(r.metrics),
                                "time": r.time,
                            }
                            for r in changes.reports
                        ],
                    )
                if changes.events:
                    conn.execute(
                        s.events.insert(),
                        [
                            {
                                "study_id": study_id,
                                "trial_number": e.trial_number,
                                "kind": e.kind,
                                "data": _dumps(e.data),
                                "time": e.time,
                            }
                            for e in changes.events
                        ],
                    )
                if now - self._heartbeat_at >= HEARTBEAT_S:
                    self._heartbeat_at = now
                    conn.execute(
                        s.studies.update().where(s.studies.c.id == study_id).values(heartbeat=now, updated=now)
                    )
        except sa.exc.OperationalError as exc:
            raise StorageError(f"cannot write to {self.url}: {exc.orig}") from exc

    def load_trials(self, study_name: str) -> list[Trial]:
        with self.engine.connect() as conn:
            return self._trials(conn, self._study_id(conn, study_name))

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        sa, s = self._sa, self._schema
        with self.engine.connect() as conn:
            study_id = self._study_id(conn, study_name)
            rows = conn.execute(sa.select(s.events).where(s.events.c.study_id == study_id).order_by(s.events.c.id))
            return [
                {"trial_number": r.trial_number, "kind": r.kind, "time": r.time, **json.loads(r.data)} for r in rows
            ]

    def list_studies(self) -> list[dict[str, Any]]:
        sa, s = self._sa, self._schema
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
                best_of = sa.func.max if row["mode"] == "max" else sa.func.min
                best = conn.execute(
                    sa.select(best_of(s.trials.c.value)).where(
                        s.trials.c.study_id == row["id"], s.trials.c.state == "completed"
                    )
                ).scalar()
                out.append(
                    {
                        "name": row["name"],
                        "metric": row["metric"],
                        "mode": row["mode"],
                        "created": row["created"],
                        "updated": row["updated"],
                        "trials": sum(by_state.values()),
                        "best": best,
                        **{state.value: by_state.get(state.value, 0) for state in TrialState},
                    }
                )
            return out

    def delete_study(self, study_name: str) -> None:
        s = self._schema
        with self.engine.begin() as conn:
            study_id = self._study_id(conn, study_name)
            for table in (s.reports, s.events, s.trials):
                conn.execute(table.delete().where(table.c.study_id == study_id))
            conn.execute(s.studies.delete().where(s.studies.c.id == study_id))
        self._ids.pop(study_name, None)

    def close(self) -> None:
        s = self._schema
        if self._ids:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        s.studies.update()
                        .where(s.studies.c.id.in_(list(self._ids.values())), s.studies.c.owner == self._owner)
                        .values(owner=None, updated=time.time())
                    )
            except self._sa.exc.SQLAlchemyError as exc:  # the data is written; only the release failed
                logger.warning("could not release studies in %s: %s", self.url, exc)
        self._ids.clear()
        self.engine.dispose()

    # -- helpers -------------------------------------------------------------------------------------------
    def _study_id(self, conn: Any, name: str) -> int:
        s = self._schema
        study_id = conn.execute(self._sa.select(s.studies.c.id).where(s.studies.c.name == name)).scalar()
        if study_id is None:
            raise StorageError(f"no study named '{name}' in {self.url}")
        return study_id

    def _trials(self, conn: Any, study_id: int) -> list[Trial]:
        s = self._schema
        rows = conn.execute(
            self._sa.select(s.trials).where(s.trials.c.study_id == study_id).order_by(s.trials.c.number)
        ).mappings()
        return [
            Trial(
                number=r["number"],
                params=json.loads(r["params"]),
                state=TrialState(r["state"]),
                value=r["value"],
                score=r["score"],
                metrics=json.loads(r["metrics"]),
                artifacts=json.loads(r["artifacts"]),
                parent_id=r["parent_id"],
                depth=r["depth"],
                rationale=r["rationale"],
                error=r["error"],
                started=r["started"],
                finished=r["finished"],
                last_step=r["last_step"],
                kill_reason=r["kill_reason"],
            )
            for r in rows
        ]

    def _history(self, conn: Any, study_id: int) -> dict[int, list[tuple[int, dict[str, Any]]]]:
        s = self._schema
        history: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        rows = conn.execute(
            self._sa.select(s.reports.c.trial_number, s.reports.c.step, s.reports.c.metrics)
            .where(s.reports.c.study_id == study_id)
            .order_by(s.reports.c.id)
        )
        for number, step, metrics in rows:
            history.setdefault(number, []).append((step, json.loads(metrics)))
        return history


def _trial_row(study_id: int, t: Trial) -> dict[str, Any]:
    return {
        "study_id": study_id,
        "number": t.number,
        "trial_id": t.trial_id,
        "state": t.state.value,
        "params": _dumps(t.params),
        "value": t.value,
        "score": t.score,
        "metrics": _dumps(t.metrics),
        "artifacts": _dumps(t.artifacts),
        "parent_id": t.parent_id,
        "depth": t.depth,
        "rationale": t.rationale,
        "error": t.error,
        "kill_reason": t.kill_reason,
        "last_step": t.last_step,
        "started": t.started,
        "finished": t.finished,
    }


def _insert_for(engine: Any) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _configure_sqlite(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; fsync at checkpoints
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now, not mid-transaction


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
