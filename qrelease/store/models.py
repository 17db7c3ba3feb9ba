"""The worker's tables (SQLModel). The schema itself is created by `migrations.py`, never by `create_all`.

Times are aware UTC: SQLModel stores them as `timestamptz` on PostgreSQL and as UTC text on SQLite,
and returns them aware, so comparisons such as `lease_until < now` mean the same on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    """Aware UTC now, the store's time convention."""
    return datetime.now(UTC)


class RequestState(StrEnum):
    """Where a release request is in its life.

    discovered -> claimed -> decided -> done, with side exits manual_review (an operator must decide),
    expired (the tenant no longer holds it) and shadowed (decided in shadow mode, never acted on).
    """

    DISCOVERED = "discovered"
    CLAIMED = "claimed"
    DECIDED = "decided"
    DONE = "done"
    SHADOWED = "shadowed"
    MANUAL_REVIEW = "manual_review"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        """No worker will touch the request again (manual review waits for an operator)."""
        return self in {RequestState.DONE, RequestState.SHADOWED, RequestState.EXPIRED}


class LedgerState(StrEnum):
    """One side effect's progress. `in_flight`/`unknown` mean: re-read the tenant before trying again."""

    INTENT = "intent"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    UNKNOWN = "unknown"
    FAILED = "failed"
    SKIPPED = "skipped"


class ActionKind(StrEnum):
    """Side effects on the tenant."""

    RELEASE = "release"
    DENY = "deny"
    NOTIFY = "notify"


class ReleaseRequestRow(SQLModel, table=True):
    """One quarantined message whose release was requested (keyed by the Exchange identity)."""

    __tablename__ = "release_requests"

    id: str = Field(primary_key=True, max_length=36)
    """uuid5 of the identity; also the LangGraph thread id."""
    identity: str = Field(unique=True, max_length=300)
    state: str = Field(default=RequestState.DISCOVERED, max_length=20, index=True)
    requester: str | None = Field(default=None, max_length=320)
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    sender: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=300)
    """Message content: emptied by the retention purge."""
    message_id: str = Field(default="", max_length=300)
    quarantine_type: str | None = Field(default=None, max_length=40)
    received_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    owner: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = None
    fencing_token: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    review_reason: str | None = Field(default=None, max_length=500)
    discovered_at: datetime = Field(default_factory=utc_now, index=True)
    decided_at: datetime | None = None
    done_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utc_now)
    purged_at: datetime | None = None


class DecisionRow(SQLModel, table=True):
    """A decision on a request: the worker's triage or an operator's review."""

    __tablename__ = "decisions"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="release_requests.id", index=True, max_length=36)
    decided_by: str = Field(max_length=200)
    """`worker:<id>` or `operator:<name>`."""
    verdict: str | None = Field(default=None, max_length=20)
    confidence: float = 0.0
    reasoning: str = ""
    """May quote the message: emptied by the retention purge."""
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    action: str = Field(max_length=20)
    rule: str = Field(max_length=80)
    reason: str = Field(default="", max_length=1000)
    notify: str = Field(default="none", max_length=20)
    enforced: bool = True
    reasoner: str = Field(default="", max_length=80)
    model_id: str = Field(default="", max_length=200)
    prompt_hashes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utc_now, index=True)


class ActionRow(SQLModel, table=True):
    """The actions ledger: written before each side effect, updated after it."""

    __tablename__ = "actions"
    __table_args__ = (sa.UniqueConstraint("request_id", "kind", name="uq_actions_request_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="release_requests.id", index=True, max_length=36)
    decision_id: int = Field(foreign_key="decisions.id")
    kind: str = Field(max_length=20)
    seq: int = 0
    """Order within the request: deny before notify."""
    idempotency_key: str = Field(unique=True, max_length=64)
    """Also the notification's marker header, found again in Sent Items."""
    state: str = Field(default=LedgerState.INTENT, max_length=20)
    attempts: int = 0
    outcome: str | None = Field(default=None, max_length=500)
    payload: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    """What to send (the notification): emptied by the retention purge."""
    fencing_token: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class AuditRow(SQLModel, table=True):
    """Who did what, when. Never purged; never holds message content."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, index=True)
    actor: str = Field(max_length=200)
    request_id: str | None = Field(default=None, index=True, max_length=36)
    event: str = Field(max_length=60)
    detail: str = Field(default="", max_length=1000)
