"""The worker end to end: fake tenant, offline reasoner, SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from policies.settings import Settings
from qrelease.cli import app
from qrelease.fake_tenant import FakeTenant, Fault, serve_fake_tenant
from qrelease.store import Store, open_store
from qrelease.store.models import LedgerState, RequestState
from qrelease.worker import TenantClients, WorkerStartError, check_health, run_worker, setup_json_logging
from tests.worker.conftest import drain, seed, worker_settings
from tools.m365.interfaces import ReleaseStatus

# msgraph-sdk's generated query-parameter classes warn about their own deprecation (tools/m365/graph_directory.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
]

RESTING = {RequestState.DONE, RequestState.SHADOWED, RequestState.EXPIRED, RequestState.MANUAL_REVIEW}


def assert_exactly_once(store: Store, tenant: FakeTenant) -> dict[str, int]:
    """Every request is at rest; the tenant saw each ledger effect once and nothing the ledger does not hold."""
    rows = store.requests(limit=10_000)
    assert rows, "no request was recorded"
    assert {r.state for r in rows} <= RESTING, store.counts()
    by_identity = {r.identity: r for r in rows}
    assert set(by_identity) == set(tenant.messages)  # nothing lost, nothing invented
    markers = tenant.sent_per_marker()
    assert all(n == 1 for n in markers.values()), "duplicate notification"
    assert all(n <= 1 for n in tenant.release_calls.values()), "duplicate release"
    assert all(n <= 1 for n in tenant.deny_calls.values()), "duplicate deny"
    done = {"release": 0, "deny": 0, "notify": 0}
    for identity, row in by_identity.items():
        actions = {a.kind: a for a in store.actions(row.id)}
        status = tenant.status(identity)
        if "release" in actions and actions["release"].state == LedgerState.DONE:
            assert status == ReleaseStatus.RELEASED
            done["release"] += 1
        else:
            assert status != ReleaseStatus.RELEASED, "released without a ledger row"
        if "deny" in actions and actions["deny"].state == LedgerState.DONE:
            assert status == ReleaseStatus.DENIED
            done["deny"] += 1
        if "notify" in actions and actions["notify"].state == LedgerState.DONE:
            assert markers[actions["notify"].idempotency_key] == 1
            done["notify"] += 1
    assert len(markers) == done["notify"], "a notification was sent that the ledger does not record"
    return done


def test_offline_end_to_end_on_sqlite(sqlite_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 12)
    stats = drain(worker_settings(sqlite_url), tenant)
    store = open_store(sqlite_url)
    done = assert_exactly_once(store, tenant)
    assert stats.processed >= 12
    decisions = store.decisions(limit=100)
    assert len(decisions) == 12 and all(
        d.decided_by.startswith("worker:") and d.reasoner == "offline" for d in decisions
    )
    # The bundled phishing and malware samples are denied with a notification.
    assert done["deny"] >= 1 and done["notify"] == sum(1 for d in decisions if d.notify != "none")
    for row in store.requests(RequestState.DONE):
        trail = [e.event for e in store.audit_trail(row.id)]
        assert trail[0] == "discovered" and "decided" in trail and trail[-1] == "done"


def test_shadow_mode_decides_but_never_acts(sqlite_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 8)
    drain(worker_settings(sqlite_url, mode="shadow"), tenant)
    store = open_store(sqlite_url)
    assert store.counts() == {"shadowed": 8}
    assert not tenant.release_calls and not tenant.deny_calls and not tenant.sent
    assert all(tenant.status(i) == ReleaseStatus.REQUESTED for i in tenant.messages)
    assert all(not d.enforced for d in store.decisions())
    from qrelease.store.models import utc_now

    stats = store.stats(utc_now().replace(year=2000))
    assert sum(stats.shadow_would.values()) == 8 and not stats.executed


def test_switching_from_shadow_to_enforce_answers_the_recorded_requests(sqlite_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 8)
    drain(worker_settings(sqlite_url, mode="shadow"), tenant)
    assert open_store(sqlite_url).counts() == {"shadowed": 8}
    assert not tenant.release_calls and not tenant.deny_calls

    drain(worker_settings(sqlite_url), tenant)
    store = open_store(sqlite_url)
    assert "shadowed" not in store.counts()
    enforced = [d for d in store.decisions() if d.enforced]
    assert len(enforced) == 8  # each request decided again under enforce, not the shadow decision replayed
    acted = sum(tenant.release_calls.values()) + sum(tenant.deny_calls.values())
    assert acted == 8 - store.counts().get("manual_review", 0)
    assert all(n == 1 for n in [*tenant.release_calls.values(), *tenant.deny_calls.values()])


def test_shadow_mode_does_not_carry_out_an_operator_decision(sqlite_url: str) -> None:
    from policies.models import Action
    from tests.worker.conftest import claim_one, result_for

    tenant = FakeTenant()
    [identity] = seed(tenant, 1)
    store = open_store(sqlite_url)
    store.record_discovered(asyncio.run(tenant.list_release_requests()), "t")
    claim = claim_one(store)
    store.save_decision(claim, result_for(Action.MANUAL_REVIEW), requester="user0@contoso.com")
    store.operator_decide(claim.id, "alice", Action.RELEASE, "")
    drain(worker_settings(sqlite_url, mode="shadow"), tenant)
    assert not tenant.release_calls
    row = store.find(claim.id)
    assert row is not None and row.state == RequestState.DECIDED and row.attempts == 0
    drain(worker_settings(sqlite_url), tenant)
    assert tenant.release_calls[identity] == 1 and tenant.status(identity) == ReleaseStatus.RELEASED


def _http_settings(url: str, server: Any, mode: str = "enforce", **worker: Any) -> Settings:
    s = worker_settings(url, mode=mode, **worker)
    tenant = s.tenant.model_copy(
        update={
            "tenant_id": "00000000-0000-0000-0000-000000000001",
            "exchange_base_url": server.base_url,
            "graph_base_url": server.graph_url,
        }
    )
    return s.model_copy(update={"tenant": tenant})


async def _http_workers(settings: Settings, count: int) -> None:
    """`count` workers in one loop, each with its own adapters on the fake tenant (as separate hosts would)."""
    from tools.m365.credentials import StaticTokenCredential
    from tools.m365.factory import connect

    async def one(i: int) -> None:
        async with connect(settings, credential=StaticTokenCredential()) as c:
            await run_worker(
                settings,
                TenantClients(c.quarantine, c.directory),
                worker_id=f"w{i}",
                until_idle=True,
                retry_base_seconds=0.0,
                idle_sleep_seconds=0.02,
            )

    await asyncio.gather(*(one(i) for i in range(count)))


def test_real_adapters_against_the_fake_tenant_on_sqlite(sqlite_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 8)
    with serve_fake_tenant(tenant) as server:
        asyncio.run(_http_workers(_http_settings(sqlite_url, server), 1))
    done = assert_exactly_once(open_store(sqlite_url), tenant)
    assert done["deny"] >= 1 and done["notify"] >= 1
    assert all(m.to.endswith("@contoso.com") and m.sender == "quarantine@contoso.com" for m in tenant.sent)


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_both_act(pg_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 24)
    with serve_fake_tenant(tenant) as server:
        asyncio.run(_http_workers(_http_settings(pg_url, server, concurrency=3), 2))
    store = open_store(pg_url)
    assert_exactly_once(store, tenant)
    owners = {d.decided_by for d in store.decisions(limit=100)}
    assert len(store.decisions(limit=100)) == 24  # one decision per request, whoever made it
    assert owners <= {"worker:w0", "worker:w1"}
    store.engine.dispose()


@pytest.mark.postgres
def test_postgresql_schema_matches_the_pin(pg_url: str) -> None:
    from tests.worker.test_store import PINNED_SCHEMA, _schema

    store = open_store(pg_url)
    assert _schema(store.engine) == PINNED_SCHEMA
    open_store(pg_url).engine.dispose()  # migrating again is a no-op
    store.engine.dispose()


def test_a_second_worker_on_sqlite_is_refused(sqlite_url: str) -> None:
    tenant = FakeTenant()
    settings = worker_settings(sqlite_url)

    async def both() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        first = asyncio.create_task(
            run_worker(settings, TenantClients(tenant, tenant), stop=stop, on_ready=lambda w: ready.set())
        )
        await ready.wait()
        try:
            with pytest.raises(WorkerStartError, match="SQLite supports one worker"):
                await run_worker(settings, TenantClients(tenant, tenant), until_idle=True)
        finally:
            stop.set()
            await first

    asyncio.run(both())


def test_a_crashed_analysis_resumes_from_its_checkpoint(sqlite_url: str) -> None:
    """A run that died after the parse step continues from there: the message is not exported again."""
    from graph.builder import build_graph
    from graph.state import TriageInput
    from policies.models import ReleaseRequest
    from qrelease.service import build_deps
    from qrelease.store.checkpoints import open_checkpointer
    from tests.conftest import sample

    tenant = FakeTenant()
    [identity] = seed(tenant, 1, names=("credential-phish.eml",))
    settings = worker_settings(sqlite_url)
    store = open_store(sqlite_url)
    store.record_discovered(asyncio.run(tenant.list_release_requests()), "t")
    claim = store.claim("dead-worker", 1, 30, 3)[0]

    async def crash_after_parse() -> None:
        async with open_checkpointer(sqlite_url) as cp:
            graph = build_graph(checkpointer=cp)
            config: Any = {"configurable": {"thread_id": claim.id}}
            request = ReleaseRequest(requester="user0@contoso.com", quarantine_identity=identity)
            async for _ in graph.astream(
                TriageInput(raw=sample("credential-phish.eml"), request=request),
                config=config,
                context=build_deps(settings),
                interrupt_after=["parse"],
                durability="sync",
            ):
                pass
            assert (await graph.aget_state(config)).next  # stopped mid-graph, checkpoint saved

    asyncio.run(crash_after_parse())
    store.expire_leases(None)
    exports = {"n": 0}
    original = tenant.export_message

    async def counting_export(identity: str) -> bytes:
        exports["n"] += 1
        return await original(identity)

    tenant.export_message = counting_export  # type: ignore[method-assign]
    drain(settings, tenant)
    assert exports["n"] == 0
    [decision] = store.decisions()
    assert decision.verdict is not None and decision.rule != "review.analysis_error"
    assert store.find(claim.id) is not None
    assert_exactly_once(store, tenant)


def test_poison_request_goes_to_review_without_blocking_others(sqlite_url: str) -> None:
    tenant = FakeTenant(faults=[Fault(op="export", when="before", times=1000)])
    seed(tenant, 1)
    poison = next(iter(tenant.messages))
    original = tenant.export_message

    async def export(identity: str) -> bytes:
        if identity == poison:
            return await original(identity)  # raises the injected fault
        return tenant.messages[identity].raw

    tenant.export_message = export  # type: ignore[method-assign]
    seed(tenant, 4)
    drain(worker_settings(sqlite_url, max_attempts=3), tenant)
    store = open_store(sqlite_url)
    row = store.find(poison)
    assert row is not None and row.state == RequestState.MANUAL_REVIEW
    assert "gave up after 3 attempts" in (row.review_reason or "") and "TenantError" in (row.review_reason or "")
    others = [r for r in store.requests() if r.identity != poison]
    assert len(others) == 4 and all(r.state in RESTING and r.attempts == 1 for r in others)


def test_graceful_shutdown_hands_back_and_loses_nothing(sqlite_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 6)
    gate = asyncio.Event

    async def scenario() -> None:
        started = gate()
        release = gate()
        original = tenant.export_message

        async def slow_export(identity: str) -> bytes:
            started.set()
            await release.wait()
            return await original(identity)

        tenant.export_message = slow_export  # type: ignore[method-assign]
        stop = asyncio.Event()
        settings = worker_settings(sqlite_url, shutdown_deadline_seconds=0.2, concurrency=2)
        task = asyncio.create_task(
            run_worker(settings, TenantClients(tenant, tenant), stop=stop, idle_sleep_seconds=0.02)
        )
        await started.wait()
        stop.set()  # what SIGTERM does
        stats = await task
        assert stats.outcomes.get("handed_back") == 2
        tenant.export_message = original  # type: ignore[method-assign]

    asyncio.run(scenario())
    store = open_store(sqlite_url)
    rows = store.requests()
    assert all(r.state == RequestState.DISCOVERED and r.owner is None and r.attempts == 0 for r in rows)
    drain(worker_settings(sqlite_url), tenant)
    assert_exactly_once(store, tenant)


def test_logs_are_json_and_never_carry_content(sqlite_url: str, tmp_path: Path) -> None:
    canary_subject = "CANARY-SUBJECT-7f3a"
    canary_body = "CANARY-BODY-91bc"
    raw = (
        f"From: Bob <bob@fabrikam.com>\r\nTo: user0@contoso.com\r\nSubject: {canary_subject}\r\n"
        f"Message-ID: <c1@fabrikam.com>\r\n\r\n{canary_body} Authorization: Bearer eyJ-CANARY-TOKEN\r\n"
    ).encode()
    tenant = FakeTenant()
    tenant.add_request(raw, requester="user0@contoso.com", sender="bob@fabrikam.com", subject=canary_subject)
    stream = io.StringIO()
    setup_json_logging(stream, level=logging.DEBUG)
    health = tmp_path / "health.json"
    try:
        drain(worker_settings(sqlite_url, health_file=health), tenant)
    finally:
        logging.getLogger("qrelease").handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {"worker_started", "discovered", "decided", "processed", "worker_stopped"} <= {e["event"] for e in lines}
    text = stream.getvalue()
    for canary in (canary_subject, canary_body, "CANARY-TOKEN", "bob@fabrikam.com", "user0@contoso.com"):
        assert canary not in text
    # The health file says the worker stopped cleanly; a probe treats "stopping" as not healthy.
    ok, message = check_health(health, 60)
    assert not ok and "stopping" in message


def test_review_commands_record_the_operator_and_the_worker_acts(sqlite_url: str) -> None:
    tenant = FakeTenant()
    seed(tenant, 2)
    store = open_store(sqlite_url)
    store.record_discovered(asyncio.run(tenant.list_release_requests()), "t")
    from policies.models import Action
    from tests.worker.conftest import claim_one, result_for

    ids = []
    for _ in range(2):
        c = claim_one(store)
        store.save_decision(c, result_for(Action.MANUAL_REVIEW), requester=c.request.requester)
        ids.append(c.id)
    runner = CliRunner()
    db = ["--database-url", sqlite_url]
    listed = runner.invoke(app, ["review", "list", "--json", *db])
    assert listed.exit_code == 0, listed.output
    assert {r["id"] for r in json.loads(listed.stdout)} == set(ids)
    res = runner.invoke(app, ["review", "approve", ids[0][:8], "--operator", "alice", "--reason", "known sender", *db])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["review", "deny", ids[1], "--operator", "bob", *db])
    assert res.exit_code == 0, res.output
    again = runner.invoke(app, ["review", "deny", ids[1], "--operator", "bob", *db])
    assert again.exit_code == 2 and "not waiting for review" in again.output
    missing = runner.invoke(app, ["review", "approve", "zzzzzzzz", "--operator", "x", *db])
    assert missing.exit_code == 2 and "no request matches" in missing.output

    drain(worker_settings(sqlite_url), tenant)
    rel, den = store.find(ids[0]), store.find(ids[1])
    assert rel is not None and den is not None
    assert tenant.status(rel.identity) == ReleaseStatus.RELEASED
    assert tenant.status(den.identity) == ReleaseStatus.DENIED
    assert [m.to for m in tenant.sent] == [den.requester]
    assert "QR-" in tenant.sent[0].body and "{" not in tenant.sent[0].body
    assert any(e.actor == "operator:alice" and "known sender" in e.detail for e in store.audit_trail(rel.id))
    shown = runner.invoke(app, ["review", "show", ids[0], "--json", *db])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["request"]["state"] == "done"
    stats = runner.invoke(app, ["stats", "--json", *db])
    assert stats.exit_code == 0 and json.loads(stats.stdout)["executed"] == {"deny": 1, "notify": 1, "release": 1}
    hist = runner.invoke(app, ["history", "--json", *db])
    assert hist.exit_code == 0 and {h["decided_by"] for h in json.loads(hist.stdout)} >= {
        "operator:alice",
        "operator:bob",
    }
