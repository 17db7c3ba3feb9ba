"""Operating the worker: CLI errors, the health probe, retention of checkpoints, the demo."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qrelease.cli import app
from qrelease.fake_tenant import FakeTenant
from qrelease.store import open_store
from qrelease.worker import JsonFormatter, TenantClients, Worker, check_health, redact_url, run_worker
from tests.worker.conftest import drain, seed, worker_settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
]


def test_worker_without_a_tenant_is_a_clear_error(sqlite_url: str) -> None:
    res = CliRunner().invoke(app, ["worker", "--until-idle", "--database-url", sqlite_url])
    assert res.exit_code == 2
    assert "no Microsoft 365 tenant configured" in res.output and "Traceback" not in res.output


def test_fake_tenant_option_refuses_remote_hosts(sqlite_url: str) -> None:
    res = CliRunner().invoke(app, ["worker", "--fake-tenant", "https://example.com", "--database-url", sqlite_url])
    assert res.exit_code == 2 and "loopback" in res.output


def test_bad_database_url_is_a_clear_error() -> None:
    res = CliRunner().invoke(app, ["history", "--database-url", "oracle://x"])
    assert res.exit_code == 2 and "unsupported database URL" in res.output


def test_health_file_is_fresh_while_running_and_the_probe_says_so(sqlite_url: str, tmp_path: Path) -> None:
    health = tmp_path / "health.json"
    tenant = FakeTenant()
    seed(tenant, 2)
    settings = worker_settings(sqlite_url, health_file=health)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_worker(settings, TenantClients(tenant, tenant), stop=stop, idle_sleep_seconds=0.02)
        )
        for _ in range(200):
            await asyncio.sleep(0.02)
            if health.exists() and json.loads(health.read_text()).get("processed", 0) >= 2:
                break
        seen["running"] = check_health(health, 30)
        seen["stale"] = check_health(health, -1)
        stop.set()
        await task

    asyncio.run(scenario())
    assert seen["running"][0], seen["running"][1]
    assert not seen["stale"][0] and "old" in seen["stale"][1]
    probe = CliRunner().invoke(app, ["health", "--file", str(health)])
    assert probe.exit_code == 1 and "stopping" in probe.output  # stopped workers are not healthy
    missing = CliRunner().invoke(app, ["health", "--file", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1


def test_retention_deletes_graph_checkpoints(sqlite_url: str) -> None:
    import sqlalchemy as sa

    from qrelease.store.checkpoints import open_checkpointer
    from qrelease.store.models import utc_now

    tenant = FakeTenant()
    seed(tenant, 2)
    settings = worker_settings(sqlite_url, retention_days=1)
    drain(settings, tenant)
    store = open_store(sqlite_url)
    ids = [r.id for r in store.requests()]
    old = ids[0]
    with store.session() as s:
        s.execute(
            sa.text("UPDATE release_requests SET done_at = :t, updated_at = :t WHERE id = :i"),
            {"t": utc_now().replace(year=2020), "i": old},
        )

    async def purge() -> tuple[bool, bool, int]:
        async with open_checkpointer(sqlite_url) as cp:
            worker = Worker(settings, store, TenantClients(tenant, tenant), checkpointer=cp)
            cfg: Any = {"configurable": {"thread_id": old}}
            before = bool((await worker.graph.aget_state(cfg)).values)
            n = await worker.purge()
            after_old = bool((await worker.graph.aget_state(cfg)).values)
            kept = bool((await worker.graph.aget_state({"configurable": {"thread_id": ids[1]}})).values)
            assert kept, "a recent request's checkpoint must stay"
            return before, after_old, n

    before, after, n = asyncio.run(purge())
    assert before and not after and n == 1


def test_log_formatter_drops_fields_outside_the_allow_list() -> None:
    import logging

    record = logging.LogRecord("qrelease.worker", logging.INFO, __file__, 1, "decided", None, None)
    record.fields = {"request_id": "r1", "subject": "secret", "body": "secret", "token": "secret"}
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r1" and "secret" not in json.dumps(line)


def test_database_passwords_are_redacted_in_logs() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/q") == "postgresql://app:***@db:5432/q"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    started = time.perf_counter()
    res = CliRunner().invoke(app, ["demo", "--copies", "1", "--dir", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert "Fake tenant on http://127.0.0.1:" in res.output and "Done." in res.output
    store = open_store(f"sqlite:///{tmp_path / 'demo' / 'demo.db'}")
    counts = store.counts()
    assert sum(counts.values()) == 4 and set(counts) <= {"done", "manual_review", "expired"}
    assert time.perf_counter() - started < 60
