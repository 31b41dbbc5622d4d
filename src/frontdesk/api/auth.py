"""Bearer tokens: each acts as one member of one workspace, with that member's permissions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from frontdesk.actions.base import Desk
from frontdesk.actions.members import actor_for_member, hash_token
from frontdesk.db.models import ApiToken, Member, Workspace
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


async def authenticate(desk: Desk, authorization: str | None) -> Caller:
    if not authorization:
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    digest = hash_token(secret)
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
    return Caller(desk=desk, workspace_id=token.workspace_id, actor=actor, token_id=token.id)
