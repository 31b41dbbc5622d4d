"""Settling the heap: one full collection, then what survives frozen, and thawed again by the
next call so that objects dropped in between are collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from frontdesk.runtime import settle_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def freezing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FRONTDESK_GC_FREEZE", "true")
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("freezing")
def test_settling_freezes_what_lives_and_the_next_settle_collects_what_was_dropped() -> None:
    node = Node()
    alive = weakref.ref(node)
    assert settle_heap("test") is True
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()
    assert alive() is not None, "a frozen object is not examined by collections"
    settle_heap("test again")
    assert alive() is None, "the next settle thaws, collects, and only then freezes"


def test_settling_is_switched_off_by_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_GC_FREEZE", "false")
    before = gc.get_freeze_count()
    assert settle_heap("test") is False
    assert gc.get_freeze_count() == before


@pytest.mark.usefixtures("freezing")
async def test_the_api_settles_the_heap_when_it_starts(desk) -> None:  # type: ignore[no-untyped-def]
    from frontdesk.api.app import create_app

    gc.unfreeze()
    app = create_app(desk)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
