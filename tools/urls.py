"""URL evidence: where links really go, compared with what the reader is shown."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from policies.settings import DetectionSettings
from tools.domains import has_public_suffix, is_lookalike, registrable_domain
from tools.models import Finding, Link, ParsedMessage

SHORTENERS = frozenset(
    [
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "rb.gy",
        "t.ly",
        "tiny.cc",
        "s.id",
        "lnkd.in",
        "bl.ink",
        "short.io",
    ]
)
FILE_SHARING = frozenset(
    [
        "drive.google.com",
        "docs.google.com",
        "forms.gle",
        "forms.office.com",
        "1drv.ms",
        "onedrive.live.com",
        "dropbox.com",
        "wetransfer.com",
        "we.tl",
        "mediafire.com",
        "sharepoint.com",
        "box.com",
        "jotform.com",
        "typeform.com",
        "ipfs.io",
        "firebasestorage.googleapis.com",
        "storage.googleapis.com",
        "web.app",
        "pages.dev",
        "workers.dev",
        "r2.dev",
        "blob.core.windows.net",
        "weebly.com",
        "wixsite.com",
        "glitch.me",
        "netlify.app",
        "vercel.app",
    ]
)
ABUSED_TLDS = frozenset(
    [
        "zip",
        "mov",
        "top",
        "xyz",
        "click",
        "link",
        "icu",
        "buzz",
        "rest",
        "cfd",
        "sbs",
        "quest",
        "country",
        "gq",
        "tk",
        "ml",
        "cf",
        "ga",
    ]
)
_REDIRECT_KEYS = frozenset(
    [
        "url",
        "redirect",
        "redirect_uri",
        "redir",
        "next",
        "target",
        "dest",
        "destination",
        "goto",
        "continue",
        "u",
    ]
)
_DOMAIN_IN_TEXT = re.compile(r"(?i)\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b")
_LOGIN_PATH = re.compile(r"(?i)(?:log-?in|sign-?in|verify|validation|account|secure|auth|wp-admin|owa)")


def _host(url: str) -> tuple[str, str]:
    """(host, userinfo) of a URL, tolerant of junk."""
    try:
        parts = urlsplit(url if "//" in url else "http://" + url)
        netloc = parts.netloc
    except ValueError:
        return "", ""
    userinfo, _, hostport = netloc.rpartition("@")
    host = hostport.split(":")[0].strip("[]").lower()
    return host, unquote(userinfo)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host.isdigit() or host.startswith("0x")


def url_findings(msg: ParsedMessage, detection: DetectionSettings) -> list[Finding]:
    """Findings for each link; one finding per id (the first URL is the evidence)."""
    out: dict[str, Finding] = {}
    protected = list(detection.org_domains) + [f"{b}.com" for b in detection.protected_brands]
    for link in msg.links:
        for fid, evidence in _link_findings(link, protected, detection):
            out.setdefault(fid, Finding.of(fid, evidence))
    return list(out.values())


def _link_findings(link: Link, protected: list[str], detection: DetectionSettings) -> list[tuple[str, str]]:
    url = link.url.strip()
    low = url.lower()
    hits: list[tuple[str, str]] = []
    if low.startswith(("javascript:", "data:", "vbscript:")):
        return [("url.script_scheme", url[:120])]
    if not low.startswith(("http://", "https://", "www.")):
        return []
    host, userinfo = _host(url)
    if not host:
        return []
    reg = registrable_domain(host)
    if userinfo and ("." in userinfo or not userinfo.replace(":", "").isalnum()):
        hits.append(("url.userinfo_trick", url))
    if _is_ip(host):
        hits.append(("url.ip_literal", url))
    if "xn--" in host:
        hits.append(("url.punycode", host))
    target = is_lookalike(host, protected)
    if target:
        hits.append(("url.lookalike_domain", f"{host} ~ {target}"))
    if reg in SHORTENERS:
        hits.append(("url.shortener", url))
    if reg in FILE_SHARING or host in FILE_SHARING or any(host.endswith("." + d) for d in FILE_SHARING):
        hits.append(("url.file_sharing", url))
    if host.count(".") >= 4:
        hits.append(("url.excessive_subdomains", host))
    if reg.rpartition(".")[2] in ABUSED_TLDS:
        hits.append(("url.suspicious_tld", host))
    sub_and_path = (host[: -len(reg)] if reg and host.endswith(reg) else "") + urlsplit(url).path.lower()
    brand = next((b for b in detection.protected_brands if len(b) > 3 and b in sub_and_path), None)
    if brand and brand not in reg:
        hits.append(("url.brand_in_subdomain", f"{brand} in {host}"))
    try:
        query = parse_qsl(urlsplit(url).query)
    except ValueError:
        query = []
    for key, value in query:
        if key.lower() in _REDIRECT_KEYS and value.lower().startswith(("http", "//", "www.")):
            other, _ = _host(value)
            if other and registrable_domain(other) != reg:
                hits.append(("url.open_redirect", url))
                break
    if _LOGIN_PATH.search(urlsplit(url).path) and reg not in {registrable_domain(d) for d in protected}:
        hits.append(("url.login_form_link", url))
    if link.anchor_text:
        shown = _DOMAIN_IN_TEXT.search(link.anchor_text)
        if shown and has_public_suffix(shown.group(1)):
            shown_reg = registrable_domain(shown.group(1))
            if shown_reg and reg and shown_reg != reg:
                hits.append(("url.anchor_mismatch", f"text shows {shown_reg}, opens {reg}"))
    return hits
