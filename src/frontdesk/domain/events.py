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
SLA_BREACH = "sla.breach"
SLA_PAUSED = "sla.paused"
SLA_RESUMED = "sla.resumed"
TICKET_INACTIVITY_WARNING = "ticket.inactivity_warning"
TICKET_STALE = "ticket.stale"  # no activity for the stale time (the ticket_stale rule trigger)
TICKET_NUDGED = "ticket.nudged"
TICKET_FOLLOW_UP = "ticket.follow_up"
AWAY_MESSAGE_SENT = "away_message.sent"
CLOSE_REQUEST_CREATED = "close_request.created"
CLOSE_REQUEST_ACCEPTED = "close_request.accepted"
CLOSE_REQUEST_DENIED = "close_request.denied"
CLOSE_REQUEST_CANCELLED = "close_request.cancelled"
CLOSE_REQUEST_EXPIRED = "close_request.expired"
QUALITY_FLAG_CREATED = "quality_flag.created"
QUALITY_FLAG_RESOLVED = "quality_flag.resolved"
ALERT_RAISED = "alert.raised"
ALERT_CLEARED = "alert.cleared"

# Macros and suggested macros (issue 4).
MACRO_CREATED = "macro.created"
MACRO_UPDATED = "macro.updated"
MACRO_DELETED = "macro.deleted"
MACRO_USED = "macro.used"
MACRO_SUGGESTION_CREATED = "macro_suggestion.created"
MACRO_SUGGESTION_ACCEPTED = "macro_suggestion.accepted"
MACRO_SUGGESTION_DISMISSED = "macro_suggestion.dismissed"
# Automation rules (issue 4). A rule's own actions write the usual events, each with the
# rule's ``rule_id`` in its payload; ``notify_managers`` raises ``alert.raised`` of kind "rule".
RULE_CREATED = "rule.created"
RULE_UPDATED = "rule.updated"
RULE_DELETED = "rule.deleted"
RULES_REORDERED = "rule.reordered"
# --- webhooks (issue 4): changes to endpoints; never carry a signing secret ---
WEBHOOK_CREATED = "webhook.created"
WEBHOOK_UPDATED = "webhook.updated"
WEBHOOK_DELETED = "webhook.deleted"
WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
# The endpoint answered 410 Gone: disabled, its pending deliveries stopped.
WEBHOOK_DISABLED = "webhook.disabled"
# --- engineering links: Jira, Linear, Slack (issue 4) ---
INTEGRATION_CREATED = "integration.created"
INTEGRATION_UPDATED = "integration.updated"
INTEGRATION_DELETED = "integration.deleted"
TICKET_LINKED = "ticket.linked"            # a link was added (to push, or to an existing issue)
TICKET_UNLINKED = "ticket.unlinked"
TICKET_LINK_CREATED = "ticket.link_created"  # the pushed issue or Slack thread now exists
TICKET_LINK_SYNCED = "ticket.link_synced"    # a status went across, one way or the other
TICKET_LINK_FAILED = "ticket.link_failed"    # the other side refused for good

ALL = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and "." in v)
