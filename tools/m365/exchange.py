"""`QuarantineClient` over the Exchange Online admin REST endpoint (`InvokeCommand`), app-only.

Microsoft does not publish this endpoint as an API (m365-apis.md §1.2); the ExchangeOnlineManagement
V3 module and CIPP use it. Everything that depends on its wire format is in this module, so a
PowerShell-worker implementation of `QuarantineClient` could replace it.

Wire format: `POST {base}/adminapi/beta/{tenantId}/InvokeCommand` with
`{"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}`; rows in `value`; OData paging through
`@odata.nextLink` (the same body is posted to it); cmdlet errors as 4xx with
`error.details[].message`, `error.innererror.internalException.message` or `error.message`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from policies.models import QuarantineType
from tools.m365.credentials import EXCHANGE_SCOPE
from tools.m365.http import RetryPolicy, error_for_status, short, with_retries
from tools.m365.interfaces import (
    QuarantinedMessage,
    QuarantineStateError,
    ReleaseStatus,
    TenantError,
    TenantNotFound,
    TransientTenantError,
)

if TYPE_CHECKING:
    import httpx
    from azure.core.credentials_async import AsyncTokenCredential

#: The arbitration mailbox the V3 module anchors app-only sessions on (observed in CIPP and the module).
ANCHOR_MAILBOX = "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant_id}"

#: What 401/403 on these cmdlets mean for the operator (m365-apis.md §1.3).
EXCHANGE_PERMISSION = (
    "the Office 365 Exchange Online application permission Exchange.ManageAsApp and an Exchange role that "
    "runs the quarantine cmdlets (e.g. the Security Administrator or Exchange Administrator Entra role, or a "
    "role group with the Transport Hygiene role assigned to the app's service principal)"
)

#: Module version sent to EXOModuleFile (the value CIPP sends).
EXO_MODULE_VERSION = "3.7.1"
#: `Get-QuarantineMessage -PageSize` maximum; the REST layer may split a cmdlet page into OData pages.
PAGE_SIZE = 1000
#: OData page size asked of the REST layer (`Prefer: odata.maxpagesize`).
ODATA_MAX_PAGE_SIZE = 1000
#: Cmdlet pages read at most per listing (1,000 pages x 1,000 rows is the documented ceiling; stay far below).
MAX_PAGES = 50

_IDENTITY = re.compile(
    r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\\[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
)
_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

# Cmdlet error texts that mean "nothing left to do" (observed in CIPP; m365-apis.md §3.1), most specific first.
_TERMINAL_TEXTS: tuple[tuple[re.Pattern[str], ReleaseStatus], ...] = (
    (re.compile(r"already\s+(been\s+)?released|released\s+already", re.I), ReleaseStatus.RELEASED),
    (re.compile(r"already\s+(been\s+)?denied|denied\s+already", re.I), ReleaseStatus.DENIED),
    (re.compile(r"has\s+expired|is\s+expired", re.I), ReleaseStatus.EXPIRED),
    (
        re.compile(r"cannot\s+find\s+an\s+object|couldn't\s+find|not\s+valid\.\s*please\s+input\s+a\s+valid", re.I),
        ReleaseStatus.NOT_FOUND,
    ),
)

_TYPES = {t.value.lower(): t for t in QuarantineType}
_TYPES.update(
    {
        "highconfidencespam": QuarantineType.HIGH_CONFIDENCE_SPAM,
        "hspm": QuarantineType.HIGH_CONFIDENCE_SPAM,
        "highconfidencephish": QuarantineType.HIGH_CONFIDENCE_PHISH,
    }
)
_STATUSES = {s.value.lower(): s for s in ReleaseStatus}
# "Approved" is what an approved request shows (portal doc); for this product it is a release.
_STATUSES["approved"] = ReleaseStatus.RELEASED


def check_identity(identity: str) -> str:
    """The identity if it is `GUID1\\GUID2`; anything else is refused before a call.

    A null or unknown `-Identity` makes Get-QuarantineMessage return *all* messages (cmdlet doc),
    so a malformed identity must never reach the service.

    Raises:
        ValueError: not a quarantine identity.
    """
    value = identity.strip()
    if not _IDENTITY.match(value):
        raise ValueError(f"not a quarantine message identity (expected GUID\\GUID): {short(identity, 80)!r}")
    return value


class ExchangeQuarantineClient:
    """Quarantine operations through `InvokeCommand`. One instance per worker; close it with `aclose()`."""

    def __init__(
        self,
        credential: AsyncTokenCredential,
        tenant_id: str,
        *,
        base_url: str = "https://outlook.office365.com",
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        import httpx

        self._credential = credential
        self._tenant_id = tenant_id
        self._base = base_url.rstrip("/")
        self._origin = _origin(self._base)
        self._client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout))
        # httpx bounds each phase; this bounds the whole attempt (a server dripping bytes cannot hold a worker).
        self._deadline = timeout
        self._owns_client = http_client is None
        self._retry = retry or RetryPolicy()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client:
            await self._client.aclose()

    # --- QuarantineClient --------------------------------------------------------------------

    async def list_release_requests(self) -> list[QuarantinedMessage]:
        """Every message whose release is `Requested` (all cmdlet pages, all OData pages)."""
        seen: dict[str, QuarantinedMessage] = {}
        for page in range(1, MAX_PAGES + 1):
            rows = await self.invoke(
                "Get-QuarantineMessage", {"ReleaseStatus": "Requested", "PageSize": PAGE_SIZE, "Page": page}
            )
            for row in rows:
                msg = parse_row(row)
                if msg is not None:
                    seen.setdefault(msg.identity, msg)
            if len(rows) < PAGE_SIZE:
                break
        return list(seen.values())

    async def get_message(self, identity: str) -> QuarantinedMessage:
        """Re-read one message. Gone (404, expired, unknown identity) is a terminal state, not an error."""
        identity = check_identity(identity)
        try:
            rows = await self.invoke("Get-QuarantineMessage", {"Identity": identity})
        except TenantNotFound:
            # A 404 for a message we listed earlier: quarantine retention ran out (issue 4: close as expired).
            return QuarantinedMessage(identity=identity, release_status=ReleaseStatus.EXPIRED)
        except TenantError as exc:
            state = _terminal_state(str(exc))
            if state is None or exc.status is None or exc.status >= 500:
                raise
            return QuarantinedMessage(identity=identity, release_status=state)
        # Only a row with exactly this identity counts: an unknown identity may list *other* messages.
        for row in rows:
            msg = parse_row(row)
            if msg is not None and msg.identity.lower() == identity.lower():
                return msg
        return QuarantinedMessage(identity=identity, release_status=ReleaseStatus.NOT_FOUND)

    async def export_message(self, identity: str) -> bytes:
        """The quarantined message as RFC 822 bytes (Export-QuarantineMessage, Base64 `Eml`).

        Raises:
            TenantNotFound: the message is no longer in quarantine.
            TenantError: the export is empty or not decodable.
        """
        identity = check_identity(identity)
        rows = await self.invoke("Export-QuarantineMessage", {"Identity": identity})
        if not rows or not isinstance(rows[0], dict) or not isinstance(rows[0].get("Eml"), str) or not rows[0]["Eml"]:
            raise TenantError("Export-QuarantineMessage returned no message", permanent=True)
        return decode_eml(rows[0]["Eml"], str(rows[0].get("BodyEncoding") or ""))

    async def get_headers(self, identity: str) -> str:
        """The message header block exactly as quarantined (Get-QuarantineMessageHeader `Header`)."""
        identity = check_identity(identity)
        rows = await self.invoke("Get-QuarantineMessageHeader", {"Identity": identity})
        header = rows[0].get("Header") if rows and isinstance(rows[0], dict) else None
        if not isinstance(header, str):
            raise TenantError("Get-QuarantineMessageHeader returned no header", permanent=True)
        return header

    async def release(self, identity: str, user: str) -> None:
        """Release to one recipient. Not idempotent: never retried here; the caller re-reads first.

        Already released counts as done. Denied, expired or gone raises `QuarantineStateError`.
        """
        identity = check_identity(identity)
        await self._act(
            {"Identity": identity, "ActionType": "Release", "User": [user]},
            done=ReleaseStatus.RELEASED,
        )

    async def deny(self, identity: str) -> None:
        """Deny the release request (for all recipients, the only deny Exchange offers).

        Already denied counts as done. Released, expired or gone raises `QuarantineStateError`.
        """
        identity = check_identity(identity)
        await self._act({"Identity": identity, "ActionType": "Deny", "ReleaseToAll": True}, done=ReleaseStatus.DENIED)

    async def available_cmdlets(self) -> frozenset[str]:
        """Cmdlets this app may run (`EXOModuleFile` with `CommandName: *`, observed in CIPP; UNCONFIRMED).

        Used by `qrelease tenant check` to verify the Exchange role without releasing anything.
        """

        url = f"{self._base}/adminapi/v1.0/{self._tenant_id}/EXOModuleFile"

        async def once() -> Any:
            token = await self._credential.get_token(EXCHANGE_SCOPE)
            headers = {
                "Authorization": f"Bearer {token.token}",
                "X-AnchorMailbox": ANCHOR_MAILBOX.format(tenant_id=self._tenant_id),
                "CommandName": "*",
                "Accept": "application/json",
            }
            return await self._request(
                "EXOModuleFile", "GET", url, params={"Version": EXO_MODULE_VERSION}, headers=headers
            )

        data = await with_retries(once, idempotent=True, policy=self._retry)
        names: set[str] = set()
        for entry in data.get("value", []) if isinstance(data, dict) else []:
            exported = entry.get("exportedCmdlets") if isinstance(entry, dict) else None
            if isinstance(exported, str):
                names.update(n.strip() for n in exported.split(",") if n.strip())
        return frozenset(names)

    # --- plumbing -----------------------------------------------------------------------------

    async def _act(self, params: dict[str, Any], *, done: ReleaseStatus) -> None:
        try:
            await self.invoke("Release-QuarantineMessage", params, idempotent=False)
        except TenantNotFound:
            raise QuarantineStateError(
                "Release-QuarantineMessage: the message is no longer in quarantine", state=ReleaseStatus.EXPIRED
            ) from None
        except TransientTenantError:
            raise
        except TenantError as exc:
            state = _terminal_state(str(exc))
            if state is None:
                raise
            if state is done:
                return
            raise QuarantineStateError(
                f"Release-QuarantineMessage: the message is {state.value}", state=state
            ) from None

    async def invoke(self, cmdlet: str, parameters: dict[str, Any], *, idempotent: bool = True) -> list[dict[str, Any]]:
        """Run one cmdlet and return its rows (following `@odata.nextLink`); reads are retried, writes not."""
        body = json.dumps(
            {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}, separators=(",", ":")
        ).encode()
        rows: list[dict[str, Any]] = []
        url: str | None = f"{self._base}/adminapi/beta/{self._tenant_id}/InvokeCommand"
        while url is not None:
            data = await with_retries(
                partial(self._post, cmdlet, url, body),
                idempotent=idempotent,
                policy=self._retry,
            )
            value = data.get("value", [])
            if not isinstance(value, list):
                raise TenantError(f"{cmdlet}: malformed response (value is not a list)", status=200)
            rows.extend(r for r in value if isinstance(r, dict))
            next_link = data.get("@odata.nextLink")
            url = self._checked_next_link(cmdlet, next_link) if next_link else None
        return rows

    def _checked_next_link(self, cmdlet: str, link: object) -> str:
        # The token goes wherever nextLink points: only ever to the configured Exchange origin.
        if not isinstance(link, str) or _origin(link) != self._origin:
            raise TenantError(f"{cmdlet}: refusing a nextLink outside {self._origin}", status=200, permanent=True)
        return link

    async def _post(self, cmdlet: str, url: str, body: bytes) -> dict[str, Any]:

        token = await self._credential.get_token(EXCHANGE_SCOPE)
        headers = {
            "Authorization": f"Bearer {token.token}",
            "X-AnchorMailbox": ANCHOR_MAILBOX.format(tenant_id=self._tenant_id),
            "Prefer": f"odata.maxpagesize={ODATA_MAX_PAGE_SIZE}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        data = await self._request(cmdlet, "POST", url, content=body, headers=headers)
        if not isinstance(data, dict):
            raise TenantError(f"{cmdlet}: malformed response (not a JSON object)", status=200)
        return data

    async def _request(self, operation: str, method: str, url: str, **kwargs: Any) -> Any:
        """One HTTP call under the deadline, with errors mapped to tenant errors and the body parsed as JSON."""
        import httpx

        try:
            async with asyncio.timeout(self._deadline):
                response = await self._client.request(method, url, **kwargs)
        except (httpx.TimeoutException, TimeoutError):
            raise TransientTenantError(f"{operation} timed out") from None
        except httpx.HTTPError as exc:
            raise TransientTenantError(f"{operation}: connection failed ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise error_for_status(
                response.status_code,
                _error_detail(response.content),
                operation=operation,
                permission=EXCHANGE_PERMISSION,
                headers=response.headers,
            )
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise TenantError(
                f"{operation}: malformed JSON in the response ({response.status_code})", status=200
            ) from None


def parse_row(row: dict[str, Any]) -> QuarantinedMessage | None:
    """A `QuarantinedMessage` from one Get-QuarantineMessage row; None when it has no usable identity."""
    identity = row.get("Identity")
    if not isinstance(identity, str) or not _IDENTITY.match(identity.strip()):
        return None
    recipients = _as_list(row.get("RecipientAddress"))
    qtype = row.get("QuarantineTypes") or row.get("Type")
    return QuarantinedMessage(
        identity=identity.strip(),
        message_id=_text(row.get("MessageId")),
        sender=_text(row.get("SenderAddress")),
        subject=_text(row.get("Subject")),
        recipients=recipients,
        received=_parse_time(row.get("ReceivedTime")),
        expires=_parse_time(row.get("Expires")),
        quarantine_type=_TYPES.get(_text(qtype).lower(), QuarantineType.OTHER) if qtype else None,
        release_status=_STATUSES.get(_text(row.get("ReleaseStatus")).lower(), ReleaseStatus.ERROR),
        # With one recipient, the requester is that recipient; otherwise the audit log must say.
        requester=recipients[0] if len(recipients) == 1 else None,
    )


def decode_eml(eml: str, encoding: str) -> bytes:
    """Bytes of the exported message. `BodyEncoding` is Base64 for MIME exports (value set UNCONFIRMED).

    Raises:
        TenantError: declared Base64 but not decodable.
    """
    if encoding.strip().lower() in {"", "base64"}:
        try:
            return base64.b64decode("".join(eml.split()), validate=True)
        except (binascii.Error, ValueError):
            if encoding:
                raise TenantError("Export-QuarantineMessage returned malformed Base64", permanent=True) from None
    # A plain-text export (no declared Base64): the cmdlet's text is the message itself.
    return eml.encode("utf-8", errors="surrogateescape")


def _terminal_state(message: str) -> ReleaseStatus | None:
    for pattern, state in _TERMINAL_TEXTS:
        if pattern.search(message):
            return state
    return None


def _error_detail(content: bytes) -> str:
    """The cmdlet's error message from the places CIPP reads it, cut to one line."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return ""
    details = err.get("details")
    if isinstance(details, list):
        texts = [str(d["message"]) for d in details if isinstance(d, dict) and isinstance(d.get("message"), str)]
        if texts:
            return short("; ".join(texts))
    inner = err.get("innererror")
    if isinstance(inner, dict):
        internal = inner.get("internalException")
        if isinstance(internal, dict) and isinstance(internal.get("message"), str):
            return short(internal["message"])
    return short(err["message"]) if isinstance(err.get("message"), str) else ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def _parse_time(value: object) -> datetime | None:
    """ISO 8601 or the .NET `/Date(ms)/` form; naive times are UTC (the service reports UTC)."""
    if not isinstance(value, str) or not value:
        return None
    match = _DOTNET_DATE.match(value)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
