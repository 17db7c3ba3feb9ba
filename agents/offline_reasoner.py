"""The default reasoner: deterministic scoring of findings, no model, no network.

The rules below were measured with `qrelease eval` on the project set, the adversarial set and the
shared corpus (see `evals/`); the CI gate holds them to zero malicious releases under either value of
`release_confirmed_spam`.

* One fact, one vote. Microsoft reports its verdict up to four times (quarantine type, CAT, SCL, BCL)
  and an authenticated sender shows as both DMARC pass and aligned DKIM; only the heaviest finding of
  each group counts, so restatements cannot outvote independent evidence.
* Microsoft's ordinary spam verdict is what a release request disputes: it counts at half weight.
* "Safe" needs a relationship. Authentication proves who sent a message, not that the reader expects
  it (phishers authenticate their own domains), and anyone can post to an open list. A confident
  "safe" needs a reply in a real thread (reply header and reply subject) or past correspondence, plus
  authentication or a list; otherwise the verdict stays below the release threshold and a person looks.
* Unsolicited mail with independent warning signs (not Microsoft's own verdict) is spam, never
  confidently, so it is denied with the toggle off and reviewed with it on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.reasoner import Judgment, Synthesis
from graph.state import AnalystName, AnalystReport
from policies.models import Floor, Verdict, VerdictLabel
from tools.catalogue import SEVERITY_WEIGHT, Severity, Signal
from tools.models import Finding, ParsedMessage

#: Findings that restate one fact; only the heaviest of a group counts.
GROUPS: dict[str, str] = {
    **dict.fromkeys(
        (
            "m365.quarantine_spam",
            "m365.quarantine_bulk",
            "m365.cat_spam",
            "m365.cat_bulk",
            "m365.scl_high",
            "m365.scl_spam",
            "m365.bcl_high",
            "m365.sfv_blocked",
        ),
        "m365_spam",
    ),
    **dict.fromkeys(
        (
            "m365.quarantine_phish",
            "m365.cat_phish",
            "m365.cat_impersonation",
            "m365.cat_spoof",
            "m365.impersonation_tip",
        ),
        "m365_phish",
    ),
    **dict.fromkeys(("auth.dmarc_pass", "auth.dkim_pass_aligned"), "authenticated"),
    **dict.fromkeys(("auth.dmarc_fail", "auth.compauth_fail", "auth.compauth_implicit_fail"), "auth_fail"),
}
#: Microsoft's ordinary spam and bulk verdicts: what a release request disputes, so they count at half
#: weight and do not by themselves keep a message from release. High-confidence spam (SCL 7-9) is not
#: discounted.
DISPUTED: frozenset[str] = frozenset(
    {"m365.quarantine_spam", "m365.quarantine_bulk", "m365.cat_spam", "m365.cat_bulk", "m365.scl_spam", "m365.bcl_high"}
)
DISPUTED_FACTOR = 0.5
#: The group of Microsoft's spam verdict in all its forms.
MICROSOFT_SPAM_GROUP = "m365_spam"
#: Mailing lists rewrite Reply-To and the envelope sender by design; in list mail these say little.
LIST_CONTEXT = "content.mailing_list"
LIST_DISCOUNT: dict[str, float] = {
    "sender.reply_to_mismatch": 0.25,
    "sender.reply_to_freemail": 0.25,
    "sender.return_path_mismatch": 0.0,
}
#: How much each kind of positive evidence says the reader expects this mail from this sender.
#: Authentication proves who sent a message, not that it is wanted (phishers authenticate their own
#: domains), and anyone can post to an open list: both count for half a reply in a thread.
BENIGN_CREDIT: dict[str, float] = {
    "content.in_thread_reply": 1.0,
    "sender.prior_correspondence": 1.0,
    "authenticated": 0.5,
    LIST_CONTEXT: 0.5,
}
#: A reply's subject carries a reply or forward prefix (after an optional list tag such as "[dev]").
#: In-Reply-To without it is a claim anyone can write into a first message: in the shared corpus, 60
#: of 66 phish with In-Reply-To lack the prefix, against 30 of 459 ham.
REPLY_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{1,40}\]\s*)?(?:re|aw|sv|antw|vs|r|rif|odp|ref|réf|ynt|wg|fw|fwd|tr)\s*(?:\[\d+\])?\s*:",
    re.IGNORECASE,
)
THREAD_REPLY = "content.in_thread_reply"
#: Positive evidence needed for a confident "safe".
RELEASE_CREDIT = 1.5

#: A malicious score at or above this (after benign credit) means malicious.
MALICIOUS_AT = 4.0
#: Part of the benign credit that offsets malicious evidence (a lure inside a thread is still a lure).
BENIGN_OFFSETS_MALICIOUS = 0.5
#: A spam score (spam + half the malicious - benign) at or above this means spam.
SPAM_AT = 2.0
#: Suspicion (malicious + spam + integrity, Microsoft's disputed verdict excluded) allowed in a confident "safe"
#: at least; strong positive evidence tolerates `SUSPICION_PER_CREDIT` per unit of credit above one (a reply in
#: a real thread on a list may carry a low-severity oddity; a first message may not).
SAFE_SUSPICION_MAX = 0.5
SUSPICION_PER_CREDIT = 4.0
#: Relationship credit (authentication aside) under which a message counts as unsolicited, and the
#: suspicion at which unsolicited mail is called spam rather than left to a person.
UNSOLICITED_BELOW = 1.0
UNSOLICITED_SUSPICION = 2.0
#: Confidence of a "safe" verdict that is not confident: below the default release threshold (0.8).
UNPROVEN_SAFE_CONFIDENCE = 0.7


@dataclass(frozen=True)
class Scores:
    """Weighted evidence per signal after grouping and context."""

    malicious: float
    spam: float
    benign: float
    integrity: float
    disputed: float
    """The part of `spam` that is Microsoft's own ordinary spam verdict."""
    authenticated: float
    """The part of `benign` that only says the sender authenticated."""
    microsoft: float
    """The part of `spam` that is Microsoft's spam verdict in any form (SCL 7-9 included)."""
    critical: bool
    """A critical malicious finding is present (decides on its own)."""


