"""Parse raw message bytes once, robustly, into a `ParsedMessage` with parse findings.

Hostile or broken input never raises: every defect and exceeded limit becomes a `parse.*`
finding, which the floors turn into manual review.

The stdlib parser runs with the `compat32` policy on purpose: it is the lenient one (it records
defects instead of raising) and it does not run the modern header-value parser, whose quadratic
cases on stuffed headers are still open (cpython#136063). Header values are capped *before*
parsing for the same reason, and only simple, bounded address parsing is done afterwards.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import hashlib
import re
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Literal

from policies.settings import DetectionSettings
from tools.html_view import render
from tools.models import Attachment, Finding, Link, ParsedMessage
from tools.unicode_text import normalize

_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:", re.MULTILINE)
_URL_IN_TEXT = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"'\])}]+""")
_TEXT_LIMIT = 2_000_000  # characters of body text kept for analysis
_ANGLE_ADDR = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_HTML_ATTACHMENT_TYPES = ("text/html", "image/svg+xml", "application/xhtml+xml")
_HTML_ATTACHMENT_EXT = (".html", ".htm", ".shtml", ".xhtml", ".svg")
_MAX_LINKS = 500
NUL = b"\x00"
_MIME_DEFECTS = (
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.MisplacedEnvelopeHeaderDefect,
)
_DECODE_DEFECTS = (
    email.errors.InvalidBase64PaddingDefect,
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64LengthDefect,
)


def _looks_like_email(raw: bytes) -> bool:
    head = raw[:8192]
    return len(_HEADER_LINE.findall(head)) >= 2 or (b"\nFrom:" in head or head.startswith(b"From:"))


def sniff(raw: bytes) -> str | None:
    """The `parse.*` id that makes the input unusable as an email, or None when it may be one."""
    if not raw.strip():
        return "parse.empty"
    if b"\x00" in raw[:4096] and not _looks_like_email(raw):
        return "parse.binary_garbage"
    if not _looks_like_email(raw):
        return "parse.not_email"
    return None


def parse_message(raw: bytes, limits: DetectionSettings | None = None) -> ParsedMessage:
    """Parse one RFC 5322 message; never raises on bad input.

    Args:
        raw: the message as received (an mbox `From ` envelope line is tolerated).
        limits: hard limits; defaults to `DetectionSettings()`.

    Returns:
        The parsed message; `findings` holds every `parse.*` defect and exceeded limit.
    """
    limits = limits or DetectionSettings()
    findings: list[Finding] = []
    unusable = sniff(raw)
    if unusable:
        return ParsedMessage(findings=[Finding.of(unusable)], size=len(raw))
    size = len(raw)
    if size > limits.max_message_bytes:
        findings.append(Finding.of("parse.too_large", f"{size} bytes"))
        raw = raw[: limits.max_message_bytes]
    if raw.startswith(b"From ") and not raw.startswith(b"From: "):
        findings.append(Finding.of("parse.mbox_envelope"))
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    if b"\x00" in raw:
        # NUL bytes have no place in a text message; they are also used to split parsers' views.
        findings.append(Finding.of("parse.nul_bytes", f"{raw.count(NUL)} NUL bytes"))
        raw = raw.replace(b"\x00", b"")
    raw = _cap_header_block(raw, limits, findings)

    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the lenient parser should not raise; if it does, the input is unusable
        return ParsedMessage(findings=[*findings, Finding.of("parse.mime_defect", type(exc).__name__)], size=size)
    parsed = ParsedMessage(size=size)
    _collect_headers(msg, parsed, limits, findings)
    _collect_body(msg, parsed, limits, findings)
    parsed.findings = _dedupe(findings)
    return parsed


def _cap_header_block(raw: bytes, limits: DetectionSettings, findings: list[Finding]) -> bytes:
    """Bound the number and length of header lines before the stdlib parser sees them."""
    end = raw.find(b"\n\n")
    end_crlf = raw.find(b"\r\n\r\n")
    if end_crlf != -1 and (end == -1 or end_crlf < end):
        end = end_crlf
    head, body = (raw, b"") if end == -1 else (raw[:end], raw[end:])
    lines = head.splitlines(keepends=True)
    fields = sum(1 for line in lines if line[:1] not in (b" ", b"\t"))
    longest = max((len(line) for line in lines), default=0)
    total_cap = limits.max_header_bytes * 8
    if fields <= limits.max_headers and longest <= limits.max_header_bytes and len(head) <= total_cap:
        return raw
    findings.append(Finding.of("parse.too_many_headers", f"{fields} header fields, longest line {longest} bytes"))
    kept: list[bytes] = []
    count = 0
    used = 0
    for line in lines:
        if line[:1] not in (b" ", b"\t"):
            count += 1
        if count > limits.max_headers or used > total_cap:
            break
        line = line[: limits.max_header_bytes] + (b"\n" if len(line) > limits.max_header_bytes else b"")
        kept.append(line)
        used += len(line)
    return b"".join(kept) + body


