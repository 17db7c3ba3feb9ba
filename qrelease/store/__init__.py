"""The worker's durable store: requests, decisions, the actions ledger and the audit trail."""

from __future__ import annotations

from qrelease.store.db import StoreError, create_engine
from qrelease.store.migrations import migrate
from qrelease.store.repo import Store


def open_store(url: str, *, run_migrations: bool = True) -> Store:
    """Connect and bring the schema up to date.

    Raises:
        StoreError: the URL is unsupported or the database is unreachable.
    """
    engine = create_engine(url)
    try:
        if run_migrations:
            migrate(engine)
        else:
            with engine.connect():
                pass
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    return Store(engine)


__all__ = ["Store", "StoreError", "open_store"]
