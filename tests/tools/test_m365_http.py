"""The shared retry/back-off/error-mapping layer of the tenant adapters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tools.m365.http import MailboxLimiter, RetryPolicy, error_for_status, parse_retry_after, with_retries
from tools.m365.interfaces import TenantError, TenantNotFound, TenantPermissionError, TransientTenantError


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("2.128", 2.128), (" 0 ", 0.0), ("", None), (None, None), ("-3", None), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None and 28 <= seconds <= 30
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past) == 0.0


@pytest.mark.parametrize(
    ("status", "kind", "permanent"),
    [
        (401, TenantPermissionError, True),
        (403, TenantPermissionError, True),
        (404, TenantNotFound, True),
        (400, TenantError, True),
        (409, TenantError, True),
        (429, TransientTenantError, False),
        (500, TransientTenantError, False),
        (503, TransientTenantError, False),
        (504, TransientTenantError, False),
    ],
)
def test_error_for_status(status: int, kind: type[TenantError], permanent: bool) -> None:
    exc = error_for_status(status, "detail.", operation="GET /x", permission="X.Read.All", headers={"retry-after": "5"})
    assert type(exc) is kind
    assert exc.status == status
    assert exc.permanent is permanent
    assert "GET /x" in str(exc) and "detail" in str(exc)
    if status in (401, 403):
        assert "X.Read.All" in str(exc)
    if kind is TransientTenantError:
        assert isinstance(exc, TransientTenantError) and exc.retry_after == 5.0


def _flaky(failures: list[TenantError]):  # type: ignore[no-untyped-def]
    calls = []

    async def call() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "ok"

    return call, calls


def test_with_retries_stops_at_a_permanent_error(sleeps: list[float]) -> None:
    call, calls = _flaky([TenantPermissionError("no", status=403)])
    with pytest.raises(TenantPermissionError):
        asyncio.run(with_retries(call, idempotent=True))
    assert len(calls) == 1 and sleeps == []


def test_with_retries_refuses_to_wait_longer_than_the_cap(sleeps: list[float]) -> None:
    call, calls = _flaky([TransientTenantError("slow down", status=429, retry_after=3600)])
    with pytest.raises(TransientTenantError):
        asyncio.run(with_retries(call, idempotent=True, policy=RetryPolicy(max_retry_after=120)))
    assert len(calls) == 1 and sleeps == []


def test_with_retries_recovers(sleeps: list[float]) -> None:
    call, calls = _flaky(
        [TransientTenantError("busy", status=503), TransientTenantError("busy", status=429, retry_after=1.5)]
    )
    assert asyncio.run(with_retries(call, idempotent=True, policy=RetryPolicy(base_delay=0.5))) == "ok"
    assert len(calls) == 3
    assert 0.5 <= sleeps[0] <= 0.625 and sleeps[1] == 1.5


def test_with_retries_never_repeats_a_write(sleeps: list[float]) -> None:
    call, calls = _flaky([TransientTenantError("busy", status=503)])
    with pytest.raises(TransientTenantError):
        asyncio.run(with_retries(call, idempotent=False))
    assert len(calls) == 1 and sleeps == []


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=5)
    assert 5 <= policy.delay(10, None) <= 6.25


def test_mailbox_limiter_is_per_mailbox_and_case_insensitive() -> None:
    limiter = MailboxLimiter(limit=2)
    assert limiter.slot("A@contoso.com") is limiter.slot("a@contoso.com ")
    assert limiter.slot("a@contoso.com") is not limiter.slot("b@contoso.com")
