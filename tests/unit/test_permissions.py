"""The permission rules as a table: who (rows) may do what (columns) on one ticket.

The ticket is opened by ``opener`` in a type whose staff role is ``STAFF_ROLE`` and that
routes to no team; ``participant`` was added to it. Each cell below is the expected answer
of ``can()``; ``require()`` must agree with it (404 when the ticket is invisible, 403 when
visible but not allowed). The table *is* the documentation of the rules.
"""

from __future__ import annotations

import pytest

from frontdesk.domain.errors import NotFound, NotPermitted
from frontdesk.domain.permissions import (
    ADMINISTRATOR,
    MANAGE_CHANNELS,
    TICKETS_EDIT,
    Actor,
    Capability,
    Role,
    TicketAccess,
    TypeAccess,
    can,
    can_open,
    can_view,
    is_ticket_staff,
    is_type_staff,
    require,
    require_staff,
    require_workspace_admin,
)

STAFF_ROLE = "111"
OTHER_STAFF_ROLE = "112"
VIP_ROLE = "222"
MANAGEMENT_ROLE = "333"

OPENER, PARTICIPANT, CONTACT, STRANGER = 100, 200, 250, 300
TEAM, OTHER_TEAM = 7, 8

C = Capability

ACTORS: dict[str, Actor] = {
    "owner": Actor(1, Role.OWNER),
    "admin": Actor(2, Role.ADMIN),
    "manager": Actor(3, Role.MANAGER),
    "staff": Actor(4, Role.STAFF),
    "opener": Actor(OPENER, Role.CUSTOMER),
    "stranger": Actor(STRANGER, Role.CUSTOMER),
    "participant": Actor(PARTICIPANT, Role.CUSTOMER),
    "contact": Actor(CONTACT, Role.CUSTOMER),
    # path 1: a Discord role listed in the type's staff roles
    "discord_role_staff": Actor(5, Role.CUSTOMER, discord_role_ids=frozenset({STAFF_ROLE})),
    # a staff role of some other type does not count here
    "other_type_role": Actor(6, Role.CUSTOMER, discord_role_ids=frozenset({OTHER_STAFF_ROLE})),
    # path 2: the Manage Channels power; Administrator also makes management
    "manage_channels": Actor(7, Role.CUSTOMER, discord_powers=frozenset({MANAGE_CHANNELS})),
    "administrator": Actor(8, Role.CUSTOMER, discord_powers=frozenset({ADMINISTRATOR})),
    # path 3: the tickets.edit team permission
    "tickets_edit_team": Actor(9, Role.CUSTOMER, team_ids=frozenset({OTHER_TEAM}),
                               team_permissions=frozenset({TICKETS_EDIT})),
    # a team without tickets.edit that the type does not route to gives nothing
    "unrelated_team": Actor(10, Role.CUSTOMER, team_ids=frozenset({OTHER_TEAM}),
                            team_permissions=frozenset({"macros.manage"})),
    # management by a Discord role named in the workspace's management roles
    "management_role": Actor(11, Role.CUSTOMER, discord_role_ids=frozenset({MANAGEMENT_ROLE}),
                             management_role_ids=frozenset({MANAGEMENT_ROLE})),
    "system": Actor.system(),
}

COLUMNS = (C.VIEW, C.REPLY, C.NOTE, C.CLAIM, C.UNCLAIM, C.ASSIGN, C.EDIT, C.ESCALATE, C.CLOSE, C.REOPEN,
           C.LOCKDOWN, C.RATE, C.MERGE, C.PAUSE_SLA)
Y, N = True, False

