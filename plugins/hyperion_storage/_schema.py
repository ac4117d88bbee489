"""The SQL schema (SQLAlchemy Core). JSON columns are text, so SQLite's json_extract and
PostgreSQL's ::jsonb casts both work on them. Bump SCHEMA_VERSION with every change."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 1

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
    sa.Column("metric", sa.String(255), nullable=False),
    sa.Column("mode", sa.String(3), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("owner", sa.String(255)),  # "host|pid|token" of the tune() that has it open, else NULL
    sa.Column("heartbeat", sa.Float),
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
    sa.Index("ix_hyperion_reports_trial", "study_id", "trial_number"),
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
