"""The LangGraph checkpointer of the worker: SQLite beside the store, or the store's PostgreSQL database.

Checkpoints hold the message being analyzed, so deserialization is restricted to the project's own
state types (no arbitrary class reconstruction from a tampered checkpoint store).
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from qrelease.store.db import is_postgres, libpq_url, sqlite_path

#: Modules whose models and enums travel in the graph state.
STATE_MODULES = ("policies.models", "graph.state", "tools.models", "tools.catalogue")


def state_types() -> list[type]:
    """Every pydantic model and enum defined in the state modules."""
    found: list[type] = []
    for name in STATE_MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and obj.__module__ == name
                and (issubclass(obj, BaseModel) or issubclass(obj, enum.Enum))
            ):
                found.append(obj)
    return found


def serializer() -> Any:
    """A JsonPlusSerializer that revives only the state types (and LangGraph's built-in safe types)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=[(t.__module__, t.__name__) for t in state_types()])


def checkpoint_path(database_url: str) -> Path:
    """Where SQLite checkpoints live: `<db>.checkpoints.db`, a separate file so graph writes never wait on the store."""
    path = sqlite_path(database_url)
    if path is None:
        raise ValueError("an in-memory SQLite store has no checkpoint file; give a file path")
    return path.with_name(path.name + ".checkpoints.db")


@asynccontextmanager
async def open_checkpointer(database_url: str, pool_size: int = 4) -> AsyncIterator[Any]:
    """An async checkpointer for the store's URL (set up and ready); closed on exit."""
    if is_postgres(database_url):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import AsyncConnection
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        url = libpq_url(database_url)
        async with await AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
            # Workers starting together would race on CREATE TABLE IF NOT EXISTS: serialize the setup. Poll a
            # try-lock instead of blocking: a blocked lock statement is an open transaction, and the setup's
            # CREATE INDEX CONCURRENTLY would wait for it (a deadlock).
            while not ((await (await conn.execute("SELECT pg_try_advisory_lock(7305115) AS ok")).fetchone()) or {}).get(
                "ok"
            ):
                await asyncio.sleep(0.05)
            try:
                await AsyncPostgresSaver(conn, serde=serializer()).setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(7305115)")
        # A pool lets concurrent runs write checkpoints in parallel. Checkpoint commits skip the WAL flush wait:
        # a checkpoint lost in a *database* crash only means one graph step runs again, while the store's
        # ledger (the record of side effects) keeps synchronous commits.
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "prepare_threshold": 0,
                "options": "-c synchronous_commit=off",
            },
        )
        await pool.open()
        try:
            yield AsyncPostgresSaver(pool, serde=serializer())
        finally:
            await pool.close()
        return
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    conn_sqlite = await aiosqlite.connect(str(checkpoint_path(database_url)))
    try:
        await conn_sqlite.execute("PRAGMA journal_mode=WAL")
        await conn_sqlite.execute("PRAGMA synchronous=NORMAL")
        saver_sqlite = AsyncSqliteSaver(conn_sqlite, serde=serializer())
        await saver_sqlite.setup()
        yield saver_sqlite
    finally:
        await conn_sqlite.close()
