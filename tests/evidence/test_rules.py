"""One positive and one negative fixture for every finding rule of the evidence layer.

Each case is a pair of small messages built here that differ only in the trait the rule looks
for: the positive must raise the finding, the negative must not. A meta-test checks that every
catalogue id in the evidence namespaces has a case, so a new rule cannot ship untested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from policies.models import QuarantineType, ReleaseRequest
from policies.settings import DetectionSettings
from tests.evidence.builders import MS_AUTH, ids, ooxml, pdf, raw, rtf_with_object, zip_of
from tools.catalogue import CATALOGUE

DETECTION = DetectionSettings(org_domains=["contoso.com"], vip_display_names=["Satya Nadella"])
#: Ids in these namespaces are produced by other modules (content, sender history) and tested there.
OTHER_OWNERS = {"sender.prior_correspondence", "sender.first_contact"}
OWNED_PREFIXES = ("parse.", "m365.", "auth.", "sender.", "url.", "attachment.")


@dataclass
class Case:
    """A rule's positive and negative message (and the settings or request they need)."""

    positive: Callable[[], bytes]
    negative: Callable[[], bytes]
    detection: DetectionSettings = field(default_factory=lambda: DETECTION)
    request: ReleaseRequest | None = None


def _auth(value: str, **kw: object) -> bytes:
    return raw(headers=[("Authentication-Results", value)], **kw)  # type: ignore[arg-type]


