"""Header and authentication evidence: Authentication-Results, Microsoft anti-spam stamps, identity.

Only what the receiving organization's own servers stamped is trusted. For Microsoft 365 that is
the topmost `Authentication-Results` (Microsoft writes it without an authserv-id, or with a
`*.protection.outlook.com` one) and the topmost `X-Forefront-Antispam-Report`. Copies further
down were written by someone else, possibly the sender, and are only checked for contradictions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from policies.models import QuarantineType, ReleaseRequest
from policies.settings import DetectionSettings
from tools.domains import brand_token, is_lookalike, registrable_domain, skeleton, to_unicode
from tools.mime import mailbox_addresses
from tools.models import Finding, ParsedMessage
from tools.unicode_text import mixed_script_words

_METHOD = re.compile(r"(?<![\w.-])(spf|dkim|dmarc|compauth|arc)\s*=\s*([a-z]+)", re.IGNORECASE)
_REASON = re.compile(r"compauth\s*=\s*[a-z]+\s+reason\s*=\s*(\d{3})", re.IGNORECASE)
_HEADER_D = re.compile(r"dkim\s*=\s*([a-z]+)[^;]*?header\.d\s*=\s*([\w.-]+)", re.IGNORECASE)
_HEADER_FROM = re.compile(r"header\.from\s*=\s*([\w.-]+)", re.IGNORECASE)
_KV = re.compile(r"([A-Za-z]+)\s*:\s*([^;]*)")
_BCL = re.compile(r"BCL\s*:\s*(\d+)", re.IGNORECASE)
_ADDR_IN_NAME = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DOMAIN_IN_NAME = re.compile(r"(?i)\b((?:[a-z0-9-]+\.)+(?:com|net|org|gov|edu|io|co|us|uk|de|fr|info|biz))\b")
_ID_DOMAIN = re.compile(r"@([\w.-]+)>?\s*$")
_ROLE_WORDS = ("support", "security", "service", "team", "admin", "billing", "helpdesk", "account", "payroll", "hr ")
_MS_AUTHSERV = re.compile(r"(?:^|\.)(?:protection\.outlook\.com|outlook\.com|office365\.com)$", re.IGNORECASE)
FREEMAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "zoho.com",
        "qq.com",
        "163.com",
        "126.com",
        "mail.com",
    ]
)
#: Free app-hosting and fresh-tenant domains: anyone can send as `<random>.firebaseapp.com`.
PLATFORM_DOMAINS = frozenset(
    [
        "firebaseapp.com",
        "web.app",
        "appspot.com",
        "onmicrosoft.com",
        "herokuapp.com",
        "azurewebsites.net",
        "netlify.app",
        "vercel.app",
        "pages.dev",
        "workers.dev",
        "glitch.me",
        "repl.co",
        "mailchimpapp.com",
        "sendinblue.com",
        "brevosend.com",
    ]
)
#: Tolerances for clocks: hops and senders are rarely more than this far apart when honest.
_HOP_SKEW = timedelta(hours=2)
_DATE_BEFORE_RECEIPT = timedelta(days=7)
_DATE_AFTER_RECEIPT = timedelta(hours=26)


@dataclass
class AuthResults:
    """What the trusted `Authentication-Results` header says."""

    trusted: bool = False
    authserv_id: str = ""
    raw: str = ""
    results: dict[str, str] = field(default_factory=dict)
    compauth_reason: str = ""
    dkim_pass_domains: list[str] = field(default_factory=list)
    header_from: str = ""


def authserv_id(value: str) -> str:
    """The authserv-id of one Authentication-Results value ('' when the value starts with a method)."""
    head = value.split(";", 1)[0].strip()
    if not head or "=" in head.split()[0]:
        return ""  # Microsoft 365 omits the authserv-id: the value starts with `spf=`.
    return head.split()[0].lower()


def is_trusted_authserv(value: str, extra_ids: Iterable[str] = ()) -> bool:
    """True when the value was stamped by Microsoft 365 or by an authserv-id the admin trusts."""
    sid = authserv_id(value)
    if not sid:
        return True
    return bool(_MS_AUTHSERV.search(sid)) or sid in {e.lower() for e in extra_ids}


def trusted_auth(msg: ParsedMessage, extra_ids: Iterable[str] = ()) -> AuthResults:
    """Results from the topmost Authentication-Results header, when our own server stamped it.

    The topmost header is the last one added, i.e. by the receiving server. When it carries
    another server's authserv-id (a list server, an archiver, a gateway we do not trust), the
    results are reported as untrusted and not used.
    """
    values = msg.header_all("Authentication-Results")
    if not values:
        return AuthResults()
    top = values[0]
    out = AuthResults(trusted=is_trusted_authserv(top, extra_ids), authserv_id=authserv_id(top), raw=top)
    for method, result in _METHOD.findall(top):
        out.results.setdefault(method.lower(), result.lower())
    reason = _REASON.search(top)
    out.compauth_reason = reason.group(1) if reason else ""
    out.dkim_pass_domains = [d.lower() for r, d in _HEADER_D.findall(top) if r.lower() == "pass"]
    hfrom = _HEADER_FROM.search(top)
    out.header_from = hfrom.group(1).lower() if hfrom else ""
    return out


def trusted_auth_results(msg: ParsedMessage) -> dict[str, str]:
    """Method -> result of the trusted header ({} when there is none); kept for callers of v1."""
    auth = trusted_auth(msg)
    if not auth.trusted:
        return {}
    results = dict(auth.results)
    if auth.dkim_pass_domains:
        results["dkim_d"] = auth.dkim_pass_domains[0]
    return results


def antispam_report(msg: ParsedMessage) -> dict[str, str]:
    """Fields of the topmost X-Forefront-Antispam-Report (SCL, SFV, CAT, SFTY, CIP, ...) and BCL."""
    raw = msg.header("X-Forefront-Antispam-Report") or ""
    fields = {k.upper(): v.strip() for k, v in _KV.findall(raw)}
    bcl = _BCL.search(msg.header("X-Microsoft-Antispam") or "")
    if bcl:
        fields["BCL"] = bcl.group(1)
    org_scl = (msg.header("X-MS-Exchange-Organization-SCL") or "").strip()
    if "SCL" not in fields and org_scl.lstrip("-").isdigit():
        fields["SCL"] = org_scl
    return fields


_QUARANTINE_FINDINGS: dict[QuarantineType, str] = {
    QuarantineType.MALWARE: "m365.quarantine_malware",
    QuarantineType.SAFE_ATTACHMENT: "m365.quarantine_malware",
    QuarantineType.FILE_TYPE_BLOCK: "m365.quarantine_malware",
    QuarantineType.HIGH_CONFIDENCE_PHISH: "m365.quarantine_high_phish",
    QuarantineType.PHISH: "m365.quarantine_phish",
    QuarantineType.SPOOF: "m365.quarantine_phish",
    QuarantineType.SPAM: "m365.quarantine_spam",
    QuarantineType.HIGH_CONFIDENCE_SPAM: "m365.quarantine_spam",
    QuarantineType.BULK: "m365.quarantine_bulk",
}

_CAT_FINDINGS = {
    "MALW": "m365.cat_malware",
    "AMP": "m365.cat_malware",
    "SAP": "m365.cat_malware",
    "FTBP": "m365.cat_malware",
    "HPHSH": "m365.cat_high_phish",
    "HPHISH": "m365.cat_high_phish",
    "PHSH": "m365.cat_phish",
    "INTOS": "m365.cat_phish",
    "SPOOF": "m365.cat_spoof",
    "UIMP": "m365.cat_impersonation",
    "DIMP": "m365.cat_impersonation",
    "GIMP": "m365.cat_impersonation",
    "BIMP": "m365.cat_impersonation",
    "SPM": "m365.cat_spam",
    "HSPM": "m365.cat_spam",
    "BULK": "m365.cat_bulk",
}


def microsoft_findings(msg: ParsedMessage, request: ReleaseRequest) -> list[Finding]:
    """What Microsoft already concluded: quarantine type, CAT, SCL, BCL, SFV, SFTY."""
    out: list[Finding] = []
    if request.quarantine_type in _QUARANTINE_FINDINGS:
        out.append(Finding.of(_QUARANTINE_FINDINGS[request.quarantine_type], str(request.quarantine_type)))
    report = antispam_report(msg)
    context = ";".join(f"{k}:{report[k]}" for k in ("CIP", "CTRY", "IPV") if report.get(k))
    # CAT may list several detections separated by commas; each maps to its own finding.
    for cat in re.split(r"[,\s]+", report.get("CAT", "").upper()):
        if cat in _CAT_FINDINGS:
            out.append(Finding.of(_CAT_FINDINGS[cat], f"CAT:{cat};{context}".rstrip(";")))
    scl = report.get("SCL", "")
    if scl.lstrip("-").isdigit():
        level = int(scl)
        if level >= 7:
            out.append(Finding.of("m365.scl_high", f"SCL:{level}"))
        elif level >= 5:
            out.append(Finding.of("m365.scl_spam", f"SCL:{level}"))
    bcl = report.get("BCL", "")
    if bcl.isdigit() and int(bcl) >= 7:
        out.append(Finding.of("m365.bcl_high", f"BCL:{bcl}"))
    sfv = report.get("SFV", "").upper()
    if sfv in ("BLK", "SKB", "SKS"):
        out.append(Finding.of("m365.sfv_blocked", f"SFV:{sfv}"))
    elif sfv in ("SFE", "SKA") or report.get("IPV", "").upper() == "CAL":
        out.append(Finding.of("m365.sfv_allowed", f"SFV:{sfv};IPV:{report.get('IPV', '')}"))
    sfty = report.get("SFTY", "")
    if sfty.startswith(("9.19", "9.20")):
        out.append(Finding.of("m365.impersonation_tip", f"SFTY:{sfty}"))
    elif sfty.startswith("9.25"):
        out.append(Finding.of("m365.first_contact", f"SFTY:{sfty}"))
    return out


def _aligned(domain: str, from_domain: str) -> bool:
    return bool(domain and from_domain) and registrable_domain(domain) == registrable_domain(from_domain)


def auth_findings(msg: ParsedMessage, trusted_authserv_ids: Iterable[str] = ()) -> list[Finding]:
    """SPF/DKIM/DMARC/compauth as stamped by our own servers, ARC overrides, and planted copies."""
    out: list[Finding] = []
    values = msg.header_all("Authentication-Results")
    auth = trusted_auth(msg, trusted_authserv_ids)
    if values and not auth.trusted:
        # Someone else's view (a list server, an archiver): never used as evidence either way.
        out.append(Finding.of("auth.untrusted_results", f"authserv-id {auth.authserv_id}"[:200]))
    results = auth.results if auth.trusted else {}
    if not results:
        out.append(Finding.of("auth.none"))
        out.extend(_planted(values, {}, auth))
        return out
    evidence = " ".join(auth.raw.split())[:240]
    dmarc, spf, dkim, comp = (results.get(k, "") for k in ("dmarc", "spf", "dkim", "compauth"))
    reason = auth.compauth_reason
    arc_override = comp == "pass" and reason == "130"
    if dmarc in ("pass", "bestguesspass"):
        out.append(Finding.of("auth.dmarc_pass", evidence))
    elif dmarc == "fail":
        # Microsoft's composite verdict already weighs ARC from trusted sealers: when it passed
        # the message, the DMARC failure is the forwarder's rewrite, not a spoof.
        out.append(Finding.of("auth.arc_override" if arc_override else "auth.dmarc_fail", evidence))
    if spf in ("fail", "permerror"):
        out.append(Finding.of("auth.spf_fail", evidence))
    elif spf == "softfail":
        out.append(Finding.of("auth.spf_softfail", evidence))
    if dkim == "fail" and not auth.dkim_pass_domains:
        out.append(Finding.of("auth.dkim_fail", evidence))
    aligned = next((d for d in auth.dkim_pass_domains if _aligned(d, msg.from_domain)), None)
    if aligned:
        out.append(Finding.of("auth.dkim_pass_aligned", f"header.d={aligned}"))
    elif auth.dkim_pass_domains and msg.from_domain:
        out.append(Finding.of("sender.dkim_domain_mismatch", f"header.d={auth.dkim_pass_domains[0]}"))
    if comp == "fail":
        # 001 is an implicit failure (no or weak DMARC); 000/002/010/6xx are explicit or self-spoofs.
        fid = "auth.compauth_implicit_fail" if reason == "001" else "auth.compauth_fail"
        out.append(Finding.of(fid, f"compauth=fail reason={reason or '?'}"))
    if auth.header_from and msg.from_domain and auth.header_from != msg.from_domain:
        # The server authenticated a different From than the one shown (multiple or rewritten From).
        out.append(Finding.of("auth.header_from_mismatch", f"header.from={auth.header_from}, From {msg.from_domain}"))
    if arc_override and dmarc != "fail":
        out.append(Finding.of("auth.arc_override", evidence))
    out.extend(_planted(values, results, auth))
    return out


def _planted(values: list[str], results: dict[str, str], auth: AuthResults) -> list[Finding]:
    """A deeper Authentication-Results in our server's name, or claiming passes ours lacks, was planted."""
    lower = values[1:] if values else []
    for value in lower:
        claimed = {m.lower(): r.lower() for m, r in _METHOD.findall(value)}
        ours = auth.trusted and authserv_id(value) == auth.authserv_id and authserv_id(value) != ""
        fake_ms = bool(authserv_id(value)) and bool(_MS_AUTHSERV.search(authserv_id(value)))
        claims_more = any(
            claimed.get(k) == "pass" and results.get(k) not in ("pass", None) for k in ("spf", "dkim", "dmarc")
        )
        if (results and claims_more) or ours or fake_ms:
            return [Finding.of("auth.forged_results", " ".join(value.split())[:200])]
    return []


