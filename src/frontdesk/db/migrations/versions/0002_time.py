"""time: SLA clock, sweeps, close requests, quality flags, assignment cursors, alert states

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:41:30.991614
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import frontdesk.db.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_states',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('changed_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_alert_states_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'kind', name=op.f('pk_alert_states'))
    )
    op.create_table('assignment_cursors',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('last_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assignment_cursors_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'scope', name=op.f('pk_assignment_cursors'))
    )
    op.create_table('close_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requested_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('comment', sa.String(length=1000), nullable=True),
    sa.Column('share_comment', sa.Boolean(), nullable=False),
    sa.Column('close_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['members.id'], name=op.f('fk_close_requests_answered_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['members.id'], name=op.f('fk_close_requests_requested_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_close_requests_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_close_requests_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_close_requests'))
    )
    with op.batch_alter_table('close_requests', schema=None) as batch_op:
        batch_op.create_index('ix_close_requests_close_at', ['close_at'], unique=False, sqlite_where=sa.text("status = 'pending' AND close_at IS NOT NULL"), postgresql_where=sa.text("status = 'pending' AND close_at IS NOT NULL"))
        batch_op.create_index(batch_op.f('ix_close_requests_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index('uq_close_requests_pending_ticket', ['ticket_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.create_table('quality_flags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('resolution_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['members.id'], name=op.f('fk_quality_flags_resolved_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_quality_flags_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_quality_flags_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_flags'))
    )
    with op.batch_alter_table('quality_flags', schema=None) as batch_op:
        batch_op.create_index('ix_quality_flags_ws_resolved_at', ['workspace_id', 'resolved_at'], unique=False)
        batch_op.create_index('uq_quality_flags_open_ticket_kind', ['ticket_id', 'kind'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('away_sent_at', frontdesk.db.types.UtcDateTime(timezone=True), nullable=True))

    dt = frontdesk.db.types.UtcDateTime(timezone=True)
    big = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_responder_id', big, nullable=True))
        batch_op.add_column(sa.Column('sla_paused', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('sla_used_minutes', sa.Float(), nullable=False, server_default='0'))
        for name in ('sla_running_since', 'first_response_due_at', 'resolution_due_at', 'sla_due_at',
                     'first_response_breached_at', 'resolution_breached_at', 'activity_at', 'customer_activity_at',
                     'inactivity_warned_at', 'nudged_at', 'follow_up_due_at', 'follow_up_sent_at'):
            batch_op.add_column(sa.Column(name, dt, nullable=True))
    # Tickets opened before this revision: activity counts from their last message or their open.
    op.execute("UPDATE tickets SET activity_at = COALESCE(last_message_at, created_at), "
               "customer_activity_at = COALESCE(last_customer_message_at, created_at)")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('activity_at', existing_type=dt, nullable=False)
        batch_op.alter_column('customer_activity_at', existing_type=dt, nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_tickets_first_responder_id_members'), 'members',
                                    ['first_responder_id'], ['id'], ondelete='SET NULL')
        for name, columns, where in (
            ('ix_tickets_activity', ['workspace_id', 'activity_at'], "status <> 'closed'"),
            ('ix_tickets_customer_activity', ['workspace_id', 'customer_activity_at'], "status <> 'closed'"),
            ('ix_tickets_follow_up_due', ['follow_up_due_at'], 'follow_up_due_at IS NOT NULL'),
            ('ix_tickets_queue', ['workspace_id', 'sla_due_at'], "status <> 'closed'"),
            ('ix_tickets_ws_rated_at', ['workspace_id', 'rated_at'], 'rated_at IS NOT NULL'),
        ):
            batch_op.create_index(name, columns, unique=False, sqlite_where=sa.text(where),
                                  postgresql_where=sa.text(where))
        batch_op.create_index('ix_tickets_ws_closed_at', ['workspace_id', 'closed_at'], unique=False,
                              postgresql_include=['created_at', 'assignee_id', 'claimer_id', 'csat', 'merged_into_id'])
        batch_op.create_index('ix_tickets_ws_created_at', ['workspace_id', 'created_at'], unique=False,
                              postgresql_include=['id', 'priority', 'type_id', 'first_responder_id',
                                                  'first_response_at'])
    op.create_table('sla_deadlines',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('due_at', dt, nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_sla_deadlines_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_sla_deadlines_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'target', name=op.f('pk_sla_deadlines'))
    )
    op.create_index('ix_sla_deadlines_target_due_at', 'sla_deadlines', ['target', 'due_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # Room on each page for a new row version, so recording a breach (no indexed column
        # changes) stays an update in place.
        op.execute('ALTER TABLE tickets SET (fillfactor = 90)')


def downgrade() -> None:
    op.drop_index('ix_sla_deadlines_target_due_at', table_name='sla_deadlines')
    op.drop_table('sla_deadlines')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE tickets RESET (fillfactor)')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tickets_first_responder_id_members'), type_='foreignkey')
        batch_op.drop_index('ix_tickets_ws_created_at')
        batch_op.drop_index('ix_tickets_ws_rated_at')
        batch_op.drop_index('ix_tickets_ws_closed_at')
        batch_op.drop_index('ix_tickets_queue', sqlite_where=sa.text("status <> 'closed'"), postgresql_where=sa.text("status <> 'closed'"))
        batch_op.drop_index('ix_tickets_follow_up_due', sqlite_where=sa.text('follow_up_due_at IS NOT NULL'), postgresql_where=sa.text('follow_up_due_at IS NOT NULL'))
        batch_op.drop_index('ix_tickets_customer_activity', sqlite_where=sa.text("status <> 'closed'"), postgresql_where=sa.text("status <> 'closed'"))
        batch_op.drop_index('ix_tickets_activity', sqlite_where=sa.text("status <> 'closed'"), postgresql_where=sa.text("status <> 'closed'"))
        batch_op.drop_column('follow_up_sent_at')
        batch_op.drop_column('follow_up_due_at')
        batch_op.drop_column('nudged_at')
        batch_op.drop_column('inactivity_warned_at')
        batch_op.drop_column('customer_activity_at')
        batch_op.drop_column('activity_at')
        batch_op.drop_column('resolution_breached_at')
        batch_op.drop_column('first_response_breached_at')
        batch_op.drop_column('sla_due_at')
        batch_op.drop_column('resolution_due_at')
        batch_op.drop_column('first_response_due_at')
        batch_op.drop_column('sla_running_since')
        batch_op.drop_column('sla_used_minutes')
        batch_op.drop_column('sla_paused')
        batch_op.drop_column('first_responder_id')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('away_sent_at')

    with op.batch_alter_table('quality_flags', schema=None) as batch_op:
        batch_op.drop_index('uq_quality_flags_open_ticket_kind', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index('ix_quality_flags_ws_resolved_at')

    op.drop_table('quality_flags')
    with op.batch_alter_table('close_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_close_requests_pending_ticket', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_close_requests_workspace_id'))
        batch_op.drop_index('ix_close_requests_close_at', sqlite_where=sa.text("status = 'pending' AND close_at IS NOT NULL"), postgresql_where=sa.text("status = 'pending' AND close_at IS NOT NULL"))

    op.drop_table('close_requests')
    op.drop_table('assignment_cursors')
    op.drop_table('alert_states')
