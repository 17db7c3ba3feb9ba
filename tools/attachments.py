"""Attachment evidence: true type, dangerous classes, macros, PDFs, archives, encryption, invites.

Names are judged as the recipient's computer would (last extension, bidi controls removed);
content is judged by its bytes. Office files go through oletools in a sandboxed child process.
"""

from __future__ import annotations

import re

from policies.settings import DetectionSettings
from tools.archives import Member, list_archive
from tools.filetypes import (
    ARCHIVE_EXT,
    CONTAINER_TYPES,
    DOC_EXT,
    EXECUTABLE_EXT,
    EXECUTABLE_TYPES,
    EXPECTED_EXT,
    OFFICE_EXT,
    ext_of,
    name_class,
    true_type,
)
from tools.models import Attachment, Finding, ParsedMessage
from tools.unicode_text import BIDI

# Backward-compatible names for callers of the first version.
__all__ = ["EXECUTABLE_EXT", "attachment_findings", "password_hint"]

_CLASS_FINDING = {
    "executable": "attachment.executable",
    "container": "attachment.dangerous_container",
    "smuggling": "attachment.html_smuggling",
    "macro": "attachment.macro",
    "calendar": "attachment.calendar_invite",
}
_PASSWORD = re.compile(
    r"(?i)(?:password|passcode|passwort|mot de passe|contraseña|senha|пароль|kennwort|pwd|pass)\s*(?:is|:|=|-|：)\s*"
    r"[\"'«“]?([^\s\"'»”<>]{3,40})"
)
_SMUGGLING_CONTENT = re.compile(
    rb"(?i)(?:atob\s*\(|msSaveOrOpenBlob|new\s+Blob\s*\(|URL\.createObjectURL|\.download\s*=|document\.write\s*\(\s*unescape"
    rb"|window\.location(?:\.href)?\s*=|<form[^>]+action\s*=\s*[\"']?https?:|<input[^>]+type\s*=\s*[\"']?password)"
)
_ICS_METHOD = re.compile(rb"(?im)^METHOD:\s*(\w+)")
_ICS_URL = re.compile(rb"(?i)https?://[^\s\"'<>\\]+")
#: Office documents are sent to the sandbox only below this size (bigger ones are still listed).
_OFFICE_SANDBOX_MAX = 30 * 1024 * 1024


def password_hint(text: str) -> str | None:
    """A password given in the message text ('password: 1234'), as attackers do for encrypted zips."""
    m = _PASSWORD.search(text[:200_000])
    return m.group(1) if m else None


def _name_findings(name: str) -> list[Finding]:
    out: list[Finding] = []
    if not name:
        return out
    if any(c in BIDI for c in name):
        # Right-to-left override turns "invoice\u202etxt.exe" into "invoiceexe.txt" on screen.
        out.append(Finding.of("attachment.double_extension", name))
    kind = name_class(name)
    if kind:
        out.append(Finding.of(_CLASS_FINDING[kind], name))
    clean = "".join(c for c in name if c not in BIDI).lower().strip()
    parts = [p.strip() for p in clean.split(".")]
    if kind in ("executable", "container", "smuggling") and len(parts) >= 3 and parts[-2] in DOC_EXT:
        out.append(Finding.of("attachment.double_extension", name))
    elif kind in ("executable", "container") and re.search(r"\s{5,}\.\w+$|_{5,}\.\w+$", clean):
        out.append(Finding.of("attachment.double_extension", name))  # "invoice.pdf          .exe"
    return out


def _content_findings(att: Attachment, detection: DetectionSettings, body_text: str) -> list[Finding]:
    out: list[Finding] = []
    data, name = att.data, att.filename or att.content_type
    ext = ext_of(att.filename)
    kind = true_type(data)
    if kind in EXECUTABLE_TYPES and ext not in EXECUTABLE_EXT:
        out.append(Finding.of("attachment.executable", f"{name} ({kind} content)"))
    elif kind in CONTAINER_TYPES and name_class(att.filename) != "container":
        out.append(Finding.of("attachment.dangerous_container", f"{name} ({kind} content)"))
    elif kind in EXPECTED_EXT and ext and ext not in EXPECTED_EXT[kind] and ext not in ARCHIVE_EXT | {"bin", "dat"}:
        out.append(Finding.of("attachment.type_mismatch", f"{name}: {kind} content"))
    elif kind in ("html", "svg") and name_class(att.filename) != "smuggling" and att.filename:
        out.append(Finding.of("attachment.html_smuggling", f"{name}: {kind} content"))
    if (kind in ("html", "svg") or name_class(att.filename) == "smuggling") and _SMUGGLING_CONTENT.search(
        data[:5_000_000]
    ):
        out.append(Finding.of("attachment.html_smuggling", f"{name}: script builds or posts content"))

    if kind == "pdf":
        out.extend(_pdf_findings(data, name))
    elif kind in ("ole", "rtf", "office-xml") or (kind == "zip" and ext in OFFICE_EXT):
        out.extend(_office_findings(data, name, kind))
    is_document = kind == "zip" and ext in OFFICE_EXT | {"jar", "apk", "appx", "msix"}
    if kind in ("zip", "gz", "bz2", "xz", "rar", "7z", "iso", "cab") and not is_document:
        out.extend(_archive_findings(att, detection, body_text))
    if kind == "ics" or ext in ("ics", "vcs") or att.content_type in ("text/calendar", "application/ics"):
        out.extend(_calendar_findings(data, name))
    return out


