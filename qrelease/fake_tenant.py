"""A local fake Microsoft 365 tenant for end-to-end tests, benchmarks and `qrelease demo`.

`FakeTenant` holds the state in memory and implements `QuarantineClient` and `DirectoryClient`
in-process. `serve_fake_tenant` puts the same state behind an HTTP server on loopback that answers only
the calls the product's adapters make: Exchange `InvokeCommand` (Get-QuarantineMessage,
Export-QuarantineMessage, Release-QuarantineMessage) and the Microsoft Graph calls of
`tools/m365/graph.py`. It counts every side effect, so tests and the crash benchmark can assert
"released at most once" from the tenant's point of view. Never bind it to anything but 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from policies.models import QuarantineType
from tools.m365.interfaces import QuarantinedMessage, QuarantineStateError, ReleaseStatus, TenantError

#: The marker header the product stamps on notifications (the value is the ledger's idempotency key).
MARKER_HEADER = "x-qrelease-marker"


@dataclass
class FakeMessage:
    """One quarantined message and its raw bytes."""

    meta: QuarantinedMessage
    raw: bytes


@dataclass
class SentMail:
    """A mail the product sent (lands in the sender's Sent Items)."""

    sender: str
    to: str
    subject: str
    body: str
    marker: str


@dataclass
class Fault:
    """An injected failure for one operation: `before` fails without effect, `after` applies then fails."""

    op: str
    when: str = "before"
    times: int = 1
    status: int = 503


@dataclass
class FakeTenant:
    """In-memory tenant state. Thread-safe: the HTTP server serves it from several threads."""

    domains: set[str] = field(default_factory=lambda: {"contoso.com"})
    groups: dict[str, set[str]] = field(default_factory=dict)
    """user (lower case) -> group ids they belong to (transitively)."""
    history: dict[tuple[str, str], str] = field(default_factory=dict)
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    sent: list[SentMail] = field(default_factory=list)
    release_calls: Counter[str] = field(default_factory=Counter)
    """Release calls per identity that reached the tenant (> 1 means a duplicate release attempt)."""
    releases_applied: Counter[str] = field(default_factory=Counter)
    deny_calls: Counter[str] = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    latency_seconds: float = 0.0
    """Added to every HTTP call (benchmarks: widen the window in which a worker can be killed mid-call)."""
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- seeding and inspection -----------------------------------------------------------------

    def add_request(
        self,
        raw: bytes,
        *,
        requester: str,
        sender: str = "",
        subject: str = "",
        quarantine_type: QuarantineType = QuarantineType.SPAM,
        identity: str | None = None,
    ) -> str:
        """Quarantine `raw` for `requester` with a pending release request; returns its identity."""
        identity = identity or f"{uuid.uuid4()}\\{uuid.uuid4()}"
        now = datetime.now(UTC)
        meta = QuarantinedMessage(
            identity=identity,
            message_id=f"<{uuid.uuid4().hex}@fake.example>",
            sender=sender,
            subject=subject,
            recipients=[requester],
            received=now,
            expires=now + timedelta(days=15),
            quarantine_type=quarantine_type,
            release_status=ReleaseStatus.REQUESTED,
            requester=requester,
        )
        with self._lock:
            self.messages[identity] = FakeMessage(meta=meta, raw=raw)
        return identity

    def status(self, identity: str) -> ReleaseStatus:
        """The current release status of a message."""
        with self._lock:
            msg = self.messages.get(identity)
            return msg.meta.release_status if msg else ReleaseStatus.NOT_FOUND

    def expire(self, identity: str) -> None:
        """Simulate quarantine retention running out."""
        with self._lock:
            self.messages[identity].meta.release_status = ReleaseStatus.EXPIRED

    def sent_per_marker(self) -> Counter[str]:
        """How many mails carry each marker (> 1 means a duplicate notification)."""
        with self._lock:
            return Counter(m.marker for m in self.sent)

    def snapshot(self) -> dict[str, Any]:
        """Counters for benchmarks (JSON-friendly)."""
        with self._lock:
            return {
                "messages": len(self.messages),
                "status": dict(Counter(str(m.meta.release_status) for m in self.messages.values())),
                "release_calls": dict(self.release_calls),
                "releases_applied": dict(self.releases_applied),
                "deny_calls": dict(self.deny_calls),
                "sent_per_marker": dict(self.sent_per_marker()),
            }

    def _fault(self, op: str, when: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.op == op and f.when == when and f.times > 0:
                    f.times -= 1
                    return f
        return None

    def _raise_fault(self, op: str, when: str) -> None:
        f = self._fault(op, when)
        if f is not None:
            raise TenantError(f"injected {f.status} on {op} ({when})", status=f.status, permanent=False)

    # -- QuarantineClient -------------------------------------------------------------------------

    async def list_release_requests(self) -> list[QuarantinedMessage]:
        """Messages whose release is requested."""
        self._raise_fault("list", "before")
        with self._lock:
            return [
                m.meta.model_copy(deep=True)
                for m in self.messages.values()
                if m.meta.release_status == ReleaseStatus.REQUESTED
            ]

    async def export_message(self, identity: str) -> bytes:
        """The raw message."""
        self._raise_fault("export", "before")
        with self._lock:
            msg = self.messages.get(identity)
            if msg is None or msg.meta.release_status in (ReleaseStatus.EXPIRED, ReleaseStatus.NOT_FOUND):
                raise TenantError("Export-QuarantineMessage: not found", status=404, permanent=True)
            return msg.raw

    async def get_message(self, identity: str) -> QuarantinedMessage:
        """Current state of one message."""
        self._raise_fault("get", "before")
        with self._lock:
            msg = self.messages.get(identity)
            if msg is None:
                return QuarantinedMessage(identity=identity, release_status=ReleaseStatus.NOT_FOUND)
            return msg.meta.model_copy(deep=True)

    async def release(self, identity: str, user: str) -> None:
        """Release to one user; counted even when it is a repeat."""
        self.apply_release(identity, user)

    async def deny(self, identity: str) -> None:
        """Deny the request."""
        self.apply_deny(identity)

    def apply_release(self, identity: str, user: str) -> None:
        """Release semantics shared by the in-process client and the HTTP server."""
        self._raise_fault("release", "before")
        with self._lock:
            self.release_calls[identity] += 1
            msg = self.messages.get(identity)
            state = msg.meta.release_status if msg else ReleaseStatus.NOT_FOUND
            if state == ReleaseStatus.RELEASED:
                return  # Exchange skips a duplicate delivery; the adapter treats "already released" as done.
            if state != ReleaseStatus.REQUESTED and state != ReleaseStatus.NOT_RELEASED:
                raise QuarantineStateError(f"the message is {state.value}", state=state)
            assert msg is not None
            msg.meta.release_status = ReleaseStatus.RELEASED
            self.releases_applied[identity] += 1
        self._raise_fault("release", "after")

    def apply_deny(self, identity: str) -> None:
        """Deny semantics shared by the in-process client and the HTTP server."""
        self._raise_fault("deny", "before")
        with self._lock:
            self.deny_calls[identity] += 1
            msg = self.messages.get(identity)
            state = msg.meta.release_status if msg else ReleaseStatus.NOT_FOUND
            if state == ReleaseStatus.DENIED:
                return
            if state != ReleaseStatus.REQUESTED and state != ReleaseStatus.NOT_RELEASED:
                raise QuarantineStateError(f"the message is {state.value}", state=state)
            assert msg is not None
            msg.meta.release_status = ReleaseStatus.DENIED
        self._raise_fault("deny", "after")

    # -- DirectoryClient --------------------------------------------------------------------------

    async def member_of(self, user: str, group_ids: list[str]) -> list[str]:
        """The subset of `group_ids` the user belongs to."""
        self._raise_fault("member_of", "before")
        with self._lock:
            mine = self.groups.get(user.lower(), set())
            return [g for g in group_ids if g in mine]

    async def verified_domains(self) -> frozenset[str]:
        """The tenant's verified domains."""
        with self._lock:
            return frozenset(self.domains)

    async def send_mail(self, sender: str, to: str, subject: str, body: str, marker: str) -> None:
        """Deliver (and keep in the sender's Sent Items)."""
        self.apply_send(SentMail(sender=sender, to=to, subject=subject, body=body, marker=marker))

    def apply_send(self, mail: SentMail) -> None:
        """sendMail semantics shared by the in-process client and the HTTP server."""
        self._raise_fault("send", "before")
        with self._lock:
            self.sent.append(mail)
        self._raise_fault("send", "after")

    async def sent_with_marker(self, sender: str, marker: str) -> bool:
        """Whether the sender's Sent Items hold a mail with this marker."""
        self._raise_fault("sent_lookup", "before")
        with self._lock:
            return any(m.marker == marker and m.sender.lower() == sender.lower() for m in self.sent)

    async def sender_history(self, user: str, sender: str) -> str | None:
        """A canned line of history, if seeded."""
        with self._lock:
            return self.history.get((user.lower(), sender.lower()))


# -- HTTP ---------------------------------------------------------------------------------------------

_INVOKE = re.compile(r"^/adminapi/beta/(?P<tenant>[^/]+)/InvokeCommand$")
_GRAPH_PREFIX = "/v1.0"


def _row(m: QuarantinedMessage) -> dict[str, Any]:
    return {
        "Identity": m.identity,
        "MessageId": m.message_id,
        "SenderAddress": m.sender,
        "Subject": m.subject,
        "RecipientAddress": m.recipients,
        "ReceivedTime": m.received.isoformat() if m.received else None,
        "Expires": m.expires.isoformat() if m.expires else None,
        "QuarantineTypes": str(m.quarantine_type) if m.quarantine_type else None,
        "ReleaseStatus": m.release_status.value.upper(),
    }


def _cmdlet_error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": "InternalServerError", "message": message, "details": [{"message": message}]}}


class _Handler(BaseHTTPRequestHandler):
    tenant: FakeTenant  # set on the subclass made per server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and the demo have their own output

    def _send(self, status: int, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            if url.path.startswith("/_fake/"):
                status, body = self._control(method, url.path)
                self._send(status, body)
                return
            if self.tenant.latency_seconds:
                time.sleep(self.tenant.latency_seconds)
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                self._send(401, {"error": {"code": "InvalidAuthenticationToken", "message": "no token"}})
                return
            match = _INVOKE.match(url.path)
            if method == "POST" and match:
                status, body = self._invoke(self._json())
            elif url.path.startswith(_GRAPH_PREFIX):
                status, body = self._graph(method, url.path[len(_GRAPH_PREFIX) :], parse_qs(url.query))
            else:
                status, body = 404, {"error": {"code": "NotFound", "message": f"no route {method} {url.path}"}}
        except TenantError as exc:
            status, body = _cmdlet_error(exc.status or 500, str(exc))
        except Exception as exc:  # the fake must answer, never hang the client
            status, body = _cmdlet_error(500, f"fake tenant error: {type(exc).__name__}")
        self._send(status, body)

    def _control(self, method: str, path: str) -> tuple[int, dict[str, Any] | None]:
        """Test-only endpoints: `GET /_fake/snapshot` (counters) and `POST /_fake/requests` (seed)."""
        t = self.tenant
        if method == "GET" and path == "/_fake/snapshot":
            return 200, t.snapshot()
        if method == "POST" and path == "/_fake/requests":
            items = self._json().get("requests", [])
            ids = [
                t.add_request(base64.b64decode(i["raw"]), requester=i["requester"], subject=i.get("subject", ""))
                for i in items
            ]
            return 200, {"identities": ids}
        return 404, {"error": {"code": "NotFound", "message": path}}

    # Exchange ------------------------------------------------------------------------------------

    def _invoke(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        cmd = payload.get("CmdletInput", {})
        name = cmd.get("CmdletName")
        params = cmd.get("Parameters", {}) or {}
        t = self.tenant
        if name == "Get-QuarantineMessage":
            if "Identity" in params:
                t._raise_fault("get", "before")
                with t._lock:
                    msg = t.messages.get(str(params["Identity"]))
                    return 200, {"value": [_row(msg.meta)] if msg else []}
            t._raise_fault("list", "before")
            size = int(params.get("PageSize", 100))
            page = int(params.get("Page", 1))
            wanted = str(params.get("ReleaseStatus", "")).lower()
            with t._lock:
                rows = [
                    _row(m.meta)
                    for m in t.messages.values()
                    if not wanted or m.meta.release_status.value.lower() == wanted
                ]
            return 200, {"value": rows[(page - 1) * size : page * size]}
        if name == "Export-QuarantineMessage":
            t._raise_fault("export", "before")
            with t._lock:
                msg = t.messages.get(str(params.get("Identity")))
                if msg is None or msg.meta.release_status in (ReleaseStatus.EXPIRED, ReleaseStatus.NOT_FOUND):
                    return _cmdlet_error(400, "Cannot find an object with identity")
                eml = base64.b64encode(msg.raw).decode()
            return 200, {"value": [{"Identity": msg.meta.identity, "Eml": eml, "BodyEncoding": "Base64"}]}
        if name == "Release-QuarantineMessage":
            identity = str(params.get("Identity"))
            try:
                if params.get("ActionType") == "Deny":
                    self._already(identity, ReleaseStatus.DENIED)
                    t.apply_deny(identity)
                else:
                    users = params.get("User") or []
                    self._already(identity, ReleaseStatus.RELEASED)
                    t.apply_release(identity, str(users[0]) if users else "")
            except QuarantineStateError as exc:
                text = {
                    ReleaseStatus.RELEASED: "The message has already been released",
                    ReleaseStatus.DENIED: "The release request has already been denied",
                    ReleaseStatus.EXPIRED: "The message has expired",
                }.get(exc.state, "Cannot find an object with identity")
                return _cmdlet_error(400, text)
            return 200, {"value": []}
        return _cmdlet_error(400, f"the fake tenant does not implement {name!r}")

    def _already(self, identity: str, state: ReleaseStatus) -> None:
        # The real cmdlet answers a repeat with an "already ..." error; count the call first.
        t = self.tenant
        with t._lock:
            msg = t.messages.get(identity)
            if msg is not None and msg.meta.release_status == state:
                (t.release_calls if state == ReleaseStatus.RELEASED else t.deny_calls)[identity] += 1
                raise QuarantineStateError("already", state=state)

    # Graph -----------------------------------------------------------------------------------------

    def _graph(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any] | None]:
        t = self.tenant
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and parts == ["domains"]:
            with t._lock:
                return 200, {"value": [{"id": d, "isVerified": True} for d in sorted(t.domains)]}
        if len(parts) >= 3 and parts[0] == "users":
            user = parts[1]
            rest = parts[2:]
            if method == "POST" and rest == ["checkMemberGroups"]:
                t._raise_fault("member_of", "before")
                payload = self._json()
                ids = [str(g).lower() for g in payload.get("groupIds") or payload.get("GroupIds") or []]
                with t._lock:
                    mine = {g.lower() for g in t.groups.get(user.lower(), set())}
                return 200, {"value": [g for g in ids if g in mine]}
            if method == "POST" and rest == ["sendMail"]:
                payload = self._json()
                # The SDK writes `Message`/`SaveToSentItems`; Graph treats property names case-insensitively.
                msg = payload.get("message") or payload.get("Message") or {}
                headers = {h.get("name", "").lower(): h.get("value", "") for h in msg.get("internetMessageHeaders", [])}
                props = [p.get("value", "") for p in msg.get("singleValueExtendedProperties", []) or []]
                to = [r["emailAddress"]["address"] for r in msg.get("toRecipients", [])]
                t.apply_send(
                    SentMail(
                        sender=user,
                        to=to[0] if to else "",
                        subject=str(msg.get("subject", "")),
                        body=str(msg.get("body", {}).get("content", "")),
                        marker=str(headers.get(MARKER_HEADER, "") or (props[0] if props else "")),
                    )
                )
                return 202, None
            if method == "GET" and rest[-1] == "messages":
                return 200, {"value": self._messages(user, rest, query)}
        return 404, {"error": {"code": "ResourceNotFound", "message": f"no route {method} {path}"}}

    def _messages(self, user: str, rest: list[str], query: dict[str, list[str]]) -> list[dict[str, Any]]:
        t = self.tenant
        flt = " ".join(query.get("$filter", []))
        search = " ".join(query.get("$search", [])).strip('"')
        if "sentitems" in [p.lower() for p in rest]:
            t._raise_fault("sent_lookup", "before")
            # The adapter filters on the marker's extended property: `... and ep/value eq '<marker>'`.
            found = re.search(r"ep/value eq '([^']*)'", flt)
            marker = found.group(1) if found else ""
            with t._lock:
                hits = [m for m in t.sent if m.sender.lower() == user.lower() and marker and m.marker == marker]
            return [
                {
                    "id": str(i),
                    "subject": m.subject,
                    "internetMessageHeaders": [{"name": MARKER_HEADER, "value": m.marker}],
                }
                for i, m in enumerate(hits)
            ]
        sender = (_quoted_value(flt) or search.split(":", 1)[-1]).lower()
        with t._lock:
            line = t.history.get((user.lower(), sender))
        # Metadata only, like the adapter asks for: one earlier message when history was seeded.
        return [{"id": "h1", "receivedDateTime": "2026-01-01T00:00:00Z"}] if line else []


def _quoted_value(expr: str) -> str:
    match = re.search(r"'([^']*)'", expr)
    return match.group(1) if match else ""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash benchmark does that on purpose) is not an error here.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeTenantServer:
    """A running HTTP fake tenant; use as a context manager or call `close()`."""

    def __init__(self, tenant: FakeTenant, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"tenant": tenant})
        self.tenant = tenant
        self._server = _QuietServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-tenant", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`: the Exchange base URL; Graph is under `/v1.0`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def graph_url(self) -> str:
        """The Graph base URL (`settings.tenant.graph_base_url`)."""
        return self.base_url + _GRAPH_PREFIX

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTenantServer:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def serve_fake_tenant(tenant: FakeTenant | None = None, port: int = 0) -> FakeTenantServer:
    """Start the fake tenant on 127.0.0.1 (port 0: any free port)."""
    return FakeTenantServer(tenant or FakeTenant(), port)
