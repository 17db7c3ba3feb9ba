"""Header and authentication evidence: Authentication-Results, Microsoft anti-spam stamps, identity."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from policies.models import QuarantineType, ReleaseRequest
from policies.settings import DetectionSettings
from tools.domains import is_lookalike, registrable_domain
from tools.models import Finding, ParsedMessage

_METHOD = re.compile(r"\b(spf|dkim|dmarc|compauth|arc)\s*=\s*([a-z]+)", re.IGNORECASE)
_HEADER_D = re.compile(r"header\.d\s*=\s*([\w.-]+)", re.IGNORECASE)
_KV = re.compile(r"([A-Z]+)\s*:\s*([^;]*)")
_BCL = re.compile(r"BCL\s*:\s*(\d+)", re.IGNORECASE)
_ADDR_IN_NAME = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
FREEMAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "aol.com",
        "icloud.com",
        "mail.ru",
        "yandex.ru",
        "gmx.com",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
        "zoho.com",
        "qq.com",
        "163.com",
    ]
)
#: Microsoft stamps these authserv-ids; results under another id were written by someone else.
MICROSOFT_AUTHSERV = re.compile(r"^\s*(?:spf|dkim|dmarc|compauth)=|protection\.outlook\.com", re.IGNORECASE)


def trusted_auth_results(msg: ParsedMessage) -> dict[str, str]:
    """Results from the topmost Authentication-Results header only: the receiving server's own.

    Deeper copies may have been planted by the sender and are ignored.
    """
    values = msg.header_all("Authentication-Results")
    if not values:
        return {}
    results: dict[str, str] = {}
    for method, result in _METHOD.findall(values[0]):
        results.setdefault(method.lower(), result.lower())
    m = _HEADER_D.search(values[0])
    if m:
        results["dkim_d"] = m.group(1).lower()
    return results


def antispam_report(msg: ParsedMessage) -> dict[str, str]:
    """Fields of X-Forefront-Antispam-Report (SCL, SFV, CAT, SFTY, CIP, ...)."""
    raw = msg.header("X-Forefront-Antispam-Report") or ""
    fields = {k.upper(): v.strip() for k, v in _KV.findall(raw)}
    bcl = _BCL.search(msg.header("X-Microsoft-Antispam") or "")
    if bcl:
        fields["BCL"] = bcl.group(1)
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
    "HPHSH": "m365.cat_high_phish",
    "HPHISH": "m365.cat_high_phish",
    "PHSH": "m365.cat_phish",
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
    """What Microsoft already concluded: quarantine type, CAT, SCL, BCL, SFTY."""
    out: list[Finding] = []
    if request.quarantine_type in _QUARANTINE_FINDINGS:
        out.append(Finding.of(_QUARANTINE_FINDINGS[request.quarantine_type], str(request.quarantine_type)))
    report = antispam_report(msg)
    cat = report.get("CAT", "").upper()
    if cat in _CAT_FINDINGS:
        out.append(Finding.of(_CAT_FINDINGS[cat], f"CAT:{cat}"))
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
    sfty = report.get("SFTY", "")
    if sfty.startswith(("9.19", "9.20")):
        out.append(Finding.of("m365.impersonation_tip", f"SFTY:{sfty}"))
    elif sfty.startswith("9.25"):
        out.append(Finding.of("m365.first_contact", f"SFTY:{sfty}"))
    return out


def auth_findings(msg: ParsedMessage) -> list[Finding]:
    """SPF/DKIM/DMARC/compauth as stamped by our own servers, and planted copies."""
    out: list[Finding] = []
    values = msg.header_all("Authentication-Results")
    results = trusted_auth_results(msg)
    if not results:
        out.append(Finding.of("auth.none"))
    evidence = (values[0] if values else "")[:200]
    dmarc, spf, dkim, comp = (results.get(k, "") for k in ("dmarc", "spf", "dkim", "compauth"))
    if dmarc == "pass" or dmarc == "bestguesspass":
        out.append(Finding.of("auth.dmarc_pass", evidence))
    elif dmarc == "fail":
        out.append(Finding.of("auth.dmarc_fail", evidence))
    if spf in ("fail", "permerror"):
        out.append(Finding.of("auth.spf_fail", evidence))
    elif spf == "softfail":
        out.append(Finding.of("auth.spf_softfail", evidence))
    if dkim == "fail":
        out.append(Finding.of("auth.dkim_fail", evidence))
    elif (
        dkim == "pass"
        and msg.from_domain
        and results.get("dkim_d")
        and registrable_domain(results["dkim_d"]) == registrable_domain(msg.from_domain)
    ):
        out.append(Finding.of("auth.dkim_pass_aligned", f"header.d={results['dkim_d']}"))
    if comp == "fail":
        out.append(Finding.of("auth.compauth_fail", evidence))
    # A second Authentication-Results that claims passes the top one does not have was planted.
    for value in values[1:]:
        claimed = {m.lower(): r.lower() for m, r in _METHOD.findall(value)}
        if any(claimed.get(k) == "pass" and results.get(k) not in ("pass", None) for k in ("spf", "dkim", "dmarc")):
            out.append(Finding.of("auth.forged_results", value[:200]))
            break
    return out


def identity_findings(msg: ParsedMessage, detection: DetectionSettings, now: datetime) -> list[Finding]:
    """From / Reply-To / Return-Path alignment, display-name tricks, look-alike sender domains."""
    out: list[Finding] = []
    if not msg.from_address:
        out.append(Finding.of("sender.no_from", (msg.header("From") or "")[:200]))
        return out
    from_reg = registrable_domain(msg.from_domain)
    if msg.from_domain.startswith("xn--") or ".xn--" in msg.from_domain:
        out.append(Finding.of("sender.punycode_domain", msg.from_domain))
    protected = list(detection.org_domains) + [f"{b}.com" for b in detection.protected_brands]
    target = is_lookalike(msg.from_domain, protected)
    if target:
        out.append(Finding.of("sender.lookalike_domain", f"{msg.from_domain} ~ {target}"))
    name = msg.from_display_name
    addr_in_name = _ADDR_IN_NAME.search(name)
    if addr_in_name and addr_in_name.group(0).lower() != msg.from_address:
        out.append(Finding.of("sender.display_name_address", name[:200]))
    lowered = name.lower()
    brand_claim = next((b for b in detection.protected_brands if len(b) > 3 and b in lowered.replace(" ", "")), None)
    vip = next((v for v in detection.vip_display_names if v and v.lower() in lowered), None)
    if (brand_claim and brand_claim not in from_reg) or (
        vip and from_reg not in {registrable_domain(d) for d in detection.org_domains}
    ):
        out.append(Finding.of("sender.display_name_impersonation", f"{name[:120]} <{msg.from_address}>"))
    if from_reg in FREEMAIL and (
        brand_claim
        or vip
        or any(w in lowered for w in ("support", "security", "service", "team", "admin", "billing", "helpdesk"))
    ):
        out.append(Finding.of("sender.freemail_corporate", f"{name[:120]} <{msg.from_address}>"))
    for reply in msg.reply_to:
        reply_reg = registrable_domain(reply.rpartition("@")[2])
        if reply_reg and reply_reg != from_reg:
            out.append(Finding.of("sender.reply_to_mismatch", f"Reply-To {reply}"))
            break
    if msg.return_path and "@" in msg.return_path:
        rp_reg = registrable_domain(msg.return_path.rpartition("@")[2])
        if rp_reg and rp_reg != from_reg:
            out.append(Finding.of("sender.return_path_mismatch", f"Return-Path {msg.return_path}"))
    if not msg.message_id:
        out.append(Finding.of("sender.missing_message_id"))
    out.extend(_date_findings(msg, now))
    return out


def _date_findings(msg: ParsedMessage, now: datetime) -> list[Finding]:
    try:
        sent = parsedate_to_datetime(msg.date) if msg.date else None
    except (TypeError, ValueError, IndexError):
        sent = None
    if sent is None:
        return []
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if sent > now + timedelta(days=2):
        return [Finding.of("sender.date_anomaly", msg.date[:80])]
    return []