def _pdf_findings(data: bytes, name: str) -> list[Finding]:
    from tools.pdf import scan_pdf

    try:
        report = scan_pdf(data)
    except Exception:
        return [Finding.of("attachment.unreadable", f"{name}: PDF scan failed")]
    out: list[Finding] = []
    active = [a for a in report.active if a not in ("XFA form",)]
    if active or (report.auto_action and "JavaScript" in report.active):
        label = ", ".join(active) + (" run on open" if report.auto_action else "")
        out.append(Finding.of("attachment.pdf_active", f"{name}: {label}"))
    if report.encrypted:
        out.append(Finding.of("attachment.encrypted", f"{name}: encrypted PDF"))
    if report.uris:
        out.append(Finding.of("attachment.pdf_link", f"{name}: {report.uris[0][:150]}"))
    return out


def _office_findings(data: bytes, name: str, kind: str) -> list[Finding]:
    from tools.limits import run_isolated
    from tools.office import ooxml_hits

    hits: list[tuple[str, str]] = ooxml_hits(data, name) if kind == "zip" else []
    if len(data) <= _OFFICE_SANDBOX_MAX:
        result = run_isolated("office", data, name)
        if result.ok:
            hits.extend(result.hits)
        else:
            hits.append(("attachment.unreadable", f"{name}: {result.error}"))
    return [Finding.of(fid, ev) for fid, ev in hits]


def _member_findings(member: Member) -> list[Finding]:
    out: list[Finding] = []
    kind = name_class(member.path)
    sniffed = true_type(member.data) if member.data else ""
    if kind in ("executable", "container", "macro", "smuggling") or sniffed in EXECUTABLE_TYPES | CONTAINER_TYPES:
        out.append(Finding.of("attachment.archive_dangerous_member", member.path))
    if member.data and (sniffed in ("ole", "rtf", "office-xml") or ext_of(member.path) in OFFICE_EXT):
        out.extend(_office_findings(member.data, member.path, sniffed))
    return out


def _archive_findings(att: Attachment, detection: DetectionSettings, body_text: str) -> list[Finding]:
    name = att.filename or att.content_type
    listing = list_archive(att.data, name, detection)
    out: list[Finding] = []
    if listing.bomb:
        out.append(Finding.of("attachment.archive_bomb", listing.bomb))
    if listing.unreadable:
        out.append(Finding.of("attachment.unreadable", listing.unreadable))
    if listing.nested:
        out.append(Finding.of("attachment.archive_nested", name))
    encrypted = [m for m in listing.members if m.encrypted]
    if encrypted:
        out.append(Finding.of("attachment.encrypted", f"password-protected: {encrypted[0].path}"))
    for member in listing.members[:2000]:
        out.extend(_member_findings(member))
    return out


def _calendar_findings(data: bytes, name: str) -> list[Finding]:
    method = _ICS_METHOD.search(data[:1_000_000])
    label = method.group(1).decode("ascii", "replace") if method else "no METHOD"
    out = [Finding.of("attachment.calendar_invite", f"{name}: {label}")]
    url = _ICS_URL.search(data[:1_000_000])
    if url:
        out.append(Finding.of("attachment.calendar_link", f"{name}: {url.group(0)[:150].decode('latin-1')}"))
    return out


def attachment_findings(msg: ParsedMessage, detection: DetectionSettings) -> list[Finding]:
    """Findings over every attachment: names, then content by its bytes."""
    out: list[Finding] = []
    body_text = f"{msg.subject}\n{msg.visible_text}\n{msg.text_plain}"
    for att in msg.attachments[: detection.max_parts]:
        out.extend(_name_findings(att.filename))
        try:
            out.extend(_content_findings(att, detection, body_text))
        except Exception as exc:  # a bug or a parser surprise on one file must not hide the others
            out.append(Finding.of("attachment.unreadable", f"{att.filename or att.content_type}: {type(exc).__name__}"))
    encrypted = next((f for f in out if f.id == "attachment.encrypted"), None)
    if encrypted is not None and password_hint(body_text):
        # Encryption hides the payload from scanners; the password in the text lets the victim open it.
        out.append(Finding.of("attachment.password_in_body", encrypted.evidence))
    seen: set[tuple[str, str]] = set()
    unique: list[Finding] = []
    for f in out:
        if (f.id, f.evidence) not in seen:
            seen.add((f.id, f.evidence))
            unique.append(f)
    return unique
