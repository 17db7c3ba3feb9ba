"""GraphDirectoryClient (msgraph-sdk) against replayed Graph responses (tests/cassettes/test_m365_graph/).

The cassettes pin each request exactly as the SDK sends it (URL-encoded path and OData query, JSON
body); unmatched requests and unplayed interactions fail the test.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tools.m365.credentials import StaticTokenCredential
from tools.m365.graph_directory import GraphDirectoryClient, build_graph_client
from tools.m365.interfaces import (
    TenantError,
    TenantNotFound,
    TenantPermissionError,
    TransientTenantError,
    UserProfile,
)

GROUPS = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 26)]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NOTICE = ("quarantine@contoso.com", "alexw@contoso.com", "Your quarantined message was released")
BODY = "Your message was released.\n\nIT Security"


class Clock:
    """A monotonic clock the test moves by hand (group cache TTL)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    credential: StaticTokenCredential, *, http: httpx.AsyncClient | None = None, **kwargs: Any
) -> GraphDirectoryClient:
    return GraphDirectoryClient(build_graph_client(credential, http_client=http), clock=lambda: NOW, **kwargs)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.vcr
def test_member_of_batches_20_ids_and_caches(credential: StaticTokenCredential) -> None:
    clock = Clock()
    directory = make(credential, group_cache_ttl=60, monotonic=clock)

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        first = await directory.member_of("AlexW@contoso.com", GROUPS)  # 2 calls: 20 + 5 ids
        cached = await directory.member_of("alexw@contoso.com", [GROUPS[24], GROUPS[2].upper()])  # no call
        clock.now += 61
        expired = await directory.member_of("alexw@contoso.com", [GROUPS[2]])  # 1 call, now not a member
        return first, cached, expired

    first, cached, expired = run(scenario())
    assert first == [GROUPS[2], GROUPS[19], GROUPS[24]]
    assert cached == [GROUPS[24], GROUPS[2]]
    assert expired == []


def test_member_of_refuses_non_guid_group_ids(credential: StaticTokenCredential) -> None:
    with pytest.raises(ValueError, match="not a group object id"):
        run(make(credential).member_of("alexw@contoso.com", ["sales@contoso.com"]))


@pytest.mark.vcr
def test_verified_domains_follows_paging_and_keeps_only_verified(credential: StaticTokenCredential) -> None:
    directory = make(credential)

    async def twice() -> tuple[frozenset[str], frozenset[str]]:
        return await directory.verified_domains(), await directory.verified_domains()  # second from cache

    first, second = run(twice())
    assert first == {"contoso.com", "contoso.onmicrosoft.com", "fabrikam.com"}
    assert second == first


