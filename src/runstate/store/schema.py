"""The metadata tables, as SQLAlchemy Core objects (the current shape of the schema).

The database is an *index* over the objects: every run's full record, every component and
every release manifest is an object in the content-addressed store, and the rows here make
them queryable. Each row names the objects it depends on, and those objects are always
written first. The shape of the tables is changed only through Alembic migrations in
``runstate/store/migrations``; ``SCHEMA_REVISION`` is the head those migrations reach.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_REVISION",
    "alias_log",
    "aliases",
    "components",
    "metadata",
    "metrics",
    "releases",
    "run_components",
    "run_io",
    "runs",
    "states",
    "steps",
]

SCHEMA_REVISION = "0001"

metadata = MetaData()

_ID = String(64)

components = Table(
    "components",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("kind", String(16), nullable=False),
)

states = Table(
    "states",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("components_json", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("state_id", _ID, ForeignKey("states.id"), nullable=False),
    Column("record_id", _ID, nullable=False),
    Column("parent_id", String(36), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("exit_code", Integer, nullable=True),
    Column("started_at", String(40), nullable=False),
    Column("ended_at", String(40), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("host", String(255), nullable=False),
    Column("user", String(255), nullable=False),
    Column("command_json", Text, nullable=True),
    Index("ix_runs_name_started", "name", "started_at"),
    Index("ix_runs_state", "state_id"),
)

run_components = Table(
    "run_components",
    metadata,
    Column("run_id", String(36), ForeignKey("runs.id"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("component_id", _ID, ForeignKey("components.id"), nullable=False),
)

run_io = Table(
    "run_io",
    metadata,
    Column("run_id", String(36), ForeignKey("runs.id"), primary_key=True),
    Column("direction", String(3), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("path", Text, nullable=True),
    Column("fingerprint", _ID, nullable=False),
    Column("object_id", _ID, nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("retention", String(16), nullable=False),
    Index("ix_run_io_fingerprint", "fingerprint"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("run_id", String(36), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("value", Float, nullable=True),
    Column("step", Integer, nullable=True),
)

steps = Table(
    "steps",
    metadata,
    Column("run_id", String(36), ForeignKey("runs.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("code_hash", _ID, nullable=True),
    Column("status", String(16), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
)

releases = Table(
    "releases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("run_id", String(36), ForeignKey("runs.id"), nullable=False),
    Column("state_id", _ID, nullable=False),
    Column("manifest_id", _ID, nullable=False),
    Column("previous_id", _ID, nullable=True),
    Column("signature", String(128), nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(255), nullable=False),
    UniqueConstraint("manifest_id", name="uq_releases_manifest"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("release_name", String(200), nullable=False),
    Column("release_version", Integer, nullable=False),
    Column("updated_at", String(40), nullable=False),
)

alias_log = Table(
    "alias_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("alias", String(200), nullable=False),
    Column("previous", String(220), nullable=True),
    Column("target", String(220), nullable=False),
    Column("at", String(40), nullable=False),
    Column("by", String(255), nullable=False),
    Index("ix_alias_log_alias", "alias"),
)
