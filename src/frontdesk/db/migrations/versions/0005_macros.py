"""macros: macros, suggested macros, mining state

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 07:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import frontdesk.db.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('macro_mining_states',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('last_mined_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_macro_mining_states_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_macro_mining_states'))
    )
    op.create_table('macros',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shortcut', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('send_as_staff', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('usage_count', sa.Integer(), nullable=False),
    sa.Column('last_used_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['members.id'], name=op.f('fk_macros_created_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_macros_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_macros')),
    sa.UniqueConstraint('workspace_id', 'shortcut', name=op.f('uq_macros_workspace_id_shortcut'))
    )
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.create_index('ix_macros_ws_category', ['workspace_id', 'category'], unique=False)

    op.create_table('macro_suggestions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('suggested_shortcut', sa.String(length=64), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('ticket_count', sa.Integer(), nullable=False),
    sa.Column('example_ticket_numbers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('macro_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['members.id'], name=op.f('fk_macro_suggestions_decided_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['macro_id'], ['macros.id'], name=op.f('fk_macro_suggestions_macro_id_macros'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_macro_suggestions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_macro_suggestions')),
    sa.UniqueConstraint('workspace_id', 'text_hash', name=op.f('uq_macro_suggestions_workspace_id_text_hash'))
    )
    with op.batch_alter_table('macro_suggestions', schema=None) as batch_op:
        batch_op.create_index('ix_macro_suggestions_ws_status_id', ['workspace_id', 'status', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('macro_suggestions', schema=None) as batch_op:
        batch_op.drop_index('ix_macro_suggestions_ws_status_id')

    op.drop_table('macro_suggestions')
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.drop_index('ix_macros_ws_category')

    op.drop_table('macros')
    op.drop_table('macro_mining_states')
