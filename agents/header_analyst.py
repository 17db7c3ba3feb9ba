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
            *auth_findings(msg),
            *identity_findings(msg, deps.settings.detection, deps.clock()),
        ]
    except Exception as exc:
        return {"errors": [f"header tools: {type(exc).__name__}"]}
    return await report("header", "header_report", findings, msg, deps)
