"""The store: migrations pin the schema; claims, leases and fencing; retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from policies.models import Action
from qrelease.fake_tenant import FakeTenant
from qrelease.store import Store, StoreError, open_store
from qrelease.store.migrations import MIGRATIONS, current_version, migrate
from qrelease.store.models import RequestState, utc_now
from qrelease.store.repo import LeaseLost
from tests.worker.conftest import claim_one, result_for, seed

#: The schema after every migration. Changing it needs a new migration *and* an update here.
PINNED_SCHEMA = {
    "schema_migrations": ["version", "name", "applied_at"],
    "release_requests": [
        "id", "identity", "state", "requester", "recipients", "sender", "subject", "message_id",
        "quarantine_type", "received_at", "expires_at", "attempts", "owner", "lease_until", "fencing_token",
        "last_error", "review_reason", "discovered_at", "decided_at", "done_at", "updated_at", "purged_at",
    ],
    "decisions": [
        "id", "request_id", "decided_by", "verdict", "confidence", "reasoning", "findings", "action", "rule",
        "reason", "notify", "enforced", "reasoner", "model_id", "prompt_hashes", "input_tokens", "output_tokens",
        "cost_usd", "errors", "created_at",
    ],
    "actions": [
        "id", "request_id", "decision_id", "kind", "seq", "idempotency_key", "state", "attempts", "outcome",
        "payload", "fencing_token", "created_at", "updated_at",
    ],
    "audit_events": ["id", "at", "actor", "request_id", "event", "detail"],
}  # fmt: skip
PINNED_UNIQUE = {
    "release_requests": {("identity",)},
    "actions": {("idempotency_key",), ("request_id", "kind")},
}


def _schema(engine: sa.Engine) -> dict[str, list[str]]:
    insp = sa.inspect(engine)
    return {t: [c["name"] for c in insp.get_columns(t)] for t in insp.get_table_names()}


def _unique(engine: sa.Engine, table: str) -> set[tuple[str, ...]]:
    insp = sa.inspect(engine)
    found = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
    found |= {tuple(i["column_names"]) for i in insp.get_indexes(table) if i.get("unique")}
    return found


def test_migrations_build_the_pinned_schema(store: Store) -> None:
    assert _schema(store.engine) == PINNED_SCHEMA
    for table, expected in PINNED_UNIQUE.items():
        assert expected <= _unique(store.engine, table), table
    assert current_version(store.engine) == MIGRATIONS[-1].version


def test_models_agree_with_the_migrated_schema(store: Store) -> None:
    """The SQLModel classes describe exactly what the migrations built (names and nullability)."""
    insp = sa.inspect(store.engine)
    for name, table in SQLModel.metadata.tables.items():
        if name not in PINNED_SCHEMA:
            continue  # another module's table
        db_cols = {c["name"]: c["nullable"] for c in insp.get_columns(name)}
        model_cols = {c.name: c.nullable for c in table.columns}
        assert db_cols == model_cols, name


def test_migrate_is_idempotent_and_ordered(store: Store) -> None:
    assert migrate(store.engine) == []
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_bad_database_urls_are_clear_errors(tmp_path: object) -> None:
    with pytest.raises(StoreError, match="unsupported database URL"):
        open_store("mysql://x/y")
    with pytest.raises(StoreError, match="directory does not exist"):
        open_store("sqlite:////nonexistent-dir-qrelease/x.db")


def test_discovery_is_idempotent(store: Store) -> None:
    tenant = FakeTenant()
    seed(tenant, 3)
    import asyncio

    msgs = asyncio.run(tenant.list_release_requests())
    assert len(store.record_discovered(msgs, "t")) == 3
    assert store.record_discovered(msgs, "t") == []
    assert store.counts() == {"discovered": 3}


def _discover(store: Store, n: int = 1) -> None:
    import asyncio

    tenant = FakeTenant()
    seed(tenant, n)
    store.record_discovered(asyncio.run(tenant.list_release_requests()), "t")


def test_a_leased_request_is_not_claimed_twice_and_an_expired_lease_is(store: Store) -> None:
    _discover(store)
    first = claim_one(store, "w1")
    assert store.claim("w2", 5, 30, 5) == []
    # The lease lapses (a dead worker): w2 takes over with a new fencing token.
    with store.session() as s:
        s.execute(sa.text("UPDATE release_requests SET lease_until = :t"), {"t": utc_now() - timedelta(seconds=1)})
    second = claim_one(store, "w2")
    assert second.token == first.token + 1
    # The old owner can no longer write anything.
    with pytest.raises(LeaseLost):
        store.save_decision(first, result_for(Action.DENY), requester="a@contoso.com")
    with pytest.raises(LeaseLost):
        store.finish_request(first, RequestState.DONE)
    assert store.save_decision(second, result_for(Action.DENY), requester="a@contoso.com") == RequestState.DECIDED


def test_attempts_are_counted_at_claim_and_exhaustion_escalates(store: Store) -> None:
    _discover(store)
    for _ in range(2):
        c = claim_one(store)
        store.hand_back(c, error="boom")
    assert store.claim("w1", 5, 30, max_attempts=2) == []
    [row] = store.requests()
    assert row.state == RequestState.MANUAL_REVIEW
    assert "gave up after 2 attempts" in (row.review_reason or "")
    assert "boom" in (row.review_reason or "")


def test_shutdown_hand_back_does_not_use_an_attempt(store: Store) -> None:
    _discover(store)
    c = claim_one(store)
    store.hand_back(c, error=None, count_attempt=False)
    [row] = store.requests()
    assert (row.state, row.attempts, row.owner) == (RequestState.DISCOVERED, 0, None)


def test_decisions_write_ledger_intents_only_when_enforced(store: Store) -> None:
    _discover(store, 3)
    c1, c2, c3 = (claim_one(store) for _ in range(3))
    assert store.save_decision(c1, result_for(Action.DENY, notify=True), requester="a@contoso.com") == "decided"
    assert [a.kind for a in store.actions(c1.id)] == ["deny", "notify"]
    assert store.save_decision(c2, result_for(Action.RELEASE, enforced=False), requester="a@contoso.com") == "shadowed"
    assert store.actions(c2.id) == []
    assert store.save_decision(c3, result_for(Action.MANUAL_REVIEW), requester="a@contoso.com") == "manual_review"
    assert store.actions(c3.id) == []
    keys = [a.idempotency_key for a in store.actions(c1.id)]
    assert len(set(keys)) == 2


def test_operator_decisions_need_a_request_in_review(store: Store) -> None:
    _discover(store, 2)
    c1, c2 = claim_one(store), claim_one(store)
    store.save_decision(c1, result_for(Action.MANUAL_REVIEW), requester="a@contoso.com")
    store.save_decision(c2, result_for(Action.DENY), requester="a@contoso.com")
    store.operator_decide(c1.id, "alice", Action.RELEASE, "checked with the sender")
    assert [a.kind for a in store.actions(c1.id)] == ["release"]
    trail = store.audit_trail(c1.id)
    assert trail[-1].actor == "operator:alice" and trail[-1].event == "review_release"
    with pytest.raises(ValueError, match="not waiting for review"):
        store.operator_decide(c2.id, "alice", Action.RELEASE, "")
    with pytest.raises(ValueError, match="not waiting for review"):
        store.operator_decide(c1.id, "bob", Action.DENY, "")  # already decided by alice


def test_retention_purges_content_and_keeps_audit(store: Store) -> None:
    _discover(store, 3)
    c1, c2, c3 = claim_one(store), claim_one(store), claim_one(store)
    store.save_decision(c3, result_for(Action.DENY, notify=True), requester="a@contoso.com")  # still in flight
    store.save_decision(c1, result_for(Action.DENY, notify=True), requester="a@contoso.com")
    store.finish_request(c1, RequestState.DONE)
    store.save_decision(c2, result_for(Action.DENY, notify=True), requester="a@contoso.com")
    store.finish_request(c2, RequestState.DONE)
    with store.session() as s:
        s.execute(
            sa.text("UPDATE release_requests SET done_at = :t, subject = 'secret subject' WHERE id = :i"),
            {"t": utc_now() - timedelta(days=40), "i": c1.id},
        )
        s.execute(
            sa.text("UPDATE release_requests SET updated_at = :t WHERE id = :i"),
            {"t": utc_now() - timedelta(days=40), "i": c3.id},
        )
    audit_before = len(store.audit_trail(c1.id))
    purged = store.purge_content(utc_now() - timedelta(days=30), "test")
    assert purged == [c1.id]
    old = store.find(c1.id)
    assert old is not None and old.subject == "" and old.purged_at is not None
    assert all(d.reasoning == "[purged]" and d.findings == [] for d in store.decisions(c1.id))
    assert all(a.payload is None for a in store.actions(c1.id))
    assert len(store.audit_trail(c1.id)) == audit_before
    assert store.actions(c2.id)[1].payload is not None  # recent content untouched
    assert store.actions(c3.id)[1].payload is not None  # an unfinished request keeps what it still needs
