"""A ticket's links to engineering: issues in Jira or Linear, a thread in a Slack channel.

Nothing here talks to another service. Pushing a ticket adds a pending link and an outbox
row in the same transaction; the worker's handler (``integrations/``) creates the issue or
the thread and hands back what happened, which lands here again (``record_*``) in the
transaction that records the outcome. Status changes go the same way: a before-commit hook
(``mirror_ticket_changes``) enqueues the update of the other side, and a change that came
from the other side is applied through the ordinary status actions as the connection's
integration member, which is also how the hook knows not to send it back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx, get_ticket, ticket_for
from frontdesk.actions.integrations import act_as_integration, get_connection
from frontdesk.actions.lifecycle import close_ticket, reopen_ticket
from frontdesk.actions.messages import add_note
from frontdesk.actions.outbox import enqueue
from frontdesk.actions.tickets import set_status
from frontdesk.db.models import IntegrationConnection, IntegrationReceipt, Message, Ticket, TicketLink
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, ValidationFailed
from frontdesk.domain.integrations import (
    ISSUE_KINDS,
    Kind,
    inbound_status,
    issue_key,
    key_from_url,
    outbound_status,
    same_status,
)
from frontdesk.domain.permissions import Capability
from frontdesk.domain.tickets import Status

# Outbox kinds, one handler each (integrations/jira.py, linear.py, slack.py).
CREATE_KIND = {Kind.JIRA: "jira.create_issue", Kind.LINEAR: "linear.create_issue", Kind.SLACK: "slack.post_thread"}
SYNC_KIND = {Kind.JIRA: "jira.sync_status", Kind.LINEAR: "linear.sync_status"}
SLACK_REPLY = "slack.post_reply"
ERROR_MAX = 2000
SLACK_TEXT_MAX = 3000


def _facts(link: TicketLink, connection: IntegrationConnection) -> dict[str, Any]:
    return {"link_id": link.id, "connection_id": connection.id, "kind": connection.kind,
            "external_id": link.external_id, "key": link.key, "url": link.url}


async def _usable_connection(tx: Tx, connection_id: Any) -> IntegrationConnection:
    if not isinstance(connection_id, int) or isinstance(connection_id, bool):
        raise ValidationFailed("connection_id must be an integration's id", field="connection_id")
    try:
        connection = await get_connection(tx, connection_id)
    except NotFound:
        raise ValidationFailed(f"integration {connection_id} does not exist in this workspace",
                               field="connection_id") from None
    if not connection.enabled:
        raise ValidationFailed(f"integration {connection_id} is disabled", field="connection_id")
    return connection


async def _start_push(tx: Tx, ticket: Ticket, connection: IntegrationConnection) -> TicketLink:
    existing = (await tx.session.execute(select(TicketLink.id).where(
        TicketLink.ticket_id == ticket.id, TicketLink.connection_id == connection.id))).first()
    if existing is not None:
        raise Conflict(f"ticket {ticket.number} is already linked through {connection.name!r}")
    link = TicketLink(workspace_id=tx.workspace_id, ticket_id=ticket.id, connection_id=connection.id,
                      sync_state="pending", created_by_id=tx.actor.member_id, created_at=tx.now)
    tx.session.add(link)
    await tx.session.flush()
    kind = Kind(connection.kind)
    # The key is the link: however often the action or its hook runs, one issue (one thread).
    await enqueue(tx, CREATE_KIND[kind], {"link_id": link.id}, key=f"{CREATE_KIND[kind]}:{link.id}")
    await tx.record(ev.TICKET_LINKED, ticket=ticket, mode="push", **_facts(link, connection))
    return link


async def push_ticket(tx: Tx, number: int, connection_id: int) -> TicketLink:
    """Create an issue from the ticket in Jira or Linear (title, the customer's first message,
    a link back), or start the ticket's thread in the Slack connection's channel. The link is
    pending until the worker has done it. One link per ticket and connection (409 otherwise).
    Staff on the ticket. Emits ``ticket.linked`` (later ``ticket.link_created`` or
    ``ticket.link_failed``)."""
    connection = await _usable_connection(tx, connection_id)
    ticket = await ticket_for(tx, number, Capability.EDIT)
    return await _start_push(tx, ticket, connection)


async def link_existing(tx: Tx, number: int, connection_id: int, *, key: str | None = None,
                        url: str | None = None) -> TicketLink:
    """Link the ticket to an issue that already exists in Jira or Linear, by its key
    (ENG-42) or its address. The key stands for the issue until its webhooks say more. An
    issue links to one ticket per connection (409). Staff on the ticket. Emits
    ``ticket.linked``."""
    connection = await _usable_connection(tx, connection_id)
    kind = Kind(connection.kind)
    if kind not in ISSUE_KINDS:
        raise ValidationFailed("a Slack connection links by push (a new thread), not by key", field="connection_id")
    if (key is None) == (url is None):
        raise ValidationFailed("give either key or url", field="key")
    found = issue_key(key) if key is not None else key_from_url(url)
    ticket = await ticket_for(tx, number, Capability.EDIT)
    taken = (await tx.session.execute(select(TicketLink.id).where(
        TicketLink.connection_id == connection.id,
        (TicketLink.key == found) | (TicketLink.external_id == found)))).first()
    if taken is not None:
        raise Conflict(f"{found} is already linked to a ticket through {connection.name!r}")
    if url is None and kind is Kind.JIRA:
        url = f"{connection.config['base_url']}/browse/{found}"
    link = TicketLink(workspace_id=tx.workspace_id, ticket_id=ticket.id, connection_id=connection.id,
                      external_id=found, key=found, url=url.strip() if url else None, sync_state="linked",
                      created_by_id=tx.actor.member_id, created_at=tx.now)
    tx.session.add(link)
    await tx.session.flush()
    await tx.record(ev.TICKET_LINKED, ticket=ticket, mode="existing", **_facts(link, connection))
    return link


async def _link_of_ticket(tx: Tx, ticket: Ticket, link_id: int) -> TicketLink:
    link = await tx.session.get(TicketLink, link_id)
    if link is None or link.ticket_id != ticket.id:
        raise NotFound(f"link {link_id} not found on ticket {ticket.number}")
    return link


async def unlink(tx: Tx, number: int, link_id: int) -> None:
    """Remove a link. The issue or thread on the other side stays; nothing is synced any
    more. Staff on the ticket. Emits ``ticket.unlinked``."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    link = await _link_of_ticket(tx, ticket, link_id)
    connection = await tx.session.get(IntegrationConnection, link.connection_id)
    assert connection is not None
    facts = _facts(link, connection)
    await tx.session.delete(link)
    await tx.session.flush()
    await tx.record(ev.TICKET_UNLINKED, ticket=ticket, **facts)


