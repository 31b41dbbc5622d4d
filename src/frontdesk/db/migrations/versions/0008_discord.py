"""discord: where tickets live in Discord, message links, panels

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import frontdesk.db.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, frontdesk.db.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('discord_panels',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('workspace_id', BIG_ID, nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('description', sa.String(length=4000), nullable=True),
    sa.Column('type_ids', JSON, nullable=False),
    sa.Column('created_by_id', BIG_ID, nullable=True),
    _time('created_at'),
    sa.ForeignKeyConstraint(['created_by_id'], ['members.id'], name=op.f('fk_discord_panels_created_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_discord_panels_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discord_panels'))
    )
    with op.batch_alter_table('discord_panels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discord_panels_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('discord_tickets',
    sa.Column('ticket_id', BIG_ID, nullable=False),
    sa.Column('workspace_id', BIG_ID, nullable=False),
    sa.Column('guild_id', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('dm_channel_id', sa.String(length=32), nullable=True),
    sa.Column('welcome_message_id', sa.String(length=32), nullable=True),
    sa.Column('close_request_message_id', sa.String(length=32), nullable=True),
    sa.Column('applied', JSON, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    _time('created_at'),
    _time('updated_at'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_discord_tickets_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_discord_tickets_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_discord_tickets')),
    sa.UniqueConstraint('channel_id', name=op.f('uq_discord_tickets_channel_id'))
    )
    with op.batch_alter_table('discord_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discord_tickets_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index('ix_discord_tickets_open_user', ['user_id'], unique=False,
                              sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))

    op.create_table('discord_message_links',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('workspace_id', BIG_ID, nullable=False),
    sa.Column('message_id', BIG_ID, nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('discord_message_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    _time('created_at'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_discord_message_links_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_discord_message_links_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discord_message_links')),
    sa.UniqueConstraint('channel_id', 'discord_message_id', name=op.f('uq_discord_message_links_channel_id_discord_message_id'))
    )
    with op.batch_alter_table('discord_message_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discord_message_links_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_discord_message_links_workspace_id'), ['workspace_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('discord_message_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discord_message_links_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_discord_message_links_message_id'))

    op.drop_table('discord_message_links')
    with op.batch_alter_table('discord_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_discord_tickets_open_user')
        batch_op.drop_index(batch_op.f('ix_discord_tickets_workspace_id'))

    op.drop_table('discord_tickets')
    with op.batch_alter_table('discord_panels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discord_panels_workspace_id'))

    op.drop_table('discord_panels')
