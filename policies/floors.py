"""Evidence floors: the one place that says which findings the model can never talk its way past.

A floor is computed by code from findings. `min_verdict` is the lowest verdict allowed;
`blocks_release` forbids automatic release whatever the verdict (manual review instead).
"""

from __future__ import annotations

from collections.abc import Iterable

from policies.models import Floor, VerdictLabel
from tools.models import Finding

MALICIOUS = VerdictLabel.MALICIOUS

#: Finding id -> minimum verdict. Microsoft's own high-confidence verdicts and unambiguous payloads.
MIN_VERDICT: dict[str, VerdictLabel] = {
    "m365.quarantine_malware": MALICIOUS,
    "m365.quarantine_high_phish": MALICIOUS,
    "m365.cat_malware": MALICIOUS,
    "m365.cat_high_phish": MALICIOUS,
    "attachment.executable": MALICIOUS,
    "attachment.macro_autoexec": MALICIOUS,
    "attachment.archive_dangerous_member": MALICIOUS,
    "attachment.double_extension": MALICIOUS,
    "attachment.exploit_object": MALICIOUS,
    "url.reputation_listed": MALICIOUS,
    "content.delimiter_collision": MALICIOUS,
    "content.tag_characters": MALICIOUS,
    "url.userinfo_trick": MALICIOUS,
}
# Microsoft's ordinary spam and phish verdicts are not floors: a release request disputes exactly
# those, and false positives are what this product exists to release. Phish still blocks release.

#: Finding ids that forbid automatic release: suspicion that a person must look at.
BLOCKS_RELEASE: frozenset[str] = frozenset(
    {
        *MIN_VERDICT,
        "m365.quarantine_phish",
        "m365.cat_phish",
        "auth.dmarc_fail",
        "auth.compauth_fail",
        "auth.forged_results",
        "sender.lookalike_domain",
        "sender.display_name_impersonation",
        "sender.punycode_domain",
        "m365.cat_impersonation",
        "m365.cat_spoof",
        "m365.impersonation_tip",
        "content.hidden_text",
        "content.invisible_unicode",
        "content.bidi_override",
        "content.prompt_injection",
        "content.plain_html_mismatch",
        # A request to sign in or verify an account always deserves a human look: it is the phishing payload
        # that stays when every injection and hiding trick is removed (issue 7, compromised-model test).
        "content.credential_lure",
        "content.mixed_script",
        "content.prize_lure",
        "content.credential_lure_quoted",
        # Evidence layer (issue 3): spoofed identity and payloads a person must see before release.
        "sender.ambiguous_from",
        "auth.header_from_mismatch",
        "url.mixed_script",
        "url.file_scheme",
        "attachment.dde",
        "attachment.password_in_body",
        "attachment.archive_nested",
        "parse.nul_bytes",
        # Broken input is never released automatically (issue 3: every parse.* defect ends in review).
        "parse.header_defect",
        "parse.decode_error",
        "url.ip_literal",
        "url.lookalike_domain",
        "url.anchor_mismatch",
        "url.script_scheme",
        "url.punycode",
        "attachment.dangerous_container",
        "attachment.html_smuggling",
        "attachment.type_mismatch",
        "attachment.macro",
        "attachment.ole_object",
        "attachment.pdf_active",
        "attachment.encrypted",
        "attachment.archive_bomb",
        "attachment.unreadable",
        "parse.empty",
        "parse.not_email",
        "parse.binary_garbage",
        "parse.mime_defect",
        "parse.too_large",
        "parse.too_many_headers",
        "parse.too_many_parts",
        "parse.attachment_too_large",
    }
)

#: Combinations: a DMARC failure from a look-alike of a protected domain is phishing, not a mistake.
COMBINATIONS: list[tuple[frozenset[str], VerdictLabel]] = [
    (frozenset({"auth.dmarc_fail", "sender.lookalike_domain"}), MALICIOUS),
    (frozenset({"auth.forged_results", "content.credential_lure"}), MALICIOUS),
]


def compute_floor(findings: Iterable[Finding]) -> Floor:
    """The floor implied by a set of findings."""
    ids = {f.id for f in findings}
    level = VerdictLabel.SAFE
    because: set[str] = set()
    for fid in ids:
        floor = MIN_VERDICT.get(fid)
        if floor is not None and floor.rank >= level.rank:
            level = floor
    for combo, floor in COMBINATIONS:
        if combo <= ids and floor.rank >= level.rank:
            level = floor
            because |= combo
    because |= {fid for fid in ids if MIN_VERDICT.get(fid) == level and level != VerdictLabel.SAFE}
    blocking = ids & BLOCKS_RELEASE
    return Floor(min_verdict=level, blocks_release=bool(blocking), because=sorted(because | blocking))


def with_scorer(floor: Floor, label: VerdictLabel, confidence: float, min_confidence: float) -> Floor:
    """Two keys for a model reasoner: its "safe" releases only what the deterministic scorer would release.

    A compromised or manipulated model can then add caution but never cause a release on its own.
    """
    because = list(floor.because)
    min_verdict = floor.min_verdict
    if label is MALICIOUS and min_verdict is not MALICIOUS:
        min_verdict = MALICIOUS
        because.append("scorer.malicious")
    blocks = floor.blocks_release
    if label is not VerdictLabel.SAFE or confidence < min_confidence:
        blocks = True
        because.append(f"scorer.{label}" if label is not VerdictLabel.SAFE else "scorer.low_confidence")
    return Floor(min_verdict=min_verdict, blocks_release=blocks, because=sorted(set(because)))