def _weights(findings: list[Finding]) -> dict[str, tuple[Finding, float]]:
    """Each finding id once, each group once (its heaviest member), with context discounts applied."""
    ids = {f.id for f in findings}
    best: dict[str, tuple[Finding, float]] = {}
    for f in findings:
        w = SEVERITY_WEIGHT[f.severity]
        if f.id in DISPUTED:
            w *= DISPUTED_FACTOR
        if LIST_CONTEXT in ids:
            w *= LIST_DISCOUNT.get(f.id, 1.0)
        key = GROUPS.get(f.id, f.id)
        if key not in best or w > best[key][1]:
            best[key] = (f, w)
    return best


def scores(findings: list[Finding], subject: str | None = None) -> Scores:
    """Weighted sum per signal; benign evidence is credited by `BENIGN_CREDIT`, not by severity.

    `subject`, when given, must look like a reply for `content.in_thread_reply` to earn credit.
    """
    totals = dict.fromkeys(Signal, 0.0)
    disputed = 0.0
    weights = _weights(findings)
    for key, (f, w) in weights.items():
        if f.signal is Signal.BENIGN:
            if key == THREAD_REPLY and subject is not None and not REPLY_SUBJECT.search(subject):
                continue
            totals[Signal.BENIGN] += BENIGN_CREDIT.get(key, 0.0)
            continue
        totals[f.signal] += w
        if f.id in DISPUTED:
            disputed += w
    return Scores(
        malicious=totals[Signal.MALICIOUS],
        spam=totals[Signal.SPAM],
        benign=totals[Signal.BENIGN],
        integrity=totals[Signal.INTEGRITY],
        disputed=disputed,
        authenticated=BENIGN_CREDIT["authenticated"] if "authenticated" in weights else 0.0,
        microsoft=weights[MICROSOFT_SPAM_GROUP][1] if MICROSOFT_SPAM_GROUP in weights else 0.0,
        critical=any(f.severity is Severity.CRITICAL and f.signal is Signal.MALICIOUS for f in findings),
    )


