"""Bearer tokens: each acts as one member of one workspace, with that member's permissions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from frontdesk.actions.base import Desk
from frontdesk.actions.members import actor_for_member, hash_token
from frontdesk.db.models import ApiToken, Event, Member, Workspace
from frontdesk.domain.errors import NotAuthenticated
from frontdesk.domain.permissions import Actor, Role

LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """Who called the API: the token's member as an actor, and their workspace."""

    desk: Desk
    workspace_id: int
    actor: Actor
    token_id: int

    def tx(self):  # type: ignore[no-untyped-def]
        return self.desk.tx(self.actor, self.workspace_id)

    def read(self):  # type: ignore[no-untyped-def]
        return self.desk.read(self.actor, self.workspace_id)


# Events after which a cached actor may be out of date: who someone is, their teams, the
# workspace's management roles, the types' staff roles, or the token itself changed.
CONFIG_EVENT_PREFIXES = ("member.", "team.", "workspace.", "api_token.", "ticket_type.")


class ActorCache:
    """Token digest -> (workspace, actor, token id), kept for a few seconds.

    Authenticating costs database round trips on every request; caching the answer briefly
    saves them. This process drops the whole cache as soon as it commits a change to members,
    teams, the workspace or tokens, so a revocation here takes effect on the next request;
    another process sees it within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, int, Actor, int]] = {}

    def get(self, digest: str) -> tuple[int, Actor, int] | None:
        item = self._items.get(digest)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1], item[2], item[3]

    def put(self, digest: str, workspace_id: int, actor: Actor, token_id: int) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[digest] = (time.monotonic() + self.ttl, workspace_id, actor, token_id)

    def clear(self) -> None:
        self._items.clear()

    def on_commit(self, events: list[Event]) -> None:
        if any(e.type.startswith(CONFIG_EVENT_PREFIXES) for e in events):
            self.clear()


async def authenticate(desk: Desk, authorization: str | None, cache: ActorCache | None = None) -> Caller:
    if not authorization:
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    digest = hash_token(secret)
    if cache is not None and (hit := cache.get(digest)) is not None:
        return Caller(desk=desk, workspace_id=hit[0], actor=hit[1], token_id=hit[2])
    async with desk.read(Actor(member_id=None, role=Role.CUSTOMER), 0) as tx:
        row = (await tx.session.execute(
            select(ApiToken, Member, Workspace.settings)
            .join(Member, Member.id == ApiToken.member_id)
            .join(Workspace, Workspace.id == ApiToken.workspace_id)
            .where(ApiToken.token_hash == digest)
        )).first()
        if row is None or row[0].revoked_at is not None:
            raise NotAuthenticated("this API token is unknown or revoked")
        token, member, settings = row
        tx.workspace_id = token.workspace_id
        actor = await actor_for_member(tx, member, workspace_settings=settings or {})
    now = desk.clock.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        async with desk.db.transaction() as session:
            await session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    if cache is not None:
        cache.put(digest, token.workspace_id, actor, token.id)
    return Caller(desk=desk, workspace_id=token.workspace_id, actor=actor, token_id=token.id)