# --- outcomes of the worker's handlers (run as the desk, in the recording transaction) --------------------


async def _loaded(tx: Tx, link_id: int) -> tuple[TicketLink, Ticket] | None:
    link = await tx.session.get(TicketLink, link_id)
    if link is None:  # unlinked meanwhile
        return None
    ticket = await tx.session.get(Ticket, link.ticket_id)
    assert ticket is not None
    return link, ticket


async def record_link_created(tx: Tx, link_id: int, *, external_id: str, key: str | None, url: str | None,
                              external_status: str | None = None) -> None:
    """The pushed issue (or thread) exists: store its id, key and address. Emits
    ``ticket.link_created``."""
    loaded = await _loaded(tx, link_id)
    if loaded is None:
        return
    link, ticket = loaded
    link.external_id, link.key, link.url = external_id, key, url
    link.external_status = external_status or link.external_status
    link.sync_state, link.last_error, link.last_synced_at = "linked", None, tx.now
    await tx.session.flush()
    await tx.record(ev.TICKET_LINK_CREATED, ticket=ticket, link_id=link.id, connection_id=link.connection_id,
                    external_id=external_id, key=key, url=url)


async def record_link_synced(tx: Tx, link_id: int, *, external_status: str | None, direction: str,
                             status: str | None = None) -> None:
    """A status went across (``direction`` outbound: ours to theirs; inbound: theirs to
    ours). Emits ``ticket.link_synced``."""
    loaded = await _loaded(tx, link_id)
    if loaded is None:
        return
    link, ticket = loaded
    link.external_status = external_status
    link.sync_state, link.last_error, link.last_synced_at = "linked", None, tx.now
    await tx.record(ev.TICKET_LINK_SYNCED, ticket=ticket, link_id=link.id, connection_id=link.connection_id,
                    direction=direction, external_status=external_status, status=status or ticket.status)


