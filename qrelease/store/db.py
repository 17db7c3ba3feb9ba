"""Engines for the store: SQLite (WAL, one worker) by default, PostgreSQL via a URL for production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


class StoreError(Exception):
    """The database URL is unusable or the database is unreachable."""


def is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL database."""
    return url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres"}


def sqlalchemy_url(url: str) -> str:
    """The URL with the psycopg 3 driver for PostgreSQL (SQLAlchemy defaults to psycopg2)."""
    if is_postgres(url):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def libpq_url(url: str) -> str:
    """The URL as libpq/psycopg expects it (the LangGraph PostgreSQL checkpointer)."""
    return "postgresql://" + url.split("://", 1)[1]


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL; None for in-memory or non-SQLite URLs."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def create_engine(url: str) -> Engine:
    """An engine tuned for the worker's short transactions.

    SQLite: WAL (readers do not block the writer), `synchronous=NORMAL` (safe with WAL), a busy timeout,
    and every transaction begins IMMEDIATE so a read-then-write never fails with SQLITE_BUSY halfway.
    """
    if not url.startswith("sqlite") and not is_postgres(url):
        raise StoreError(f"unsupported database URL scheme: {url.split(':', 1)[0]!r} (use sqlite:/// or postgresql://)")
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and not path.parent.exists():
            raise StoreError(f"database directory does not exist: {path.parent}")
        # The pysqlite driver's own transaction handling defeats BEGIN IMMEDIATE; take over (SQLAlchemy recipe).
        kwargs["connect_args"] = {"check_same_thread": False, "isolation_level": None, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(sqlalchemy_url(url), **kwargs)
    if url.startswith("sqlite"):
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
