"""outbox: finished rows indexed by when they finished, for the retention sweep; vacuumed as a queue

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINISHED = "status != 'pending'"
STORAGE = "vacuum_index_cleanup = on, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000"


def upgrade() -> None:
    # Rows given up on before this revision have no finishing time: their last attempt's
    # time (or their creation) stands in for it.
    op.execute("UPDATE outbox SET done_at = COALESCE(next_attempt_at, created_at) "
               "WHERE status = 'dead' AND done_at IS NULL")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_finished_done_at', ['done_at'], unique=False,
                              sqlite_where=sa.text(FINISHED), postgresql_where=sa.text(FINISHED))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE outbox SET ({STORAGE})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox RESET (vacuum_index_cleanup, autovacuum_vacuum_scale_factor, "
                   "autovacuum_vacuum_threshold)")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_finished_done_at', sqlite_where=sa.text(FINISHED),
                            postgresql_where=sa.text(FINISHED))
