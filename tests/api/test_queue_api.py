"""GET /api/v1/queue: the staff queue over HTTP answers what the query answers."""

from __future__ import annotations

import pytest

from frontdesk.actions import tickets
from frontdesk.api.routers.queue import QueuePageOut
from frontdesk.queries.queue import VIEWS, staff_queue
from tests.api.helpers import TICKETS, ok, problem
from tests.integration.test_queue import a_mixed_queue

QUEUE = "/api/v1/queue"
QUEUE_FIELDS = {"sla_due_at", "breached", "awaiting"}


async def test_every_view_answers_what_the_query_answers(api, world):
    await a_mixed_queue(world)
    for view in VIEWS:
        body = ok(await api("staff").get(QUEUE, params={"view": view, "limit": 200}))
        async with world.desk.read(world.staff, world.workspace_id) as tx:
            expected = await staff_queue(tx, view=view, limit=200, cursor=None)
        # What the query answers, in the response's declared shape (which fills in defaults).
        assert body == QueuePageOut.model_validate(
            {"view": view, "counts": expected.counts, "items": expected.items, "next_cursor": None}
        ).model_dump(mode="json"), view
        assert set(body["counts"]) == set(VIEWS)
        assert body["counts"][view] == len(body["items"]) > 0, view


async def test_the_default_view_is_all_with_items_shaped_like_a_ticket_plus_the_queue_fields(api, world):
    t = await a_mixed_queue(world)
    body = ok(await api("staff").get(QUEUE))
    assert body["view"] == "all" and len(body["items"]) == body["counts"]["all"] == 7
    for item in body["items"]:
        ticket = ok(await api("staff").get(f"{TICKETS}/{item['number']}"))
        assert {k: v for k, v in item.items() if k not in QUEUE_FIELDS} == ticket
        assert item["breached"] is False
    by_number = {i["number"]: i for i in body["items"]}
    assert by_number[t["customer_wrote"]]["awaiting"] == "staff"
    assert by_number[t["staff_answered"]]["awaiting"] == "customer"
    assert by_number[t["claimed"]]["awaiting"] is None
    assert by_number[t["waiting"]]["sla_due_at"] is None
    assert by_number[t["customer_wrote"]]["sla_due_at"] is not None


async def test_next_cursor_walks_the_queue_page_by_page(api, world):
    for i in range(5):
        await world.open("vip", "VIP", title=f"t{i}", priority=("urgent", "low")[i % 2])
    whole = [i["number"] for i in ok(await api("staff").get(QUEUE))["items"]]
    seen, params = [], {"limit": 2}
    for _ in range(3):
        body = ok(await api("staff").get(QUEUE, params=params))
        assert len(body["items"]) <= 2
        seen += [i["number"] for i in body["items"]]
        params = {"limit": 2, "cursor": body["next_cursor"]}
    assert body["next_cursor"] is None
    assert seen == whole and len(whole) == 5


async def test_a_locked_ticket_is_left_out_for_regular_staff_and_shown_to_management(api, world):
    shown = (await world.open("vip", "VIP", title="ordinary")).number
    locked = (await world.open("vip", "VIP", title="sensitive")).number
    await world.run("manager", tickets.lockdown_ticket, locked)
    staff = ok(await api("staff").get(QUEUE))
    assert [i["number"] for i in staff["items"]] == [shown] and staff["counts"]["all"] == 1
    manager = ok(await api("manager").get(QUEUE))
    assert sorted(i["number"] for i in manager["items"]) == [shown, locked] and manager["counts"]["all"] == 2


async def test_a_customer_gets_403(api, world):
    await world.open("alice", "General", title="Mine")
    problem(await api("alice").get(QUEUE), 403)
    problem(await api("alice").get(QUEUE, params={"view": "mine"}), 403)


async def test_a_call_without_a_token_gets_401(api, world):
    problem(await api(None).get(QUEUE), 401)


@pytest.mark.parametrize(("params", "field"), [
    ({"view": "everything"}, "view"),
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"cursor": "not a cursor"}, "cursor"),
    ({"cursor": "abc\x00"}, "cursor"),
])
async def test_bad_parameters_answer_422_naming_the_parameter(api, world, params, field):
    problem(await api("staff").get(QUEUE, params=params), 422, field)


async def test_a_cursor_of_one_view_is_refused_by_another(api, world):
    for i in range(3):
        await world.open("vip", "VIP", title=f"t{i}")
    cursor = ok(await api("staff").get(QUEUE, params={"limit": 1}))["next_cursor"]
    assert cursor is not None
    problem(await api("staff").get(QUEUE, params={"view": "unclaimed", "cursor": cursor}), 422, "cursor")
    assert ok(await api("staff").get(QUEUE, params={"view": "all", "cursor": cursor}))["items"]
