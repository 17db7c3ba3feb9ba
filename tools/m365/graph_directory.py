"""`DirectoryClient` and `UserLookup` over Microsoft Graph (msgraph-sdk + azure-identity), app-only.

Calls and the permission each needs (m365-apis.md §4):
- `POST /users/{id}/checkMemberGroups` (<= 20 ids, transitive): User.Read.All + GroupMember.Read.All.
- `GET /domains`: Domain.Read.All.
- `POST /users/{sender}/sendMail`: Mail.Send, scoped to the sender mailbox with RBAC for Applications.
- `GET /users/{id}/messages` (sender history, metadata only): Mail.ReadBasic, scoped to the requesters.
- `GET /users/{sender}/mailFolders/sentitems/messages` filtered on an extended property: Mail.Read, scoped
  to the sender mailbox (Mail.ReadBasic excludes extended properties).
- `GET /users/{id}`: User.Read.All.

The SDK's own retry handler is switched off: reads are retried by `tools.m365.http.with_retries`
(which also understands Graph's fractional `Retry-After`), and sendMail is never retried blindly.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from tools.m365.credentials import GRAPH_SCOPE
from tools.m365.http import MailboxLimiter, RetryPolicy, error_for_status, short, with_retries
from tools.m365.interfaces import TenantError, TenantNotFound, TenantPermissionError, TransientTenantError, UserProfile

if TYPE_CHECKING:
    import httpx
    from azure.core.credentials_async import AsyncTokenCredential
    from msgraph.graph_service_client import GraphServiceClient

T = TypeVar("T")

#: checkMemberGroups accepts at most 20 group ids per request.
MAX_GROUPS_PER_CALL = 20
#: Messages read per sender-history lookup (metadata only); enough for "first contact or not, since when".
HISTORY_SAMPLE = 100
#: Internet header carrying the reconciliation marker (custom headers must start with `x-`).
MARKER_HEADER = "X-QRelease-Marker"
#: A named MAPI string property holding the same marker: unlike internet headers it can be `$filter`ed,
#: so Sent Items can be searched for it before a notification is ever re-sent.
MARKER_PROPERTY = "String {2d6b5b39-4a8f-4b7e-9c43-6f1f0d2b8a51} Name QReleaseMarker"

PERM_GROUPS = "the Graph application permissions User.Read.All and GroupMember.Read.All"
PERM_DOMAINS = "the Graph application permission Domain.Read.All"
PERM_SEND = "the Graph application permission Mail.Send for this mailbox (RBAC for Applications scope)"
PERM_READ_MAIL = "the Graph application permission Mail.ReadBasic for this mailbox (RBAC for Applications scope)"
PERM_READ_SENT = "the Graph application permission Mail.Read for the sender mailbox (RBAC for Applications scope)"
PERM_USERS = "the Graph application permission User.Read.All"

_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# Deliberately narrow: the sender address comes from a hostile message and goes into an OData filter.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_MARKER = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def check_address(address: str, what: str = "address") -> str:
    """The address, lower-cased, if it is a plain `local@domain`; raises ValueError otherwise."""
    value = address.strip()
    if not _ADDRESS.match(value) or ".." in value:
        raise ValueError(f"not a plain email address for {what}: {short(address, 80)!r}")
    return value.lower()


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled (the value is already validated)."""
    return "'" + value.replace("'", "''") + "'"


def build_graph_client(
    credential: AsyncTokenCredential,
    *,
    base_url: str = "https://graph.microsoft.com/v1.0",
    timeout: float = 30.0,
    http_client: httpx.AsyncClient | None = None,
) -> GraphServiceClient:
    """A `GraphServiceClient` on `base_url` with the SDK retry handler disabled and a timeout on every call."""
    import httpx
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.kiota_client_factory import KiotaClientFactory
    from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

    client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout))
    options = {
        RetryHandlerOption.get_key(): RetryHandlerOption(delay=0, max_retries=0, should_retry=False),
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(enabled=False, replacement_pairs={}),
    }
    client = KiotaClientFactory.create_with_default_middleware(client=client, options=options)
    # The token is attached only for the configured Graph host (a loopback fake tenant in end-to-end tests).
    host = urlsplit(base_url).hostname or "graph.microsoft.com"
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host])
    adapter = GraphRequestAdapter(auth, client)
    adapter.base_url = base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)


