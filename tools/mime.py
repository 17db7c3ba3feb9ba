"""Parse raw message bytes once, robustly, into a `ParsedMessage` with parse findings.

Hostile or broken input never raises: every defect and exceeded limit becomes a `parse.*`
finding, which the floors turn into manual review.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from email.message import Message
from email.utils import getaddresses, parseaddr

from policies.settings import DetectionSettings
from tools.html_view import render
from tools.models import Attachment, Finding, Link, ParsedMessage
from tools.unicode_text import normalize

_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:", re.MULTILINE)
_URL_IN_TEXT = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"'\])}]+""")
_TEXT_LIMIT = 2_000_000  # characters of body text kept for analysis


def _looks_like_email(raw: bytes) -> bool:
    head = raw[:8192]
    return len(_HEADER_LINE.findall(head)) >= 2 or (b"\nFrom:" in head or head.startswith(b"From:"))


def _decode_part(part: Message, findings: list[Finding]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        findings.append(Finding.of("parse.decode_error", f"charset {charset!r}"))
        return payload.decode("utf-8", errors="replace")


def _header_str(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return str(value) if value is not None else ""


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
    """Parse one RFC 5322 message; never raises on bad input."""
    limits = limits or DetectionSettings()
    findings: list[Finding] = []
    unusable = sniff(raw)
    if unusable:
        return ParsedMessage(findings=[Finding.of(unusable)], size=len(raw))
    if len(raw) > limits.max_message_bytes:
        findings.append(Finding.of("parse.too_large", f"{len(raw)} bytes"))
        raw = raw[: limits.max_message_bytes]
    if raw.startswith(b"From ") and not raw.startswith(b"From: "):
        findings.append(Finding.of("parse.mbox_envelope"))
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""

    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    parsed = ParsedMessage(size=len(raw))
    _collect_headers(msg, parsed, limits, findings)
    _collect_body(msg, parsed, limits, findings)
    parsed.findings = _dedupe(findings)
    return parsed


def _collect_headers(msg: Message, parsed: ParsedMessage, limits: DetectionSettings, findings: list[Finding]) -> None:
    items = [(k, _as_text(v)) for k, v in msg.items()]
    if len(items) > limits.max_headers or any(len(v) > limits.max_header_bytes for _, v in items):
        findings.append(Finding.of("parse.too_many_headers", f"{len(items)} headers"))
        items = [(k, v[: limits.max_header_bytes]) for k, v in items[: limits.max_headers]]
    parsed.headers = [(k, _decode_header(v)) for k, v in items]
    if msg.defects:
        findings.append(Finding.of("parse.header_defect", type(msg.defects[0]).__name__))

    name, addr = parseaddr(parsed.header("From") or "")
    parsed.from_display_name = name.strip()
    parsed.from_address = addr.strip().lower() if "@" in addr else ""
    parsed.reply_to = [a.lower() for _, a in getaddresses(parsed.header_all("Reply-To")) if "@" in a]
    parsed.return_path = parseaddr(parsed.header("Return-Path") or "")[1].lower()
    parsed.to = [a.lower() for _, a in getaddresses(parsed.header_all("To")) if "@" in a][:100]
    parsed.subject = parsed.header("Subject") or ""
    parsed.date = parsed.header("Date") or ""
    parsed.message_id = (parsed.header("Message-ID") or "").strip()


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
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def _walk(msg: Message, limits: DetectionSettings, findings: list[Finding]) -> list[Message]:
    """Leaf parts in order, bounded in count and depth."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > limits.max_parts or depth > limits.max_depth:
            findings.append(Finding.of("parse.too_many_parts", f"{seen} parts, depth {depth}"))
            break
        if part.defects and depth > 0 or part.is_multipart() and part.defects:
            findings.append(Finding.of("parse.mime_defect", type(part.defects[0]).__name__))
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
        else:
            leaves.append(part)
    return leaves


def _collect_body(msg: Message, parsed: ParsedMessage, limits: DetectionSettings, findings: list[Finding]) -> None:
    plain: list[str] = []
    html: list[str] = []
    for part in _walk(msg, limits, findings):
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").lower()
        filename = _safe_filename(part)
        is_attachment = "attachment" in disposition or bool(filename)
        if not is_attachment and ctype == "text/plain":
            plain.append(_decode_part(part, findings))
        elif not is_attachment and ctype == "text/html":
            html.append(_decode_part(part, findings))
        elif ctype == "message/rfc822" or not ctype.startswith("multipart/"):
            _add_attachment(part, filename, ctype, parsed, limits, findings)

    parsed.text_plain = "\n".join(plain)[:_TEXT_LIMIT]
    parsed.html = "\n".join(html)[:_TEXT_LIMIT]
    links: list[Link] = []
    if parsed.html:
        view = render(parsed.html)
        parsed.visible_text = normalize(view.visible)
        parsed.hidden_text = normalize("\n".join(view.hidden))
        links.extend(Link(url=h, anchor_text=a[:200], source="html") for h, a in view.links)
    else:
        parsed.visible_text = normalize(parsed.text_plain)
    seen = {link.url for link in links}
    for m in _URL_IN_TEXT.finditer(parsed.text_plain if not parsed.html else ""):
        url = m.group(0).rstrip(".,;:!?")
        if url not in seen:
            seen.add(url)
            links.append(Link(url=url, source="text"))
    parsed.links = links[:500]


def _safe_filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    return _decode_header(name).strip()


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
        data = inner[0].as_bytes() if isinstance(inner, list) and inner and isinstance(inner[0], Message) else b""
    else:
        try:
            decoded = part.get_payload(decode=True)
        except Exception:
            decoded = None
        data = decoded if isinstance(decoded, bytes) else b""
    if len(data) > limits.max_attachment_bytes:
        findings.append(Finding.of("parse.attachment_too_large", f"{filename or ctype}: {len(data)} bytes"))
        data = data[: limits.max_attachment_bytes]
    inline = "inline" in (part.get("Content-Disposition") or "").lower() or bool(part.get("Content-ID"))
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
