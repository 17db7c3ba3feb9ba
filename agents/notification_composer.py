"""Notification composer: the requester's email from fixed templates, and the final result."""

from __future__ import annotations

import hashlib
from typing import Any

from langgraph.runtime import Runtime

import prompts
from graph.context import Deps
from graph.state import MessageSummary, TriageResult, TriageState
from policies.models import Floor, Notification, PolicyDecision
from policies.settings import Settings
from tools.catalogue import SEVERITY_WEIGHT, Severity, Signal
from tools.sanitize import sanitize_header, sanitize_text


def choose_sender(settings: Settings, verified_domains: frozenset[str] | None) -> str:
    """The sender mailbox, or the default sender while its domain is not verified in the tenant."""
    domain = str(settings.sender_mailbox).rpartition("@")[2].lower()
    if verified_domains is not None and domain not in {d.lower() for d in verified_domains}:
        return str(settings.default_sender_mailbox)
    return str(settings.sender_mailbox)


def reference_for(state: TriageState) -> str:
    """A short, stable reference the employee can quote to the security team."""
    key = state.request.quarantine_identity or (state.message.message_id if state.message else "") or ""
    return "QR-" + hashlib.sha256((key or state.raw[:4096].hex()).encode()).hexdigest()[:10].upper()


def _finding_lines(state: TriageState, limit: int = 5) -> str:
    """The strongest findings, in the catalogue's own words: code-written, so nothing from the email."""
    findings = [*(state.header_report.findings if state.header_report else [])]
    findings += state.url_report.findings if state.url_report else []
    findings += state.message.findings if state.message else []
    ranked = sorted(
        (f for f in findings if f.signal is not Signal.BENIGN and f.severity is not Severity.INFO),
        key=lambda f: -SEVERITY_WEIGHT[f.severity],
    )
    lines = list(dict.fromkeys(f"- {f.description}" for f in ranked))[:limit]
    return "\n".join(lines) or "- No single decisive finding; the overall pattern matches unwanted mail."


def compose(state: TriageState, deps: Deps, decision: PolicyDecision) -> Notification | None:
    """The notification the decision calls for, or None."""
    if decision.notify == "none" or not state.request.requester or state.verdict is None:
        return None
    settings = deps.settings
    subject = sanitize_header(state.message.subject if state.message else "", 120) or "(no subject)"
    body = prompts.render(
        f"notify_{decision.notify}",
        subject=subject,
        findings=_finding_lines(state),
        reasoning=sanitize_text(state.verdict.reasoning, settings.notification_max_reasoning_chars),
        sender_name=sanitize_header(settings.sender_name, 80),
        reference=reference_for(state),
    )
    title = "Quarantined message not released" + (": " + subject if subject else "")
    return Notification(
        to=state.request.requester,
        from_address=choose_sender(settings, deps.verified_domains),
        from_name=sanitize_header(settings.sender_name, 80),
        subject=sanitize_header(title, 200),
        body=body,
        kind=decision.notify,
    )


def compose_notification(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Attach the notification and assemble the validated `TriageResult`."""
    deps = runtime.context
    decision = state.decision
    errors = list(state.errors)
    if decision is None:  # pragma: no cover - the policy node always decides
        raise RuntimeError("policy produced no decision")
    try:
        notification = compose(state, deps, decision)
    except Exception as exc:
        notification = None
        errors.append(f"notification: {type(exc).__name__}")
    msg = state.message
    evidence = [
        *(msg.findings if msg else []),
        *(state.header_report.findings if state.header_report else []),
    ]
    evidence += state.url_report.findings if state.url_report else []
    verdict = state.verdict
    result = TriageResult(
        verdict=verdict.verdict if verdict else None,
        confidence=verdict.confidence if verdict else 0.0,
        reasoning=verdict.reasoning if verdict else "The analysis did not complete: " + "; ".join(errors),
        evidence=evidence,
        floor=state.floor or Floor(blocks_release=True),
        decision=decision,
        notification=notification,
        message=MessageSummary(
            subject=msg.subject[:300] if msg else "",
            from_address=msg.from_address if msg else "",
            from_display_name=msg.from_display_name[:200] if msg else "",
            message_id=msg.message_id[:300] if msg else "",
            size=msg.size if msg else len(state.raw),
            attachments=[a.filename[:200] for a in msg.attachments if a.filename] if msg else [],
        ),
        reasoner=deps.reasoner.name,
        model_id=deps.reasoner.model_id,
        usage=state.usage,
        errors=errors,
    )
    return {"notification": notification, "result": result}
