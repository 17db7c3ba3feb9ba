"""ExchangeQuarantineClient against replayed InvokeCommand responses (tests/cassettes/test_m365_exchange/).

Each cassette pins the exact request (method, URL with query, JSON body, anchor and paging headers):
a request that differs matches nothing and fails the test, and an interaction left unplayed fails too.
"""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy

import httpx
import pytest

from policies.models import QuarantineType
from tools.m365 import exchange
from tools.m365.credentials import StaticTokenCredential
from tools.m365.exchange import ExchangeQuarantineClient
from tools.m365.interfaces import (
    QuarantineStateError,
    ReleaseStatus,
    TenantError,
    TenantPermissionError,
    TransientTenantError,
)

from .conftest import TENANT_ID

ID1 = "c14401cf-aa9a-465b-cfd5-08d0f0ca37c5\\4c2ca98e-94ea-db3a-7eb8-3b63657d4db7"
ID2 = "5e0b1f4a-7c11-4b2d-9a53-2f1e8d7c6b5a\\9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
ID3 = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9\\f9e8d7c6-b5a4-4938-8271-605f4e3d2c1b"


@pytest.fixture
def client(credential: StaticTokenCredential) -> Iterator[ExchangeQuarantineClient]:
    c = ExchangeQuarantineClient(credential, TENANT_ID)
    yield c
    asyncio.run(c.aclose())


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.vcr
def test_list_release_requests_follows_next_link(client: ExchangeQuarantineClient) -> None:
    rows = run(client.list_release_requests())
    assert [r.identity for r in rows] == [ID1, ID2, ID3]  # the malformed row is skipped
    first, second, third = rows
    assert first.sender == "invoices@fabrikam.com"
    assert first.subject == "Invoice 4471 overdue"
    assert first.recipients == ["alexw@contoso.com"]
    assert first.requester == "alexw@contoso.com"  # one recipient: that recipient asked
    assert first.quarantine_type is QuarantineType.SPAM
    assert first.release_status is ReleaseStatus.REQUESTED  # "REQUESTED" read case-insensitively
    assert first.received == datetime(2026, 12, 1, 9, 14, 2, tzinfo=UTC)
    assert first.expires == datetime(2026, 12, 31, 9, 14, 2, tzinfo=UTC)
    assert second.requester is None  # several recipients: the audit log must say who asked
    assert second.quarantine_type is QuarantineType.BULK
    assert third.quarantine_type is QuarantineType.HIGH_CONFIDENCE_PHISH


@pytest.mark.vcr
def test_list_release_requests_reads_every_cmdlet_page(
    client: ExchangeQuarantineClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange, "PAGE_SIZE", 2)  # a full page means "ask for the next -Page"
    rows = run(client.list_release_requests())
    assert [r.identity for r in rows] == [ID1, ID2, ID3]
    assert rows[2].quarantine_type is QuarantineType.PHISH


@pytest.mark.vcr
def test_list_release_requests_refuses_foreign_next_link(client: ExchangeQuarantineClient) -> None:
    with pytest.raises(TenantError, match="refusing a nextLink outside https://outlook.office365.com"):
        run(client.list_release_requests())


@pytest.mark.vcr
def test_get_message_reads_one_row(client: ExchangeQuarantineClient) -> None:
    msg = run(client.get_message(ID1))
    assert msg.identity == ID1
    assert msg.release_status is ReleaseStatus.RELEASED
    assert msg.release_status.terminal


@pytest.mark.vcr
def test_get_message_ignores_rows_of_other_messages(client: ExchangeQuarantineClient) -> None:
    # An unknown -Identity can list other messages (cmdlet doc): never take their state for ours.
    msg = run(client.get_message(ID1))
    assert msg.identity == ID1
    assert msg.release_status is ReleaseStatus.NOT_FOUND


@pytest.mark.vcr
def test_get_message_404_closes_as_expired(client: ExchangeQuarantineClient, sleeps: list[float]) -> None:
    msg = run(client.get_message(ID1))
    assert msg.release_status is ReleaseStatus.EXPIRED
    assert sleeps == []  # a 404 is an answer, not a reason to retry


@pytest.mark.vcr
def test_get_message_unknown_identity_is_not_found(client: ExchangeQuarantineClient) -> None:
    assert run(client.get_message(ID1)).release_status is ReleaseStatus.NOT_FOUND


@pytest.mark.vcr
def test_export_message_decodes_base64_eml(client: ExchangeQuarantineClient) -> None:
    raw = run(client.export_message(ID1))
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Invoice 4471 overdue"
    assert parsed["From"] == "Fabrikam Billing <invoices@fabrikam.com>"
    assert raw.endswith(b"attached to our portal.\r\n")


@pytest.mark.vcr
def test_export_message_rejects_malformed_base64(client: ExchangeQuarantineClient) -> None:
    with pytest.raises(TenantError, match="malformed Base64"):
        run(client.export_message(ID1))


@pytest.mark.vcr
def test_get_headers(client: ExchangeQuarantineClient) -> None:
    header = run(client.get_headers(ID1))
    assert header.startswith("Received: from mail.fabrikam.com\r\n by contoso")


@pytest.mark.vcr
def test_release_to_the_requester(client: ExchangeQuarantineClient) -> None:
    assert run(client.release(ID1, "alexw@contoso.com")) is None


@pytest.mark.vcr
def test_release_already_released_is_done(client: ExchangeQuarantineClient) -> None:
    assert run(client.release(ID1, "alexw@contoso.com")) is None


@pytest.mark.vcr
def test_release_after_deny_is_a_terminal_state(client: ExchangeQuarantineClient) -> None:
    with pytest.raises(QuarantineStateError) as info:
        run(client.release(ID1, "alexw@contoso.com"))
    assert info.value.state is ReleaseStatus.DENIED
    assert info.value.permanent