def _display_claims(name: str, detection: DetectionSettings) -> tuple[str | None, str | None]:
    """(protected brand, VIP name) the display name claims, compared on confusable skeletons."""
    sk = skeleton(name).replace(" ", "")
    brand = next((b for b in detection.protected_brands if len(b) > 3 and skeleton(b) in sk), None)
    vip = next((v for v in detection.vip_display_names if v and skeleton(v).replace(" ", "") in sk), None)
    return brand, vip


def identity_findings(msg: ParsedMessage, detection: DetectionSettings, now: datetime) -> list[Finding]:
    """From / Reply-To / Return-Path / DKIM alignment, display-name tricks, look-alike senders, dates."""
    out: list[Finding] = []
    from_values = msg.header_all("From")
    if len(from_values) > 1 or len(mailbox_addresses(from_values)) > 1:
        out.append(Finding.of("sender.ambiguous_from", " | ".join(from_values)[:200]))
    if not msg.from_address:
        out.append(Finding.of("sender.no_from", (msg.header("From") or "")[:200]))
        out.extend(_date_findings(msg, now))
        return out
    from_domain = msg.from_domain
    from_reg = registrable_domain(from_domain)
    org_regs = {registrable_domain(d) for d in detection.org_domains}
    if "xn--" in from_domain:
        out.append(Finding.of("sender.punycode_domain", f"{from_domain} ({to_unicode(from_domain)})"))
    protected = list(detection.org_domains) + [f"{b}.com" for b in detection.protected_brands]
    target = is_lookalike(from_domain, protected)
    if target:
        out.append(Finding.of("sender.lookalike_domain", f"{from_domain} ~ {target}"))
    else:
        brand_in = brand_token(from_domain, [*detection.protected_brands, *(d.split(".")[0] for d in org_regs)])
        if brand_in:
            out.append(Finding.of("sender.brand_in_domain", f"{brand_in} in {from_domain}"))
    name = msg.from_display_name
    addr_in_name = _ADDR_IN_NAME.search(name)
    if addr_in_name and addr_in_name.group(0).lower() != msg.from_address:
        out.append(Finding.of("sender.display_name_address", name[:200]))
    else:
        dom = _DOMAIN_IN_NAME.search(name)
        if dom and registrable_domain(dom.group(1)) != from_reg:
            out.append(Finding.of("sender.display_name_address", name[:200]))
    if mixed_script_words(name[:300], limit=1):
        out.append(Finding.of("sender.display_name_homoglyph", name[:200]))
    if any(from_domain == p or from_domain.endswith("." + p) for p in PLATFORM_DOMAINS):
        out.append(Finding.of("sender.platform_domain", from_domain))
    brand_claim, vip = _display_claims(name, detection)
    brand_owned = brand_claim is not None and skeleton(brand_claim) in skeleton(from_reg)
    if (brand_claim and not brand_owned) or (vip and from_reg not in org_regs):
        out.append(Finding.of("sender.display_name_impersonation", f"{name[:120]} <{msg.from_address}>"))
    lowered = skeleton(name)
    if from_reg in FREEMAIL and (brand_claim or vip or any(w in lowered + " " for w in _ROLE_WORDS)):
        out.append(Finding.of("sender.freemail_corporate", f"{name[:120]} <{msg.from_address}>"))
    for reply in msg.reply_to:
        reply_reg = registrable_domain(reply.rpartition("@")[2])
        if reply_reg and reply_reg != from_reg:
            fid = "sender.reply_to_freemail" if reply_reg in FREEMAIL and from_reg not in FREEMAIL else None
            out.append(Finding.of(fid or "sender.reply_to_mismatch", f"Reply-To {reply}"))
            break
    if msg.return_path and "@" in msg.return_path:
        rp_reg = registrable_domain(msg.return_path.rpartition("@")[2])
        if rp_reg and rp_reg != from_reg:
            out.append(Finding.of("sender.return_path_mismatch", f"Return-Path {msg.return_path}"))
    if not msg.message_id:
        out.append(Finding.of("sender.missing_message_id"))
    else:
        m = _ID_DOMAIN.search(msg.message_id)
        if m and from_reg in org_regs | {registrable_domain(f"{b}.com") for b in detection.protected_brands}:
            # Mail really sent by a protected brand or by us carries that domain's Message-IDs.
            mid_reg = registrable_domain(m.group(1))
            if mid_reg != from_reg and "outlook.com" not in mid_reg:
                out.append(Finding.of("sender.message_id_domain", f"Message-ID @{m.group(1)[:80]}"))
    out.extend(_date_findings(msg, now))
    return out