def classify(findings: list[Finding], subject: str | None = None) -> tuple[VerdictLabel, float]:
    """Verdict and confidence from the evidence (and the subject line, to weigh a reply claim)."""
    s = scores(findings, subject)
    mal = s.malicious - BENIGN_OFFSETS_MALICIOUS * s.benign
    if s.critical or mal >= MALICIOUS_AT:
        return VerdictLabel.MALICIOUS, min(0.99, 0.75 + 0.03 * s.malicious)
    # Authentication does not offset spam (bulk senders authenticate well); a relationship does.
    spam = s.spam + s.malicious / 2 - (s.benign - s.authenticated)
    if spam >= SPAM_AT:
        # Malicious-leaning evidence inside a spam verdict lowers its confidence, so that with
        # `release_confirmed_spam` on such a message goes to a person rather than out.
        confidence = 0.55 + 0.04 * spam - 0.1 * s.malicious
        return VerdictLabel.SPAM, max(0.5, min(0.95, confidence))
    suspicion = s.malicious + s.spam - s.disputed + s.integrity
    independent = suspicion - (s.microsoft - s.disputed)
    if s.benign - s.authenticated < UNSOLICITED_BELOW and independent >= UNSOLICITED_SUSPICION:
        # Nobody shows the reader expects this mail (no thread, no past correspondence) and it carries
        # warning signs: unsolicited. Never confident, so it is not released even when spam may be.
        return VerdictLabel.SPAM, max(0.5, min(0.7, 0.55 + 0.05 * independent))
    tolerated = max(SAFE_SUSPICION_MAX, SUSPICION_PER_CREDIT * (s.benign - 1.0))
    if s.benign < RELEASE_CREDIT or suspicion > tolerated:
        return VerdictLabel.SAFE, max(0.5, min(UNPROVEN_SAFE_CONFIDENCE, 0.9 - 0.08 * suspicion))
    return VerdictLabel.SAFE, min(0.97, 0.88 + 0.03 * s.benign - 0.05 * suspicion)


def _top(findings: list[Finding], n: int = 4) -> list[Finding]:
    ranked = sorted(
        {f.id: f for f in findings if f.signal is not Signal.BENIGN and f.severity is not Severity.INFO}.values(),
        key=lambda f: -SEVERITY_WEIGHT[f.severity],
    )
    return ranked[:n]


def explain(label: VerdictLabel, findings: list[Finding]) -> str:
    """Reasoning built only from catalogue descriptions, never from message text."""
    top = _top(findings)
    if label is VerdictLabel.SAFE:
        if not top:
            return "No warning signs were found in the sender's authentication, links or attachments."
        return "Only minor warning signs were found: " + "; ".join(f.description.lower() for f in top) + "."
    kind = "dangerous" if label is VerdictLabel.MALICIOUS else "unsolicited bulk mail"
    return f"The message looks {kind}: " + "; ".join(f.description.lower() for f in top) + "."


class OfflineReasoner:
    """Scores the catalogue's severities; respects the floor itself (it is code, not a model)."""

    name = "offline"
    model_id = "offline-v2"

    async def judge(self, analyst: AnalystName, findings: list[Finding], message: ParsedMessage) -> Judgment:
        """Lean of one analyst's findings."""
        label, confidence = classify(findings, message.subject)
        return Judgment(lean=label, confidence=round(confidence, 3), summary=explain(label, findings))

    async def synthesize(
        self, header: AnalystReport, url: AnalystReport, message: ParsedMessage, floor: Floor
    ) -> Synthesis:
        """Verdict over all findings, never below the floor."""
        findings = [*message.findings, *header.findings, *url.findings]
        label, confidence = classify(findings, message.subject)
        if label.rank < floor.min_verdict.rank:
            label, confidence = floor.min_verdict, max(confidence, 0.9)
        return Synthesis(Verdict(verdict=label, confidence=round(confidence, 3), reasoning=explain(label, findings)))