@pytest.mark.vcr
def test_release_of_expired_message_is_a_terminal_state(client: ExchangeQuarantineClient) -> None:
    with pytest.raises(QuarantineStateError) as info:
        run(client.release(ID1, "alexw@contoso.com"))
    assert info.value.state is ReleaseStatus.NOT_FOUND


@pytest.mark.vcr
def test_release_is_never_retried(client: ExchangeQuarantineClient, sleeps: list[float]) -> None:
    # One interaction in the cassette: a second POST would match nothing and fail the test.
    with pytest.raises(TransientTenantError) as info:
        run(client.release(ID1, "alexw@contoso.com"))
    assert info.value.status == 503
    assert info.value.retry_after == 3.0
    assert sleeps == []


@pytest.mark.vcr
def test_deny_the_request(client: ExchangeQuarantineClient) -> None:
    assert run(client.deny(ID1)) is None


@pytest.mark.vcr
def test_deny_already_denied_is_done(client: ExchangeQuarantineClient) -> None:
    assert run(client.deny(ID1)) is None


@pytest.mark.vcr
def test_read_honours_retry_after_on_429(client: ExchangeQuarantineClient, sleeps: list[float]) -> None:
    msg = run(client.get_message(ID1))
    assert msg.release_status is ReleaseStatus.REQUESTED
    assert sleeps == [7.0]


@pytest.mark.vcr
def test_read_backs_off_exponentially_and_gives_up(client: ExchangeQuarantineClient, sleeps: list[float]) -> None:
    with pytest.raises(TransientTenantError) as info:
        run(client.get_message(ID1))
    assert info.value.status == 500
    assert len(sleeps) == 3  # 4 attempts in all
    for delay, base in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base <= delay <= base * 1.25


@pytest.mark.vcr
def test_401_names_the_missing_permission(client: ExchangeQuarantineClient, sleeps: list[float]) -> None:
    with pytest.raises(TenantPermissionError) as info:
        run(client.list_release_requests())
    assert info.value.status == 401
    assert "Exchange.ManageAsApp" in str(info.value)
    assert "invalid audience" in str(info.value)
    assert sleeps == []


@pytest.mark.vcr
def test_403_names_the_missing_role(client: ExchangeQuarantineClient) -> None:
    with pytest.raises(TenantPermissionError) as info:
        run(client.list_release_requests())
    assert info.value.status == 403
    assert "Exchange role" in str(info.value)
    assert "not authorized to run Get-QuarantineMessage" in str(info.value)


@pytest.mark.vcr
def test_malformed_json_is_a_clear_error(client: ExchangeQuarantineClient) -> None:
    with pytest.raises(TenantError, match="malformed JSON"):
        run(client.list_release_requests())


@pytest.mark.vcr
def test_available_cmdlets(client: ExchangeQuarantineClient) -> None:
    allowed = run(client.available_cmdlets())
    assert {"Get-QuarantineMessage", "Export-QuarantineMessage", "Release-QuarantineMessage"} <= allowed


# --- without cassettes: timeouts and input checks ---------------------------------------------------


def _timing_out_client(calls: list[httpx.Request]) -> ExchangeQuarantineClient:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ExchangeQuarantineClient(StaticTokenCredential(), TENANT_ID, http_client=http)


def test_read_timeouts_are_retried_then_reported(sleeps: list[float]) -> None:
    calls: list[httpx.Request] = []
    with pytest.raises(TransientTenantError, match="timed out"):
        run(_timing_out_client(calls).get_message(ID1))
    assert len(calls) == 4
    assert len(sleeps) == 3


def test_release_timeout_is_not_retried(sleeps: list[float]) -> None:
    calls: list[httpx.Request] = []
    with pytest.raises(TransientTenantError, match="timed out"):
        run(_timing_out_client(calls).release(ID1, "alexw@contoso.com"))
    assert len(calls) == 1
    assert sleeps == []


def test_the_token_goes_only_in_the_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    cred = StaticTokenCredential("secret-token-value")
    run(ExchangeQuarantineClient(cred, TENANT_ID, http_client=http).get_message(ID1))
    assert seen[0].headers["authorization"] == "Bearer secret-token-value"
    assert b"secret-token-value" not in seen[0].content
    assert cred.scopes_requested == ["https://outlook.office365.com/.default"]


@pytest.mark.parametrize(
    "identity",
    ["", "000", "*", "c14401cf-aa9a-465b-cfd5-08d0f0ca37c5", ID1 + "\\extra", "c14401cf\\4c2ca98e", ID1 + "'"],
)
def test_malformed_identity_is_refused_before_any_call(identity: str) -> None:
    # A null or unknown -Identity makes the cmdlet list *every* message: it must never be sent.
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    c = ExchangeQuarantineClient(StaticTokenCredential(), TENANT_ID, http_client=http)
    for call in (c.get_message(identity), c.export_message(identity), c.release(identity, "a@contoso.com")):
        with pytest.raises(ValueError, match="not a quarantine message identity"):
            run(call)


def test_plain_text_export_is_taken_as_is() -> None:
    assert exchange.decode_eml("Subject: hi\r\n\r\nbody", "7bit") == b"Subject: hi\r\n\r\nbody"


def test_a_slow_drip_response_is_cut_at_the_deadline(sleeps: list[float]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)  # each phase within httpx limits, the whole call far too long
        return httpx.Response(200, json={"value": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = ExchangeQuarantineClient(StaticTokenCredential(), TENANT_ID, timeout=0.05, http_client=http)
    with pytest.raises(TransientTenantError, match="timed out"):
        run(client.release(ID1, "alexw@contoso.com"))
