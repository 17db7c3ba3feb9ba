"""The one catalogue of finding ids: severity, what each signals and a human description.

Tools only name a finding id and the exact evidence; severity and meaning come from here so
that the offline scorer, the floors and the reports all agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding weighs on its own."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Signal(StrEnum):
    """Which verdict a finding points to."""

    BENIGN = "benign"
    SPAM = "spam"
    MALICIOUS = "malicious"
    #: Says nothing about intent but means the analysis cannot be trusted (parse defects, limits).
    INTEGRITY = "integrity"


SEVERITY_WEIGHT: dict[Severity, float] = {
    Severity.INFO: 0.0,
    Severity.LOW: 1.0,
    Severity.MEDIUM: 2.0,
    Severity.HIGH: 4.0,
    Severity.CRITICAL: 8.0,
}


@dataclass(frozen=True)
class FindingSpec:
    """Static facts about one finding id."""

    severity: Severity
    signal: Signal
    description: str


def _s(severity: str, signal: str, description: str) -> FindingSpec:
    return FindingSpec(Severity(severity), Signal(signal), description)


CATALOGUE: dict[str, FindingSpec] = {
    # --- parsing and limits -------------------------------------------------------------
    "parse.empty": _s("high", "integrity", "The message is empty"),
    "parse.not_email": _s("high", "integrity", "The input does not look like an email message"),
    "parse.binary_garbage": _s("high", "integrity", "The input is binary data, not a text email"),
    "parse.header_defect": _s("low", "integrity", "The mail parser reported a header defect"),
    "parse.mime_defect": _s("medium", "integrity", "The MIME structure is broken"),
    "parse.decode_error": _s("low", "integrity", "A part could not be decoded with its declared encoding"),
    "parse.too_large": _s("high", "integrity", "The message exceeds the size limit"),
    "parse.too_many_headers": _s("medium", "integrity", "The message has too many or too long headers"),
    "parse.too_many_parts": _s("high", "integrity", "The message has too many MIME parts or nests too deep"),
    "parse.attachment_too_large": _s("medium", "integrity", "An attachment exceeds the decoded size limit"),
    "parse.mbox_envelope": _s("info", "integrity", "The message starts with an mbox 'From ' envelope line"),
    "parse.charset_mismatch": _s("info", "integrity", "Text bytes do not match their declared charset"),
    "parse.nul_bytes": _s("medium", "integrity", "The message contains NUL bytes"),
    # --- Microsoft's own verdict ----------------------------------------------------------
    "m365.quarantine_malware": _s("critical", "malicious", "Microsoft quarantined the message as malware"),
    "m365.quarantine_high_phish": _s(
        "critical", "malicious", "Microsoft quarantined the message as high-confidence phishing"
    ),
    "m365.quarantine_phish": _s("high", "malicious", "Microsoft quarantined the message as phishing"),
    "m365.quarantine_spam": _s("medium", "spam", "Microsoft quarantined the message as spam"),
    "m365.quarantine_bulk": _s("low", "spam", "Microsoft quarantined the message as bulk mail"),
    "m365.cat_malware": _s("critical", "malicious", "Microsoft's anti-spam report says malware (CAT:MALW)"),
    "m365.cat_high_phish": _s("critical", "malicious", "Microsoft's anti-spam report says HPHSH"),
    "m365.cat_phish": _s("high", "malicious", "Microsoft's anti-spam report says phishing (CAT:PHSH)"),
    "m365.cat_impersonation": _s("high", "malicious", "Microsoft detected impersonation (CAT:*IMP)"),
    "m365.cat_spoof": _s("high", "malicious", "Microsoft detected spoofing (CAT:SPOOF)"),
    "m365.cat_spam": _s("medium", "spam", "Microsoft's anti-spam report says spam (CAT:SPM/HSPM)"),
    "m365.cat_bulk": _s("low", "spam", "Microsoft's anti-spam report says bulk (CAT:BULK)"),
    "m365.scl_high": _s("medium", "spam", "Spam confidence level 7-9 (high-confidence spam)"),
    "m365.scl_spam": _s("low", "spam", "Spam confidence level 5-6 (spam)"),
    "m365.bcl_high": _s("low", "spam", "Bulk complaint level 7 or more"),
    "m365.impersonation_tip": _s("medium", "malicious", "Microsoft flagged domain or user impersonation"),
    "m365.first_contact": _s("info", "spam", "Microsoft's first-contact safety tip fired"),
    "m365.sfv_blocked": _s("low", "spam", "An admin or user block list matched the sender (SFV:BLK/SKB/SKS)"),
    "m365.sfv_allowed": _s(
        "info", "benign", "An allow list let the message skip spam filtering (SFV:SFE/SKA, IPV:CAL)"
    ),
    # --- authentication -------------------------------------------------------------------
    "auth.dmarc_pass": _s("low", "benign", "DMARC passed at our own mail servers"),
    "auth.dkim_pass_aligned": _s("low", "benign", "DKIM passed for the From domain"),
    "auth.dmarc_fail": _s("high", "malicious", "DMARC failed at our own mail servers"),
    "auth.spf_fail": _s("medium", "malicious", "SPF failed at our own mail servers"),
    "auth.spf_softfail": _s("low", "spam", "SPF soft-failed at our own mail servers"),
    "auth.dkim_fail": _s("low", "spam", "A DKIM signature did not verify"),
    "auth.compauth_fail": _s("high", "malicious", "Microsoft composite authentication failed"),
    "auth.none": _s("info", "spam", "No authentication results from our servers"),
    "auth.forged_results": _s(
        "high", "malicious", "An Authentication-Results header was planted by the sender (not our server)"
    ),
    "auth.untrusted_results": _s(
        "info", "integrity", "Authentication results exist, but none stamped by our own servers (not used)"
    ),
    "auth.arc_override": _s("info", "benign", "DMARC failed but Microsoft accepted a trusted ARC seal (forwarding)"),
    "auth.compauth_implicit_fail": _s(
        "medium", "malicious", "Composite authentication failed implicitly (the domain has no or weak DMARC)"
    ),
    "auth.header_from_mismatch": _s(
        "medium", "malicious", "Our server authenticated a different From domain than the one displayed"
    ),
    # --- sender identity ------------------------------------------------------------------
    "sender.lookalike_domain": _s("high", "malicious", "The sender domain imitates a protected domain"),
    "sender.display_name_address": _s(
        "medium", "malicious", "The display name contains an address different from the sender"
    ),
    "sender.display_name_impersonation": _s(
        "high", "malicious", "The display name claims a protected name or brand from another domain"
    ),
    "sender.reply_to_mismatch": _s("medium", "malicious", "Replies go to a different domain than the sender"),
    "sender.freemail_corporate": _s("medium", "malicious", "A free-mail sender claims a corporate or brand identity"),
    "sender.return_path_mismatch": _s("low", "spam", "The envelope sender domain differs from the From domain"),
    "sender.punycode_domain": _s("medium", "malicious", "The sender domain is punycode (IDN)"),
    "sender.date_anomaly": _s("low", "spam", "The Date header is far in the future or past"),
    "sender.received_out_of_order": _s("low", "spam", "Received hops are out of chronological order"),
    "sender.missing_message_id": _s("low", "spam", "The message has no Message-ID"),
    "sender.prior_correspondence": _s("low", "benign", "The requester has received mail from this sender before"),
    "sender.first_contact": _s("low", "spam", "The requester has never received mail from this sender"),
    "sender.no_from": _s("medium", "spam", "The message has no usable From address"),
    "sender.display_name_homoglyph": _s(
        "high", "malicious", "The display name mixes Latin with look-alike letters of another script"
    ),
    "sender.platform_domain": _s("medium", "malicious", "The sender uses a free app-hosting or fresh-tenant domain"),
    "sender.ambiguous_from": _s("high", "malicious", "The message has several From headers or addresses"),
    "sender.brand_in_domain": _s("medium", "malicious", "The sender domain embeds a protected brand or our name"),
    "sender.reply_to_freemail": _s("medium", "malicious", "Replies go to a free-mail address, not the sender's domain"),
    "sender.dkim_domain_mismatch": _s("info", "spam", "The only valid DKIM signature is from another domain"),
    "sender.message_id_domain": _s(
        "low", "malicious", "A protected sender's Message-ID comes from an unrelated domain"
    ),
    # --- content --------------------------------------------------------------------------
    "content.hidden_text": _s("medium", "malicious", "The HTML hides text from the reader"),
    "content.invisible_unicode": _s("medium", "malicious", "Invisible Unicode characters are present"),
    "content.bidi_override": _s("high", "malicious", "Bidirectional override characters are present"),
    "content.tag_characters": _s("high", "malicious", "Unicode tag characters (hidden ASCII) are present"),
    "content.prompt_injection": _s("high", "malicious", "The text tries to instruct an AI or reviewer"),
    "content.delimiter_collision": _s(
        "critical", "malicious", "The text imitates the analysis delimiters (injection attempt)"
    ),
    "content.credential_lure": _s("high", "malicious", "The text asks for credentials or account verification"),
    "content.urgency": _s("low", "malicious", "The text pressures the reader with urgency or threats"),
    "content.injection_quoted": _s(
        "info", "malicious", "The visible text quotes phrases used to instruct an AI (e.g. a security newsletter)"
    ),
    "content.prize_lure": _s(
        "medium", "malicious", "The text claims the reader won or was selected for a prize or reward"
    ),
    "content.credential_lure_quoted": _s(
        "low", "malicious", "The visible text quotes a credential lure (e.g. a threat digest)"
    ),
    "content.mixed_script": _s(
        "medium", "malicious", "Words mix Latin letters with Cyrillic or Greek look-alikes (homoglyph spoofing)"
    ),
    "content.payment_lure": _s("medium", "malicious", "The text asks for payment details or a transfer"),
    "content.advance_fee": _s("medium", "spam", "The text has the shape of an advance-fee scam"),
    "content.marketing": _s("low", "spam", "The text reads as unsolicited marketing"),
    "content.unsubscribe": _s("info", "spam", "The message carries unsubscribe links or List-Unsubscribe"),
    "content.plain_html_mismatch": _s("medium", "malicious", "The text/plain and text/html parts say different things"),
    "content.mailing_list": _s("low", "benign", "The message was delivered through a mailing list"),
    "content.in_thread_reply": _s("low", "benign", "The message replies to an existing thread"),
    # --- URLs -----------------------------------------------------------------------------
    "url.ip_literal": _s("high", "malicious", "A link points to a bare IP address"),
    "url.userinfo_trick": _s("high", "malicious", "A link hides its real host behind an '@'"),
    "url.punycode": _s("medium", "malicious", "A link uses a punycode (IDN) host"),
    "url.lookalike_domain": _s("high", "malicious", "A link's domain imitates a protected domain or brand"),
    "url.anchor_mismatch": _s("high", "malicious", "A link's text shows a different domain than it opens"),
    "url.shortener": _s("low", "spam", "A link uses a URL shortener"),
    "url.brand_in_subdomain": _s("medium", "malicious", "A brand name appears in the subdomain or path of a link"),
    "url.excessive_subdomains": _s("low", "malicious", "A link has an unusually deep host name"),
    "url.open_redirect": _s("medium", "malicious", "A link carries a redirect to another site"),
    "url.script_scheme": _s("high", "malicious", "A link uses a data: or javascript: URI"),
    "url.file_sharing": _s("low", "malicious", "A link points to a file-sharing or form service"),
    "url.suspicious_tld": _s("low", "spam", "A link uses a TLD favoured by abuse"),
    "url.login_form_link": _s("medium", "malicious", "A link points to a login or verification page"),
    "url.cloud_hosted_page": _s(
        "high", "malicious", "A link opens a web page stored in a cloud bucket (a throw-away landing page)"
    ),
    "url.reputation_listed": _s("critical", "malicious", "URLhaus lists a link of the message as malware delivery"),
    "url.reputation_unavailable": _s("info", "integrity", "The optional URL reputation lookup failed"),
    "url.mixed_script": _s("high", "malicious", "A link's host mixes scripts (a homograph of a Latin name)"),
    "url.brand_in_domain": _s("medium", "malicious", "A link's domain embeds a protected brand it does not belong to"),
    "url.tracking_link": _s("info", "spam", "A link goes through a mailing service's click tracker"),
    "url.file_scheme": _s("high", "malicious", "A link opens a local or network file (file: or UNC path)"),
    # --- attachments ----------------------------------------------------------------------
    "attachment.executable": _s("critical", "malicious", "An attachment is an executable or script"),
    "attachment.dangerous_container": _s(
        "high", "malicious", "An attachment is a disk image, shortcut, OneNote, HTA, CHM or similar"
    ),
    "attachment.html_smuggling": _s("high", "malicious", "An attachment is HTML or SVG that can run script"),
    "attachment.double_extension": _s("high", "malicious", "An attachment name hides its real extension"),
    "attachment.type_mismatch": _s("medium", "malicious", "An attachment's content does not match its name"),
    "attachment.macro": _s("high", "malicious", "An Office attachment contains VBA macros"),
    "attachment.macro_autoexec": _s("critical", "malicious", "An Office attachment runs macros automatically"),
    "attachment.ole_object": _s("high", "malicious", "An Office or RTF attachment embeds an OLE object"),
    "attachment.pdf_active": _s("high", "malicious", "A PDF contains JavaScript, launch or open actions"),
    "attachment.encrypted": _s("high", "malicious", "An attachment is encrypted or password protected"),
    "attachment.archive_dangerous_member": _s("critical", "malicious", "An archive contains an executable"),
    "attachment.archive_bomb": _s("high", "malicious", "An archive expands beyond safe limits"),
    "attachment.calendar_invite": _s("low", "malicious", "The message carries a calendar invite"),
    "attachment.unreadable": _s("medium", "integrity", "An attachment could not be inspected"),
    "attachment.dde": _s("high", "malicious", "An Office or RTF attachment contains a DDE command field"),
    "attachment.exploit_object": _s(
        "critical", "malicious", "An attachment embeds an Equation Editor object (a known exploit vector)"
    ),
    "attachment.password_in_body": _s(
        "high", "malicious", "An attachment is password protected and the message text gives the password"
    ),
    "attachment.pdf_link": _s("low", "malicious", "A PDF attachment contains links to web pages"),
    "attachment.archive_nested": _s("medium", "malicious", "An archive contains another archive"),
    "attachment.calendar_link": _s("low", "malicious", "A calendar invite contains a web link"),
}


def spec(finding_id: str) -> FindingSpec:
    """Look up a finding id; an unknown id is a programming error."""
    return CATALOGUE[finding_id]
