"""Fixtures for the worker: stores on SQLite and PostgreSQL, the fake tenant, hand-made decisions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.state import TriageResult
from policies.models import Action, Floor, Notification, PolicyDecision, VerdictLabel
from policies.settings import Settings, load_settings
from qrelease.fake_tenant import FakeTenant
from qrelease.store import Store, open_store
from qrelease.store.repo import Claim
from qrelease.worker import TenantClients, WorkerStats, run_worker
from tests.conftest import SAMPLES

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_reachable() -> str | None:
    """None when the local PostgreSQL server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return None
    except Exception as exc:
        return f"PostgreSQL at 127.0.0.1:5432 is unreachable ({type(exc).__name__})"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the local server, dropped afterwards; skips when there is no server."""
    why = pg_reachable()
    if why is not None:
        pytest.skip(why)
    import psycopg

    name = f"qrelease_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A store file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    """A migrated SQLite store."""
    s = open_store(sqlite_url)
    yield s
    s.engine.dispose()


def worker_settings(url: str, mode: str = "enforce", **worker: Any) -> Settings:
    """Settings for a test worker: fast polling, short leases."""
    opts: dict[str, Any] = {"poll_interval_seconds": 0.2, "lease_seconds": 30, "max_attempts": 3, **worker}
    return load_settings(mode=mode, database_url=url, sender_mailbox="quarantine@contoso.com", worker=opts)


def seed(tenant: FakeTenant, count: int, names: tuple[str, ...] | None = None, **kw: Any) -> list[str]:
    """Queue `count` release requests, cycling through the bundled samples."""
    files = [SAMPLES / n for n in names] if names else sorted(SAMPLES.glob("*.eml"))
    return [
        tenant.add_request(files[i % len(files)].read_bytes(), requester=f"user{i}@contoso.com", **kw)
        for i in range(count)
    ]


def drain(settings: Settings, tenant: FakeTenant, **kw: Any) -> WorkerStats:
    """Run one in-process worker until nothing is left to do."""
    kw.setdefault("retry_base_seconds", 0.0)
    kw.setdefault("idle_sleep_seconds", 0.02)
    return asyncio.run(run_worker(settings, TenantClients(tenant, tenant), until_idle=True, **kw))


def result_for(
    action: Action, *, notify: bool = False, enforced: bool = True, to: str = "user0@contoso.com"
) -> TriageResult:
    """A hand-made triage result (the executor tests do not depend on the analysis)."""
    verdict = {Action.RELEASE: VerdictLabel.SAFE, Action.DENY: VerdictLabel.MALICIOUS}.get(action)
    notification = (
        Notification(
            to=to,
            from_address="quarantine@contoso.com",
            from_name="IT Security",
            subject="Quarantined message not released",
            body="We did not release it.",
            kind="malicious",
        )
        if notify
        else None
    )
    return TriageResult(
        verdict=verdict,
        confidence=0.95,
        reasoning="test",
        evidence=[],
        floor=Floor(),
        decision=PolicyDecision(
            action=action,
            rule=f"test.{action}",
            reason="test",
            notify="malicious" if notify else "none",
            enforced=enforced,
        ),
        notification=notification,
    )


def claim_one(store: Store, owner: str = "w1", lease: float = 30.0) -> Claim:
    """Claim exactly one request."""
    claims = store.claim(owner, 1, lease, 5)
    assert len(claims) == 1
    return claims[0]
