async def test_create_then_read_a_ticket_over_http(api, world):
    r = await api("alice").post("/api/v1/tickets", json={"type_id": world.type_ids["General"], "title": "Hi",
                                                          "description": "Need help"})
    assert r.status_code == 201, r.text
    assert r.json()["number"] == 1
    r = await api("staff").get("/api/v1/tickets/1")
    assert r.status_code == 200
    assert r.json()["title"] == "Hi"