# Expected answers on an ordinary (not locked down) ticket whose type lets the opener close.
#                       VIEW REPLY NOTE CLAIM UNCLM ASSGN EDIT  ESCAL CLOSE REOPN LOCKD RATE  MERGE  PAUSE
MATRIX: dict[str, tuple[bool, ...]] = {
    "owner":              (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    Y,    Y),
    "admin":              (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    Y,    Y),
    "manager":            (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    Y,    Y),
    "staff":              (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    N,    Y,    N),
    "opener":             (Y,   Y,    N,   N,    N,    N,    N,    Y,    Y,    N,    N,    Y,    N,    N),
    "stranger":           (N,   N,    N,   N,    N,    N,    N,    N,    N,    N,    N,    N,    N,    N),
    "participant":        (Y,   Y,    N,   N,    N,    N,    N,    Y,    N,    N,    N,    N,    N,    N),
    "contact":            (Y,   Y,    N,   N,    N,    N,    N,    Y,    N,    N,    N,    N,    N,    N),
    "discord_role_staff": (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    N,    Y,    N),
    "other_type_role":    (N,   N,    N,   N,    N,    N,    N,    N,    N,    N,    N,    N,    N,    N),
    "manage_channels":    (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    N,    Y,    N),
    "administrator":      (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    Y,    Y),
    "tickets_edit_team":  (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    N,    Y,    N),
    "unrelated_team":     (N,   N,    N,   N,    N,    N,    N,    N,    N,    N,    N,    N,    N,    N),
    "management_role":    (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    Y,    Y),
    "system":             (Y,   Y,    Y,   Y,    Y,    Y,    Y,    Y,    Y,    Y,    Y,    N,    Y,    Y),
}

# With opener_can_close off only CLOSE changes, and only for the opener.
CLOSE_WHEN_OPENER_CANNOT_CLOSE = {name: row[COLUMNS.index(C.CLOSE)] for name, row in MATRIX.items()} | {
    "opener": N,
}

# Under lockdown regular staff lose the ticket entirely (it is invisible to them, so a
# request answers 404); management keeps everything; the opener and participants keep
# their customer rights while the ticket is open.
LOCKDOWN_VISIBLE: dict[str, bool] = {
    "owner": Y, "admin": Y, "manager": Y, "staff": N, "opener": Y, "stranger": N, "participant": Y,
    "contact": Y, "discord_role_staff": N, "other_type_role": N, "manage_channels": N, "administrator": Y,
    "tickets_edit_team": N, "unrelated_team": N, "management_role": Y, "system": Y,
}
CUSTOMER_ROWS = {"opener", "participant", "contact"}
MANAGEMENT_ROWS = {"owner", "admin", "manager", "administrator", "management_role", "system"}


def ticket(*, opener_can_close: bool = True, lockdown: bool = False, closed: bool = False,
           claimer_id: int | None = None, team_id: int | None = None) -> TicketAccess:
    return TicketAccess(
        type=TypeAccess(staff_role_ids=frozenset({STAFF_ROLE}), opener_can_close=opener_can_close, team_id=team_id),
        opener_id=OPENER,
        participant_ids=frozenset({PARTICIPANT}),
        contact_ids=frozenset({CONTACT}),
        claimer_id=claimer_id,
        lockdown=lockdown,
        closed=closed,
    )


def test_matrix_covers_every_capability_and_the_listed_actors() -> None:
    assert set(COLUMNS) == set(Capability)
    assert set(MATRIX) == set(ACTORS)
    assert all(len(row) == len(COLUMNS) for row in MATRIX.values())


CELLS = [(who, cap, MATRIX[who][i]) for who in MATRIX for i, cap in enumerate(COLUMNS)]


@pytest.mark.parametrize(("who", "capability", "expected"), CELLS, ids=[f"{w}-{c.value}" for w, c, _ in CELLS])
def test_permission_matrix_on_an_ordinary_ticket(who: str, capability: Capability, expected: bool) -> None:
    assert can(ACTORS[who], capability, ticket()) is expected