def _collect_headers(msg: Message, parsed: ParsedMessage, limits: DetectionSettings, findings: list[Finding]) -> None:
    items = [(str(k)[:200], _as_text(v)) for k, v in msg.items()]
    if len(items) > limits.max_headers or any(len(v) > limits.max_header_bytes for _, v in items):
        findings.append(Finding.of("parse.too_many_headers", f"{len(items)} headers"))
        items = [(k, v[: limits.max_header_bytes]) for k, v in items[: limits.max_headers]]
    parsed.headers = [(k, _decode_header(v)) for k, v in items]
    if not items:
        # Input that starts with a blank line has no header block: everything became body text.
        findings.append(Finding.of("parse.header_defect", "no header fields"))
    _record_defects(msg, findings)

    name, addr = parse_mailbox((parsed.header("From") or "")[:2000])
    parsed.from_display_name = normalize(name).strip()[:500]
    parsed.from_address = addr
    parsed.reply_to = [
        a.lower() for _, a in getaddresses([v[:2000] for v in parsed.header_all("Reply-To")]) if "@" in a
    ][:20]
    parsed.return_path = parseaddr((parsed.header("Return-Path") or "")[:2000])[1].lower()
    parsed.to = [a.lower() for _, a in getaddresses([v[:20000] for v in parsed.header_all("To")]) if "@" in a][:100]
    parsed.subject = (parsed.header("Subject") or "")[:2000]
    parsed.date = (parsed.header("Date") or "")[:200]
    parsed.message_id = (parsed.header("Message-ID") or "").strip()[:1000]


def parse_mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of a From-style header, as a mail client would show it.

    The angle-bracketed address is the sender; `parseaddr` on this Python picks a bare address
    planted in the display name instead (`a@bank.com <evil@x.com>`, CVE-2023-27043 class).
    """
    value = " ".join(value.split())
    m = _ANGLE_ADDR.search(value)
    if m:
        name = value[: m.start()].strip().rstrip(",").strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"')
        return name, m.group(1).strip().rstrip(".").lower()
    name, addr = parseaddr(value)
    # Legacy forms ("bob (comment) bob@x") can leave several tokens; the one with the @ is the address.
    addr = next((t for t in reversed(addr.split()) if "@" in t), "")
    return name.strip(), addr.rstrip(".").lower()


def mailbox_addresses(values: list[str]) -> set[str]:
    """Distinct addresses named by header values (angle-bracketed ones when there are any)."""
    out: set[str] = set()
    for value in values:
        angled = [a.strip().rstrip(".").lower() for a in _ANGLE_ADDR.findall(value[:5000])]
        if angled:
            out.update(angled)
        else:
            out.update(a.strip().rstrip(".").lower() for _, a in getaddresses([value[:5000]]) if "@" in a)
    return out


def _as_text(value: object) -> str:
    """compat32 returns `Header` objects for 8-bit headers; turn anything into text."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return repr(value)


def _decode_header(value: str) -> str:
    """RFC 2047 decode without ever raising; keeps the raw text when decoding fails."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def _record_defects(part: Message, findings: list[Finding]) -> None:
    for defect in part.defects[:20]:
        name = type(defect).__name__
        if isinstance(defect, _MIME_DEFECTS):
            findings.append(Finding.of("parse.mime_defect", name))
        elif isinstance(defect, _DECODE_DEFECTS):
            findings.append(Finding.of("parse.decode_error", name))
        else:
            findings.append(Finding.of("parse.header_defect", name))


def _walk(msg: Message, limits: DetectionSettings, findings: list[Finding]) -> list[Message]:
    """Leaf parts in order, bounded in count and depth (iterative: no recursion limit to hit)."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > limits.max_parts or depth > limits.max_depth:
            findings.append(Finding.of("parse.too_many_parts", f"more than {seen - 1} parts or depth {depth}"))
            break
        if depth > 0:
            _record_defects(part, findings)
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
        else:
            leaves.append(part)
    return leaves


