"""Exactly-once side effects: ledger first, reconcile after a crash or an ambiguous reply, never blind retries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from policies.models import Action
from qrelease.executor import Executor, Outcome
from qrelease.fake_tenant import FakeTenant, Fault
from qrelease.store import Store
from qrelease.store.models import ActionRow, LedgerState, RequestState, utc_now
from qrelease.store.repo import Claim
from tests.worker.conftest import claim_one, result_for, seed
from tools.m365.interfaces import ReleaseStatus


def _decided(store: Store, tenant: FakeTenant, action: Action, notify: bool = False) -> tuple[Claim, str]:
    [identity] = seed(tenant, 1)
    store.record_discovered(asyncio.run(tenant.list_release_requests()), "t")
    claim = claim_one(store)
    store.save_decision(claim, result_for(action, notify=notify), requester="user0@contoso.com")
    return claim, identity


def _run(store: Store, tenant: FakeTenant, claim: Claim) -> Outcome:
    return asyncio.run(Executor(store, tenant, tenant).execute(claim)).outcome


def _reclaim(store: Store, owner: str = "w2") -> Claim:
    """Another worker takes over after the first one's lease lapsed (it crashed)."""
    with store.session() as s:
        s.execute(sa.text("UPDATE release_requests SET lease_until = :t"), {"t": utc_now() - timedelta(seconds=1)})
    return claim_one(store, owner)


def _states(store: Store, claim: Claim) -> list[str]:
    return [a.state for a in store.actions(claim.id)]


def test_release_happens_once(store: Store) -> None:
    tenant = FakeTenant()
    claim, identity = _decided(store, tenant, Action.RELEASE)
    assert _run(store, tenant, claim) is Outcome.DONE
    assert tenant.status(identity) == ReleaseStatus.RELEASED
    assert tenant.release_calls[identity] == 1
    assert _states(store, claim) == ["done"]
    # Running the ledger again (a replay) does nothing more.
    assert _run(store, tenant, claim) is Outcome.DONE
    assert tenant.release_calls[identity] == 1


@pytest.mark.parametrize("applied", [True, False], ids=["effect-applied", "effect-not-applied"])
def test_crash_between_intent_and_outcome_is_reconciled(store: Store, applied: bool) -> None:
    """The worker marked the release in flight, maybe called the tenant, and died before recording the outcome."""
    tenant = FakeTenant()
    claim, identity = _decided(store, tenant, Action.RELEASE)
    [action] = store.actions(claim.id)
    assert action.id is not None
    store.begin_action(claim, action.id, min_lease_left=0)
    if applied:
        asyncio.run(tenant.release(identity, "user0@contoso.com"))
    calls_before = tenant.release_calls[identity]

    new_owner = _reclaim(store)
    assert _run(store, tenant, new_owner) is Outcome.DONE
    assert tenant.releases_applied[identity] == 1
    # Reconciliation read the release status: an applied effect is never repeated.
    assert tenant.release_calls[identity] == (1 if applied else calls_before + 1)
    [after] = store.actions(claim.id)
    assert after.state == LedgerState.DONE
    assert ("reconciled" in (after.outcome or "")) is applied


def _crashed_while_notifying(store: Store) -> tuple[FakeTenant, str, ActionRow]:
    """A denied request whose notification send had started when the worker died."""
    tenant = FakeTenant()
    claim, identity = _decided(store, tenant, Action.DENY, notify=True)
    deny, notify = store.actions(claim.id)
    assert deny.id is not None and notify.id is not None
    asyncio.run(tenant.deny(identity))
    store.finish_action(claim, deny.id, LedgerState.DONE, "applied")
    store.begin_action(claim, notify.id, min_lease_left=0)
    return tenant, identity, notify


@pytest.mark.parametrize("in_sent_items", [True, False])
def test_notification_after_a_crash_checks_sent_items(store: Store, in_sent_items: bool) -> None:
    tenant, identity, notify = _crashed_while_notifying(store)
    if in_sent_items:
        asyncio.run(tenant.send_mail("quarantine@contoso.com", "user0@contoso.com", "s", "b", notify.idempotency_key))

    assert _run(store, tenant, _reclaim(store)) is Outcome.DONE
    assert tenant.sent_per_marker()[notify.idempotency_key] == 1
    assert tenant.deny_calls[identity] == 1


