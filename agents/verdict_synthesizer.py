"""Verdict synthesizer: the evidence floor (code) and the reasoner's verdict over both reports."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.offline_reasoner import classify
from agents.reasoner import ReasonerError
from graph.context import Deps
from graph.state import TriageState
from policies.floors import compute_floor, with_scorer


async def synthesize_verdict(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Compute the floor from all findings, then ask for the verdict."""
    msg, header, url = state.message, state.header_report, state.url_report
    if msg is None or header is None or url is None:
        return {"errors": [] if state.errors else ["synthesizer: an analyst produced no report"]}
    findings = [*msg.findings, *header.findings, *url.findings]
    floor = compute_floor(findings)
    settings, reasoner = runtime.context.settings, runtime.context.reasoner
    if reasoner.name != "offline" and settings.model_release_needs_scorer:
        label, confidence = classify(findings, msg.subject)
        floor = with_scorer(floor, label, confidence, settings.min_release_confidence)
    if header.lean is None or url.lean is None:
        return {"floor": floor}  # an analyst already recorded why
    try:
        synthesis = await reasoner.synthesize(header, url, msg, floor)
    except ReasonerError as exc:
        return {"floor": floor, "errors": [str(exc)]}
    except Exception as exc:
        return {"floor": floor, "errors": [f"synthesizer: {type(exc).__name__}"]}
    return {"floor": floor, "verdict": synthesis.verdict, "usage": synthesis.usage}
