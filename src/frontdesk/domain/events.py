"""Names of the events every action appends to the event log.

Events are immutable records in the past tense. The audit log, webhooks, automation,
analytics and the Discord mirror all read them, so the names are part of the public API.
"""

from __future__ import annotations

TICKET_OPENED = "ticket.opened"
TICKET_CLAIMED = "ticket.claimed"
TICKET_UNCLAIMED = "ticket.unclaimed"
TICKET_ASSIGNED = "ticket.assigned"
TICKET_UNASSIGNED = "ticket.unassigned"
TICKET_STATUS_CHANGED = "ticket.status_changed"
TICKET_PRIORITY_CHANGED = "ticket.priority_changed"
TICKET_TAG_ADDED = "ticket.tag_added"
TICKET_TAG_REMOVED = "ticket.tag_removed"
TICKET_FIELD_SET = "ticket.field_set"
TICKET_RENAMED = "ticket.renamed"
TICKET_MOVED = "ticket.moved"
TICKET_TEAM_CHANGED = "ticket.team_changed"
TICKET_PARTICIPANT_ADDED = "ticket.participant_added"
TICKET_PARTICIPANT_REMOVED = "ticket.participant_removed"
TICKET_CONTACT_ADDED = "ticket.contact_added"
TICKET_CONTACT_REMOVED = "ticket.contact_removed"
TICKET_PINNED = "ticket.pinned"
TICKET_UNPINNED = "ticket.unpinned"
TICKET_ESCALATED = "ticket.escalated"
TICKET_LOCKED = "ticket.locked"
TICKET_UNLOCKED = "ticket.unlocked"
TICKET_CLOSED = "ticket.closed"
TICKET_REOPENED = "ticket.reopened"
TICKET_MERGED = "ticket.merged"
TICKET_UNMERGED = "ticket.unmerged"
CSAT_SUBMITTED = "csat.submitted"
CSAT_NEGATIVE = "csat.negative"
MESSAGE_CREATED = "message.created"
MESSAGE_EDITED = "message.edited"
NOTE_CREATED = "note.created"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_LINKED = "conversation.linked"
CONVERSATION_UNLINKED = "conversation.unlinked"
CONVERSATION_CONVERTED = "conversation.converted"
CONVERSATION_SOLVED = "conversation.solved"
TRANSCRIPT_CREATED = "transcript.created"

ALL = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and "." in v)
