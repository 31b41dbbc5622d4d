"""Who may do what. One module, used by the API, the dashboard and the Discord bot alike.

Three independent paths make someone *staff* on a ticket of a given type; any one is enough:

1. holding a Discord role listed in the type's staff roles;
2. having the Manage Channels or Administrator power (or the frontdesk role staff or above);
3. holding a team permission ``tickets.edit`` (or belonging to the team the type routes to).

*Management* (owner, admin, manager, the Administrator power, or a role named in the
workspace's management roles) is needed for lockdown, and is the only group that keeps
access to a ticket under lockdown. Customers see their own tickets and public messages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from frontdesk.domain.errors import NotFound, NotPermitted


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"
    CUSTOMER = "customer"


MANAGEMENT_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER})
STAFF_ROLES = MANAGEMENT_ROLES | {Role.STAFF}

# Discord powers a member can hold in a guild, as synced by the bot.
MANAGE_CHANNELS = "manage_channels"
ADMINISTRATOR = "administrator"

# Team permissions.
TICKETS_EDIT = "tickets.edit"
SLA_PAUSE = "sla.pause"
TEAM_PERMISSIONS = frozenset({TICKETS_EDIT, "tickets.close", SLA_PAUSE, "macros.manage"})


class Capability(enum.StrEnum):
    VIEW = "view"
    REPLY = "reply"                    # post a public message
    NOTE = "note"                      # add or read internal notes
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    ASSIGN = "assign"
    EDIT = "edit"                      # status, priority, tags, fields, rename, move, pin, participants
    ESCALATE = "escalate"
    CLOSE = "close"
    REOPEN = "reopen"
    LOCKDOWN = "lockdown"
    RATE = "rate"
    MERGE = "merge"
    PAUSE_SLA = "pause_sla"            # stop and restart a ticket's SLA clock by hand


@dataclass(frozen=True)
class Actor:
    """Who is acting, reduced to what permission checks need."""

    member_id: int | None
    role: Role
    discord_role_ids: frozenset[str] = frozenset()
    discord_powers: frozenset[str] = frozenset()
    team_ids: frozenset[int] = frozenset()
    team_permissions: frozenset[str] = frozenset()
    management_role_ids: frozenset[str] = frozenset()
    is_system: bool = False
    display_name: str = ""
    # Holds a Discord role listed among some ticket type's staff roles (path 1 somewhere).
    staffs_a_type: bool = False

    @classmethod
    def system(cls, name: str = "frontdesk") -> Actor:
        """The desk itself (automation, the worker): may do everything."""
        return cls(member_id=None, role=Role.OWNER, is_system=True, display_name=name)

    @property
    def is_management(self) -> bool:
        return (
            self.is_system
            or self.role in MANAGEMENT_ROLES
            or ADMINISTRATOR in self.discord_powers
            or bool(self.discord_role_ids & self.management_role_ids)
        )

    @property
    def is_workspace_admin(self) -> bool:
        return self.is_system or self.role in (Role.OWNER, Role.ADMIN) or ADMINISTRATOR in self.discord_powers

    @property
    def is_staff_anywhere(self) -> bool:
        """Staff on at least some ticket type: may use staff-only listings."""
        return (
            self.is_management
            or self.role in STAFF_ROLES
            or MANAGE_CHANNELS in self.discord_powers
            or TICKETS_EDIT in self.team_permissions
            or bool(self.team_ids)
            or self.staffs_a_type
        )


@dataclass(frozen=True)
class TypeAccess:
    """The parts of a ticket type that decide access."""

    staff_role_ids: frozenset[str] = frozenset()
    allowed_role_ids: frozenset[str] = frozenset()
    team_id: int | None = None
    opener_can_close: bool = True


@dataclass(frozen=True)
class TicketAccess:
    """The parts of a ticket that decide access."""

    type: TypeAccess
    opener_id: int | None
    participant_ids: frozenset[int] = field(default_factory=frozenset)
    contact_ids: frozenset[int] = field(default_factory=frozenset)
    claimer_id: int | None = None
    assignee_id: int | None = None
    lockdown: bool = False
    closed: bool = False
    # The team the ticket itself is routed to (it may differ from the type's team).
    team_id: int | None = None


def is_type_staff(actor: Actor, type_access: TypeAccess) -> bool:
    """Staff for tickets of this type, by any of the three paths."""
    if actor.is_management or actor.role in STAFF_ROLES:
        return True
    if actor.discord_role_ids & type_access.staff_role_ids:
        return True
    if MANAGE_CHANNELS in actor.discord_powers:
        return True
    if TICKETS_EDIT in actor.team_permissions:
        return True
    return type_access.team_id is not None and type_access.team_id in actor.team_ids


def is_ticket_staff(actor: Actor, ticket: TicketAccess) -> bool:
    """Staff on this ticket: staff of its type, or a member of the team it is routed to.
    Under lockdown only management keeps staff access."""
    if ticket.lockdown:
        return actor.is_management
    if ticket.team_id is not None and ticket.team_id in actor.team_ids:
        return True
    return is_type_staff(actor, ticket.type)


def is_ticket_customer(actor: Actor, ticket: TicketAccess) -> bool:
    """The opener, an added participant or a linked contact."""
    if actor.member_id is None:
        return False
    return (
        actor.member_id == ticket.opener_id
        or actor.member_id in ticket.participant_ids
        or actor.member_id in ticket.contact_ids
    )


def can_view(actor: Actor, ticket: TicketAccess) -> bool:
    if ticket.lockdown and ticket.closed:
        return actor.is_management
    return is_ticket_staff(actor, ticket) or is_ticket_customer(actor, ticket)


def can(actor: Actor, capability: Capability, ticket: TicketAccess) -> bool:
    """Whether ``actor`` may exercise ``capability`` on ``ticket``."""
    if capability is Capability.RATE:
        # Only the opener rates, and may do so even after a lockdown close hid the ticket
        # from them: the rating shows them nothing.
        return actor.member_id is not None and actor.member_id == ticket.opener_id
    if not can_view(actor, ticket):
        return False
    staff = is_ticket_staff(actor, ticket)
    customer = is_ticket_customer(actor, ticket)
    match capability:
        case Capability.VIEW:
            return True
        case Capability.REPLY:
            return staff or customer
        case Capability.ESCALATE:
            # The user may ask for a human ("Request human").
            return staff or customer
        case Capability.UNCLAIM:
            return staff or (actor.member_id is not None and actor.member_id == ticket.claimer_id)
        case Capability.CLOSE:
            if staff:
                return True
            return ticket.type.opener_can_close and actor.member_id is not None \
                and actor.member_id == ticket.opener_id
        case Capability.LOCKDOWN:
            return actor.is_management
        case Capability.PAUSE_SLA:
            # Granted by a team setup (the sla.pause permission) or by being management.
            return staff and (actor.is_management or SLA_PAUSE in actor.team_permissions)
        case (Capability.NOTE | Capability.CLAIM | Capability.ASSIGN | Capability.EDIT
              | Capability.REOPEN | Capability.MERGE):
            return staff
    return False  # pragma: no cover - every capability is matched above


def require(actor: Actor, capability: Capability, ticket: TicketAccess, *, what: str) -> None:
    """Raise the error the caller should see: 404 when the ticket is invisible to them,
    403 when they can see it but may not do this."""
    if can(actor, capability, ticket):
        return
    if not can_view(actor, ticket):
        raise NotFound(f"{what} not found")
    raise NotPermitted(f"you may not {capability.value} {what}")


def can_open(actor: Actor, type_access: TypeAccess) -> bool:
    """Types restricted to roles can be opened by holders of those roles, and by staff."""
    if not type_access.allowed_role_ids:
        return True
    return bool(actor.discord_role_ids & type_access.allowed_role_ids) or is_type_staff(actor, type_access)


def require_workspace_admin(actor: Actor, what: str) -> None:
    if not actor.is_workspace_admin:
        raise NotPermitted(f"only workspace owners and admins may {what}")


def require_staff(actor: Actor, what: str) -> None:
    if not actor.is_staff_anywhere:
        raise NotPermitted(f"only staff may {what}")
