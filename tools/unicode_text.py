"""Invisible Unicode detection and normalization before any keyword check."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064")
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_TAG_RE = re.compile("[\U000e0000-\U000e007f]")
_STRIP_RE = re.compile("[" + "".join(sorted(ZERO_WIDTH | BIDI)) + "\U000e0000-\U000e007f]")
_WS_RE = re.compile(r"[ \t\r\f\v]+")
_NL_RE = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class InvisibleReport:
    """Counts of characters a reader cannot see."""

    zero_width: int
    bidi: int
    tags: int
    tag_payload: str
    """ASCII smuggled in tag characters (U+E0020-E007E map to ASCII)."""


def inspect_invisible(text: str) -> InvisibleReport:
    """Count zero-width, bidi-control and tag characters."""
    zw = sum(1 for c in text if c in ZERO_WIDTH)
    bidi = sum(1 for c in text if c in BIDI)
    tags = _TAG_RE.findall(text)
    payload = "".join(chr(ord(c) - 0xE0000) for c in tags if 0x20 <= ord(c) - 0xE0000 < 0x7F)
    return InvisibleReport(zw, bidi, len(tags), payload)


def normalize(text: str) -> str:
    """What keyword rules should read: invisible characters removed, NFKC, whitespace collapsed."""
    text = _STRIP_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = _WS_RE.sub(" ", text)
    return _NL_RE.sub("\n\n", text).strip()
