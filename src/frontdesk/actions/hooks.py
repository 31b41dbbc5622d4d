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
    # Engineering links: mirrors status changes and notes to linked Jira, Linear and Slack
    # (it reads the events of everything before it).
    from frontdesk.actions.links import mirror_ticket_changes

    return [mirror_ticket_changes]
