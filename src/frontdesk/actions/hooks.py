"""What runs inside every action's transaction after its body and before its commit.

Each hook is ``async def hook(tx) -> None`` and sees ``tx.events``: every event the
transaction appended so far, including those appended by earlier hooks. Order matters: a hook
that may append events (automation rules) comes before one that only reads them (the webhook
outbox), so the later one sees every event of the transaction.
"""

from __future__ import annotations

from frontdesk.actions.base import BeforeCommit


def default_before_commit() -> list[BeforeCommit]:
    """The hooks a ``Desk`` runs unless it is given others."""
    from frontdesk.actions import webhooks
    from frontdesk.actions.automation import run_rules
    from frontdesk.actions.discord_mirror import mirror_to_discord
    from frontdesk.actions.links import mirror_ticket_changes

    # Automation first: it may append events, which the hooks after it then see. Engineering
    # links next (mirrors status changes and notes to Jira, Linear and Slack, and may record
    # that a Slack thread was started). Webhooks last: they only read events, so they see
    # those every earlier hook appended.
    return [run_rules, mirror_ticket_changes, mirror_to_discord, webhooks.deliver_events]
