"""The smallest app on frontdesk's stack, for the throughput benchmark's floor figure: one
POST that inserts one row in one transaction through SQLAlchemy's async engine, served by
uvicorn like ``frontdesk serve``. What a real request costs beyond this is frontdesk's own."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["FRONTDESK_DATABASE_URL"], pool_size=20, max_overflow=20)
app = FastAPI()


@app.on_event("startup")
async def _table() -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, title text, "
                                "created_at timestamptz)"))


@app.post("/floor", status_code=201)
async def floor(body: dict[str, str]) -> dict[str, object]:
    async with engine.begin() as conn:
        row_id = (await conn.execute(
            text("INSERT INTO bench_floor (title, created_at) VALUES (:title, :at) RETURNING id"),
            {"title": body.get("title", ""), "at": datetime.now(UTC)},
        )).scalar_one()
    return {"id": row_id, "title": body.get("title", "")}
