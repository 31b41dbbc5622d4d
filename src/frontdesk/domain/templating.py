"""Text with variables: macros, rule messages, nudges.

A template names variables in braces, ``Hi {user}, ticket {ticket.number} is with {staff}``;
``{{`` and ``}}`` stand for literal braces. Variables are looked up by their whole dotted
name in a flat mapping, never by attribute access, so a template can reach nothing but what
the caller offers. ``check`` runs when a template is saved (an unknown variable is an error
there); ``render`` runs when it is sent and leaves an unknown variable as it was written, so
a template saved before a variable was withdrawn still sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from frontdesk.domain.errors import ValidationFailed

# The variables every ticket-bound template may use, with what each one says.
TICKET_VARIABLES: dict[str, str] = {
    "user": "the opener's display name",
    "user.mention": "the opener as a Discord mention where known, else the display name",
    "staff": "the display name of the staff member sending",
    "ticket.number": "the ticket's number",
    "ticket.title": "the ticket's title",
    "ticket.status": "the ticket's status",
    "ticket.priority": "the ticket's priority",
    "ticket.type": "the ticket type's name",
    "ticket.assignee": "the assignee's display name, or nobody",
    "workspace": "the workspace's name",
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")


def variables_in(template: str, *, field: str = "content") -> list[str]:
    """The variable names a template uses, in order of first use. A stray brace or a
    malformed name is a ``ValidationFailed`` on ``field``."""
    found: list[str] = []
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ValidationFailed(
                f"unmatched '{token}' at position {match.start()}; write '{token * 2}' for a literal brace",
                field=field)
        name = name.strip()
        if not _NAME.fullmatch(name):
            raise ValidationFailed(f"'{{{name}}}' is not a variable name (letters, digits, _ and dots)",
                                   field=field)
        if name not in found:
            found.append(name)
    return found


def check(template: str, allowed: Iterable[str] = TICKET_VARIABLES, *, field: str = "content") -> list[str]:
    """Validate a template for saving: its syntax and that it uses only ``allowed`` variables.
    Returns the variables it uses."""
    allowed = set(allowed)
    used = variables_in(template, field=field)
    unknown = [name for name in used if name not in allowed]
    if unknown:
        raise ValidationFailed(
            f"unknown variable{'s' if len(unknown) > 1 else ''} {', '.join('{' + n + '}' for n in unknown)}; "
            f"known: {', '.join('{' + n + '}' for n in sorted(allowed))}", field=field)
    return used


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill in a template. Variables without a value stay as written; ``None`` renders empty."""

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = (match.group(1) or "").strip()
        if name not in values:
            return token
        value = values[name]
        return "" if value is None else str(value)

    return _TOKEN.sub(fill, template)