async def record_link_failed(tx: Tx, link_id: int, error: str, *, operation: str) -> None:
    """The other side refused for good (bad credentials, no such project or issue): the link
    says why. Emits ``ticket.link_failed``."""
    loaded = await _loaded(tx, link_id)
    if loaded is None:
        return
    link, ticket = loaded
    link.sync_state, link.last_error = "failed", error[:ERROR_MAX]
    await tx.record(ev.TICKET_LINK_FAILED, ticket=ticket, link_id=link.id, connection_id=link.connection_id,
                    operation=operation, error=error[:ERROR_MAX])


async def note_link_error(tx: Tx, link_id: int, error: str) -> None:
    """A failed attempt that will be retried: the link shows the error, still pending or
    linked. Emits no event."""
    link = await tx.session.get(TicketLink, link_id)
    if link is not None:
        link.last_error = error[:ERROR_MAX]


# --- calls from the other side ---------------------------------------------------------------------------


async def first_receipt(tx: Tx, connection: IntegrationConnection, external_id: str | None) -> bool:
    """Remember an inbound call by its id (Slack's event_id, a delivery id). False when it
    was seen before: a retry, to be answered without doing anything again."""
    if not external_id:
        return True
    assert tx.db is not None, "receipts need a transaction opened by a Desk"
    # Insert-or-nothing: a concurrent retry of the same call waits on the key, then adds nothing.
    statement = (tx.db.insert(IntegrationReceipt)
                 .values(connection_id=connection.id, external_id=str(external_id)[:255],
                         workspace_id=tx.workspace_id, received_at=tx.now)
                 .on_conflict_do_nothing(index_elements=["connection_id", "external_id"])
                 .returning(IntegrationReceipt.connection_id))
    return (await tx.session.execute(statement)).first() is not None


async def _link_for_issue(tx: Tx, connection: IntegrationConnection, *ids: str | None) -> TicketLink | None:
    wanted = [i for i in ids if i]
    if not wanted:
        return None
    return (await tx.session.execute(select(TicketLink).where(
        TicketLink.connection_id == connection.id,
        TicketLink.external_id.in_(wanted) | TicketLink.key.in_(wanted)).order_by(TicketLink.id).limit(1)
        .with_for_update())).scalars().first()


async def apply_external_status(tx: Tx, connection: IntegrationConnection, *, issue_ids: tuple[str | None, ...],
                                status_id: str | None, status_name: str | None) -> str:
    """Their issue changed status: map it to ours and change the linked ticket through the
    ordinary status actions (set status, close as resolved, reopen), as the connection's
    integration member, so the same events are written. Called for a verified webhook in a
    system transaction. Returns what happened: ``unknown_issue``, ``unmapped``,
    ``unchanged`` or ``applied``. Emits the status events and ``ticket.link_synced``."""
    kind = Kind(connection.kind)
    link = await _link_for_issue(tx, connection, *issue_ids)
    if link is None:
        return "unknown_issue"
    incoming = status_id if kind is Kind.LINEAR else status_name
    link.external_status = incoming or link.external_status
    link.last_synced_at = tx.now
    target = inbound_status(kind, connection.config, status_id, status_name)
    if target is None:
        return "unmapped"
    ticket = await tx.session.get(Ticket, link.ticket_id)
    assert ticket is not None
    current = Status(ticket.status)
    # Already in agreement: the ticket's status maps to theirs. This is also the echo of our
    # own change (we closed, they went to Done, Done maps back to resolved): left alone.
    if current is target or same_status(outbound_status(kind, connection.config, current.value), incoming):
        return "unchanged"
    await act_as_integration(tx, connection)
    if target is Status.CLOSED:
        await close_ticket(tx, ticket.number, reason="resolved", note=f"Closed in {connection.name}",
                           cause=f"integration:{connection.id}")
    else:
        if current is Status.CLOSED:
            await reopen_ticket(tx, ticket.number)
        if target is not Status.OPEN:
            await set_status(tx, ticket.number, target.value)
    await record_link_synced(tx, link.id, external_status=link.external_status, direction="inbound",
                             status=target.value)
    return "applied"


