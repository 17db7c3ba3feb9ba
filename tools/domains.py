"""Registrable domains (bundled Public Suffix List, no network) and look-alike detection."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

# Latin look-alikes of other scripts and digit tricks, folded before comparing domains.
_CONFUSABLES = str.maketrans(
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
        "ɡ": "g",
        "һ": "h",
        "ӏ": "l",
        "ο": "o",
        "α": "a",
        "ν": "v",
        "τ": "t",
        "ı": "i",
        "0": "o",
        "1": "l",
        "3": "e",
        "5": "s",
        "$": "s",
        "@": "a",
    }
)


@cache
def _extractor() -> Any:
    # Imported lazily: tldextract costs start-up time and only URL-bearing mail needs it.
    import tldextract

    # suffix_list_urls=() and no cache dir: use the snapshot bundled in the wheel, never the network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """`login.micros0ft.co.uk` -> `micros0ft.co.uk`; IP literals and junk come back lower-cased."""
    host = host.strip().strip(".").lower()
    if not host:
        return ""
    result = _extractor()(host)
    if result.domain and result.suffix:
        return f"{result.domain}.{result.suffix}"
    return host


def to_unicode(host: str) -> str:
    """Decode punycode labels for comparison; returns the input when it is not valid IDNA."""
    try:
        return host.encode("ascii").decode("idna") if "xn--" in host else host
    except (UnicodeError, ValueError):
        return host


def skeleton(label: str) -> str:
    """A confusable skeleton: NFKD without marks, look-alike letters folded to Latin."""
    decomposed = unicodedata.normalize("NFKD", label.lower())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.translate(_CONFUSABLES).replace("rn", "m").replace("vv", "w")


def _distance(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def is_lookalike(host: str, protected: Iterable[str]) -> str | None:
    """The protected domain that `host` imitates, or None (an exact match is not a look-alike)."""
    reg = registrable_domain(to_unicode(host))
    label = reg.split(".")[0]
    if len(label) < 4:
        return None
    sk = skeleton(label)
    for target in protected:
        t_reg = registrable_domain(target)
        if not t_reg or reg == t_reg:
            continue
        t_label = t_reg.split(".")[0]
        if len(t_label) < 4:
            continue
        if label == t_label:
            # Same name under another suffix (paypal.co vs paypal.com) is only suspicious for brands.
            continue
        if sk == skeleton(t_label) or _distance(sk, skeleton(t_label), 1 if len(t_label) < 7 else 2) <= (
            1 if len(t_label) < 7 else 2
        ):
            return t_reg
    return None


def has_public_suffix(host: str) -> bool:
    """True when `host` ends in a real public suffix (so `report.txt` is not a domain)."""
    result = _extractor()(host.strip().lower())
    return bool(result.domain and result.suffix)
