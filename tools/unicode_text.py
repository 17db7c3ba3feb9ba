"""Invisible Unicode detection and normalization before any keyword check.

Invisible characters have legitimate uses (emoji sequences, Persian ZWNJ, byte-order marks,
newsletter preheader padding, Hebrew/Arabic direction marks), so detection looks at *where*
they sit: inside Latin words and links, or reversing text, is what attacks do.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ZERO_WIDTH = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064\u034f\u115f\u1160\u3164\uffa0\u17b4\u17b5"
)
#: Explicit overrides, embeddings and isolates: they reorder what the reader sees.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Direction marks: invisible but routinely inserted by mail clients for right-to-left languages.
BIDI_MARKS = frozenset("\u200e\u200f\u061c")
BIDI = BIDI_CONTROLS | BIDI_MARKS
_OVERRIDES = frozenset("\u202d\u202e")
_TAG_RE = re.compile("[\U000e0000-\U000e007f]")
#: Emoji flag tag sequences (black flag + tag letters + cancel tag) are the one legitimate use of tags.
_FLAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0061-\U000e007a\U000e0030-\U000e0039]{2,8}\U000e007f")
_STRIP_RE = re.compile("[" + "".join(sorted(ZERO_WIDTH | BIDI)) + "\U000e0000-\U000e007f]")
_SPLIT_RE = re.compile(
    "[A-Za-z0-9.:/@-]([" + "".join(sorted(ZERO_WIDTH - {"\u00ad"})) + "]+)[A-Za-z0-9.:/@-]",
)
_SHY_WORD_RE = re.compile(r"[A-Za-z]+(?:\u00ad+[A-Za-z]+)+")
_RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_WS_RE = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_NL_RE = re.compile(r"\n\s*\n+")

#: Words attackers split with soft hyphens to dodge keyword rules; legitimate hyphenation of them is rare.
SENSITIVE_WORDS = frozenset(
    [
        "password",
        "passwort",
        "account",
        "verify",
        "verification",
        "login",
        "signin",
        "credentials",
        "invoice",
        "payment",
        "wallet",
        "microsoft",
        "office",
        "outlook",
        "paypal",
        "docusign",
        "mailbox",
        "suspended",
        "unlock",
        "confirm",
        "security",
    ]
)

#: Cyrillic and Greek letters that look like Latin ones (folded only for keyword matching).
CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "һ": "h",
        "ӏ": "l",
        "ԛ": "q",
        "ԝ": "w",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "ο": "o",
        "α": "a",
        "ν": "v",
        "τ": "t",
        "ι": "i",
        "κ": "k",
        "ρ": "p",
        "Ο": "O",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Τ": "T",
        "ɡ": "g",
    }
)
_LATIN = re.compile(r"[A-Za-z]")
_CONFUSABLE_CHARS = re.compile("[" + "".join(chr(k) for k in CONFUSABLES) + "]")
_WORD = re.compile(r"\w{4,}")


@dataclass(frozen=True)
class InvisibleReport:
    """Counts of characters a reader cannot see, and how they are used."""

    zero_width: int
    bidi: int
    """Bidi overrides, embeddings and isolates (direction marks are not counted)."""
    tags: int
    """Tag characters outside emoji flag sequences."""
    tag_payload: str
    """ASCII smuggled in tag characters (U+E0020-E007E map to ASCII)."""
    splits: int = 0
    """Zero-width runs inside Latin words, numbers or links (the keyword-evasion use)."""
    shy_words: tuple[str, ...] = ()
    """Sensitive words split by soft hyphens."""
    overrides: int = 0
    """Right-to-left / left-to-right overrides (U+202D, U+202E)."""


def inspect_invisible(text: str) -> InvisibleReport:
    """Count zero-width, bidi-control and tag characters, and where they sit."""
    zw = sum(1 for c in text if c in ZERO_WIDTH)
    controls = [c for c in text if c in BIDI_CONTROLS]
    overrides = sum(1 for c in controls if c in _OVERRIDES)
    # Embeddings and isolates are normal in mail that contains right-to-left script.
    bidi = len(controls) if overrides or not _RTL_LETTER.search(text) else 0
    untagged = _FLAG_SEQUENCE.sub("", text)
    tags = _TAG_RE.findall(untagged)
    payload = "".join(chr(ord(c) - 0xE0000) for c in tags if 0x20 <= ord(c) - 0xE0000 < 0x7F)
    splits = len(_SPLIT_RE.findall(text))
    shy = tuple(sorted({w.replace("\u00ad", "").lower() for w in _SHY_WORD_RE.findall(text)} & SENSITIVE_WORDS))
    return InvisibleReport(zw, bidi, len(tags), payload, splits, shy, overrides)


def normalize(text: str) -> str:
    """What keyword rules should read: invisible characters removed, NFKC, whitespace collapsed."""
    text = _STRIP_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = _WS_RE.sub(" ", text)
    return _NL_RE.sub("\n\n", text).strip()


def fold_confusables(text: str) -> str:
    """Latin look-alikes folded to Latin so `pаsswоrd` (Cyrillic а, о) matches keyword rules."""
    return text.translate(CONFUSABLES)


def mixed_script_words(text: str, limit: int = 5) -> list[str]:
    """Words mixing Latin letters with Cyrillic/Greek look-alikes: homoglyph spoofing, not a language."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        word = m.group(0)
        if _LATIN.search(word) and _CONFUSABLE_CHARS.search(word):
            out.append(word)
            if len(out) >= limit:
                break
    return out
