"""Bearer tokens: who may call, revocation, secrets shown once, and acting as the token's member."""

from __future__ import annotations

import httpx

from tests.api.helpers import TICKETS, ok, open_ticket, problem


async def test_a_request_without_a_token_is_401_problem(api):
    body = problem(await api(None).get(TICKETS), 401)
    assert body["code"] == "not_authenticated"


async def test_401_answers_carry_a_bearer_challenge(api):
    r = await api(None).get("/api/v1/me")
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


async def test_an_unknown_token_is_401(api):
    async with httpx.AsyncClient(base_url=api.base_url, headers={"Authorization": "Bearer fd_not-a-token"}) as c:
        problem(await c.get(TICKETS), 401)


async def test_a_non_bearer_authorization_header_is_401(api):
    token = api.tokens["staff"]
    async with httpx.AsyncClient(base_url=api.base_url, headers={"Authorization": f"Basic {token}"}) as c:
        problem(await c.get(TICKETS), 401)


async def test_the_bearer_scheme_is_case_insensitive(api):
    async with httpx.AsyncClient(base_url=api.base_url,
                                 headers={"Authorization": f"bearer {api.tokens['staff']}"}) as c:
        assert ok(await c.get("/api/v1/me"))["display_name"] == "Sam Staff"


async def test_creating_a_token_shows_the_secret_once_and_it_works(api):
    created = ok(await api("staff").post("/api/v1/tokens", json={"name": "my script"}), 201)
    assert created["token"].startswith("fd_")
    assert created["token"].startswith(created["prefix"])
    async with httpx.AsyncClient(base_url=api.base_url,
                                 headers={"Authorization": f"Bearer {created['token']}"}) as c:
        assert ok(await c.get("/api/v1/me"))["display_name"] == "Sam Staff"
    listed = ok(await api("staff").get("/api/v1/tokens"))["items"]
    mine = [t for t in listed if t["id"] == created["id"]]
    assert len(mine) == 1
    assert "token" not in mine[0]
    assert created["token"] not in (await api("staff").get("/api/v1/tokens")).text
    assert created["token"] not in (await api("admin").get("/api/v1/tokens")).text


async def test_token_lists_show_a_member_their_own_and_an_admin_all(api, world):
    await api("staff").get("/api/v1/me")
    await api("bob").get("/api/v1/me")
    own = ok(await api("staff").get("/api/v1/tokens"))["items"]
    assert {t["member_id"] for t in own} == {world.member_ids["staff"]}
    everyone = ok(await api("admin").get("/api/v1/tokens"))["items"]
    assert {world.member_ids["staff"], world.member_ids["bob"]} <= {t["member_id"] for t in everyone}


async def test_a_revoked_token_is_401_on_the_next_request(api):
    created = ok(await api("bob").post("/api/v1/tokens", json={"name": "temporary"}), 201)
    headers = {"Authorization": f"Bearer {created['token']}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers) as c:
        ok(await c.get("/api/v1/me"))
        revoked = ok(await c.delete(f"/api/v1/tokens/{created['id']}"))
        assert revoked["revoked_at"] is not None
        problem(await c.get("/api/v1/me"), 401)
        problem(await c.get(TICKETS), 401)
    listed = ok(await api("bob").get("/api/v1/tokens"))["items"]
    assert next(t for t in listed if t["id"] == created["id"])["revoked_at"] is not None


async def test_a_member_may_not_revoke_someone_elses_token(api):
    created = ok(await api("staff").post("/api/v1/tokens", json={"name": "mine"}), 201)
    problem(await api("bob").delete(f"/api/v1/tokens/{created['id']}"), 403)
    ok(await api("admin").delete(f"/api/v1/tokens/{created['id']}"))


async def test_only_admins_create_tokens_for_other_members(api, world):
    problem(await api("staff").post("/api/v1/tokens", json={"name": "x", "member_id": world.member_ids["bob"]}),
            403)
    created = ok(await api("admin").post("/api/v1/tokens", json={"name": "bot",
                                                                  "member_id": world.member_ids["bob"]}), 201)
    assert created["member_id"] == world.member_ids["bob"]


async def test_revoking_an_unknown_token_is_404(api):
    problem(await api("admin").delete("/api/v1/tokens/999999"), 404)


async def test_me_reports_the_tokens_member_and_powers(api, world):
    me = ok(await api("alice").get("/api/v1/me"))
    assert me == {"workspace_id": world.workspace_id, "member_id": world.member_ids["alice"],
                  "display_name": "Alice Customer", "role": "customer", "is_staff": False, "is_management": False}
    assert ok(await api("roled").get("/api/v1/me"))["is_staff"] is True
    assert ok(await api("mgmtrole").get("/api/v1/me"))["is_management"] is True


async def test_a_customer_lists_only_their_own_tickets(api, world):
    alice = await open_ticket(api, world, "alice")
    bob = await open_ticket(api, world, "bob")
    mine = ok(await api("alice").get(TICKETS))["items"]
    assert [t["number"] for t in mine] == [alice["number"]]
    assert [t["number"] for t in ok(await api("bob").get(TICKETS))["items"]] == [bob["number"]]
    assert {t["number"] for t in ok(await api("staff").get(TICKETS))["items"]} == {alice["number"], bob["number"]}


async def test_another_customers_ticket_is_404_not_403(api, world):
    bob = await open_ticket(api, world, "bob")
    n = bob["number"]
    problem(await api("alice").get(f"{TICKETS}/{n}"), 404)
    problem(await api("alice").get(f"{TICKETS}/{n}/messages"), 404)
    problem(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "hi"}), 404)
    problem(await api("alice").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}), 404)
    problem(await api("alice").post(f"{TICKETS}/{n}/escalate"), 404)
    problem(await api("alice").patch(f"{TICKETS}/{n}", json={"priority": "high"}), 404)
    assert ok(await api("bob").get(f"{TICKETS}/{n}"))["status"] == "open"


async def test_a_token_acts_with_its_members_permissions(api, world):
    ticket = await open_ticket(api, world, "alice")
    n = ticket["number"]
    # The opener sees their ticket but may not change its priority: 403, not 404.
    problem(await api("alice").post(f"{TICKETS}/{n}/priority", json={"priority": "urgent"}), 403)
    # A member who is staff by a Discord role listed in the type's staff roles may.
    assert ok(await api("roled").post(f"{TICKETS}/{n}/priority", json={"priority": "urgent"}))["priority"] == "urgent"
    # Staff by the Manage Channels power, and by a tickets.edit team permission.
    assert ok(await api("modder").post(f"{TICKETS}/{n}/priority", json={"priority": "high"}))["priority"] == "high"
    assert ok(await api("teamer").post(f"{TICKETS}/{n}/priority", json={"priority": "low"}))["priority"] == "low"
    events = ok(await api("staff").get(f"{TICKETS}/{n}/events"))["items"]
    actors = [e["actor_id"] for e in events if e["type"] == "ticket.priority_changed"]
    assert actors == [world.member_ids["roled"], world.member_ids["modder"], world.member_ids["teamer"]]


async def test_a_role_staff_member_does_not_see_types_they_do_not_staff(api, world):
    vip = await open_ticket(api, world, "vip", "VIP")
    problem(await api("roled").get(f"{TICKETS}/{vip['number']}"), 404)
    assert vip["number"] not in [t["number"] for t in ok(await api("roled").get(TICKETS))["items"]]
    ok(await api("staff").get(f"{TICKETS}/{vip['number']}"))
