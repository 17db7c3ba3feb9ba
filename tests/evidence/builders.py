"""Small message and file builders for evidence tests (no corpus copies: everything is made here)."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from email.message import EmailMessage
from email.policy import SMTP

from policies.models import ReleaseRequest
from policies.settings import DetectionSettings
from tools.evidence import extract_all
from tools.models import Finding, ParsedMessage

MS_AUTH = (
    "spf=pass (sender IP is 40.107.22.51) smtp.mailfrom=fabrikam.com; dkim=pass (signature was verified)"
    " header.d=fabrikam.com;dmarc=pass action=none header.from=fabrikam.com;compauth=pass reason=100"
)
HTML_PAGE = "<html><body><p>Hello</p></body></html>"


def raw(
    *,
    headers: list[tuple[str, str]] | None = None,
    from_: str = "Maria Lopez <maria@fabrikam.com>",
    subject: str = "Quarterly report",
    body: str = "Hello Alex, the report is attached as discussed.",
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    date: str = "Tue, 01 Dec 2026 10:13:55 +0100",
    message_id: str | None = "<abc123@fabrikam.com>",
) -> bytes:
    """A well-formed message; `headers` come first (topmost), as a receiving server would add them."""
    msg = EmailMessage()
    for name, value in headers or []:
        msg[name] = value
    if from_:
        msg["From"] = from_
    msg["To"] = "Alex Wilber <alexw@contoso.com>"
    msg["Subject"] = subject
    if date:
        msg["Date"] = date
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments or []:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=SMTP)


def evidence(
    message: bytes,
    detection: DetectionSettings | None = None,
    request: ReleaseRequest | None = None,
) -> tuple[ParsedMessage, list[Finding]]:
    """Every extractor over `message`."""
    ev = extract_all(message, detection, request)
    return ev.message, ev.findings


def ids(message: bytes, detection: DetectionSettings | None = None, request: ReleaseRequest | None = None) -> set[str]:
    """The finding ids of `message`."""
    return {f.id for f in evidence(message, detection, request)[1]}


def zip_of(members: dict[str, bytes], *, encrypted: set[str] | None = None) -> bytes:
    """A zip archive; names in `encrypted` get the 'encrypted' flag bit (content is not really encrypted)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    out = bytearray(buf.getvalue())
    for name in encrypted or set():
        # Set bit 0 of the general-purpose flags in both the local and the central header.
        encoded = name.encode()
        for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = 0
            while (pos := out.find(sig, start)) != -1:
                name_off = pos + (30 if sig == b"PK\x03\x04" else 46)
                if out[name_off : name_off + len(encoded)] == encoded:
                    out[pos + offset] |= 0x01
                start = pos + 4
    return bytes(out)


def ooxml(parts: dict[str, bytes]) -> bytes:
    """A minimal OOXML-shaped zip (content types plus the given parts)."""
    base = {"[Content_Types].xml": b"<?xml version='1.0'?><Types/>"}
    return zip_of({**base, **parts})


def pdf(body: bytes) -> bytes:
    """A tiny PDF around `body` (objects as raw bytes)."""
    return b"%PDF-1.7\n" + body + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def rtf_with_object(class_name: bytes) -> bytes:
    """An RTF document embedding an OLE 1.0 object of the given class (the Equation Editor pattern)."""

    def lstr(value: bytes) -> bytes:
        return struct.pack("<I", len(value) + 1) + value + b"\x00"

    native = b"\x00" * 64
    ole1 = struct.pack("<II", 0x00000501, 2) + lstr(class_name) + lstr(b"") + lstr(b"")
    ole1 += struct.pack("<I", len(native)) + native
    return b"{\\rtf1{\\object\\objemb{\\*\\objclass " + class_name + b"}{\\*\\objdata " + ole1.hex().encode() + b"}}}"


def b64(data: bytes) -> str:
    """Base64 text of `data`."""
    return base64.b64encode(data).decode()
