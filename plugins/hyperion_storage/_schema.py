"""The SQL schema (SQLAlchemy Core). JSON columns are text, so SQLite's json_extract and
PostgreSQL's ::jsonb casts both work on them. Bump SCHEMA_VERSION with every change."""

from __future__ import annotations

import json

import sqlalchemy as sa

SCHEMA_VERSION = 6  # 2: numbers and a change counter in the database, runs (join=True); 3: several objectives;
# 4: the study's configuration (constraints), compared on resume; 5: the goal as JSON lists; 6: checkpoints

metadata = sa.MetaData()

meta = sa.Table(
    "hyperion_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

studies = sa.Table(
    "hyperion_studies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("space", sa.Text, nullable=False),  # JSON: dotted path -> description
    sa.Column("metric", sa.Text, nullable=False),  # JSON list: the metrics of the goal, the primary first
    sa.Column("mode", sa.Text, nullable=False),  # JSON list: each metric's direction, "min" or "max"
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("owner", sa.String(255)),  # "host|pid|token" of the tune() that has it open, JOINED, or NULL
    sa.Column("heartbeat", sa.Float),
    sa.Column("next_number", sa.Integer, nullable=False, server_default="0"),  # the next trial number
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),  # +1 per write: what changed since
    sa.Column("config", sa.Text),  # JSON: the study's configuration beyond space and goal (constraints); NULL: unknown
)

# join=True: the processes working one study, each with its lease (a study's owner is then JOINED).
runs = sa.Table(
    "hyperion_runs",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("hyperion_studies.id", ondelete="CASCADE"), nullable=False),
    sa.Column("owner", sa.String(255), nullable=False),  # host|pid|token
    sa.Column("heartbeat", sa.Float, nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Index("ix_hyperion_runs_study", "study_id"),
)

trials = sa.Table(
    "hyperion_trials",
    metadata,
    sa.Column("study_id", sa.Integer, sa.ForeignKey("hyperion_studies.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("trial_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON, flat dotted paths
    sa.Column("value", sa.Float),
    sa.Column("score", sa.Float),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("artifacts", sa.Text, nullable=False),
    sa.Column("parent_id", sa.String(64)),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("rationale", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("kill_reason", sa.Text),
    sa.Column("last_step", sa.Integer),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("finished", sa.Float),
    sa.Column("owner", sa.String(64)),  # the run token that runs it (join=True), else NULL
    sa.Column("objective_values", sa.Text),  # JSON list: one value per objective (several objectives)
    sa.Column("violation", sa.Float),  # with constraints: 0 feasible, > 0 how far outside
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),  # the study's seq when last written
    sa.Index("ix_hyperion_trials_seq", "study_id", "seq"),
)

reports = sa.Table(
    "hyperion_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("hyperion_studies.id", ondelete="CASCADE"), nullable=False),
    sa.Column("trial_number", sa.Integer, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_hyperion_reports_trial", "study_id", "trial_number"),
    sa.Index("ix_hyperion_reports_seq", "study_id", "seq"),
)

# The checkpoints kept (retention deletes the rows of those it removes): a resumed trial continues from
# its last one, the dashboard lists them.
checkpoints = sa.Table(
    "hyperion_checkpoints",
    metadata,
    sa.Column("study_id", sa.Integer, sa.ForeignKey("hyperion_studies.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("trial_number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger),
    sa.Column("time", sa.Float, nullable=False),
)

events = sa.Table(
    "hyperion_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("hyperion_studies.id", ondelete="CASCADE"), nullable=False),
    sa.Column("trial_number", sa.Integer),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("time", sa.Float, nullable=False),
    sa.Index("ix_hyperion_events_study", "study_id"),
)


def migrate(conn: sa.Connection, version: int) -> None:
    """Bring a file of an older schema up to this one, in the caller's transaction."""
    if version < 2:
        for statement in (
            "ALTER TABLE hyperion_studies ADD COLUMN next_number INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE hyperion_studies ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE hyperion_trials ADD COLUMN owner VARCHAR(64)",
            "ALTER TABLE hyperion_trials ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE hyperion_reports ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
            "UPDATE hyperion_studies SET next_number = (SELECT COALESCE(MAX(number) + 1, 0) FROM hyperion_trials "
            "WHERE hyperion_trials.study_id = hyperion_studies.id)",
        ):
            conn.exec_driver_sql(statement)
        for index in trials.indexes | reports.indexes:
            if index.name in ("ix_hyperion_trials_seq", "ix_hyperion_reports_seq"):
                index.create(conn)
    if version < 3:
        conn.exec_driver_sql("ALTER TABLE hyperion_trials ADD COLUMN objective_values TEXT")
        conn.exec_driver_sql("ALTER TABLE hyperion_trials ADD COLUMN violation FLOAT")
        if conn.dialect.name == "postgresql":  # "max,min": SQLite does not enforce lengths
            conn.exec_driver_sql("ALTER TABLE hyperion_studies ALTER COLUMN mode TYPE VARCHAR(255)")
    if version < 4:
        conn.exec_driver_sql("ALTER TABLE hyperion_studies ADD COLUMN config TEXT")
    if version < 6:
        checkpoints.create(conn, checkfirst=True)
    if version < 5:  # "accuracy,latency_ms" / "max,min" become ["accuracy", "latency_ms"] / ["max", "min"]
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE hyperion_studies ALTER COLUMN metric TYPE TEXT")
            conn.exec_driver_sql("ALTER TABLE hyperion_studies ALTER COLUMN mode TYPE TEXT")
        for study_id, metric, mode in conn.execute(sa.select(studies.c.id, studies.c.metric, studies.c.mode)).all():
            conn.execute(
                studies.update()
                .where(studies.c.id == study_id)
                .values(metric=json.dumps(metric.split(",")), mode=json.dumps(mode.split(",")))
            )


def check_readable(conn: sa.Connection, url: str) -> None:
    """For a viewer, which changes nothing: the database must already hold Hyperion's tables, at this
    version (a newer one needs an upgrade of Hyperion, an older one a run that migrates it)."""
    from hyperion_core.errors import StorageError

    if not sa.inspect(conn).has_table(meta.name):
        raise StorageError(
            f"{url} is not a Hyperion storage (it has no Hyperion tables); viewing never changes a database: "
            "point --storage at the file your tune() wrote"
        )
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    version = int(row[0]) if row is not None else 0
    if version != SCHEMA_VERSION:
        fix = (
            "upgrade with pip install -U hyperion-tune"
            if version > SCHEMA_VERSION
            else "resume any study in it with tune() once to upgrade it (viewing never changes it)"
        )
        raise StorageError(f"{url} has schema version {version}; this Hyperion reads {SCHEMA_VERSION}: {fix}")