def test_ambiguous_failure_is_not_retried_blindly(store: Store) -> None:
    """The tenant applied the release and then answered 503: the retry finds it released."""
    tenant = FakeTenant(faults=[Fault(op="release", when="after")])
    claim, identity = _decided(store, tenant, Action.RELEASE)
    assert _run(store, tenant, claim) is Outcome.RETRY
    assert _states(store, claim) == ["unknown"]
    assert _run(store, tenant, claim) is Outcome.DONE
    assert tenant.release_calls[identity] == 1


def test_failure_before_the_effect_is_retried_after_a_check(store: Store) -> None:
    tenant = FakeTenant(faults=[Fault(op="send", when="before")])
    claim, _ = _decided(store, tenant, Action.DENY, notify=True)
    assert _run(store, tenant, claim) is Outcome.RETRY
    assert _states(store, claim) == ["done", "unknown"]
    assert _run(store, tenant, claim) is Outcome.DONE
    assert sum(tenant.sent_per_marker().values()) == 1


def test_unreadable_tenant_state_means_no_action(store: Store) -> None:
    tenant = FakeTenant(faults=[Fault(op="get", when="before")])
    claim, identity = _decided(store, tenant, Action.RELEASE)
    assert _run(store, tenant, claim) is Outcome.RETRY
    assert tenant.release_calls[identity] == 0
    assert _states(store, claim) == ["intent"]


def test_permanent_refusal_goes_to_review(store: Store) -> None:
    tenant = FakeTenant()

    async def refuse(identity: str, user: str) -> None:
        from tools.m365.interfaces import TenantPermissionError

        raise TenantPermissionError("403 forbidden", status=403)

    claim, identity = _decided(store, tenant, Action.RELEASE)
    tenant.release = refuse  # type: ignore[method-assign]
    result = asyncio.run(Executor(store, tenant, tenant).execute(claim))
    assert result.outcome is Outcome.REVIEW and result.request_state == RequestState.MANUAL_REVIEW
    assert _states(store, claim) == ["failed"]
    assert tenant.status(identity) == ReleaseStatus.REQUESTED


def test_expired_message_skips_deny_and_notification(store: Store) -> None:
    tenant = FakeTenant()
    claim, identity = _decided(store, tenant, Action.DENY, notify=True)
    tenant.expire(identity)
    assert _run(store, tenant, claim) is Outcome.EXPIRED
    assert _states(store, claim) == ["skipped", "skipped"]
    assert tenant.deny_calls[identity] == 0 and not tenant.sent


def test_a_worker_that_lost_its_lease_never_acts(store: Store) -> None:
    tenant = FakeTenant()
    claim, identity = _decided(store, tenant, Action.RELEASE)
    _reclaim(store)  # another worker owns it now
    assert _run(store, tenant, claim) is Outcome.LOST
    assert tenant.release_calls[identity] == 0
    assert _states(store, claim) == ["intent"]


def test_a_lease_about_to_expire_is_not_used_for_a_side_effect(store: Store) -> None:
    tenant = FakeTenant()
    [identity] = seed(tenant, 1)
    store.record_discovered(asyncio.run(tenant.list_release_requests()), "t")
    claim = claim_one(store, lease=2.0)
    store.save_decision(claim, result_for(Action.RELEASE), requester="user0@contoso.com")
    outcome = asyncio.run(Executor(store, tenant, tenant, min_lease_left=10).execute(claim)).outcome
    assert outcome is Outcome.LOST and tenant.release_calls[identity] == 0


def test_unknown_notification_waits_for_sent_items_to_settle_before_resending(store: Store) -> None:
    """A crash right after sendMail: the copy may not be in Sent Items yet, so nothing is resent at once."""
    tenant, _, notify = _crashed_while_notifying(store)

    patient = Executor(store, tenant, tenant, notify_settle_seconds=600)
    result = asyncio.run(patient.execute(_reclaim(store)))
    assert result.outcome is Outcome.RETRY
    assert "waiting" in result.reason
    assert tenant.sent_per_marker().get(notify.idempotency_key, 0) == 0
    # Once the settle time has passed with no copy in Sent Items, the mail really was not sent: send it.
    assert asyncio.run(Executor(store, tenant, tenant).execute(_reclaim(store))).outcome is Outcome.DONE
    assert tenant.sent_per_marker()[notify.idempotency_key] == 1
