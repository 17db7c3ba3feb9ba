"""Side effects on the tenant, exactly once: ledger first, re-read the tenant after an unknown outcome.

For each ledger row of a decided request, in order:

1. a row left `in_flight` or `unknown` by a crash or an ambiguous reply is *reconciled*: the release
   status is re-read (release, deny) or Sent Items searched for the row's marker header (notify);
   an effect already applied is recorded as done and never repeated;
2. release and deny re-read the message state first anyway (an admin may have acted in the portal);
3. the row is marked `in_flight` in a fenced transaction (the claim must still own the request),
   the tenant is called once, and the outcome recorded: `done`, `failed` (permanent error: an
   operator decides) or `unknown` (timeout, 5xx: reconciled before any retry).

Nothing is retried blindly, and shadow mode never gets here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from qrelease.store.models import ActionKind, ActionRow, LedgerState, RequestState, utc_now
from qrelease.store.repo import Claim, LeaseLost, Store
from tools.m365.interfaces import (
    DirectoryClient,
    QuarantineClient,
    QuarantineStateError,
    ReleaseStatus,
    TenantError,
)

log = logging.getLogger("qrelease.executor")

#: The tenant states that mean "this effect is in place" for each kind.
_APPLIED = {
    ActionKind.RELEASE: {ReleaseStatus.RELEASED, ReleaseStatus.PREPARING},
    ActionKind.DENY: {ReleaseStatus.DENIED},
}
#: States after which neither release nor deny can happen any more.
_CLOSED = {ReleaseStatus.RELEASED, ReleaseStatus.DENIED, ReleaseStatus.EXPIRED, ReleaseStatus.NOT_FOUND}


class Outcome(StrEnum):
    """What the worker does with the request after execution."""

    DONE = "done"
    RETRY = "retry"
    """An outcome is unknown or the tenant is unavailable: hand back, reconcile on the next attempt."""
    REVIEW = "review"
    EXPIRED = "expired"
    LOST = "lost"
    """The lease was lost: another worker owns the request; touch nothing."""


@dataclass(frozen=True)
class Execution:
    """The executor's result for one request."""

    outcome: Outcome
    reason: str = ""

    @property
    def request_state(self) -> RequestState | None:
        """The resting state for the request; None to hand it back."""
        return {
            Outcome.DONE: RequestState.DONE,
            Outcome.REVIEW: RequestState.MANUAL_REVIEW,
            Outcome.EXPIRED: RequestState.EXPIRED,
        }.get(self.outcome)


