"""PDF evidence by bounded byte scanning (the pdfid approach): active content, encryption, links.

No PDF object model is built: full PDF parsers are known to hang or explode on hostile files,
while a scan of the raw bytes plus a size-capped inflate of Flate streams is linear and cannot.
Names are normalised first because `/J#61vaScript` is `/JavaScript` to a PDF reader.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"/FlateDecode.{0,200}?stream\r?\n", re.DOTALL)
_URI = re.compile(rb"/URI\s*\(((?:[^()\\]|\\.){1,2000})\)")
_URI_HEX = re.compile(rb"/URI\s*<([0-9A-Fa-f\s]{2,4000})>")
#: Scan budgets: bytes of the file, number of streams and inflated bytes per file.
_SCAN_BYTES = 20_000_000
_MAX_STREAMS = 200
_INFLATE_BUDGET = 20_000_000
_PER_STREAM = 2_000_000

ACTIVE_NAMES = {
    b"/JavaScript": "JavaScript",
    b"/JS": "JavaScript",
    b"/Launch": "Launch action",
    b"/EmbeddedFile": "embedded file",
    b"/RichMedia": "rich media",
    b"/XFA": "XFA form",
    b"/SubmitForm": "form submission",
    b"/ImportData": "import data action",
}
_NAME_RE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA|SubmitForm|ImportData)(?![A-Za-z])")
_AUTO_RE = re.compile(rb"/(?:OpenAction|AA)(?![A-Za-z])")


@dataclass
class PdfReport:
    """What the scan found."""

    active: list[str] = field(default_factory=list)
    """Kinds of active content (JavaScript, Launch, embedded file, ...)."""
    auto_action: bool = False
    """An /OpenAction or /AA that runs when the document opens."""
    encrypted: bool = False
    uris: list[str] = field(default_factory=list)


def _normalize_names(data: bytes) -> bytes:
    if b"#" not in data:
        return data
    return _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _inflated_streams(data: bytes) -> list[bytes]:
    """Flate streams inflated up to the budgets (compressed object streams hide names)."""
    out: list[bytes] = []
    budget = _INFLATE_BUDGET
    for count, m in enumerate(_STREAM.finditer(data)):
        if count >= _MAX_STREAMS or budget <= 0:
            break
        inflater = zlib.decompressobj()
        try:
            chunk = inflater.decompress(data[m.end() : m.end() + _PER_STREAM], min(_PER_STREAM, budget))
        except zlib.error:
            continue
        budget -= len(chunk)
        out.append(chunk)
    return out


def scan_pdf(data: bytes) -> PdfReport:
    """Scan a PDF's bytes (and its Flate streams) for active content, encryption and links."""
    report = PdfReport()
    raw = data[:_SCAN_BYTES]
    for blob in (raw, *_inflated_streams(raw)):
        text = _normalize_names(blob)
        for name in _NAME_RE.findall(text):
            kind = ACTIVE_NAMES[name]
            if kind not in report.active:
                report.active.append(kind)
        if _AUTO_RE.search(text):
            report.auto_action = True
        if b"/Encrypt" in text:
            report.encrypted = True
        for m in _URI.finditer(text):
            report.uris.append(_unescape(m.group(1)))
        for m in _URI_HEX.finditer(text):
            try:
                report.uris.append(bytes.fromhex(m.group(1).decode("ascii")).decode("latin-1"))
            except ValueError:
                continue
        if len(report.uris) > 200:
            break
    report.uris = list(dict.fromkeys(u.strip() for u in report.uris if u.strip()))[:200]
    return report


def _unescape(value: bytes) -> str:
    out = re.sub(rb"\\([()\\])", rb"\1", value)
    return out.decode("latin-1", errors="replace")


def pdf_uris(data: bytes) -> list[str]:
    """Link targets of a PDF (the reader sees them as clickable areas)."""
    try:
        return scan_pdf(data).uris
    except Exception:
        return []
