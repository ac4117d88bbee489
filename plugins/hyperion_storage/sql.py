"""The SQL storage (SQLAlchemy 2 Core): sqlite:///file.db and postgresql://user@host/db.

One transaction per loop tick. SQLite runs in WAL mode, takes its write lock up front
(BEGIN IMMEDIATE) and waits on a busy timeout, so parallel tune() processes queue for the lock
instead of failing with "database is locked". A study is open in one tune() at a time: a second
one is refused while the first lives, and takes over (re-running the trials it left) once it died.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hyperion_core.errors import StorageError
from hyperion_core.goal import Goal
from hyperion_core.log import get_logger
from hyperion_core.models import Changes, StudyRecord, Trial, TrialState
from hyperion_core.text import dumps, redact_url, secrets_of
from hyperion_storage import _bounded
from hyperion_storage._admin import AdminMixin
from hyperion_storage._bounded import _Lost
from hyperion_storage._checkpoints import CheckpointsMixin
from hyperion_storage._codec import goal_columns, goal_of, trial_of, trial_row
from hyperion_storage._engine import configure_sqlite, insert_for
from hyperion_storage._join import JOINED, JoinMixin, interrupt_trials, not_asked
from hyperion_storage._lease import STALE_OWNER_S, Lease, describe, owner_alive
from hyperion_storage._table import TableMixin

logger = get_logger(__name__)

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's transaction (SQLite)


class SQLStorage(JoinMixin, AdminMixin, TableMixin, CheckpointsMixin):
    """sqlite:/// and postgresql:// storages. `read_only` (the viewers) changes nothing in the database:
    a SQLite file is opened read-only (no tables made, no journal mode switched), and a database without
    Hyperion's tables is refused with a clear message instead of being given them."""

    def __init__(self, url: str, read_only: bool = False) -> None:
        import sqlalchemy as sa

        from hyperion_storage import _schema

        self._sa, self._schema = sa, _schema
        self.url = redact_url(url)  # what every message and display shows; the password stays in the engine
        self._secrets = secrets_of(url)
        engine_url = url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            engine_url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, not psycopg2
        self._pg = engine_url.startswith("postgresql")
        self._in_memory = False
        self.read_only = read_only
        try:
            if engine_url.startswith("sqlite"):
                path = sa.engine.make_url(engine_url).database or ""
                self._in_memory = path in ("", ":memory:")
                if not self._in_memory and not Path(path).parent.is_dir():
                    raise StorageError(
                        f"cannot open storage {self.url}: the directory {str(Path(path).parent)!r} does not exist; "
                        "create it first"
                    )
                if read_only and not self._in_memory:
                    if not Path(path).is_file():
                        raise StorageError(f"cannot open storage {self.url}: there is no database at {path!r}")
                    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
                    self.engine = sa.create_engine(
                        "sqlite://",
                        creator=lambda: sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False),
                    )
                else:
                    self.engine = sa.create_engine(engine_url, connect_args={"timeout": BUSY_TIMEOUT_S})
                configure_sqlite(self.engine, read_only, BUSY_TIMEOUT_S)
            else:
                self.engine = sa.create_engine(
                    engine_url,
                    pool_pre_ping=True,
                    connect_args={
                        "connect_timeout": _bounded.CONNECT_TIMEOUT_S,
                        # server-side bounds; a server that stops answering altogether is bounded by _run
                        "options": f"-c statement_timeout={int(_bounded.OPERATION_TIMEOUT_S * 1000)}"
                        f" -c idle_in_transaction_session_timeout={int(_bounded.OPERATION_TIMEOUT_S * 1000)}",
                    },
                )
                self._track_connections()
        except ModuleNotFoundError as exc:
            raise StorageError(
                f"storage {self.url!r} needs the {exc.name!r} driver: pip install 'hyperion-tune[postgres]'"
            ) from None
        except sa.exc.ArgumentError as exc:
            raise StorageError(f"storage URL {self.url!r} is not valid: {self._scrub(exc)}") from None
        self._lease = Lease()
        self._owner = self._lease.owner
        self._ids: dict[str, int] = {}
        self._failed: StorageError | None = None  # after a failed write, later writes fail at once
        self._joined = False
        self._last_seq: dict[str, int] = {}
        if read_only:
            self._check_schema()
        else:
            self._create_schema()

    # -- schema ---------------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        sa, schema = self._sa, self._schema

        def create() -> None:
            try:
                created()
            except sa.exc.IntegrityError:
                pass  # another process created the schema at the same moment: it is there now

        def created() -> None:
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
                elif int(row[0]) < schema.SCHEMA_VERSION:
                    schema.migrate(conn, int(row[0]))
                    conn.execute(
                        schema.meta.update()
                        .where(schema.meta.c.key == "schema_version")
                        .values(value=str(schema.SCHEMA_VERSION))
                    )

        self._run("open the storage", create)

    def _check_schema(self) -> None:
        """Read-only: the database must already be a Hyperion storage this version reads."""

        def check() -> None:
            with self.engine.connect() as conn:
                self._schema.check_readable(conn, self.url)

        self._run("open the storage", check)

    # -- studies ----------------------------------------------------------------------------------------
    def open_study(
        self, name: str, space: dict[str, Any], goal: Goal, config: dict[str, Any] | None = None
    ) -> StudyRecord:
        """Create or resume a study that this run alone works. `config` is kept with a new study (and
        with an old one that has none) and returned on resume."""
        return self._open(name, space, goal, config, join=False, stale_after_s=self.stale_after_s)

    def join_study(
        self,
        name: str,
        space: dict[str, Any],
        goal: Goal,
        config: dict[str, Any] | None = None,
        stale_after_s: float = 60.0,
    ) -> StudyRecord:
        """Create or resume a study as one of the processes working it (claim() and sync() then apply);
        a run whose heartbeat is older than `stale_after_s` is taken for dead."""
        return self._open(name, space, goal, config, join=True, stale_after_s=stale_after_s)

    def _open(
        self,
        name: str,
        space: dict[str, Any],
        goal: Goal,
        config: dict[str, Any] | None,
        join: bool,
        stale_after_s: float,
    ) -> StudyRecord:
        self._joined, self.stale_after_s = join, stale_after_s

        def attempt() -> StudyRecord:
            try:
                return self._open_study(name, space, goal, config)
            except self._sa.exc.IntegrityError:
                # Another process created a study of this name between our look and our insert (PostgreSQL;
                # SQLite's BEGIN IMMEDIATE serialises this): look again, now it exists.
                return self._open_study(name, space, goal, config)

        record = self._run(f"open study '{name}'", attempt)
        if not self._in_memory:  # an in-memory database is this process's alone: no one to fence out
            self._lease.hold(self._beat, stale_after_s if join else STALE_OWNER_S)
        return record

    def _open_study(self, name: str, space: dict[str, Any], goal: Goal, config: dict[str, Any] | None) -> StudyRecord:
        sa, s = self._sa, self._schema
        now = time.time()
        with self.engine.begin() as conn:
            query = sa.select(s.studies).where(s.studies.c.name == name)
            if self._pg:
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is None:
                self._last_seq[name] = 0
                inserted = conn.execute(
                    s.studies.insert().values(
                        name=name,
                        space=dumps(space),
                        **goal_columns(goal),
                        config=dumps(config) if config is not None else None,
                        created=now,
                        updated=now,
                        owner=JOINED if self._joined else self._owner,
                        heartbeat=now,
                    )
                ).inserted_primary_key
                assert inserted is not None
                self._ids[name] = int(inserted[0])
                if self._joined:
                    self._join_open(conn, self._ids[name], JOINED, now)
                return StudyRecord(name, space, goal, [], created=now, config=config)
            self._check_open(conn, name, row, now)
            study_id = row["id"]
            self._ids[name] = study_id
            stored = json.loads(row["config"]) if row["config"] else None
            if stored is None and config is not None:  # a study from before configs were kept: keep it now
                conn.execute(s.studies.update().where(s.studies.c.id == study_id).values(config=dumps(config)))
            if self._joined:
                self._join_open(conn, study_id, row["owner"], now)
                trials = self._trials(conn, study_id)
                history = self._history(conn, study_id)
                finished = [t for t in trials if t.state.finished]
                record = StudyRecord(
                    name, json.loads(row["space"]), goal_of(row), created=row["created"], config=stored
                )
                record.trials = finished
                record.foreign = [t for t in trials if not t.state.finished]
                record.history = {n: h for n, h in history.items() if n < len(trials) and trials[n].state.finished}
                self._last_seq[name] = int(
                    conn.execute(sa.select(s.studies.c.seq).where(s.studies.c.id == study_id)).scalar_one()
                )
                return record
            conn.execute(s.studies.update().where(s.studies.c.id == study_id).values(owner=self._owner, heartbeat=now))
            # Trials a dead process left running: their partial reports go; the trials run again. Trials a
            # `hyperion ask` handed out wait for their `tell`: they count, and are left alone.
            interrupt_trials(conn, s, study_id, not_asked(s))
            record = StudyRecord(name, json.loads(row["space"]), goal_of(row), created=row["created"], config=stored)
            trials = self._trials(conn, study_id)
            record.trials = [t for t in trials if t.state is not TrialState.RUNNING]
            record.foreign = [t for t in trials if t.state is TrialState.RUNNING]
            record.history = self._history(conn, study_id)
            record.checkpoints = self._checkpoints(conn, study_id)
            return record

    def _check_open(self, conn: Any, name: str, row: Any, now: float) -> None:
        """Refuse to open a study another live run owns, unless both join it."""
        owner = row["owner"]
        if owner == JOINED:
            live = self._live_runs(conn, row["id"], now)
            if live and not self._joined:
                raise StorageError(
                    f"study '{name}' is worked by {len(live)} joined tune() process(es) ({describe(live[0])}, ...); "
                    "pass join=True to work it with them, or use another study_name"
                )
            return
        if owner != self._owner and owner_alive(owner, row["heartbeat"], now):
            how = (
                "it was opened without join=True: stop it, or open it with join=True in every process"
                if self._joined
                else "one process runs a study at a time: to run its trials in parallel raise max_concurrent "
                "(executor='process' for CPU-bound work), run several processes with join=True, or give each "
                "process its own study_name (they can share the storage)"
            )
            raise StorageError(f"study '{name}' is open in another tune() ({describe(owner)}); {how}")
        if owner and owner != self._owner:
            logger.info("study '%s': taking over from %s, which is gone", name, describe(owner))

    def _beat(self, now: float) -> bool:
        """The heartbeat (from the lease's thread): refresh every study we own; False once one is not ours."""
        s = self._schema
        ids = list(self._ids.values())
        if not ids:
            return True

        def beat() -> int:
            with self.engine.begin() as conn:
                if self._joined:
                    runs = s.runs
                    return len(ids) * int(
                        conn.execute(
                            runs.update().where(runs.c.token == self._lease.token).values(heartbeat=now)
                        ).rowcount
                    )
                result = conn.execute(
                    s.studies.update()
                    .where(s.studies.c.id.in_(ids), s.studies.c.owner == self._owner)
                    .values(heartbeat=now)
                )
                return int(result.rowcount)

        return self._run("refresh the heartbeat", beat) == len(ids)

    def write(self, study_name: str, changes: Changes) -> None:
        if self._failed is not None:  # the storage already failed this run: do not wait on it again
            raise self._failed
        if self._lease.lost:
            self._failed = self._lost_error(study_name)
            raise self._failed
        if not changes:
            return
        try:
            self._run(f"write study '{study_name}'", lambda: self._write(study_name, changes))
        except _Lost:
            self._failed = self._lost_error(study_name)
            raise self._failed from None
        except StorageError as exc:
            self._failed = exc
            raise

    def _upsert(self, columns: list[str]) -> Any:
        """The trials' insert-or-update statement, built once (building it costs more than running it)."""
        if getattr(self, "_upsert_statement", None) is None:
            insert = insert_for(self.engine)(self._schema.trials)
            update = {c: insert.excluded[c] for c in columns if c not in ("study_id", "number")}
            self._upsert_statement = insert.on_conflict_do_update(index_elements=["study_id", "number"], set_=update)
        return self._upsert_statement

    def _lost_error(self, study_name: str) -> StorageError:
        return StorageError(
            f"study '{study_name}' in {self.url} is no longer this run's: another process deleted it "
            "(hyperion studies delete --force) or took it over after this run's heartbeat went stale; "
            "this run stopped and wrote nothing more"
        )

    def _write(self, study_name: str, changes: Changes) -> None:
        s = self._schema
        study_id = self._ids[study_name]
        now = time.time()
        trials = {t.number: t for t in changes.trials}  # a trial started and finished in one tick: once
        with self.engine.begin() as conn:
            # One statement fences (the study, or with join=True this run's lease, is still ours), takes the
            # next change number, and keeps the heartbeat and the trial counter.
            studies, where = s.studies, []
            values: dict[str, Any] = {"updated": now}
            if self._joined:
                self._fence_run(conn, now)
            else:
                where.append(studies.c.owner == self._owner)
                values["heartbeat"] = now
                if trials:  # numbers this run gave (joined runs take theirs from the counter, in claim)
                    top = max(trials) + 1
                    counter = studies.c.next_number
                    values["next_number"] = self._sa.case((counter < top, top), else_=counter)
            seq = self._bump_seq(conn, study_id, *where, **values)
            if seq is None:
                raise _Lost()
            if trials:
                rows = [{**trial_row(study_id, t), "seq": seq} for t in trials.values()]
                conn.execute(self._upsert(list(rows[0])), rows)
            if changes.reports:
                conn.execute(
                    s.reports.insert(),
                    [
                        {
                            "study_id": study_id,
                            "trial_number": r.trial_number,
                            "step": r.step,
                            "metrics": dumps(r.metrics),
                            "time": r.time,
                            "seq": seq,
                        }
                        for r in changes.reports
                    ],
                )
            if changes.rewound or changes.checkpoints:
                self._write_checkpoints(conn, study_id, changes)
            if changes.events:
                conn.execute(
                    s.events.insert(),
                    [
                        {
                            "study_id": study_id,
                            "trial_number": e.trial_number,
                            "kind": e.kind,
                            "data": dumps(e.data),
                            "time": e.time,
                        }
                        for e in changes.events
                    ],
                )

    def close(self) -> None:
        s = self._schema
        self._lease.release()
        if self._ids and self._failed is None and not self.read_only:

            def release() -> None:
                with self.engine.begin() as conn:
                    if self._joined:
                        self._leave(conn)
                        return
                    conn.execute(
                        s.studies.update()
                        .where(s.studies.c.id.in_(list(self._ids.values())), s.studies.c.owner == self._owner)
                        .values(owner=None, updated=time.time())
                    )

            try:
                self._run("release the study", release)
            except StorageError as exc:  # the data is written; only the release failed
                logger.warning("%s", exc)
        self._ids.clear()
        self.engine.dispose()

    # -- helpers -------------------------------------------------------------------------------------------
    def _study_id(self, conn: Any, name: str) -> int:
        s = self._schema
        study_id = conn.execute(self._sa.select(s.studies.c.id).where(s.studies.c.name == name)).scalar()
        if study_id is None:
            raise StorageError(f"no study named '{name}' in {self.url}")
        return int(study_id)

    def _trials(self, conn: Any, study_id: int) -> list[Trial]:
        s = self._schema
        rows = conn.execute(
            self._sa.select(s.trials).where(s.trials.c.study_id == study_id).order_by(s.trials.c.number)
        ).mappings()
        return [trial_of(r) for r in rows]

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
