"""Make text safe to put in front of an employee: nothing from the email survives as a link."""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+|\b(?:data|javascript|mailto|file):\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DOMAIN = re.compile(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24})\b")
_TAG = re.compile(r"<[^>]{0,500}>")
_MARKDOWN = re.compile(r"!?\[([^\]]{0,300})\]\([^)]*\)|[`*_#>|~]{1,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t]+")


def sanitize_text(text: str, max_chars: int, keep_domains: bool = False) -> str:
    """Plain text only: no URLs, addresses, domains, markup, control or invisible characters."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Co", "Cs"))
    text = _TAG.sub(" ", text)
    text = _MARKDOWN.sub(lambda m: m.group(1) or " ", text)
    text = _URL.sub("[link removed]", text)
    text = _EMAIL.sub("[address removed]", text)
    if not keep_domains:
        text = _DOMAIN.sub("[domain removed]", text)
    text = text.replace("<", " ").replace(">", " ")
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def sanitize_header(text: str, max_chars: int = 200) -> str:
    """A single-line header value: no CR/LF (header injection), same scrubbing as bodies."""
    return sanitize_text(text, max_chars).replace("\n", " ")
