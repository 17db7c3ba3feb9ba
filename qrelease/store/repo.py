"""Everything the worker and the operator commands read and write, in short transactions.

Writes made on behalf of a claim are *fenced*: they lock the request row and check that its fencing
token is still the one the claim received. A worker whose lease was taken over writes nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from graph.state import TriageResult
from policies.models import Action
from qrelease.store.models import (
    ActionKind,
    ActionRow,
    AuditRow,
    DecisionRow,
    LedgerState,
    ReleaseRequestRow,
    RequestState,
    utc_now,
)
from tools.m365.interfaces import QuarantinedMessage

#: uuid5 namespace of request ids (= LangGraph thread ids), so every worker derives the same id.
REQUEST_NAMESPACE = uuid.UUID("6f1c7c52-3d0e-5b7a-9f43-2a4c8e1d0b61")

#: States in which no worker will touch the request again without an operator.
RESTING_STATES = (RequestState.DONE, RequestState.SHADOWED, RequestState.EXPIRED, RequestState.MANUAL_REVIEW)

#: States a worker may claim (when no live lease holds them).
CLAIMABLE = (RequestState.DISCOVERED, RequestState.CLAIMED, RequestState.DECIDED)


def request_id_for(identity: str) -> str:
    """The stable request id (and graph thread id) of a quarantine identity."""
    return str(uuid.uuid5(REQUEST_NAMESPACE, identity))


def idempotency_key(request_id: str, kind: str) -> str:
    """One key per request and side effect; doubles as the notification's marker header value."""
    return "qr-" + hashlib.sha256(f"{request_id}|{kind}".encode()).hexdigest()[:40]


class LeaseLost(Exception):
    """The claim's fencing token is stale: another worker owns the request now."""


@dataclass(frozen=True)
class Claim:
    """A request leased to this worker."""

    request: ReleaseRequestRow
    token: int
    owner: str

    @property
    def id(self) -> str:
        """The request id."""
        return self.request.id


@dataclass(frozen=True)
class Stats:
    """Aggregates over a time window (see `Store.stats`)."""

    decisions: int
    by_verdict: dict[str, int]
    by_action: dict[str, int]
    by_rule: dict[str, int]
    executed: dict[str, int]
    shadow_would: dict[str, int]
    escalation_rate: float
    p50_seconds: float | None
    p95_seconds: float | None
    states: dict[str, int]


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    # Nearest-rank: the smallest value with at least q of the sample at or below it.
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


