"""Initial schema: runs, components, states, inputs/outputs, metrics, steps, releases,
aliases and the alias log; releases and the alias log are append-only (triggers).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)
RUN = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_table(
        "states",
        sa.Column("id", ID, primary_key=True),
        sa.Column("components_json", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", RUN, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state_id", ID, sa.ForeignKey("states.id"), nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("parent_id", RUN, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40), nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("command_json", sa.Text, nullable=True),
    )
    op.create_index("ix_runs_name_started", "runs", ["name", "started_at"])
    op.create_index("ix_runs_state", "runs", ["state_id"])
    op.create_table(
        "run_components",
        sa.Column("run_id", RUN, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("component_id", ID, sa.ForeignKey("components.id"), nullable=False),
    )
    op.create_table(
        "run_io",
        sa.Column("run_id", RUN, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("direction", sa.String(3), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("fingerprint", ID, nullable=False),
        sa.Column("object_id", ID, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("retention", sa.String(16), nullable=False),
    )
    op.create_index("ix_run_io_fingerprint", "run_io", ["fingerprint"])
    op.create_table(
        "metrics",
        sa.Column("run_id", RUN, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("step", sa.Integer, nullable=True),
    )
    op.create_table(
        "steps",
        sa.Column("run_id", RUN, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("code_hash", ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "releases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("run_id", RUN, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("state_id", ID, nullable=False),
        sa.Column("manifest_id", ID, nullable=False),
        sa.Column("previous_id", ID, nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("manifest_id", name="uq_releases_manifest"),
    )
    op.create_table(
        "aliases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("release_name", sa.String(200), nullable=False),
        sa.Column("release_version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "alias_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("previous", sa.String(220), nullable=True),
        sa.Column("target", sa.String(220), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
    )
    op.create_index("ix_alias_log_alias", "alias_log", ["alias"])
    _append_only("releases")
    _append_only("alias_log")


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` in the database itself, not only in our code."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{table} is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )


def downgrade() -> None:
    for table in (
        "alias_log",
        "aliases",
        "releases",
        "steps",
        "metrics",
        "run_io",
        "run_components",
        "runs",
        "states",
        "components",
    ):
        op.drop_table(table)