def _spam(report: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    return raw(headers=[("X-Forefront-Antispam-Report", report), *(extra or [])])


def _link(href: str, text: str = "open the document") -> bytes:
    return raw(html=f'<html><body><p>Hello, <a href="{href}">{text}</a></p></body></html>')


def _att(
    name: str, data: bytes = b"plain file content", ctype: str = "application/octet-stream", **kw: object
) -> bytes:
    return raw(attachments=[(name, ctype, data)], **kw)  # type: ignore[arg-type]


def _received(*stamps: str) -> list[tuple[str, str]]:
    return [("Received", f"from hop{i}.example.net by mx.contoso.com; {s}") for i, s in enumerate(stamps)]


def _quarantine(qtype: QuarantineType) -> Case:
    return Case(lambda: raw(), lambda: raw(), request=ReleaseRequest(quarantine_type=qtype))


def _msg_with_bad_multipart() -> bytes:
    return (
        b"From: a@fabrikam.com\nTo: b@contoso.com\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\n\nno boundary line ever appears\n'
    )


BOMB = zip_of({"zeros.txt": b"\x00" * 5_000_000})
PE = b"MZ\x90\x00\x03" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
ICS = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Sync\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
ICS_LINK = ICS.replace(b"SUMMARY:Sync", b"SUMMARY:Sync\r\nDESCRIPTION:Join at https://evil.example/login")
ENCRYPTED_ZIP = zip_of({"invoice.pdf": b"%PDF-1.4 fake"}, encrypted={"invoice.pdf"})

CASES: dict[str, Case] = {
    # --- parsing and limits -------------------------------------------------------------
    "parse.empty": Case(lambda: b"", lambda: raw()),
    "parse.not_email": Case(lambda: b"just some words\nwithout any header", lambda: raw()),
    "parse.binary_garbage": Case(lambda: bytes(range(256)) * 4, lambda: raw()),
    "parse.header_defect": Case(
        lambda: b"From: a@fabrikam.com\nTo: b@contoso.com\nthis line is not a header\n\nbody\n", lambda: raw()
    ),
    "parse.mime_defect": Case(_msg_with_bad_multipart, lambda: raw(attachments=[("a.txt", "text/plain", b"x")])),
    "parse.decode_error": Case(lambda: raw().replace(b'charset="utf-8"', b'charset="no-such-charset"'), lambda: raw()),
    "parse.charset_mismatch": Case(
        lambda: raw(body="Caf\u00e9 cr\u00e8me").replace(b'charset="utf-8"', b'charset="us-ascii"'),
        lambda: raw(body="Caf\u00e9 cr\u00e8me"),
    ),
    "parse.too_large": Case(
        lambda: raw(body="x" * 5000),
        lambda: raw(body="short"),
        detection=DetectionSettings(max_message_bytes=3000),
    ),
    "parse.too_many_headers": Case(
        lambda: raw(headers=[(f"X-Filler-{i}", "v") for i in range(30)]),
        lambda: raw(headers=[("X-Filler", "v")]),
        detection=DetectionSettings(max_headers=20),
    ),
    "parse.too_many_parts": Case(
        lambda: raw(attachments=[(f"f{i}.txt", "text/plain", b"x") for i in range(8)]),
        lambda: raw(attachments=[("f.txt", "text/plain", b"x")]),
        detection=DetectionSettings(max_parts=5),
    ),
    "parse.attachment_too_large": Case(
        lambda: _att("big.bin", b"a" * 5000),
        lambda: _att("small.bin", b"a" * 50),
        detection=DetectionSettings(max_attachment_bytes=1000),
    ),
    "parse.mbox_envelope": Case(lambda: b"From sender@example.net Mon Jan  1 00:00:00 2024\n" + raw(), lambda: raw()),
    "parse.nul_bytes": Case(lambda: raw(body="hello\x00world"), lambda: raw(body="hello world")),
    # --- Microsoft's verdicts -------------------------------------------------------------
    "m365.quarantine_malware": _quarantine(QuarantineType.MALWARE),
    "m365.quarantine_high_phish": _quarantine(QuarantineType.HIGH_CONFIDENCE_PHISH),
    "m365.quarantine_phish": _quarantine(QuarantineType.PHISH),
    "m365.quarantine_spam": _quarantine(QuarantineType.SPAM),
    "m365.quarantine_bulk": _quarantine(QuarantineType.BULK),
    "m365.cat_malware": Case(lambda: _spam("SCL:1;SFV:NSPM;CAT:MALW;"), lambda: _spam("SCL:1;SFV:NSPM;CAT:NONE;")),
    "m365.cat_high_phish": Case(lambda: _spam("SCL:9;CAT:HPHSH;"), lambda: _spam("SCL:9;CAT:HSPM;")),
    "m365.cat_phish": Case(lambda: _spam("SCL:9;CAT:PHSH;"), lambda: _spam("SCL:9;CAT:SPM;")),
    "m365.cat_impersonation": Case(lambda: _spam("CAT:UIMP;"), lambda: _spam("CAT:NONE;")),
    "m365.cat_spoof": Case(lambda: _spam("CAT:SPOOF;"), lambda: _spam("CAT:NONE;")),
    "m365.cat_spam": Case(lambda: _spam("CAT:SPM;"), lambda: _spam("CAT:BULK;")),
    "m365.cat_bulk": Case(lambda: _spam("CAT:BULK;"), lambda: _spam("CAT:SPM;")),
    "m365.scl_high": Case(lambda: _spam("SCL:9;"), lambda: _spam("SCL:5;")),
    "m365.scl_spam": Case(lambda: _spam("SCL:5;"), lambda: _spam("SCL:1;")),
    "m365.bcl_high": Case(
        lambda: raw(headers=[("X-Microsoft-Antispam", "BCL:8;")]),
        lambda: raw(headers=[("X-Microsoft-Antispam", "BCL:3;")]),
    ),
    "m365.impersonation_tip": Case(lambda: _spam("SFTY:9.19;"), lambda: _spam("SFTY:9.25;")),
    "m365.first_contact": Case(lambda: _spam("SFTY:9.25;"), lambda: _spam("SFTY:;")),
    "m365.sfv_blocked": Case(lambda: _spam("SFV:BLK;"), lambda: _spam("SFV:NSPM;")),
    "m365.sfv_allowed": Case(lambda: _spam("SFV:SKA;"), lambda: _spam("SFV:NSPM;")),
    # --- authentication ---------------------------------------------------------------------
    "auth.dmarc_pass": Case(lambda: _auth(MS_AUTH), lambda: _auth(MS_AUTH.replace("dmarc=pass", "dmarc=fail"))),
    "auth.dkim_pass_aligned": Case(
        lambda: _auth(MS_AUTH), lambda: _auth(MS_AUTH.replace("header.d=fabrikam.com", "header.d=mailer.example"))
    ),
    "auth.dmarc_fail": Case(
        lambda: _auth("spf=fail smtp.mailfrom=fabrikam.com; dmarc=fail action=quarantine; compauth=fail reason=000"),
        # The same failure stamped lower down by someone else's server is not ours to trust.
        lambda: raw(headers=[("Authentication-Results", "lists.example.org; dmarc=fail header.from=fabrikam.com")]),
    ),
    "auth.spf_fail": Case(lambda: _auth("spf=fail (sender IP is 203.0.113.9)"), lambda: _auth("spf=pass")),
    "auth.spf_softfail": Case(lambda: _auth("spf=softfail (sender IP is 203.0.113.9)"), lambda: _auth("spf=fail")),
    "auth.dkim_fail": Case(
        lambda: _auth("spf=pass; dkim=fail (body hash did not verify) header.d=fabrikam.com"),
        lambda: _auth(MS_AUTH),
    ),
    "auth.compauth_fail": Case(
        lambda: _auth("dmarc=fail action=quarantine header.from=fabrikam.com;compauth=fail reason=000"),
        lambda: _auth("dmarc=none action=none header.from=fabrikam.com;compauth=fail reason=001"),
    ),
    "auth.compauth_implicit_fail": Case(
        lambda: _auth("dmarc=none action=none header.from=fabrikam.com;compauth=fail reason=001"),
        lambda: _auth("dmarc=fail action=quarantine header.from=fabrikam.com;compauth=fail reason=000"),
    ),
    "auth.none": Case(lambda: raw(), lambda: _auth(MS_AUTH)),
    "auth.forged_results": Case(
        lambda: raw(
            headers=[
                ("Authentication-Results", "spf=fail; dkim=none; dmarc=fail; compauth=fail reason=000"),
                ("Authentication-Results", "mx.fabrikam-mail.example; spf=pass; dkim=pass; dmarc=pass"),
            ]
        ),
        lambda: raw(
            headers=[
                ("Authentication-Results", MS_AUTH),
                ("Authentication-Results", "mx.fabrikam-mail.example; spf=pass; dkim=pass; dmarc=pass"),
            ]
        ),
    ),
    "auth.untrusted_results": Case(
        lambda: _auth("mail.archive.example; dkim=fail header.d=fabrikam.com"), lambda: _auth(MS_AUTH)
    ),
    "auth.arc_override": Case(
        lambda: _auth("spf=fail; dkim=fail; dmarc=fail action=none header.from=fabrikam.com;compauth=pass reason=130"),
        lambda: _auth("spf=fail; dkim=fail; dmarc=fail action=none header.from=fabrikam.com;compauth=fail reason=000"),
    ),
    "auth.header_from_mismatch": Case(
        lambda: _auth(MS_AUTH.replace("header.from=fabrikam.com", "header.from=decoy.example")),
        lambda: _auth(MS_AUTH),
    ),
    # --- sender identity ----------------------------------------------------------------------
    "sender.lookalike_domain": Case(
        lambda: raw(from_="Microsoft <alerts@micros0ft.com>"), lambda: raw(from_="Microsoft <alerts@microsoft.com>")
    ),
    "sender.display_name_address": Case(
        lambda: raw(from_='"ceo@contoso.com" <boss@mailer.example>'), lambda: raw(from_='"Maria" <maria@fabrikam.com>')
    ),
    "sender.display_name_impersonation": Case(
        lambda: raw(from_="PayPal Service <notice@account-center.example>"),
        lambda: raw(from_="PayPal Service <service@paypal.com>"),
    ),
    "sender.reply_to_mismatch": Case(
        lambda: raw(headers=[("Reply-To", "billing@other-company.example")]),
        lambda: raw(headers=[("Reply-To", "billing@fabrikam.com")]),
    ),
    "sender.reply_to_freemail": Case(
        lambda: raw(headers=[("Reply-To", "fabrikam.billing@gmail.com")]),
        lambda: raw(headers=[("Reply-To", "billing@fabrikam.com")]),
    ),
    "sender.freemail_corporate": Case(
        lambda: raw(from_="IT Helpdesk <it.helpdesk.desk@gmail.com>"), lambda: raw(from_="Bob Jones <bob@gmail.com>")
    ),
    "sender.return_path_mismatch": Case(
        lambda: raw(headers=[("Return-Path", "<bounce@mailer.example>")]),
        lambda: raw(headers=[("Return-Path", "<bounce@fabrikam.com>")]),
    ),
    "sender.punycode_domain": Case(
        lambda: raw(from_="Shop <info@xn--pypal-4ve.com>"), lambda: raw(from_="Shop <info@paypal.com>")
    ),
    "sender.date_anomaly": Case(
        lambda: raw(headers=_received("Tue, 01 Dec 2026 10:15:00 +0100"), date="Sat, 01 Jan 2033 10:00:00 +0000"),
        lambda: raw(headers=_received("Tue, 01 Dec 2026 10:15:00 +0100")),
    ),
    "sender.received_out_of_order": Case(
        lambda: raw(headers=_received("Tue, 01 Dec 2026 10:15:00 +0100", "Tue, 01 Dec 2026 18:00:00 +0100")),
        lambda: raw(headers=_received("Tue, 01 Dec 2026 10:15:00 +0100", "Tue, 01 Dec 2026 10:14:00 +0100")),
    ),
    "sender.missing_message_id": Case(lambda: raw(message_id=None), lambda: raw()),
    "sender.no_from": Case(lambda: raw(from_=""), lambda: raw()),
    "sender.ambiguous_from": Case(
        lambda: raw(from_="Bank <alerts@bank.example>, Maria <maria@fabrikam.com>"),
        lambda: raw(from_="maria@fabrikam.com <maria@fabrikam.com>"),
    ),
    "sender.brand_in_domain": Case(
        lambda: raw(from_="Notice <notice@paypal-secure.com>"), lambda: raw(from_="Notice <notice@paypal.com>")
    ),
    "sender.dkim_domain_mismatch": Case(
        lambda: _auth(MS_AUTH.replace("header.d=fabrikam.com", "header.d=bulkmailer.example")),
        lambda: _auth(MS_AUTH),
    ),
    "sender.message_id_domain": Case(
        lambda: raw(from_="PayPal <service@paypal.com>", message_id="<x1@bulk-sender.example>"),
        lambda: raw(from_="PayPal <service@paypal.com>", message_id="<x1@mail.paypal.com>"),
    ),
    "sender.display_name_homoglyph": Case(
        lambda: raw(from_="P\u0430yP\u0430l Support <support@fabrikam.com>"),  # Cyrillic а inside Latin words
        lambda: raw(from_="\u041c\u0430\u0440\u0438\u044f <maria@fabrikam.com>"),  # all-Cyrillic name
    ),
    "sender.platform_domain": Case(lambda: raw(from_="Rewards <noreply@rewards-1a2b3.firebaseapp.com>"), lambda: raw()),
    # --- URLs -----------------------------------------------------------------------------------
    "url.ip_literal": Case(lambda: _link("http://45.33.32.156/login"), lambda: _link("http://192.168.1.10/wiki")),
    "url.userinfo_trick": Case(
        lambda: _link("http://www.paypal.com@evil.example/"), lambda: _link("http://user:pass@example.com/")
    ),
    "url.punycode": Case(lambda: _link("http://xn--pypal-4ve.com/"), lambda: _link("https://www.paypal.com/")),
    "url.lookalike_domain": Case(lambda: _link("http://paypa1.com/"), lambda: _link("https://www.paypal.com/")),
    "url.anchor_mismatch": Case(
        lambda: _link("http://evil.example/", "www.paypal.com"),
        lambda: _link(
            "https://nam02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.paypal.com%2F&data=x",
            "www.paypal.com",
        ),
    ),
    "url.shortener": Case(lambda: _link("https://bit.ly/3xYz"), lambda: _link("https://example.com/3xYz")),
    "url.brand_in_subdomain": Case(
        lambda: _link("http://paypal.com.account.evil.example/"), lambda: _link("https://www.paypal.com/")
    ),
    "url.excessive_subdomains": Case(
        lambda: _link("http://a1.b2.c3.d4.e5.long-host-example.com/"), lambda: _link("https://www.example.com/")
    ),
    "url.open_redirect": Case(
        lambda: _link("https://news.example.com/r?url=https%3A%2F%2Fevil.example%2Fx"),
        lambda: _link("https://news.example.com/r?url=https%3A%2F%2Fnews.example.com%2Fx"),
    ),
    "url.script_scheme": Case(lambda: _link("javascript:alert(1)"), lambda: _link("https://example.com/")),
    "url.file_sharing": Case(
        lambda: _link("https://drive.google.com/file/d/abc/view"), lambda: _link("https://example.com/file")
    ),
    "url.suspicious_tld": Case(lambda: _link("https://offers.example.xyz/"), lambda: _link("https://example.com/")),
    "url.login_form_link": Case(
        lambda: _link("https://evil.example/secure/login.php"), lambda: _link("https://example.com/news/today")
    ),
    "url.mixed_script": Case(
        lambda: _link("http://p\u0430ypal.com/"),
        lambda: _link("http://\u044f\u043d\u0434\u0435\u043a\u0441.\u0440\u0444/"),
    ),
    "url.brand_in_domain": Case(lambda: _link("https://paypal-login.com/"), lambda: _link("https://paypal.com/")),
    "url.tracking_link": Case(
        lambda: _link("https://fabrikam.us1.list-manage.com/track/click?u=1"), lambda: _link("https://fabrikam.com/")
    ),
    "url.file_scheme": Case(lambda: _link("file://fileserver/share/invoice.lnk"), lambda: _link("https://a.example/")),
    "url.cloud_hosted_page": Case(
        lambda: _link("https://storage.googleapis.com/bucket-77/index.html#victim"),
        lambda: _link("https://storage.googleapis.com/bucket-77/logo.png"),
    ),
    # --- attachments ------------------------------------------------------------------------------
    "attachment.executable": Case(lambda: _att("setup.exe", PE), lambda: _att("notes.txt")),
    "attachment.dangerous_container": Case(lambda: _att("invoice.iso"), lambda: _att("invoice.docx")),
    "attachment.html_smuggling": Case(
        lambda: _att("invoice.html", b"<html><script>var b=atob('QUJD');</script></html>", "text/html"),
        lambda: _att("invoice.txt", b"plain text invoice", "text/plain"),
    ),
    "attachment.double_extension": Case(
        lambda: _att("invoice.pdf.exe", PE), lambda: _att("report.final.pdf", pdf(b""))
    ),
    "attachment.type_mismatch": Case(lambda: _att("report.docx", pdf(b"")), lambda: _att("report.pdf", pdf(b""))),
    "attachment.macro": Case(
        lambda: _att("report.docx", ooxml({"word/document.xml": b"<w/>", "word/vbaProject.bin": b"\x00"})),
        lambda: _att("report.docx", ooxml({"word/document.xml": b"<w/>"})),
    ),
    "attachment.ole_object": Case(
        lambda: _att("letter.rtf", rtf_with_object(b"Package")), lambda: _att("letter.rtf", b"{\\rtf1 Hello}")
    ),
    "attachment.exploit_object": Case(
        lambda: _att("letter.rtf", rtf_with_object(b"Equation.3")),
        lambda: _att("letter.rtf", rtf_with_object(b"Package")),
    ),
    "attachment.dde": Case(
        lambda: _att("memo.docx", ooxml({"word/document.xml": b"<w:fldSimple w:instr='DDEAUTO c:\\\\cmd.exe'/>"})),
        lambda: _att("memo.docx", ooxml({"word/document.xml": b"<w:t>hello</w:t>"})),
    ),
    "attachment.pdf_active": Case(
        lambda: _att("scan.pdf", pdf(b"1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj")),
        lambda: _att("scan.pdf", pdf(b"1 0 obj << /Type /Catalog >> endobj")),
    ),
    "attachment.pdf_link": Case(
        lambda: _att("scan.pdf", pdf(b"2 0 obj << /A << /S /URI /URI (https://evil.example/doc) >> >> endobj")),
        lambda: _att("scan.pdf", pdf(b"1 0 obj << /Type /Catalog >> endobj")),
    ),
    "attachment.encrypted": Case(
        lambda: _att("invoice.zip", ENCRYPTED_ZIP), lambda: _att("invoice.zip", zip_of({"a.pdf": b"x"}))
    ),
    "attachment.password_in_body": Case(
        lambda: _att("invoice.zip", ENCRYPTED_ZIP, body="Open the invoice. Password: 4411"),
        lambda: _att("invoice.zip", ENCRYPTED_ZIP, body="Open the invoice; you know the password."),
    ),
    "attachment.archive_dangerous_member": Case(
        lambda: _att("docs.zip", zip_of({"docs/invoice.js": b"WScript.Shell"})),
        lambda: _att("docs.zip", zip_of({"docs/invoice.txt": b"hello"})),
    ),
    "attachment.archive_bomb": Case(
        lambda: _att("data.zip", BOMB), lambda: _att("data.zip", zip_of({"a.txt": b"x" * 100}))
    ),
    "attachment.archive_nested": Case(
        lambda: _att("outer.zip", zip_of({"inner.zip": zip_of({"a.txt": b"x"})})),
        lambda: _att("outer.zip", zip_of({"inner.txt": b"x"})),
    ),
    "attachment.calendar_invite": Case(lambda: _att("invite.ics", ICS, "text/calendar"), lambda: _att("notes.txt")),
    "attachment.calendar_link": Case(
        lambda: _att("invite.ics", ICS_LINK, "text/calendar"), lambda: _att("invite.ics", ICS, "text/calendar")
    ),
    "attachment.unreadable": Case(
        lambda: _att("payload.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64),
        lambda: _att("payload.zip", zip_of({"a.txt": b"x"})),
    ),
}
# Rules whose positive fixture runs below `attachment_findings` (VBA needs a real Office container).
EXPLICIT = {"attachment.macro_autoexec", "url.reputation_listed", "url.reputation_unavailable"}


@pytest.mark.parametrize("finding_id", sorted(CASES))
def test_rule_fires_on_positive_fixture(finding_id: str) -> None:
    case = CASES[finding_id]
    assert finding_id in ids(case.positive(), case.detection, case.request)


@pytest.mark.parametrize("finding_id", sorted(CASES))
def test_rule_is_silent_on_negative_fixture(finding_id: str) -> None:
    case = CASES[finding_id]
    request = None if finding_id.startswith("m365.quarantine_") else case.request
    assert finding_id not in ids(case.negative(), case.detection, request)


def test_every_evidence_rule_has_fixtures() -> None:
    owned = {fid for fid in CATALOGUE if fid.startswith(OWNED_PREFIXES)} - OTHER_OWNERS
    missing = owned - set(CASES) - EXPLICIT
    assert not missing, f"finding rules without positive/negative fixtures: {sorted(missing)}"
