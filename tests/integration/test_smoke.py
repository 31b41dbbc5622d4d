from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.queries.tickets import get_ticket_view, ticket_timeline


async def test_open_reply_close_round_trip(world):
    ticket = await world.open("alice", answers={"subject": "Printer on fire", "description": "Help!"})
    assert ticket.number == 1
    await world.run("staff", messages.post_message, 1, "On it")
    await world.run("staff", tickets.claim_ticket, 1)
    await world.run("staff", lifecycle.close_ticket, 1, reason="resolved", note="Extinguished")
    async with world.tx("alice") as tx:
        view = await get_ticket_view(tx, 1)
        timeline = await ticket_timeline(tx, 1)
    assert view["status"] == "closed"
    assert view["title"] == "Printer on fire"
    assert [m["body"] for m in timeline] == ["Help!", "On it"]