@pytest.mark.parametrize(("who", "capability", "expected"), CELLS, ids=[f"{w}-{c.value}" for w, c, _ in CELLS])
def test_require_raises_not_found_when_invisible_and_not_permitted_when_only_forbidden(
        who: str, capability: Capability, expected: bool) -> None:
    actor, access = ACTORS[who], ticket()
    if expected:
        require(actor, capability, access, what="ticket 1")
    elif not can_view(actor, access):
        with pytest.raises(NotFound):
            require(actor, capability, access, what="ticket 1")
    else:
        with pytest.raises(NotPermitted):
            require(actor, capability, access, what="ticket 1")


@pytest.mark.parametrize(("who", "expected"), sorted(CLOSE_WHEN_OPENER_CANNOT_CLOSE.items()))
def test_close_when_the_type_does_not_let_the_opener_close(who: str, expected: bool) -> None:
    assert can(ACTORS[who], C.CLOSE, ticket(opener_can_close=False)) is expected


def test_turning_opener_can_close_off_changes_only_the_openers_close() -> None:
    changed = {who for who in ACTORS
               if can(ACTORS[who], C.CLOSE, ticket()) != can(ACTORS[who], C.CLOSE, ticket(opener_can_close=False))}
    assert changed == {"opener"}


@pytest.mark.parametrize("who", sorted(ACTORS))
@pytest.mark.parametrize("capability", COLUMNS, ids=[c.value for c in COLUMNS])
def test_lockdown_keeps_management_and_customers_and_drops_regular_staff(who: str, capability: Capability) -> None:
    actor, locked = ACTORS[who], ticket(lockdown=True)
    if not LOCKDOWN_VISIBLE[who]:
        expected = False
    elif who in MANAGEMENT_ROWS or who in CUSTOMER_ROWS:
        expected = MATRIX[who][COLUMNS.index(capability)]
    else:  # pragma: no cover - every visible row is management or a customer
        raise AssertionError(who)
    assert can(actor, capability, locked) is expected
    if not LOCKDOWN_VISIBLE[who]:
        with pytest.raises(NotFound):
            require(actor, capability, locked, what="ticket 1")


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_a_closed_lockdown_ticket_is_visible_to_management_only(who: str) -> None:
    closed_locked = ticket(lockdown=True, closed=True)
    assert can_view(ACTORS[who], closed_locked) is (who in MANAGEMENT_ROWS)
    assert can(ACTORS[who], C.REOPEN, closed_locked) is (who in MANAGEMENT_ROWS)
    # ...yet its opener may still rate it: the rating shows them nothing of the ticket.
    assert can(ACTORS[who], C.RATE, closed_locked) is (who == "opener")


def test_a_closed_ticket_without_lockdown_stays_visible_to_its_opener_who_may_rate_it() -> None:
    closed = ticket(closed=True)
    assert can_view(ACTORS["opener"], closed)
    assert can(ACTORS["opener"], C.RATE, closed)
    assert can(ACTORS["staff"], C.REOPEN, closed)


def test_only_management_is_staff_on_a_locked_ticket() -> None:
    locked = ticket(lockdown=True)
    staffed = {who for who, actor in ACTORS.items() if is_ticket_staff(actor, locked)}
    assert staffed == MANAGEMENT_ROWS


def test_the_claimer_may_unclaim_even_without_staff_rights_when_they_can_see_the_ticket() -> None:
    # A participant who once claimed (e.g. while staff) keeps the right to release the claim.
    claimed = ticket(claimer_id=PARTICIPANT)
    assert can(ACTORS["participant"], C.UNCLAIM, claimed)
    assert not can(ACTORS["opener"], C.UNCLAIM, claimed)
    assert can(ACTORS["staff"], C.UNCLAIM, claimed)


def test_belonging_to_the_team_the_type_routes_to_makes_staff() -> None:
    member = Actor(12, Role.CUSTOMER, team_ids=frozenset({TEAM}))
    assert not is_type_staff(member, TypeAccess())
    assert is_type_staff(member, TypeAccess(team_id=TEAM))
    assert can(member, C.CLAIM, ticket(team_id=TEAM))
    assert not can(member, C.VIEW, ticket(team_id=OTHER_TEAM))