def _decoded(part: Message, findings: list[Finding]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        findings.append(Finding.of("parse.decode_error", type(exc).__name__))
        return b""
    if part.defects:
        _record_defects(part, findings)
    return payload if isinstance(payload, bytes) else b""


def _text_of(payload: bytes, part: Message, findings: list[Finding]) -> str:
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:
        charset = "utf-8"
    try:
        return payload.decode(charset)
    except UnicodeDecodeError:
        # 8-bit text labelled us-ascii or utf-8 is an everyday sender mistake: recorded, not alarming.
        findings.append(Finding.of("parse.charset_mismatch", f"not valid {charset[:40]}"))
    except (LookupError, ValueError):
        # An unknown charset name is not a mistake mail software makes; it is noise or evasion.
        findings.append(Finding.of("parse.decode_error", f"charset {charset[:40]!r}"))
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def _collect_body(msg: Message, parsed: ParsedMessage, limits: DetectionSettings, findings: list[Finding]) -> None:
    plain: list[str] = []
    html: list[str] = []
    for part in _walk(msg, limits, findings):
        try:
            ctype = part.get_content_type()
            disposition = str(part.get("Content-Disposition") or "").lower()
        except Exception:
            ctype, disposition = "application/octet-stream", ""
        filename = _safe_filename(part)
        is_attachment = "attachment" in disposition or bool(filename)
        if not is_attachment and ctype == "text/plain":
            plain.append(_text_of(_decoded(part, findings), part, findings))
        elif not is_attachment and ctype == "text/html":
            html.append(_text_of(_decoded(part, findings), part, findings))
        elif not ctype.startswith("multipart/"):
            _add_attachment(part, filename, ctype, parsed, limits, findings)

    parsed.text_plain = "\n".join(plain)[:_TEXT_LIMIT]
    parsed.html = "\n".join(html)[:_TEXT_LIMIT]
    links: list[Link] = []
    if parsed.html:
        view = render(parsed.html)
        parsed.visible_text = normalize(view.visible)
        parsed.hidden_text = normalize("\n".join(view.hidden))
        # Kept so the content checks need not render the same HTML a second time.
        parsed.hidden_parts = view.hidden_items
        parsed.unseen_attributes = view.attributes
        links.extend(Link(url=h[:4000], anchor_text=a[:200], source="html") for h, a in view.links)
    else:
        parsed.visible_text = normalize(parsed.text_plain)
    links.extend(_text_links(parsed.text_plain, "text"))
    links.extend(_attachment_links(parsed))
    seen: set[tuple[str, str]] = set()
    unique: list[Link] = []
    for link in links:
        key = (link.url, link.anchor_text)
        if key not in seen:
            seen.add(key)
            unique.append(link)
    parsed.links = unique[:_MAX_LINKS]


def _text_links(text: str, source: Literal["html", "text", "attachment"]) -> list[Link]:
    out: list[Link] = []
    for m in _URL_IN_TEXT.finditer(text[:_TEXT_LIMIT]):
        out.append(Link(url=m.group(0).rstrip(".,;:!?")[:4000], source=source))
        if len(out) >= _MAX_LINKS:
            break
    return out


def _attachment_links(parsed: ParsedMessage) -> list[Link]:
    """Links inside attachments a reader would open: HTML/SVG pages and PDF link annotations."""
    from tools.pdf import pdf_uris

    out: list[Link] = []
    for att in parsed.attachments:
        name = att.filename.lower()
        if att.content_type in _HTML_ATTACHMENT_TYPES or name.endswith(_HTML_ATTACHMENT_EXT):
            view = render(att.data[:_TEXT_LIMIT].decode("utf-8", errors="replace"))
            out.extend(Link(url=h[:4000], anchor_text=a[:200], source="attachment") for h, a in view.links[:100])
        elif att.data[:1024].lstrip().startswith(b"%PDF") or name.endswith(".pdf"):
            out.extend(Link(url=u[:4000], source="attachment") for u in pdf_uris(att.data)[:100])
    return out


def _safe_filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not isinstance(name, str):
        name = str(name)
    return _decode_header(name).strip()[:500]


def _add_attachment(
    part: Message,
    filename: str,
    ctype: str,
    parsed: ParsedMessage,
    limits: DetectionSettings,
    findings: list[Finding],
) -> None:
    if ctype == "message/rfc822":
        inner = part.get_payload()
        try:
            data = inner[0].as_bytes() if isinstance(inner, list) and inner and isinstance(inner[0], Message) else b""
        except Exception:
            data = b""
    else:
        data = _decoded(part, findings)
    if len(data) > limits.max_attachment_bytes:
        findings.append(Finding.of("parse.attachment_too_large", f"{filename or ctype}: {len(data)} bytes"))
        data = data[: limits.max_attachment_bytes]
    try:
        inline = "inline" in str(part.get("Content-Disposition") or "").lower() or bool(part.get("Content-ID"))
    except Exception:
        inline = False
    parsed.attachments.append(
        Attachment(
            filename=filename,
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            inline=inline and not filename,
        )
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        key = (f.id, f.evidence)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
