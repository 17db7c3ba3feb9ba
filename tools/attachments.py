"""Attachment evidence: true type, dangerous classes, macros, archives, encrypted files."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from policies.settings import DetectionSettings
from tools.models import Attachment, Finding, ParsedMessage
from tools.unicode_text import BIDI

EXECUTABLE_EXT = frozenset(
    [
        "exe",
        "scr",
        "pif",
        "com",
        "bat",
        "cmd",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "wsh",
        "ps1",
        "psm1",
        "msi",
        "msp",
        "jar",
        "dll",
        "cpl",
        "hta",
        "scf",
        "reg",
        "sct",
        "gadget",
        "appx",
        "appxbundle",
        "msix",
        "msixbundle",
        "py",
        "pyw",
        "sh",
        "app",
        "apk",
    ]
)
CONTAINER_EXT = frozenset(
    [
        "iso",
        "img",
        "vhd",
        "vhdx",
        "lnk",
        "one",
        "onepkg",
        "xll",
        "chm",
        "url",
        "library-ms",
        "settingcontent-ms",
        "iqy",
        "slk",
    ]
)
SMUGGLING_EXT = frozenset(["html", "htm", "shtml", "xhtml", "svg", "mht", "mhtml"])
MACRO_EXT = frozenset(["docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm"])
OFFICE_EXT = frozenset(["doc", "dot", "xls", "xlt", "ppt", "pps", "docx", "xlsx", "pptx", "rtf"]) | MACRO_EXT
ARCHIVE_EXT = frozenset(["zip", "7z", "rar", "gz", "tgz", "tar", "cab", "ace", "arj", "bz2", "xz"])
DOC_EXT = frozenset(
    [
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "txt",
        "rtf",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "csv",
        "odt",
    ]
)


def _ext(name: str) -> str:
    return PurePosixPath(name.lower().strip().rstrip(".")).suffix.lstrip(".")


def _name_findings(name: str) -> list[Finding]:
    out: list[Finding] = []
    if any(c in BIDI for c in name):
        out.append(Finding.of("attachment.double_extension", name))
    clean = "".join(c for c in name if c not in BIDI).lower().strip()
    ext = _ext(clean)
    parts = clean.split(".")
    if ext in EXECUTABLE_EXT:
        out.append(Finding.of("attachment.executable", name))
        if len(parts) >= 3 and parts[-2] in DOC_EXT:
            out.append(Finding.of("attachment.double_extension", name))
    elif ext in CONTAINER_EXT:
        out.append(Finding.of("attachment.dangerous_container", name))
    elif ext in SMUGGLING_EXT:
        out.append(Finding.of("attachment.html_smuggling", name))
    elif ext in MACRO_EXT:
        out.append(Finding.of("attachment.macro", name))
    elif ext in ("ics", "vcs"):
        out.append(Finding.of("attachment.calendar_invite", name))
    return out


def _zip_findings(att: Attachment, detection: DetectionSettings, depth: int = 0) -> list[Finding]:
    out: list[Finding] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(att.data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return [Finding.of("attachment.unreadable", att.filename or "zip")]
    total = sum(i.file_size for i in infos)
    if (
        len(infos) > detection.max_archive_members
        or total > detection.max_archive_total_bytes
        or (att.size and total / max(att.size, 1) > detection.max_archive_ratio)
    ):
        out.append(Finding.of("attachment.archive_bomb", f"{att.filename}: {len(infos)} members, {total} bytes"))
        return out
    for info in infos:
        if info.flag_bits & 0x1:
            out.append(Finding.of("attachment.encrypted", f"{att.filename}/{info.filename}"))
        member = f"{att.filename}/{info.filename}"
        ext = _ext(info.filename)
        if ext in EXECUTABLE_EXT or ext in CONTAINER_EXT or ext in MACRO_EXT or ext in SMUGGLING_EXT:
            out.append(Finding.of("attachment.archive_dangerous_member", member))
        elif ext == "zip" and depth < 3 and not info.flag_bits & 0x1 and info.file_size < 50_000_000:
            try:
                inner = zf.read(info)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
                out.append(Finding.of("attachment.unreadable", member))
                continue
            out.extend(_zip_findings(Attachment(filename=member, size=len(inner), data=inner), detection, depth + 1))
    return out


def attachment_findings(msg: ParsedMessage, detection: DetectionSettings) -> list[Finding]:
    """Findings over every attachment; names, then content by magic bytes."""
    out: list[Finding] = []
    for att in msg.attachments:
        out.extend(_name_findings(att.filename))
        data = att.data
        head = data[:8]
        ext = _ext(att.filename)
        if head.startswith(b"MZ") and ext not in EXECUTABLE_EXT:
            out.append(Finding.of("attachment.executable", f"{att.filename or att.content_type} (PE content)"))
        if head.startswith(b"PK\x03\x04"):
            out.extend(_zip_findings(att, detection))
        if head.startswith(b"%PDF"):
            lowered = data[:5_000_000]
            if any(k in lowered for k in (b"/JavaScript", b"/JS ", b"/Launch", b"/OpenAction", b"/EmbeddedFile")):
                out.append(Finding.of("attachment.pdf_active", att.filename))
            if b"/Encrypt" in lowered:
                out.append(Finding.of("attachment.encrypted", att.filename))
        if head.startswith(b"\xd0\xcf\x11\xe0") and ext not in OFFICE_EXT | {"msg"}:
            out.append(Finding.of("attachment.type_mismatch", f"{att.filename}: OLE content"))
        if head.startswith(b"{\\rt") and b"\\objdata" in data[:5_000_000]:
            out.append(Finding.of("attachment.ole_object", att.filename))
        if att.content_type in ("text/calendar", "application/ics") and not ext:
            out.append(Finding.of("attachment.calendar_invite", att.content_type))
    seen: set[tuple[str, str]] = set()
    return [f for f in out if (f.id, f.evidence) not in seen and not seen.add((f.id, f.evidence))]  # type: ignore[func-returns-value]
