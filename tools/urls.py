"""URL evidence: where links really go, compared with what the reader is shown.

Link-protection wrappers (Microsoft Safe Links, Proofpoint URL Defense, Google redirects) are
unwrapped first so that a protected link is judged by its destination, not by the wrapper.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from policies.settings import DetectionSettings
from tools.domains import brand_token, has_public_suffix, is_lookalike, is_mixed_script, registrable_domain, to_unicode
from tools.models import Finding, Link, ParsedMessage

SHORTENERS = frozenset(
    [
        "bit.ly",
        "bitly.com",
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
        "v.gd",
        "qrco.de",
        "urlz.fr",
        "shorturl.asia",
    ]
)
FILE_SHARING = frozenset(
    [
        "drive.google.com",
        "docs.google.com",
        "sites.google.com",
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
        "firebaseapp.com",
        "pages.dev",
        "workers.dev",
        "r2.dev",
        "blob.core.windows.net",
        "weebly.com",
        "wixsite.com",
        "glitch.me",
        "netlify.app",
        "vercel.app",
        "github.io",
        "notion.site",
        "canva.com",
        "sway.office.com",
        "formstack.com",
        "surveymonkey.com",
        "000webhostapp.com",
        "repl.co",
        "s3.amazonaws.com",
    ]
)
#: Click-tracking hosts of mailing services: they hide the destination but are ordinary in newsletters.
TRACKERS = frozenset(
    [
        "list-manage.com",
        "sendgrid.net",
        "mailchi.mp",
        "hubspotlinks.com",
        "hs-sites.com",
        "mcusercontent.com",
        "exacttarget.com",
        "rs6.net",
        "ct.sendgrid.net",
        "mandrillapp.com",
        "mailgun.org",
        "sparkpostmail.com",
        "constantcontact.com",
        "klclick.com",
        "klclick1.com",
        "createsend.com",
        "cmail19.com",
        "cmail20.com",
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
        "cyou",
        "bond",
        "monster",
        "online",
        "site",
        "live",
        "shop",
        "fun",
        "work",
        "support",
        "su",
    ]
)
_REDIRECT_KEYS = frozenset(
    [
        "url",
        "redirect",
        "redirect_uri",
        "redirect_url",
        "redir",
        "next",
        "target",
        "dest",
        "destination",
        "goto",
        "continue",
        "u",
        "q",
        "link",
        "return",
        "returnurl",
        "return_to",
        "out",
        "r",
    ]
)
_DOMAIN_IN_TEXT = re.compile(r"(?i)^\s*(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:?#]\S*)?\s*$")
_LOGIN_PATH = re.compile(
    r"(?i)(?:^|[/_.-])(?:log-?in|sign-?in|signon|verify|verification|validate|validation|account|secure|auth"
    r"|wp-admin|owa|webmail|password|unlock|recover|update-?billing)(?:$|[/_.?-])"
)
_MAX_LINKS = 300
#: Link-protection services whose destination cannot be decoded offline: no anchor comparison.
OPAQUE_WRAPPERS = frozenset(
    [
        "mimecastprotect.com",
        "mimecast.com",
        "cudasvc.com",
        "topsec.com",
        "symantec.com",
        "secure-web.cisco.com",
        "emailprotection.link",
        "proofpoint.com",
        "urldefense.com",
        "safelinks.protection.outlook.com",
        "trendmicro.com",
        "barracudanetworks.com",
    ]
)
#: Object storage and app hosting where a raw .html object is a throw-away landing page.
CLOUD_STORAGE = frozenset(
    [
        "storage.googleapis.com",
        "firebasestorage.googleapis.com",
        "blob.core.windows.net",
        "s3.amazonaws.com",
        "r2.dev",
        "ipfs.io",
        "dweb.link",
        "digitaloceanspaces.com",
        "backblazeb2.com",
    ]
)
_PAGE_PATH = re.compile(r"(?i)\.(?:html?|shtml|xhtml|svg)$")


@dataclass(frozen=True)
class UrlParts:
    """The pieces of one URL that the rules look at."""

    url: str
    host: str
    userinfo: str
    path: str
    query: str
    reg: str


def split_url(url: str) -> UrlParts | None:
    """Parse an http(s) URL tolerantly; None when it has no usable host."""
    text = url.strip()
    if text.lower().startswith("www."):
        text = "http://" + text
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not netloc:
        return None
    userinfo, _, hostport = netloc.rpartition("@")
    host = hostport.strip().lower()
    host = host[1:].partition("]")[0] if host.startswith("[") else host.split(":")[0]
    host = unquote(host).strip(".")
    if not host:
        return None
    return UrlParts(text, host, unquote(userinfo), parts.path, parts.query, registrable_domain(host))


def is_ip_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of an IP-literal host, including the dword/hex/octal forms browsers accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        if host.isdigit():
            return ipaddress.IPv4Address(int(host))
        if host.lower().startswith("0x") and all(c in "0123456789abcdef" for c in host[2:].lower()):
            return ipaddress.IPv4Address(int(host, 16))
        octets = host.split(".")
        if len(octets) == 4 and all(o and (o.isdigit() or o.lower().startswith("0x")) for o in octets):
            values = [
                int(o, 16) if o.lower().startswith("0x") else int(o, 8 if o.startswith("0") else 10) for o in octets
            ]
            if all(0 <= v < 256 for v in values):
                return ipaddress.IPv4Address(".".join(map(str, values)))
    except ValueError:
        return None
    return None


def unwrap(url: str, depth: int = 0) -> str:
    """The destination inside a link-protection wrapper or a Google redirect ('' when not wrapped)."""
    parts = split_url(url)
    if parts is None or depth > 3:
        return ""
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    inner = ""
    if parts.host.endswith("safelinks.protection.outlook.com"):
        inner = query.get("url", "")
    elif parts.reg == "urldefense.com" and "/v3/__" in parts.path:
        inner = parts.path.split("/v3/__", 1)[1].split("__;", 1)[0]
    elif parts.host.startswith("urldefense") and "u" in query:
        inner = query["u"].replace("-", "%").replace("_", "/")
        inner = unquote(inner)
    elif parts.host in ("www.google.com", "google.com") and parts.path == "/url":
        inner = query.get("q", "") or query.get("url", "")
    if inner and depth < 3:
        return unwrap(inner, depth + 1) or inner
    return inner


def _redirect_target(parts: UrlParts) -> str:
    """An absolute URL carried in a redirect-style query parameter (also base64-encoded), or ''."""
    try:
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return ""
    for key, value in query[:50]:
        if key.lower() not in _REDIRECT_KEYS or not value:
            continue
        candidate = value.strip()
        if not candidate.lower().startswith(("http", "//", "www.")):
            try:
                decoded = base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True)
                candidate = decoded.decode("ascii")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                continue
        if candidate.lower().startswith(("http", "//", "www.")):
            return candidate if not candidate.startswith("//") else "http:" + candidate
    return ""


def url_findings(msg: ParsedMessage, detection: DetectionSettings) -> list[Finding]:
    """Findings over every link; one finding per id (the first URL that raised it is the evidence)."""
    out: dict[str, Finding] = {}
    protected = [*detection.org_domains, *(f"{b}.com" for b in detection.protected_brands)]
    protected_regs = {registrable_domain(d) for d in protected}
    for link in msg.links[:_MAX_LINKS]:
        for fid, evidence in link_findings(link, protected, protected_regs, detection):
            out.setdefault(fid, Finding.of(fid, evidence))
    return list(out.values())


def link_findings(
    link: Link, protected: list[str], protected_regs: set[str], detection: DetectionSettings
) -> list[tuple[str, str]]:
    """(finding id, evidence) pairs for one link."""
    url = link.url.strip()
    low = url.lower().lstrip()
    if low.startswith(("javascript:", "data:", "vbscript:")):
        # data:image/... in an <img> is not a link; only navigable data: documents count.
        if not low.startswith("data:image/"):
            return [("url.script_scheme", url[:120])]
        return []
    if low.startswith("file:") or low.startswith("\\\\"):
        return [("url.file_scheme", url[:200])]
    parts = split_url(url)
    if parts is None:
        return []
    hits = _host_hits(parts, protected, protected_regs, detection)
    inner = unwrap(url)
    if inner:
        inner_parts = split_url(inner)
        if inner_parts is not None:
            hits.extend(h for h in _host_hits(inner_parts, protected, protected_regs, detection) if h not in hits)
            parts = inner_parts
    target = _redirect_target(parts)
    if target:
        other = split_url(target)
        if other is not None and other.reg != parts.reg:
            hits.append(("url.open_redirect", url[:200]))
            hits.extend(h for h in _host_hits(other, protected, protected_regs, detection) if h not in hits)
    if link.anchor_text and link.source == "html":
        shown = _DOMAIN_IN_TEXT.match(link.anchor_text)
        if shown and has_public_suffix(shown.group(1)):
            shown_reg = registrable_domain(shown.group(1))
            final_parts = split_url(target) if target else None
            final = final_parts.reg if final_parts else parts.reg
            wrapped = any(parts.host == w or parts.host.endswith("." + w) for w in OPAQUE_WRAPPERS)
            if shown_reg and shown_reg not in (parts.reg, final) and parts.reg not in TRACKERS and not wrapped:
                hits.append(("url.anchor_mismatch", f"text shows {shown_reg}, opens {parts.reg}"))
    if parts.reg in TRACKERS or any(parts.host.endswith("." + t) for t in TRACKERS):
        hits.append(("url.tracking_link", parts.host))
    return hits


def _host_hits(
    parts: UrlParts, protected: list[str], protected_regs: set[str], detection: DetectionSettings
) -> list[tuple[str, str]]:
    hits: list[tuple[str, str]] = []
    host, reg, url = parts.host, parts.reg, parts.url
    user = parts.userinfo.partition(":")[0]
    if user and ("." in user or "@" in user or "/" in user):
        # `https://www.paypal.com@evil.example/` shows a trusted name before the real host.
        hits.append(("url.userinfo_trick", url[:200]))
    ip = is_ip_host(host)
    if ip is not None:
        # Private, loopback and documentation addresses are technical references, not phishing hosts.
        if ip.is_global:
            hits.append(("url.ip_literal", url[:200]))
        return hits
    if "xn--" in host:
        hits.append(("url.punycode", f"{host} ({to_unicode(host)})"))
    if is_mixed_script(host):
        hits.append(("url.mixed_script", f"{host}"))
    target = is_lookalike(host, protected)
    if target:
        hits.append(("url.lookalike_domain", f"{host} ~ {target}"))
    elif reg not in protected_regs:
        brand = brand_token(host, detection.protected_brands)
        if brand:
            hits.append(("url.brand_in_domain", f"{brand} in {reg}"))
    on_storage = any(host == d or host.endswith("." + d) for d in CLOUD_STORAGE) or (
        reg.startswith("s3") and reg.endswith("amazonaws.com")
    )
    if on_storage and _PAGE_PATH.search(parts.path):
        hits.append(("url.cloud_hosted_page", url[:200]))
    if reg in SHORTENERS:
        hits.append(("url.shortener", url[:200]))
    if reg in FILE_SHARING or host in FILE_SHARING or any(host.endswith("." + d) for d in FILE_SHARING):
        hits.append(("url.file_sharing", url[:200]))
    if host.count(".") >= 4 and len(host) > 30:
        hits.append(("url.excessive_subdomains", host))
    if reg.rpartition(".")[2] in ABUSED_TLDS:
        hits.append(("url.suspicious_tld", host))
    sub = host[: -len(reg)] if reg and host.endswith(reg) else ""
    sub_and_path = (sub + " " + parts.path.lower()).replace("-", "")
    brand = next((b for b in detection.protected_brands if len(b) > 3 and b in sub_and_path), None)
    if brand and brand not in reg and reg not in protected_regs:
        hits.append(("url.brand_in_subdomain", f"{brand} in {host}{parts.path[:60]}"))
    if _LOGIN_PATH.search(parts.path) and reg not in protected_regs:
        hits.append(("url.login_form_link", url[:200]))
    return hits
