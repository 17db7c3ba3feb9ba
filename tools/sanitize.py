"""Make text safe to put in front of an employee: nothing from the email survives as a link.

The notification's reasoning may come from a model that read hostile text (the EchoLeak exit), so
everything that could carry the attacker's payload out is removed, not escaped: URLs (also defanged
and scheme-less ones), addresses, domains (any script), IP addresses, phone numbers, markup,
Markdown links and images, quoted passages, control and invisible characters.
"""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(
    r"(?i)\b(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+|\b(?:data|javascript|vbscript|mailto|file|tel|sms|cid):\S+"
    r"|\bhxxps?\S*|\S+\[\.\]\S+|\S+\(dot\)\S+"
)
_EMAIL = re.compile(r"[\w.+-]+\s*(?:@|\[at\]|\(at\))\s*[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
#: Labels in any script (IDN homoglyph domains are the point), ending in an alphabetic TLD.
_DOMAIN = re.compile(r"(?<![\w.-])(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![\w-])")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_PHONE = re.compile(r"\+?\(?\d[\d ().-]{7,}\d")
_TAG = re.compile(r"<[^>]{0,500}>")
_MARKDOWN = re.compile(r"!?\[([^\]]{0,300})\]\([^)]*\)|!?\[([^\]]{0,300})\]\[[^\]]*\]|[`*_#>|~]{1,}")
_QUOTED = re.compile(r"[\"“„«]([^\"”“»\n]{12,400})[\"”“»]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t]+")


def _phone(match: re.Match[str]) -> str:
    # Dates and amounts have fewer digits than a phone number; the scam phone number is the payload.
    return "[number removed]" if sum(c.isdigit() for c in match.group(0)) >= 9 else match.group(0)


def sanitize_text(text: str, max_chars: int, keep_domains: bool = False) -> str:
    """Plain text only: no URLs, addresses, domains, numbers to call, markup, quotes or invisible characters."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Co", "Cs"))
    text = _TAG.sub(" ", text)
    text = _MARKDOWN.sub(lambda m: m.group(1) or m.group(2) or " ", text)
    text = _URL.sub("[link removed]", text)
    text = _EMAIL.sub("[address removed]", text)
    text = _IPV4.sub("[address removed]", text)
    if not keep_domains:
        text = _DOMAIN.sub("[domain removed]", text)
    text = _PHONE.sub(_phone, text)
    text = _QUOTED.sub("[quote removed]", text)
    text = text.replace("<", " ").replace(">", " ")
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def sanitize_header(text: str, max_chars: int = 200) -> str:
    """A single-line header value: no CR/LF (header injection), same scrubbing as bodies."""
    return sanitize_text(text, max_chars).replace("\n", " ")
