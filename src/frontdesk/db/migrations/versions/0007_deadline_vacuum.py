"""sla_deadlines: vacuumed as the queue it is (PostgreSQL storage parameters)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORAGE = "vacuum_index_cleanup = on, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE sla_deadlines SET ({STORAGE})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE sla_deadlines RESET (vacuum_index_cleanup, autovacuum_vacuum_scale_factor, "
                   "autovacuum_vacuum_threshold)")
