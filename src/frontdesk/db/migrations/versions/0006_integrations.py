"""integrations: connections to Jira, Linear and Slack, ticket links, inbound receipts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import frontdesk.db.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, frontdesk.db.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('integration_connections',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('workspace_id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('config', JSON, nullable=False),
    sa.Column('credentials', sa.Text(), nullable=False),
    sa.Column('member_id', BIG_ID, nullable=True),
    _time('created_at'),
    _time('updated_at'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_integration_connections_member_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_integration_connections_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_connections')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_integration_connections_workspace_id_name'))
    )
    with op.batch_alter_table('integration_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integration_connections_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('ticket_links',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('workspace_id', BIG_ID, nullable=False),
    sa.Column('ticket_id', BIG_ID, nullable=False),
    sa.Column('connection_id', BIG_ID, nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('key', sa.String(length=100), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('external_status', sa.String(length=100), nullable=True),
    sa.Column('sync_state', sa.String(length=8), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_by_id', BIG_ID, nullable=True),
    _time('created_at'),
    _time('last_synced_at', nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['integration_connections.id'], name=op.f('fk_ticket_links_connection_id_integration_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['members.id'], name=op.f('fk_ticket_links_created_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_links_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_ticket_links_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_links')),
    sa.UniqueConstraint('connection_id', 'external_id', name=op.f('uq_ticket_links_connection_id_external_id'))
    )
    with op.batch_alter_table('ticket_links', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_links_connection_id_key', ['connection_id', 'key'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_links_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_links_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('integration_receipts',
    sa.Column('connection_id', BIG_ID, nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('workspace_id', BIG_ID, nullable=False),
    _time('received_at'),
    sa.ForeignKeyConstraint(['connection_id'], ['integration_connections.id'], name=op.f('fk_integration_receipts_connection_id_integration_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_integration_receipts_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'external_id', name=op.f('pk_integration_receipts'))
    )
    with op.batch_alter_table('integration_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integration_receipts_workspace_id'), ['workspace_id'], unique=False)


def downgrade() -> None:
    op.drop_table('integration_receipts')
    op.drop_table('ticket_links')
    op.drop_table('integration_connections')
