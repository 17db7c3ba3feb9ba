"""Registrable domains (bundled Public Suffix List, no network) and look-alike detection.

Look-alikes are found three ways, each cheap and deterministic:

* confusable skeletons: every character folded to the Latin letter it imitates (Unicode's
  confusables data via `confusable-homoglyphs`, plus digit and letter-pair tricks like `rn`->`m`);
* edit distance between skeletons (one edit for short names, two for long ones);
* combosquatting: a protected name as a whole token of another domain (`paypal-secure.com`).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

# Folded after the Unicode confusables: ASCII tricks that Unicode does not consider confusable.
_ASCII_TRICKS = str.maketrans({"0": "o", "1": "l", "3": "e", "5": "s", "$": "s", "@": "a", "|": "l", "i": "l"})
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
# A few Latin letters that imitate other Latin letters (not in the confusables table as "other script").
_LATIN_EXTRA = str.maketrans({"ɡ": "g", "ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h"})
_TOKEN_SPLIT = re.compile(r"[-_.0-9]+")


@cache
def _extractor() -> Any:
    # Imported lazily: tldextract costs start-up time and only URL-bearing mail needs it.
    import tldextract

    # suffix_list_urls=() and no cache dir: use the snapshot bundled in the wheel, never the network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


@lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str:
    """`login.micros0ft.co.uk` -> `micros0ft.co.uk`; IP literals and junk come back lower-cased."""
    host = host.strip().strip(".").lower()
    if not host or len(host) > 253:
        return host[:253]
    try:
        result = _extractor()(host)
    except Exception:  # tldextract raises on some invalid IDNA input; junk is not a domain
        return host
    if result.domain and result.suffix:
        return f"{result.domain}.{result.suffix}"
    labels = host.split(".")
    if len(labels) > 2 and not all(label.isdigit() for label in labels) and ":" not in host:
        # Unknown suffix (internal or reserved TLD): the last two labels are the best guess.
        return ".".join(labels[-2:])
    return host


def to_unicode(host: str) -> str:
    """Decode punycode labels for comparison; returns the input when it is not valid IDNA."""
    if "xn--" not in host:
        return host
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):
                label = label[4:].encode("ascii").decode("punycode")
        labels.append(label)
    return ".".join(labels)


@cache
def _confusables() -> dict[str, list[dict[str, str]]]:
    from confusable_homoglyphs import confusables

    data: dict[str, list[dict[str, str]]] = confusables.confusables_data
    return data


@lru_cache(maxsize=4096)
def _latin_of(char: str) -> str:
    """The ASCII letter or digit `char` imitates, or `char` itself."""
    for glyph in _confusables().get(char, ()):
        candidate = glyph.get("c", "")
        if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
            return candidate.lower()
    return char


@lru_cache(maxsize=16384)
def skeleton(label: str) -> str:
    """A confusable skeleton: NFKD without marks, look-alike characters folded to ASCII."""
    decomposed = unicodedata.normalize("NFKD", label.lower()).translate(_LATIN_EXTRA)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = "".join(c if c.isascii() else _latin_of(c) for c in stripped).lower()
    folded = folded.translate(_ASCII_TRICKS)
    for pair, single in _PAIRS:
        folded = folded.replace(pair, single)
    return folded


def scripts_of(text: str) -> set[str]:
    """Unicode scripts of the letters in `text` (COMMON and INHERITED ignored)."""
    from confusable_homoglyphs import categories

    out: set[str] = set()
    for char in text:
        if char.isalpha():
            alias = categories.alias(char)
            if alias not in ("COMMON", "INHERITED"):
                out.add(alias)
    return out


def is_mixed_script(host: str) -> bool:
    """True when one label of the (decoded) host mixes Latin with another script: a homograph."""
    for label in to_unicode(host).split("."):
        if label.isascii():
            continue
        scripts = scripts_of(label)
        if len(scripts) > 1 and "LATIN" in scripts:
            return True
        # A whole label in Cyrillic or Greek that folds to ASCII letters imitates a Latin name.
        if scripts & {"CYRILLIC", "GREEK"} and skeleton(label).isascii():
            return True
    return False


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _label(host: str) -> str:
    reg = registrable_domain(to_unicode(host))
    return reg.split(".")[0]


def is_lookalike(host: str, protected: Iterable[str]) -> str | None:
    """The protected domain that `host` imitates, or None (an exact match is not a look-alike)."""
    reg = registrable_domain(to_unicode(host))
    label = reg.split(".")[0]
    if len(label) < 4:
        return None
    sk = skeleton(label)
    for target in protected:
        t_reg = registrable_domain(target)
        if not t_reg or reg == t_reg or reg == registrable_domain(to_unicode(target)):
            continue
        t_label = t_reg.split(".")[0]
        if len(t_label) < 4 or label == t_label:
            # Same name under another suffix (paypal.co vs paypal.com) is a different finding, not a typo.
            continue
        t_sk = skeleton(t_label)
        # Two edits only for long names: at 7 letters two edits already turn elance into binance.
        limit = 1 if len(t_label) <= 8 else 2
        if sk == t_sk or _distance(sk, t_sk, limit) <= limit:
            return t_reg
    return None


def brand_token(host: str, brands: Iterable[str]) -> str | None:
    """A protected brand used as a whole token of someone else's domain (`paypal-login.com`)."""
    label = skeleton(_label(host))
    tokens = {t for t in _TOKEN_SPLIT.split(label) if t}
    for brand in brands:
        b = skeleton(brand.lower())
        if len(b) < 4 or label == b:
            continue
        if b in tokens and label != b:
            return brand
    return None


@lru_cache(maxsize=4096)
def has_public_suffix(host: str) -> bool:
    """True when `host` ends in a real public suffix (so `report.txt` is not a domain)."""
    try:
        result = _extractor()(host.strip().lower())
    except Exception:
        return False
    return bool(result.domain and result.suffix)