class Executor:
    """Carries out a request's ledger against the tenant."""

    def __init__(
        self,
        store: Store,
        quarantine: QuarantineClient,
        directory: DirectoryClient,
        *,
        min_lease_left: float = 5.0,
        notify_settle_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.quarantine = quarantine
        self.directory = directory
        self.min_lease_left = min_lease_left
        self.notify_settle_seconds = notify_settle_seconds

    async def execute(self, claim: Claim) -> Execution:
        """Run every pending ledger row of the claimed request, in order."""
        closed: ReleaseStatus | None = None
        for action in await asyncio.to_thread(self.store.actions, claim.id):
            if action.state in (LedgerState.DONE, LedgerState.SKIPPED):
                continue
            if action.state == LedgerState.FAILED:
                return Execution(Outcome.REVIEW, f"{action.kind} failed: {action.outcome or 'unknown error'}")
            if closed is not None:
                # The message left quarantine another way: a notification about our deny would be wrong.
                await self._record(claim, action, LedgerState.SKIPPED, f"message is {closed.value}")
                continue
            try:
                result = await self._one(claim, action)
            except LeaseLost as exc:
                return Execution(Outcome.LOST, str(exc))
            if isinstance(result, Execution):
                return result
            closed = result
        if closed in (ReleaseStatus.EXPIRED, ReleaseStatus.NOT_FOUND):
            return Execution(Outcome.EXPIRED, f"the message is {closed.value}")
        return Execution(Outcome.DONE)

    async def _one(self, claim: Claim, action: ActionRow) -> Execution | ReleaseStatus | None:
        """Reconcile, then act once. Returns an early Execution, a closing tenant state, or None when done."""
        kind = ActionKind(action.kind)
        identity = claim.request.identity
        try:
            if kind is ActionKind.NOTIFY:
                if action.state in (LedgerState.IN_FLIGHT, LedgerState.UNKNOWN) and await self._notified(action):
                    await self._record(
                        claim,
                        action,
                        LedgerState.DONE,
                        "reconciled: found in Sent Items",
                    )
                    return None
                if action.state in (LedgerState.IN_FLIGHT, LedgerState.UNKNOWN):
                    # Exchange accepts sendMail before the copy reaches Sent Items: give it time to appear
                    # before concluding the mail was never sent, or a crash right after sending resends it.
                    waited = (utc_now() - _aware(action.updated_at)).total_seconds()
                    if waited < self.notify_settle_seconds:
                        return Execution(
                            Outcome.RETRY,
                            f"notify outcome unknown; waiting {self.notify_settle_seconds - waited:.0f}s "
                            "for Sent Items before sending again",
                        )
            else:
                status = (await self.quarantine.get_message(identity)).release_status
                if status in _APPLIED[kind]:
                    note = "reconciled: already applied" if action.attempts else f"already {status.value} in the tenant"
                    await self._record(claim, action, LedgerState.DONE, note)
                    return None
                if status in _CLOSED:
                    await self._record(claim, action, LedgerState.SKIPPED, f"message is {status.value}")
                    return status
        except TenantError as exc:
            # Cannot learn the state: acting now could repeat an effect. Try again later.
            return Execution(Outcome.RETRY, f"re-reading the tenant before {kind} failed: {_err(exc)}")
        except Exception as exc:
            return Execution(Outcome.RETRY, f"re-reading the tenant before {kind} failed: {type(exc).__name__}")

        payload = action.payload or {}
        if kind is ActionKind.RELEASE and not payload.get("user"):
            await self._record(claim, action, LedgerState.FAILED, "no requester to release to")
            return Execution(Outcome.REVIEW, "release: the requester is unknown")
        if kind is ActionKind.NOTIFY and not {"to", "from_address", "subject", "body"} <= payload.keys():
            await self._record(claim, action, LedgerState.FAILED, "notification payload missing")
            return Execution(Outcome.REVIEW, "notify: the notification was not recorded")

        await asyncio.to_thread(self.store.begin_action, claim, _id(action), self.min_lease_left)  # raises LeaseLost
        try:
            if kind is ActionKind.RELEASE:
                await self.quarantine.release(identity, str(payload["user"]))
            elif kind is ActionKind.DENY:
                await self.quarantine.deny(identity)
            else:
                await self.directory.send_mail(
                    str(payload["from_address"]),
                    str(payload["to"]),
                    str(payload["subject"]),
                    str(payload["body"]),
                    action.idempotency_key,
                )
        except QuarantineStateError as exc:
            if exc.state in _APPLIED.get(kind, set()):
                await self._record(
                    claim,
                    action,
                    LedgerState.DONE,
                    f"tenant says already {exc.state.value}",
                )
                return None
            await self._record(claim, action, LedgerState.SKIPPED, f"message is {exc.state.value}")
            return exc.state
        except TenantError as exc:
            if exc.permanent:
                await self._record(claim, action, LedgerState.FAILED, _err(exc))
                return Execution(Outcome.REVIEW, f"{kind} refused by the tenant: {_err(exc)}")
            await self._record(claim, action, LedgerState.UNKNOWN, _err(exc))
            return Execution(Outcome.RETRY, f"{kind} outcome unknown: {_err(exc)}")
        except Exception as exc:
            # Whatever happened, the call may have reached the tenant: unknown, reconciled next time.
            await self._record(claim, action, LedgerState.UNKNOWN, type(exc).__name__)
            return Execution(Outcome.RETRY, f"{kind} outcome unknown: {type(exc).__name__}")
        await self._record(claim, action, LedgerState.DONE, "applied")
        return None

    async def _record(self, claim: Claim, action: ActionRow, state: LedgerState, outcome: str) -> None:
        # Store calls run in a thread: a commit's disk flush must not stall the other requests' event loop.
        await asyncio.to_thread(self.store.finish_action, claim, _id(action), state, outcome)

    async def _notified(self, action: ActionRow) -> bool:
        sender = str((action.payload or {}).get("from_address", ""))
        return bool(sender) and await self.directory.sent_with_marker(sender, action.idempotency_key)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the store writes UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _id(action: ActionRow) -> int:
    assert action.id is not None
    return action.id


def _err(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