class Store:
    """The worker's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    # -- discovery and claims -------------------------------------------------------------------

    def record_discovered(self, messages: Iterable[QuarantinedMessage], actor: str) -> list[str]:
        """Insert requests not seen before; returns the new request ids. Safe for concurrent pollers."""
        rows = {request_id_for(m.identity): m for m in messages}
        if not rows:
            return []
        now = utc_now()
        with self.session() as s:
            known = set(s.exec(select(ReleaseRequestRow.id).where(col(ReleaseRequestRow.id).in_(list(rows)))))
            new = [rid for rid in rows if rid not in known]
            if not new:
                return []
            values = [_row_values(rid, rows[rid], now) for rid in new]
            insert = _insert_ignore(self.postgres, SQLModel.metadata.tables["release_requests"], values)
            inserted = [str(r) for r in s.execute(insert.returning(sa.column("id"))).scalars()]
            for rid in inserted:
                s.add(AuditRow(actor=actor, request_id=rid, event="discovered", detail=rows[rid].identity[:300]))
            return inserted

    def requeue_shadowed(self, messages: Iterable[QuarantinedMessage], actor: str) -> list[str]:
        """Requests decided in shadow mode that the tenant still lists as pending: queue them to be decided again.

        Called once the mode is `enforce`, so switching from shadow to enforce answers the requests that
        were only recorded. Returns the requeued ids.
        """
        ids = [request_id_for(m.identity) for m in messages]
        if not ids:
            return []
        now = utc_now()
        with self.session() as s:
            rows = s.exec(
                select(ReleaseRequestRow)
                .where(col(ReleaseRequestRow.id).in_(ids))
                .where(col(ReleaseRequestRow.state) == str(RequestState.SHADOWED))
                .where(col(ReleaseRequestRow.purged_at).is_(None))
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.state, row.done_at, row.attempts, row.last_error = RequestState.DISCOVERED, None, 0, None
                row.updated_at = now
                s.add(row)
                s.add(
                    AuditRow(actor=actor, request_id=row.id, event="requeued", detail="mode is enforce: decide again")
                )
            return [row.id for row in rows]

    def claim(self, owner: str, limit: int, lease_seconds: float, max_attempts: int) -> list[Claim]:
        """Lease up to `limit` claimable requests (SKIP LOCKED on PostgreSQL); oldest first.

        The attempt is counted at claim time, so a worker killed mid-run still uses one up; a request
        out of attempts goes to manual review here instead of being claimed again.
        """
        now = utc_now()
        lease = now + timedelta(seconds=lease_seconds)
        claims: list[Claim] = []
        with self.session() as s:
            query = (
                select(ReleaseRequestRow)
                .where(col(ReleaseRequestRow.state).in_([str(c) for c in CLAIMABLE]))
                .where(sa.or_(col(ReleaseRequestRow.lease_until).is_(None), col(ReleaseRequestRow.lease_until) < now))
                .order_by(col(ReleaseRequestRow.discovered_at), col(ReleaseRequestRow.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            for row in s.exec(query).all():
                if row.attempts >= max_attempts:
                    reason = f"gave up after {row.attempts} attempts: {row.last_error or 'the worker stopped mid-run'}"
                    row.state, row.review_reason, row.owner, row.lease_until = (
                        RequestState.MANUAL_REVIEW,
                        reason[:500],
                        None,
                        None,
                    )
                    row.fencing_token += 1
                    row.updated_at = now
                    s.add(AuditRow(actor=owner, request_id=row.id, event="escalated", detail=reason[:1000]))
                    continue
                if row.state != RequestState.DECIDED:
                    row.state = RequestState.CLAIMED
                row.owner, row.lease_until = owner, lease
                row.attempts += 1
                row.fencing_token += 1
                row.updated_at = now
                s.add(row)
                claims.append(Claim(request=row, token=row.fencing_token, owner=owner))
        return claims

    def renew(self, claims: Iterable[Claim], lease_seconds: float) -> set[str]:
        """Extend the leases still held; returns the ids whose lease was renewed."""
        held: set[str] = set()
        lease = utc_now() + timedelta(seconds=lease_seconds)
        with self.session() as s:
            for c in claims:
                res = s.execute(
                    sa.update(ReleaseRequestRow)
                    .where(col(ReleaseRequestRow.id) == c.id, col(ReleaseRequestRow.fencing_token) == c.token)
                    .values(lease_until=lease)
                )
                if res.rowcount:  # type: ignore[attr-defined]
                    held.add(c.id)
        return held

    def expire_leases(self, owner: str | None) -> int:
        """End live leases held by `owner` (all owners when None); for a worker recovering its own dead run."""
        now = utc_now()
        with self.session() as s:
            q = (
                sa.update(ReleaseRequestRow)
                .where(col(ReleaseRequestRow.state).in_([str(c) for c in CLAIMABLE]))
                .where(col(ReleaseRequestRow.owner).is_not(None), col(ReleaseRequestRow.lease_until) > now)
            )
            if owner is not None:
                q = q.where(col(ReleaseRequestRow.owner) == owner)
            return int(s.execute(q.values(lease_until=now)).rowcount)  # type: ignore[attr-defined]

    def hand_back(self, claim: Claim, *, error: str | None, retry_in: float = 0.0, count_attempt: bool = True) -> None:
        """Give the request back to the queue (after a transient failure, or on shutdown)."""
        with self.session() as s:
            row = self._fenced(s, claim)
            if row is None:
                return
            if row.state == RequestState.CLAIMED:
                row.state = RequestState.DISCOVERED
            row.owner = None
            row.lease_until = utc_now() + timedelta(seconds=retry_in) if retry_in else None
            if error:
                row.last_error = error[:500]
            if not count_attempt:
                row.attempts = max(0, row.attempts - 1)
            row.updated_at = utc_now()
            s.add(
                AuditRow(actor=claim.owner, request_id=row.id, event="handed_back", detail=(error or "shutdown")[:1000])
            )

    def _fenced(self, s: Session, claim: Claim) -> ReleaseRequestRow | None:
        row = s.exec(
            select(ReleaseRequestRow).where(col(ReleaseRequestRow.id) == claim.id).with_for_update()
        ).one_or_none()
        if row is None or row.fencing_token != claim.token:
            return None
        return row

    def _fenced_or_raise(self, s: Session, claim: Claim) -> ReleaseRequestRow:
        row = self._fenced(s, claim)
        if row is None:
            raise LeaseLost(claim.id)
        return row

    # -- decisions and the ledger ---------------------------------------------------------------

    def save_decision(
        self, claim: Claim, result: TriageResult, *, requester: str | None, cost: tuple[float, float] = (0.0, 0.0)
    ) -> RequestState:
        """Record the triage decision and, when it will be enforced, the ledger intents, in one transaction.

        Returns the request's new state: `decided` (actions pending), `shadowed`, or `manual_review`.
        """
        now = utc_now()
        with self.session() as s:
            row = self._fenced_or_raise(s, claim)
            decision = _decision_row(claim.id, f"worker:{claim.owner}", result, cost)
            s.add(decision)
            s.flush()
            assert decision.id is not None
            d = result.decision
            if not d.enforced:
                row.state = RequestState.SHADOWED
                row.done_at = now
            elif d.action == Action.MANUAL_REVIEW:
                row.state = RequestState.MANUAL_REVIEW
                row.review_reason = d.reason[:500]
                row.owner, row.lease_until = None, None
            else:
                row.state = RequestState.DECIDED
                notification = result.notification.model_dump() if result.notification else None
                _add_intents(s, claim.id, decision.id, d.action, requester, notification, claim.token)
            row.decided_at = now
            row.updated_at = now
            detail = f"{d.action} by {d.rule}" + ("" if d.enforced else " (shadow: not acted on)")
            s.add(AuditRow(actor=f"worker:{claim.owner}", request_id=claim.id, event="decided", detail=detail))
            return RequestState(row.state)

    def actions(self, request_id: str) -> list[ActionRow]:
        """The ledger rows of a request in execution order."""
        with self.session() as s:
            q = select(ActionRow).where(col(ActionRow.request_id) == request_id).order_by(col(ActionRow.seq))
            return list(s.exec(q).all())

    def begin_action(self, claim: Claim, action_id: int, min_lease_left: float) -> ActionRow:
        """Mark a side effect in flight just before calling the tenant (fenced; lease must have time left)."""
        now = utc_now()
        with self.session() as s:
            row = self._fenced_or_raise(s, claim)
            if row.lease_until is None or row.lease_until < now + timedelta(seconds=min_lease_left):
                raise LeaseLost(f"{claim.id}: lease too close to expiry to start a side effect")
            action = s.exec(select(ActionRow).where(col(ActionRow.id) == action_id).with_for_update()).one()
            action.state = LedgerState.IN_FLIGHT
            action.attempts += 1
            action.fencing_token = claim.token
            action.updated_at = now
            s.add(action)
            return action

    def finish_action(self, claim: Claim, action_id: int, state: LedgerState, outcome: str) -> None:
        """Record a side effect's outcome (not fenced: the tenant call already happened, record it)."""
        with self.session() as s:
            action = s.exec(select(ActionRow).where(col(ActionRow.id) == action_id).with_for_update()).one()
            action.state = state
            action.outcome = outcome[:500]
            action.updated_at = utc_now()
            s.add(
                AuditRow(
                    actor=f"worker:{claim.owner}",
                    request_id=claim.id,
                    event=f"{action.kind}_{state}",
                    detail=outcome[:1000],
                )
            )

    def finish_request(self, claim: Claim, state: RequestState, reason: str = "") -> None:
        """Move a claimed request to a resting state and drop the lease (fenced)."""
        now = utc_now()
        with self.session() as s:
            row = self._fenced_or_raise(s, claim)
            row.state = state
            row.owner, row.lease_until = None, None
            if state == RequestState.MANUAL_REVIEW:
                row.review_reason = reason[:500]
            if state.terminal:
                row.done_at = now
            if reason and state != RequestState.DONE:
                row.last_error = reason[:500]
            row.updated_at = now
            s.add(AuditRow(actor=f"worker:{claim.owner}", request_id=claim.id, event=str(state), detail=reason[:1000]))

    # -- operators --------------------------------------------------------------------------------

    def find(self, ref: str) -> ReleaseRequestRow | None:
        """A request by id, identity, or a unique id prefix (as `review list` prints it)."""
        with self.session() as s:
            row = s.exec(
                select(ReleaseRequestRow).where(
                    sa.or_(col(ReleaseRequestRow.id) == ref, col(ReleaseRequestRow.identity) == ref)
                )
            ).one_or_none()
            if row is not None or len(ref) < 6:
                return row
            rows = s.exec(select(ReleaseRequestRow).where(col(ReleaseRequestRow.id).startswith(ref)).limit(2)).all()
            return rows[0] if len(rows) == 1 else None

    def requests(self, state: RequestState | None = None, limit: int = 100) -> list[ReleaseRequestRow]:
        """Requests, newest first, optionally in one state."""
        with self.session() as s:
            q = select(ReleaseRequestRow)
            if state is not None:
                q = q.where(col(ReleaseRequestRow.state) == state)
            return list(s.exec(q.order_by(col(ReleaseRequestRow.discovered_at).desc()).limit(limit)).all())

    def decisions(self, request_id: str | None = None, limit: int = 50) -> list[DecisionRow]:
        """Decisions, newest first."""
        with self.session() as s:
            q = select(DecisionRow)
            if request_id is not None:
                q = q.where(col(DecisionRow.request_id) == request_id)
            return list(s.exec(q.order_by(col(DecisionRow.created_at).desc(), col(DecisionRow.id).desc()).limit(limit)))

    def audit_trail(self, request_id: str) -> list[AuditRow]:
        """The request's audit events, oldest first."""
        with self.session() as s:
            q = select(AuditRow).where(col(AuditRow.request_id) == request_id).order_by(col(AuditRow.id))
            return list(s.exec(q).all())

    def operator_decide(
        self,
        request_id: str,
        operator: str,
        action: Action,
        reason: str,
        notification: dict[str, Any] | None = None,
    ) -> None:
        """An operator's decision on a request in manual review; the worker executes it through the ledger.

        Raises:
            ValueError: the request is not waiting for review.
        """
        if action == Action.MANUAL_REVIEW:
            raise ValueError("an operator decision must be release or deny")
        now = utc_now()
        actor = f"operator:{operator}"
        with self.session() as s:
            row = s.exec(
                select(ReleaseRequestRow).where(col(ReleaseRequestRow.id) == request_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise ValueError(f"no request {request_id}")
            if row.state != RequestState.MANUAL_REVIEW:
                raise ValueError(f"request {request_id[:8]} is {row.state}, not waiting for review")
            decision = DecisionRow(
                request_id=request_id,
                decided_by=actor,
                action=str(action),
                rule=f"operator.{action}",
                reason=reason[:1000],
                notify="operator" if notification else "none",
                reasoner="operator",
                model_id="",
            )
            s.add(decision)
            s.flush()
            assert decision.id is not None
            _add_intents(s, request_id, decision.id, action, row.requester, notification, row.fencing_token)
            row.state = RequestState.DECIDED
            row.owner, row.lease_until = None, None
            row.attempts = 0
            row.last_error = None
            row.decided_at = now
            row.updated_at = now
            detail = f"{action}" + (" + notify" if notification else "") + (f": {reason}" if reason else "")
            s.add(AuditRow(actor=actor, request_id=request_id, event=f"review_{action}", detail=detail[:1000]))

    # -- reporting --------------------------------------------------------------------------------

    def stats(self, since: datetime) -> Stats:
        """Counts per verdict, action and rule, executed side effects, escalation rate, time-to-decision."""
        with self.session() as s:
            decisions = s.exec(select(DecisionRow).where(col(DecisionRow.created_at) >= since)).all()
            requests = {
                r.id: r
                for r in s.exec(select(ReleaseRequestRow).where(col(ReleaseRequestRow.discovered_at) >= since)).all()
            }
            executed_rows = s.exec(
                select(ActionRow.kind, sa.func.count())
                .where(col(ActionRow.state) == LedgerState.DONE, col(ActionRow.updated_at) >= since)
                .group_by(col(ActionRow.kind))
            ).all()
        auto = [d for d in decisions if d.decided_by.startswith("worker:")]
        by_verdict = _count(d.verdict or "none" for d in auto)
        by_action = _count(d.action for d in auto)
        by_rule = _count(d.rule for d in auto)
        shadow = _count(d.action for d in auto if not d.enforced)
        escalations = sum(1 for d in auto if d.action == Action.MANUAL_REVIEW)
        ttd = [(r.decided_at - r.discovered_at).total_seconds() for r in requests.values() if r.decided_at is not None]
        return Stats(
            decisions=len(auto),
            by_verdict=by_verdict,
            by_action=by_action,
            by_rule=by_rule,
            executed={str(k): int(v) for k, v in executed_rows},
            shadow_would=shadow,
            escalation_rate=escalations / len(auto) if auto else 0.0,
            p50_seconds=_percentile(ttd, 0.50),
            p95_seconds=_percentile(ttd, 0.95),
            states=_count(str(r.state) for r in requests.values()),
        )

    def counts(self) -> dict[str, int]:
        """Requests per state (health and the live view)."""
        with self.session() as s:
            rows = s.exec(select(ReleaseRequestRow.state, sa.func.count()).group_by(col(ReleaseRequestRow.state)))
            return {str(k): int(v) for k, v in rows}

    # -- retention ----------------------------------------------------------------------------------

    def purge_content(self, older_than: datetime, actor: str) -> list[str]:
        """Empty message content of requests finished before `older_than`; audit rows stay.

        Returns the purged request ids, whose graph checkpoints the caller deletes.
        """
        now = utc_now()
        with self.session() as s:
            rows = s.exec(
                select(ReleaseRequestRow)
                .where(col(ReleaseRequestRow.purged_at).is_(None))
                # Only requests at rest: an in-flight one still needs its notification payload.
                .where(col(ReleaseRequestRow.state).in_([str(s) for s in RESTING_STATES]))
                .where(
                    sa.or_(
                        col(ReleaseRequestRow.done_at) < older_than,
                        sa.and_(
                            col(ReleaseRequestRow.done_at).is_(None), col(ReleaseRequestRow.updated_at) < older_than
                        ),
                    )
                )
                .with_for_update(skip_locked=True)
            ).all()
            ids = [r.id for r in rows]
            for r in rows:
                r.subject, r.sender, r.message_id, r.purged_at = "", _domain_only(r.sender), "", now
            if ids:
                s.execute(
                    sa.update(DecisionRow)
                    .where(col(DecisionRow.request_id).in_(ids))
                    .values(reasoning="[purged]", findings=[])
                )
                s.execute(sa.update(ActionRow).where(col(ActionRow.request_id).in_(ids)).values(payload=None))
                s.add(
                    AuditRow(
                        actor=actor,
                        event="retention_purge",
                        detail=f"{len(ids)} requests older than {older_than:%Y-%m-%d}",
                    )
                )
            return ids


def _domain_only(address: str) -> str:
    return address.rpartition("@")[2]


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _row_values(rid: str, m: QuarantinedMessage, now: datetime) -> dict[str, Any]:
    requester = m.requester or (m.recipients[0] if len(m.recipients) == 1 else None)
    return {
        "id": rid,
        "identity": m.identity,
        "state": str(RequestState.DISCOVERED),
        "requester": requester,
        "recipients": list(m.recipients)[:50],
        "sender": m.sender[:320],
        "subject": m.subject[:300],
        "message_id": m.message_id[:300],
        "quarantine_type": str(m.quarantine_type) if m.quarantine_type else None,
        "received_at": _utc(m.received),
        "expires_at": _utc(m.expires),
        "attempts": 0,
        "fencing_token": 0,
        "discovered_at": now,
        "updated_at": now,
    }


def _utc(value: datetime | None) -> datetime | None:
    # The tenant's times should carry an offset; a bare one is taken as UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert_ignore(postgres: bool, table: sa.Table, values: list[dict[str, Any]]) -> Any:
    if postgres:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(values).on_conflict_do_nothing()


def _decision_row(request_id: str, actor: str, result: TriageResult, cost: tuple[float, float]) -> DecisionRow:
    d = result.decision
    tokens_in = sum(u.input_tokens for u in result.usage)
    tokens_out = sum(u.output_tokens for u in result.usage)
    return DecisionRow(
        request_id=request_id,
        decided_by=actor,
        verdict=str(result.verdict) if result.verdict else None,
        confidence=result.confidence,
        reasoning=result.reasoning[:4000],
        findings=[{"id": f.id, "severity": str(f.severity), "evidence": f.evidence} for f in result.evidence[:200]],
        action=str(d.action),
        rule=d.rule,
        reason=d.reason[:1000],
        notify=d.notify,
        enforced=d.enforced,
        reasoner=result.reasoner,
        model_id=result.model_id,
        prompt_hashes=sorted({u.prompt_sha256 for u in result.usage if u.prompt_sha256}),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=round(tokens_in * cost[0] / 1e6 + tokens_out * cost[1] / 1e6, 6),
        errors=[e[:300] for e in result.errors[:20]],
    )


def _add_intents(
    s: Session,
    request_id: str,
    decision_id: int,
    action: Action,
    requester: str | None,
    notification: dict[str, Any] | None,
    token: int,
) -> None:
    """Ledger intents for a release or a deny (+ notification). Re-arms a failed row of the same kind."""
    planned: list[tuple[ActionKind, dict[str, Any] | None]] = []
    if action == Action.RELEASE:
        planned.append((ActionKind.RELEASE, {"user": requester}))
    elif action == Action.DENY:
        planned.append((ActionKind.DENY, None))
        if notification:
            planned.append((ActionKind.NOTIFY, notification))
    existing = {
        a.kind: a for a in s.exec(select(ActionRow).where(col(ActionRow.request_id) == request_id).with_for_update())
    }
    for seq, (kind, payload) in enumerate(planned):
        old = existing.get(kind)
        if old is not None:
            if old.state in (LedgerState.FAILED, LedgerState.SKIPPED):
                old.state, old.decision_id, old.payload, old.seq = LedgerState.INTENT, decision_id, payload, seq
                old.updated_at = utc_now()
                s.add(old)
            continue  # done / in flight / unknown: the existing row already carries this effect
        s.add(
            ActionRow(
                request_id=request_id,
                decision_id=decision_id,
                kind=kind,
                seq=seq,
                idempotency_key=idempotency_key(request_id, kind),
                payload=payload,
                fencing_token=token,
            )
        )
