"""The default reasoner: deterministic scoring of findings, no model, no network."""

from __future__ import annotations

from agents.reasoner import Judgment, Synthesis
from graph.state import AnalystName, AnalystReport
from policies.models import Floor, Verdict, VerdictLabel
from tools.catalogue import SEVERITY_WEIGHT, Severity, Signal
from tools.models import Finding, ParsedMessage

#: Weighted sums at or above these mark a message; tuned on the project's eval sets.
MALICIOUS_AT = 6.0
SPAM_AT = 2.0


def scores(findings: list[Finding]) -> dict[Signal, float]:
    """Weighted sum of finding severities per signal (each finding id counted once)."""
    totals = dict.fromkeys(Signal, 0.0)
    seen: set[str] = set()
    for f in findings:
        if f.id in seen:
            continue
        seen.add(f.id)
        totals[f.signal] += SEVERITY_WEIGHT[f.severity]
    return totals


def classify(findings: list[Finding]) -> tuple[VerdictLabel, float]:
    """Verdict and confidence from the evidence alone."""
    s = scores(findings)
    mal, spam, benign = s[Signal.MALICIOUS], s[Signal.SPAM], s[Signal.BENIGN]
    critical = any(f.severity is Severity.CRITICAL and f.signal is Signal.MALICIOUS for f in findings)
    if critical or mal - benign / 2 >= MALICIOUS_AT:
        return VerdictLabel.MALICIOUS, min(0.99, 0.7 + 0.03 * mal)
    if spam + mal / 2 - benign >= SPAM_AT:
        return VerdictLabel.SPAM, min(0.95, 0.6 + 0.05 * (spam + mal / 2 - benign))
    suspicion = mal + spam + s[Signal.INTEGRITY]
    return VerdictLabel.SAFE, max(0.5, min(0.97, 0.95 - 0.08 * suspicion + 0.02 * benign))


def _top(findings: list[Finding], n: int = 4) -> list[Finding]:
    ranked = sorted(
        (f for f in findings if f.signal is not Signal.BENIGN and f.severity is not Severity.INFO),
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
    model_id = "offline-v1"

    async def judge(self, analyst: AnalystName, findings: list[Finding], message: ParsedMessage) -> Judgment:
        """Lean of one analyst's findings."""
        label, confidence = classify(findings)
        return Judgment(lean=label, confidence=round(confidence, 3), summary=explain(label, findings))

    async def synthesize(
        self, header: AnalystReport, url: AnalystReport, message: ParsedMessage, floor: Floor
    ) -> Synthesis:
        """Verdict over all findings, never below the floor."""
        findings = [*message.findings, *header.findings, *url.findings]
        label, confidence = classify(findings)
        if label.rank < floor.min_verdict.rank:
            label, confidence = floor.min_verdict, max(confidence, 0.9)
        return Synthesis(Verdict(verdict=label, confidence=round(confidence, 3), reasoning=explain(label, findings)))