class GraphDirectoryClient:
    """Graph lookups and the notification mail. Close with `aclose()`."""

    def __init__(
        self,
        graph: GraphServiceClient,
        *,
        group_cache_ttl: float = 900.0,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._graph = graph
        self._ttl = group_cache_ttl
        self._deadline = timeout
        self._retry = retry or RetryPolicy()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._limiter = MailboxLimiter()
        self._membership: dict[tuple[str, str], tuple[bool, float]] = {}
        self._domains: tuple[frozenset[str], float] | None = None

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        client = getattr(self._graph.request_adapter, "_http_client", None)
        if client is not None:
            await client.aclose()

    # --- DirectoryClient ----------------------------------------------------------------------

    async def member_of(self, user: str, group_ids: list[str]) -> list[str]:
        """Which of `group_ids` the user transitively belongs to; answers are cached for the TTL."""
        from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
            CheckMemberGroupsPostRequestBody,
        )

        user = check_address(user, "the user")
        wanted = list(dict.fromkeys(g.strip().lower() for g in group_ids))
        for gid in wanted:
            if not _GUID.match(gid):
                raise ValueError(f"not a group object id: {short(gid, 60)!r}")
        now = self._monotonic()
        unknown = [g for g in wanted if (hit := self._membership.get((user, g))) is None or hit[1] <= now]
        for start in range(0, len(unknown), MAX_GROUPS_PER_CALL):
            chunk = unknown[start : start + MAX_GROUPS_PER_CALL]
            body = CheckMemberGroupsPostRequestBody(group_ids=chunk)
            result = await self._call(
                "POST /users/{id}/checkMemberGroups",
                PERM_GROUPS,
                partial(self._graph.users.by_user_id(user).check_member_groups.post, body),
            )
            members = {str(v).lower() for v in (getattr(result, "value", None) or [])}
            expiry = self._monotonic() + self._ttl
            for gid in chunk:
                self._membership[(user, gid)] = (gid in members, expiry)
        return [g for g in wanted if self._membership[(user, g)][0]]

    async def verified_domains(self) -> frozenset[str]:
        """The tenant's verified domains (every page), cached for the group TTL."""
        now = self._monotonic()
        if self._domains is not None and self._domains[1] > now:
            return self._domains[0]
        domains: set[str] = set()
        page = await self._call("GET /domains", PERM_DOMAINS, lambda: self._graph.domains.get())
        while page is not None:
            for d in page.value or []:
                if d.is_verified and d.id:
                    domains.add(d.id.lower())
            link = page.odata_next_link
            if not link:
                break
            page = await self._call("GET /domains", PERM_DOMAINS, self._graph.domains.with_url(link).get)
        result = frozenset(domains)
        self._domains = (result, self._monotonic() + self._ttl)
        return result

    async def send_mail(self, sender: str, to: str, subject: str, body: str, marker: str) -> None:
        """Send a plain-text mail from `sender`, saved to Sent Items and carrying `marker`.

        Never retried: after a failure or timeout the caller checks `sent_with_marker` first.
        """
        from msgraph.generated.models.body_type import BodyType
        from msgraph.generated.models.email_address import EmailAddress
        from msgraph.generated.models.internet_message_header import InternetMessageHeader
        from msgraph.generated.models.item_body import ItemBody
        from msgraph.generated.models.message import Message
        from msgraph.generated.models.recipient import Recipient
        from msgraph.generated.models.single_value_legacy_extended_property import (
            SingleValueLegacyExtendedProperty,
        )
        from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

        sender = check_address(sender, "the sender mailbox")
        to = check_address(to, "the recipient")
        marker = _check_marker(marker)
        request = SendMailPostRequestBody(
            message=Message(
                subject=subject,
                body=ItemBody(content_type=BodyType.Text, content=body),
                to_recipients=[Recipient(email_address=EmailAddress(address=to))],
                internet_message_headers=[InternetMessageHeader(name=MARKER_HEADER, value=marker)],
                single_value_extended_properties=[SingleValueLegacyExtendedProperty(id=MARKER_PROPERTY, value=marker)],
            ),
            save_to_sent_items=True,
        )
        async with self._limiter.slot(sender):
            await self._call(
                "POST /users/{sender}/sendMail",
                PERM_SEND,
                lambda: self._graph.users.by_user_id(sender).send_mail.post(request),
                idempotent=False,
            )

    async def sent_with_marker(self, sender: str, marker: str) -> bool:
        """Whether the sender's Sent Items already holds a mail carrying `marker`."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
            MessagesRequestBuilder,
        )

        sender = check_address(sender, "the sender mailbox")
        marker = _check_marker(marker)
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            filter=(
                f"singleValueExtendedProperties/any(ep: ep/id eq {odata_quote(MARKER_PROPERTY)} "
                f"and ep/value eq {odata_quote(marker)})"
            ),
            select=["id"],
            top=1,
        )
        config = RequestConfiguration(query_parameters=query)
        async with self._limiter.slot(sender):
            page = await self._call(
                "GET /users/{sender}/mailFolders/sentitems/messages",
                PERM_READ_SENT,
                lambda: (
                    self._graph.users.by_user_id(sender)
                    .mail_folders.by_mail_folder_id("sentitems")
                    .messages.get(request_configuration=config)
                ),
            )
        return bool(page is not None and page.value)

    async def sender_history(self, user: str, sender: str) -> str | None:
        """One line on earlier mail from `sender` in `user`'s mailbox; None when there is none (first contact).

        Reads metadata only (`receivedDateTime`), never bodies.

        Raises:
            TenantNotFound: `user` has no mailbox (a failed lookup, not a first contact).
            TenantError: the lookup failed; callers fail closed.
        """
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.messages.messages_request_builder import MessagesRequestBuilder

        user = check_address(user, "the user")
        sender = check_address(sender, "the sender")
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            filter=f"from/emailAddress/address eq {odata_quote(sender)}",
            select=["receivedDateTime"],
            top=HISTORY_SAMPLE,
        )
        config = RequestConfiguration(query_parameters=query)
        async with self._limiter.slot(user):
            page = await self._call(
                "GET /users/{id}/messages",
                PERM_READ_MAIL,
                lambda: self._graph.users.by_user_id(user).messages.get(request_configuration=config),
            )
        times = sorted(m.received_date_time for m in (page.value if page else None) or [] if m.received_date_time)
        if not times:
            return None
        now = self._clock()
        oldest, newest = times[0], times[-1]
        more = "+" if page is not None and page.odata_next_link else ""
        return (
            f"{user} has {len(times)}{more} earlier message(s) from {sender}: the oldest seen is from "
            f"{oldest:%Y-%m-%d} ({_days(now, oldest)} days ago), the latest from {newest:%Y-%m-%d} "
            f"({_days(now, newest)} days ago)."
        )

    # --- UserLookup -----------------------------------------------------------------------------

    async def user_profile(self, address: str) -> UserProfile | None:
        """Directory fields of a tenant user; None when there is no such user."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

        address = check_address(address, "the user")
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["userPrincipalName", "mail", "displayName", "jobTitle", "department", "accountEnabled", "userType"]
        )
        config = RequestConfiguration(query_parameters=query)
        try:
            user = await self._call(
                "GET /users/{id}",
                PERM_USERS,
                lambda: self._graph.users.by_user_id(address).get(request_configuration=config),
            )
        except TenantNotFound:
            return None
        if user is None:
            return None
        return UserProfile(
            address=(user.mail or user.user_principal_name or address).lower(),
            display_name=user.display_name or "",
            job_title=user.job_title or "",
            department=user.department or "",
            account_enabled=user.account_enabled,
            user_type=user.user_type or "",
        )

    # --- operator probes (qrelease tenant check) -------------------------------------------------

    async def some_mailboxes(self, limit: int = 10) -> list[str]:
        """A few user mail addresses (to pick an unrelated mailbox for the least-privilege probe)."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.users_request_builder import UsersRequestBuilder

        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(select=["mail"], top=limit)
        config = RequestConfiguration(query_parameters=query)
        page = await self._call("GET /users", PERM_USERS, lambda: self._graph.users.get(request_configuration=config))
        return [u.mail.lower() for u in (page.value if page else None) or [] if u.mail]

    async def probe_send_as(self, mailbox: str) -> bool:
        """Whether the app may send as `mailbox`, without sending anything.

        Posts a sendMail with no recipients: an authorized app gets 400 (invalid recipients), an
        unauthorized one 403. That authorization is checked before the recipients is UNCONFIRMED,
        so a 400 on an unrelated mailbox is reported as a failure (the safe reading).
        """
        from msgraph.generated.models.item_body import ItemBody
        from msgraph.generated.models.message import Message
        from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

        mailbox = check_address(mailbox, "the mailbox")
        request = SendMailPostRequestBody(
            message=Message(subject="qrelease permission probe", body=ItemBody(content="probe"), to_recipients=[]),
            save_to_sent_items=False,
        )
        try:
            await self._call(
                "POST /users/{id}/sendMail (probe)",
                PERM_SEND,
                lambda: self._graph.users.by_user_id(mailbox).send_mail.post(request),
                idempotent=False,
            )
        except TenantPermissionError:
            return False
        except TenantNotFound:
            return False
        except TenantError as exc:
            if exc.status == 400:
                return True
            raise
        # Accepted with no recipient should not happen; it proves the app may send as the mailbox.
        return True

    # --- plumbing -------------------------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        permission: str,
        fn: Callable[[], Awaitable[T]],
        *,
        idempotent: bool = True,
    ) -> T:
        async def once() -> T:
            import httpx
            from kiota_abstractions.api_error import APIError

            try:
                # httpx bounds each phase; this bounds the whole attempt.
                async with asyncio.timeout(self._deadline):
                    return await fn()
            except TimeoutError:
                raise TransientTenantError(f"{operation} timed out") from None
            except APIError as exc:
                raise error_for_status(
                    exc.response_status_code or 0,
                    _api_error_detail(exc),
                    operation=operation,
                    permission=permission,
                    headers=exc.response_headers,
                ) from None
            except httpx.TimeoutException:
                raise TransientTenantError(f"{operation} timed out") from None
            except httpx.HTTPError as exc:
                raise TransientTenantError(f"{operation}: connection failed ({type(exc).__name__})") from None
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # The SDK's JSON parser on a malformed body: say so, never echo the body.
                raise TenantError(f"{operation}: malformed response ({type(exc).__name__})") from None

        return await with_retries(once, idempotent=idempotent, policy=self._retry)


def _check_marker(marker: str) -> str:
    if not _MARKER.match(marker):
        raise ValueError("the notification marker must be 1-128 characters of [A-Za-z0-9._:-]")
    return marker


def _days(now: datetime, then: datetime) -> int:
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0, (now - then).days)


def _api_error_detail(exc: Any) -> str:
    """`code: message` of a Graph ODataError, cut to one line."""
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None) or ""
    message = getattr(err, "message", None) or ""
    text = f"{code}: {message}" if code and message else code or message
    return short(str(text)) if text else ""