async def add_thread_reply(tx: Tx, connection: IntegrationConnection, *, thread_ts: str, text: str,
                           slack_user: str | None) -> bool:
    """A reply in a ticket's Slack thread becomes an internal note on the ticket, written by
    the connection's integration member and naming the Slack user. False when the thread is
    no ticket's. Emits ``note.created``."""
    link = (await tx.session.execute(select(TicketLink).where(
        TicketLink.connection_id == connection.id, TicketLink.external_id == thread_ts))).scalars().first()
    if link is None:
        return False
    await act_as_integration(tx, connection)
    ticket = await tx.session.get(Ticket, link.ticket_id)
    assert ticket is not None
    who = f"<@{slack_user}>" if slack_user else "someone"
    await add_note(tx, ticket.number, f"{text.strip()}\n\n— {who} in Slack")
    return True


# --- the before-commit hook ------------------------------------------------------------------------------

STATUS_EVENTS = frozenset({ev.TICKET_STATUS_CHANGED, ev.TICKET_CLOSED, ev.TICKET_REOPENED})
WATCHED = STATUS_EVENTS | {ev.NOTE_CREATED, ev.TICKET_OPENED}


async def mirror_ticket_changes(tx: Tx) -> None:
    """Before every commit: for each status change on a linked ticket, enqueue the update of
    the linked Jira or Linear issue, and post status changes and staff notes in the ticket's
    Slack thread (as the connection's ``mirror`` setting says); start a Slack thread for a
    new ticket when a connection asks for that. A change made by a connection's own
    integration member (it came from that side) is not sent back to it."""
    watched = [e for e in tx.unseen("links") if e.type in WATCHED and e.ticket_id is not None]
    if not watched:
        return
    if any(e.id is None for e in watched):
        await tx.session.flush()
    for event in watched:
        if event.type == ev.TICKET_OPENED:
            await _thread_on_open(tx, event)
    changes = [e for e in watched if e.type != ev.TICKET_OPENED]
    if not changes:
        return
    rows = (await tx.session.execute(
        select(TicketLink, IntegrationConnection)
        .join(IntegrationConnection, IntegrationConnection.id == TicketLink.connection_id)
        .where(TicketLink.ticket_id.in_({e.ticket_id for e in changes}), IntegrationConnection.enabled.is_(True))
        .order_by(TicketLink.id))).all()
    for event in changes:
        for link, connection in rows:
            if link.ticket_id != event.ticket_id or event.actor_id == connection.member_id:
                continue
            await _mirror(tx, event, link, connection)


async def _mirror(tx: Tx, event: Any, link: TicketLink, connection: IntegrationConnection) -> None:
    kind = Kind(connection.kind)
    if kind in ISSUE_KINDS:
        if event.type not in STATUS_EVENTS or link.external_id is None:
            return
        new = (event.payload.get("after") or {}).get("status")
        target = outbound_status(kind, connection.config, new) if new else None
        if target is None or same_status(target, link.external_status):
            return
        await enqueue(tx, SYNC_KIND[kind], {"link_id": link.id, "event_id": event.id},
                      key=f"{SYNC_KIND[kind]}:{link.id}:{event.id}")
        return
    mirror = set(connection.config.get("mirror") or ())
    text: str | None = None
    if event.type in STATUS_EVENTS and "status" in mirror:
        new = (event.payload.get("after") or {}).get("status")
        who = tx.actor.display_name or "the desk"
        text = f"Status changed to *{new}* by {who}"
    elif event.type == ev.NOTE_CREATED and "notes" in mirror:
        message = await tx.session.get(Message, event.payload.get("message_id"))
        if message is not None:
            who = tx.actor.display_name or "the desk"
            text = f"Note from {who}:\n{message.body}"
    if text:
        await enqueue(tx, SLACK_REPLY, {"link_id": link.id, "text": text[:SLACK_TEXT_MAX]},
                      key=f"{SLACK_REPLY}:{link.id}:{event.id}")


async def _thread_on_open(tx: Tx, event: Any) -> None:
    connections = (await tx.session.execute(select(IntegrationConnection).where(
        IntegrationConnection.workspace_id == tx.workspace_id, IntegrationConnection.kind == Kind.SLACK.value,
        IntegrationConnection.enabled.is_(True)))).scalars().all()
    wanted = [c for c in connections if c.config.get("thread_on_open")]
    if not wanted:
        return
    ticket = await get_ticket(tx, int(event.payload["ticket_number"]))
    for connection in wanted:
        await _start_push(tx, ticket, connection)
