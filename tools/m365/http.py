"""What every tenant call shares: timeouts, bounded retries for reads, Retry-After, error mapping, per-mailbox limits.

Rules (issue 4): reads honour 429/503 `Retry-After` with bounded exponential backoff; a non-idempotent
call (sendMail, release, deny) is never retried here: its caller re-reads the state first. 401/403 become
a `TenantPermissionError` naming what is missing; 404 a `TenantNotFound`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tools.m365.interfaces import TenantError, TenantNotFound, TenantPermissionError, TransientTenantError

T = TypeVar("T")

#: Outlook allows 4 concurrent requests per app and mailbox (Graph throttling limits).
MAX_CONCURRENT_PER_MAILBOX = 4

#: Statuses worth retrying for a read; everything else is final.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


async def sleep(seconds: float) -> None:
    """The back-off sleep (a module function so tests can replace it and run instantly)."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for idempotent reads."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    """A server asking for a longer pause than this fails the call now instead of holding a worker."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Jitter spreads retries of concurrent workers; at most a quarter of the backoff.
        return float(backoff + random.uniform(0, backoff / 4))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: integer or fractional seconds (Graph sends `2.128`) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            from datetime import UTC, datetime

            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def error_for_status(
    status: int,
    detail: str,
    *,
    operation: str,
    permission: str,
    headers: Mapping[str, str] | None = None,
) -> TenantError:
    """One `TenantError` subclass per HTTP failure, with a message an operator can act on.

    Args:
        status: the HTTP status.
        detail: the service's own message (already short and sanitized).
        operation: what was attempted ("Get-QuarantineMessage", "GET /domains").
        permission: the permission or role the call needs, named in 401/403 messages.
        headers: the response headers (for `Retry-After`).
    """
    detail = detail.strip().rstrip(".")
    suffix = f": {detail}" if detail else ""
    if status == 401:
        return TenantPermissionError(
            f"{operation} was refused (401 unauthenticated){suffix}. Check tenant_id, client_id and the "
            f"certificate or secret; the app needs {permission} with admin consent.",
            status=status,
            permission=permission,
        )
    if status == 403:
        return TenantPermissionError(
            f"{operation} was refused (403 forbidden){suffix}. The app is missing {permission}.",
            status=status,
            permission=permission,
        )
    if status == 404:
        return TenantNotFound(f"{operation}: not found (404){suffix}", status=status)
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after((headers or {}).get("retry-after") or (headers or {}).get("Retry-After"))
        return TransientTenantError(f"{operation} failed with {status}{suffix}", status=status, retry_after=retry_after)
    return TenantError(f"{operation} failed with {status}{suffix}", status=status, permanent=400 <= status < 500)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    idempotent: bool,
    policy: RetryPolicy | None = None,
) -> T:
    """Run `call`; retry transient failures only when the call is idempotent (a read).

    A non-idempotent call raises its first failure: a timeout after sending may still have
    taken effect, so the caller must re-read the state before deciding to try again.
    """
    policy = policy or RetryPolicy()
    attempt = 1
    while True:
        try:
            return await call()
        except TransientTenantError as exc:
            if not idempotent or attempt >= policy.max_attempts:
                raise
            if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
                raise
            await sleep(policy.delay(attempt, exc.retry_after))
            attempt += 1


class MailboxLimiter:
    """At most `limit` concurrent requests per mailbox (Outlook's per app+mailbox concurrency limit)."""

    def __init__(self, limit: int = MAX_CONCURRENT_PER_MAILBOX) -> None:
        self._limit = limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def slot(self, mailbox: str) -> asyncio.Semaphore:
        """The semaphore guarding `mailbox` (case-insensitive)."""
        key = mailbox.strip().lower()
        sem = self._semaphores.get(key)
        if sem is None:
            sem = self._semaphores[key] = asyncio.Semaphore(self._limit)
        return sem


def short(text: str, limit: int = 300) -> str:
    """A service message cut to one line for errors (never a whole body)."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
