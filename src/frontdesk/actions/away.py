"""The away message: a customer who writes while the desk is closed is told when it opens
again and how soon they can expect an answer, once per closed spell and conversation."""

from __future__ import annotations

from datetime import datetime

from frontdesk.actions.base import Tx, get_workspace
from frontdesk.actions.timers import load_policies, sla_policy_for
from frontdesk.db.models import Conversation, Message, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.policies import Policies
from frontdesk.domain.tickets import AuthorKind, Priority, Visibility


async def away_text(tx: Tx, ticket: Ticket) -> str | None:
    """The away message for ``ticket`` if the desk is closed now and has one (None when open,
    without business hours or with the away message off): what the Discord welcome message
    of a ticket opened outside hours shows."""
    policies = await load_policies(tx)
    hours = policies.business_hours
    if hours is None or not policies.away.enabled or hours.is_open(tx.now):
        return None
    return await _render(tx, ticket, policies, hours.next_opening(tx.now))


async def _render(tx: Tx, ticket: Ticket, policies: Policies, next_open: datetime | None) -> str:
    assert policies.business_hours is not None
    _, sla = await sla_policy_for(tx, ticket)
    return policies.away.render(next_open=next_open, expected_response=policies.expected_response(
        sla, Priority(ticket.priority)), workspace=(await get_workspace(tx)).name, hours=policies.business_hours)


async def send_away_message_if_closed(tx: Tx, ticket: Ticket, conversation: Conversation) -> Message | None:
    """Post the away message in ``conversation`` when the workspace has business hours and an
    away message, the desk is closed now, and this conversation has not been told so since
    the desk last opened. Emits ``message.created`` and ``away_message.sent``."""
    policies = await load_policies(tx)
    hours = policies.business_hours
    if hours is None or not policies.away.enabled or hours.is_open(tx.now):
        return None
    if conversation.away_sent_at is not None:
        reopened = hours.next_opening(conversation.away_sent_at)
        if reopened is None or reopened > tx.now:
            return None  # still the same closed spell
    next_open = hours.next_opening(tx.now)
    text = await _render(tx, ticket, policies, next_open)
    message = Message(workspace_id=tx.workspace_id, conversation_id=conversation.id, visibility=Visibility.PUBLIC,
                      author_kind=AuthorKind.BOT, author_id=None, anonymous=False, body=text, created_at=tx.now)
    tx.session.add(message)
    await tx.session.flush()
    conversation.away_sent_at = tx.now
    conversation.last_message_at = tx.now
    ticket.last_message_at = tx.now
    await tx.record(ev.MESSAGE_CREATED, ticket=ticket, conversation_id=conversation.id, message_id=message.id,
                    author_kind=AuthorKind.BOT.value, visibility="public", anonymous=False, attachments=0)
    await tx.record(ev.AWAY_MESSAGE_SENT, ticket=ticket, conversation_id=conversation.id, message_id=message.id,
                    next_open=next_open)
    return message
