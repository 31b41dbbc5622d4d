"""automation: rules and their runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 07:21:21.534374
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import frontdesk.db.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('automation_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['members.id'], name=op.f('fk_automation_rules_created_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_automation_rules_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rules')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('automation_rules', schema=None) as batch_op:
        batch_op.create_index('ix_automation_rules_ws_position', ['workspace_id', 'position'], unique=False)

    op.create_table('automation_rule_sets',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_automation_rule_sets_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_automation_rule_sets'))
    )
    op.create_table('rule_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('rule_name', sa.String(length=100), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('stopped', sa.String(length=200), nullable=True),
    sa.Column('occurred_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['automation_rules.id'], name=op.f('fk_rule_runs_rule_id_automation_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_rule_runs_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_runs_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_runs'))
    )
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.create_index('ix_rule_runs_rule_id_id', ['rule_id', 'id'], unique=False)
        batch_op.create_index('ix_rule_runs_ticket_id_id', ['ticket_id', 'id'], unique=False)
        batch_op.create_index('ix_rule_runs_workspace_id_id', ['workspace_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_runs_workspace_id_id')
        batch_op.drop_index('ix_rule_runs_ticket_id_id')
        batch_op.drop_index('ix_rule_runs_rule_id_id')

    op.drop_table('rule_runs')
    op.drop_table('automation_rule_sets')
    with op.batch_alter_table('automation_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_rules_ws_position')

    op.drop_table('automation_rules')
