"""Header/authentication analyst: authentication, Microsoft's verdicts and sender identity."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.analyst_common import report
from graph.context import Deps
from graph.state import TriageState
from tools.headers import auth_findings, identity_findings, microsoft_findings
from tools.models import Finding


async def analyze_headers(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Gather header evidence with deterministic tools, then let the reasoner judge it."""
    deps = runtime.context
    msg = state.message
    if msg is None:
        return {}
    try:
        findings: list[Finding] = [
            *microsoft_findings(msg, state.request),
            *auth_findings(msg, deps.settings.detection.trusted_authserv_ids),
            *identity_findings(msg, deps.settings.detection, deps.clock()),
        ]
    except Exception as exc:  # an extractor bug must not release anything
        return {"errors": [f"header tools: {type(exc).__name__}"]}
    if deps.sender_history is not None and state.request.requester and msg.from_address:
        try:
            history = await deps.sender_history(state.request.requester, msg.from_address)
        except Exception as exc:  # missing evidence must not tip the scale towards release
            return {"errors": [f"sender history lookup failed: {type(exc).__name__}"]}
        if history:
            findings.append(Finding.of("sender.prior_correspondence", history))
        else:
            findings.append(Finding.of("sender.first_contact", msg.from_address))
    return await report("header", "header_report", findings, msg, deps)