# --- who may open a type ------------------------------------------------------------------------------------

RESTRICTED = TypeAccess(staff_role_ids=frozenset({STAFF_ROLE}), allowed_role_ids=frozenset({VIP_ROLE}))
OPEN_TO_ALL = TypeAccess(staff_role_ids=frozenset({STAFF_ROLE}))

CAN_OPEN: dict[str, tuple[bool, bool]] = {
    # who                  (unrestricted type, type restricted to VIP_ROLE)
    "stranger":            (Y, N),
    "opener":              (Y, N),
    "vip":                 (Y, Y),
    "staff":               (Y, Y),
    "discord_role_staff":  (Y, Y),
    "other_type_role":     (Y, N),
    "manage_channels":     (Y, Y),
    "tickets_edit_team":   (Y, Y),
    "owner":               (Y, Y),
    "management_role":     (Y, Y),
}


@pytest.mark.parametrize(("who", "expected"), sorted(CAN_OPEN.items()))
def test_can_open_honours_allowed_roles_and_lets_staff_through(who: str, expected: tuple[bool, bool]) -> None:
    actor = Actor(13, Role.CUSTOMER, discord_role_ids=frozenset({VIP_ROLE})) if who == "vip" else ACTORS[who]
    assert (can_open(actor, OPEN_TO_ALL), can_open(actor, RESTRICTED)) == expected


# --- workspace-level checks ---------------------------------------------------------------------------------

ADMINS = {"owner", "admin", "administrator", "system"}
STAFF_ANYWHERE = {"owner", "admin", "manager", "staff", "manage_channels", "administrator", "tickets_edit_team",
                  "unrelated_team", "management_role", "system"}


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_workspace_admin_is_owner_admin_administrator_or_the_desk(who: str) -> None:
    actor = ACTORS[who]
    assert actor.is_workspace_admin is (who in ADMINS)
    if who in ADMINS:
        require_workspace_admin(actor, "do admin things")
    else:
        with pytest.raises(NotPermitted):
            require_workspace_admin(actor, "do admin things")


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_staff_anywhere(who: str) -> None:
    # Path 1 is per type, so a Discord staff role alone does not make "staff anywhere";
    # team membership does, since a team may have types routed to it.
    actor = ACTORS[who]
    assert actor.is_staff_anywhere is (who in STAFF_ANYWHERE)
    if who not in STAFF_ANYWHERE:
        with pytest.raises(NotPermitted):
            require_staff(actor, "list the queue")


def test_a_member_of_the_team_the_ticket_itself_is_routed_to_is_staff_on_it() -> None:
    member = Actor(12, Role.CUSTOMER, team_ids=frozenset({OTHER_TEAM}))
    routed = TicketAccess(type=TypeAccess(team_id=TEAM), opener_id=OPENER, team_id=OTHER_TEAM)
    assert is_ticket_staff(member, routed)
    assert can(member, C.EDIT, routed)
    assert not can(member, C.VIEW, TicketAccess(type=TypeAccess(team_id=TEAM), opener_id=OPENER, team_id=TEAM))
    # lockdown still wins
    locked = TicketAccess(type=TypeAccess(), opener_id=OPENER, team_id=OTHER_TEAM, lockdown=True)
    assert not can_view(member, locked)


def test_the_sla_pause_team_permission_lets_staff_pause_the_sla() -> None:
    with_permission = Actor(12, Role.STAFF, team_ids=frozenset({OTHER_TEAM}),
                            team_permissions=frozenset({"sla.pause"}))
    assert can(with_permission, C.PAUSE_SLA, ticket())
    assert not can(ACTORS["staff"], C.PAUSE_SLA, ticket())
    # The permission alone does not make a customer staff on the ticket.
    outsider = Actor(13, Role.CUSTOMER, team_ids=frozenset({OTHER_TEAM}), team_permissions=frozenset({"sla.pause"}))
    assert not can(outsider, C.PAUSE_SLA, ticket())