def _parse_date(value: str) -> datetime | None:
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def received_dates(msg: ParsedMessage) -> list[datetime | None]:
    """The timestamp of each Received hop, topmost (newest) first; None when unreadable."""
    out: list[datetime | None] = []
    for value in msg.header_all("Received")[:60]:
        _, sep, stamp = value.rpartition(";")
        out.append(_parse_date(stamp) if sep else None)
    return out


def _date_findings(msg: ParsedMessage, now: datetime) -> list[Finding]:
    """Hops out of order, and a Date far from when our server received the message.

    Compared with the receipt time (the topmost hop), not with today, so that old mail replayed
    from an archive is judged by its own clock.
    """
    out: list[Finding] = []
    hops = [d for d in received_dates(msg) if d is not None]
    for newer, older in zip(hops, hops[1:], strict=False):
        if older - newer > _HOP_SKEW:
            out.append(Finding.of("sender.received_out_of_order", f"{older.isoformat()} after {newer.isoformat()}"))
            break
    sent = _parse_date(msg.date) if msg.date else None
    if sent is None:
        return out
    receipt = hops[0] if hops else now
    if sent > receipt + _DATE_AFTER_RECEIPT or sent > now + timedelta(days=2):
        out.append(Finding.of("sender.date_anomaly", f"Date {msg.date[:60]} is after receipt"))
    elif hops and receipt - sent > _DATE_BEFORE_RECEIPT:
        out.append(Finding.of("sender.date_anomaly", f"Date {msg.date[:60]} is long before receipt"))
    return out