@pytest.mark.vcr
def test_429_retry_after_fractional_seconds(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    # Graph's own sample sends "Retry-After: 2.128"; the SDK's int() parsing would not honour it.
    assert run(make(credential).verified_domains()) == {"contoso.com"}
    assert sleeps == [2.128]


@pytest.mark.vcr
def test_401_names_the_missing_permission(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    with pytest.raises(TenantPermissionError) as info:
        run(make(credential).verified_domains())
    assert info.value.status == 401
    assert "Domain.Read.All" in str(info.value)
    assert "InvalidAuthenticationToken" in str(info.value)
    assert sleeps == []


@pytest.mark.vcr
def test_malformed_json_is_a_clear_error(credential: StaticTokenCredential) -> None:
    with pytest.raises(TenantError, match="malformed response"):
        run(make(credential).verified_domains())


@pytest.mark.vcr
def test_send_mail_exact_request(credential: StaticTokenCredential) -> None:
    assert run(make(credential).send_mail(*NOTICE, BODY, "qr-7f3a9c.notify")) is None


@pytest.mark.vcr
def test_send_mail_is_never_retried(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    with pytest.raises(TransientTenantError) as info:
        run(make(credential).send_mail(*NOTICE, BODY, "qr-7f3a9c.notify"))
    assert info.value.status == 503
    assert sleeps == []  # the caller looks in Sent Items before trying again


@pytest.mark.vcr
def test_send_mail_403_names_mail_send(credential: StaticTokenCredential) -> None:
    with pytest.raises(TenantPermissionError) as info:
        run(make(credential).send_mail(*NOTICE, BODY, "qr-7f3a9c.notify"))
    assert "Mail.Send" in str(info.value)
    assert "ErrorAccessDenied" in str(info.value)


@pytest.mark.parametrize("marker", ["", "has space", "quote'injection", "x" * 129])
def test_send_mail_refuses_unsafe_markers(credential: StaticTokenCredential, marker: str) -> None:
    with pytest.raises(ValueError, match="marker"):
        run(make(credential).send_mail(*NOTICE, BODY, marker))


@pytest.mark.vcr
def test_sent_with_marker(credential: StaticTokenCredential) -> None:
    directory = make(credential)

    async def twice() -> tuple[bool, bool]:
        return (
            await directory.sent_with_marker("quarantine@contoso.com", "qr-7f3a9c.notify"),
            await directory.sent_with_marker("quarantine@contoso.com", "qr-7f3a9c.notify"),
        )

    assert run(twice()) == (True, False)


@pytest.mark.vcr
def test_sender_history_known_sender(credential: StaticTokenCredential) -> None:
    line = run(make(credential).sender_history("alexw@contoso.com", "Invoices@Fabrikam.com"))
    assert line == (
        "alexw@contoso.com has 3+ earlier message(s) from invoices@fabrikam.com: the oldest seen is from "
        "2026-06-07 (180 days ago), the latest from 2026-11-30 (4 days ago)."
    )


@pytest.mark.vcr
def test_sender_history_first_contact(credential: StaticTokenCredential) -> None:
    # None is "no earlier mail": the header analyst turns it into a first-contact finding.
    assert run(make(credential).sender_history("alexw@contoso.com", "invoices@fabrikam.com")) is None


@pytest.mark.vcr
def test_sender_history_unknown_mailbox(credential: StaticTokenCredential) -> None:
    # Not a first contact: a failed lookup, which the graph turns into manual review.
    with pytest.raises(TenantNotFound, match="ErrorInvalidUser"):
        run(make(credential).sender_history("alexw@contoso.com", "invoices@fabrikam.com"))


@pytest.mark.parametrize(
    "sender",
    [
        "x' or true or 'a@b.com",
        "a@b.com') or (1 eq 1",
        "bob@fabrikam.com\r\nX-Evil: 1",
        "@fabrikam.com",
        "bob@",
        "bob@@fabrikam.com",
        "bob@fabrikam..com",
        "",
    ],
)
def test_sender_history_refuses_hostile_addresses(credential: StaticTokenCredential, sender: str) -> None:
    # The sender comes from the email: it must never shape the OData filter.
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    with pytest.raises(ValueError, match="not a plain email address"):
        run(make(credential, http=http).sender_history("alexw@contoso.com", sender))


@pytest.mark.vcr
def test_user_profile(credential: StaticTokenCredential) -> None:
    directory = make(credential)

    async def both() -> tuple[UserProfile | None, UserProfile | None]:
        return await directory.user_profile("alexw@contoso.com"), await directory.user_profile("nobody@contoso.com")

    found, missing = run(both())
    assert found == UserProfile(
        address="alexw@contoso.com",
        display_name="Alex Wilber",
        job_title="Marketing Assistant",
        department="Marketing",
        account_enabled=True,
        user_type="Member",
    )
    assert missing is None


@pytest.mark.vcr
def test_5xx_reads_back_off_and_give_up(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    with pytest.raises(TransientTenantError) as info:
        run(make(credential).user_profile("alexw@contoso.com"))
    assert info.value.status == 500
    assert len(sleeps) == 3
    for delay, base in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base <= delay <= base * 1.25


@pytest.mark.vcr
def test_probe_send_as(credential: StaticTokenCredential) -> None:
    directory = make(credential)

    async def both() -> tuple[bool, bool]:
        return await directory.probe_send_as("quarantine@contoso.com"), await directory.probe_send_as(
            "meganb@contoso.com"
        )

    assert run(both()) == (True, False)


def _timing_out(calls: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectTimeout("timed out", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_read_timeouts_are_retried_then_reported(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    calls: list[httpx.Request] = []
    with pytest.raises(TransientTenantError, match="timed out"):
        run(make(credential, http=_timing_out(calls)).verified_domains())
    assert len(calls) == 4
    assert len(sleeps) == 3


def test_send_timeout_is_not_retried(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    calls: list[httpx.Request] = []
    with pytest.raises(TransientTenantError, match="timed out"):
        run(make(credential, http=_timing_out(calls)).send_mail(*NOTICE, BODY, "qr-1"))
    assert len(calls) == 1
    assert sleeps == []


def test_token_is_sent_only_to_the_configured_graph_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    cred = StaticTokenCredential("tok-123")
    client = build_graph_client(cred, base_url="http://127.0.0.1:8765/v1.0", http_client=http)
    run(GraphDirectoryClient(client).verified_domains())
    assert str(seen[0].url) == "http://127.0.0.1:8765/v1.0/domains"
    assert seen[0].headers["authorization"] == "Bearer tok-123"
    assert cred.scopes_requested == ["https://graph.microsoft.com/.default"]


def test_at_most_four_concurrent_requests_per_mailbox(credential: StaticTokenCredential) -> None:
    active = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return httpx.Response(200, json={"value": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    directory = make(credential, http=http)

    async def many() -> None:
        await asyncio.gather(*(directory.sender_history("alexw@contoso.com", f"s{i}@fabrikam.com") for i in range(12)))

    run(many())
    assert peak == 4


def test_a_slow_response_is_cut_at_the_deadline(credential: StaticTokenCredential, sleeps: list[float]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(202)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    with pytest.raises(TransientTenantError, match="timed out"):
        run(make(credential, http=http, timeout=0.05).send_mail(*NOTICE, BODY, "qr-1"))
    assert sleeps == []
