"""Verdict synthesizer: the evidence floor (code) and the reasoner's verdict over both reports."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.reasoner import ReasonerError
from graph.context import Deps
from graph.state import TriageState
from policies.floors import compute_floor


async def synthesize_verdict(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Compute the floor from all findings, then ask for the verdict."""
    msg, header, url = state.message, state.header_report, state.url_report
    if msg is None or header is None or url is None:
        return {"errors": [] if state.errors else ["synthesizer: an analyst produced no report"]}
    floor = compute_floor([*msg.findings, *header.findings, *url.findings])
    if header.lean is None or url.lean is None:
        return {"floor": floor}  # an analyst already recorded why
    try:
        synthesis = await runtime.context.reasoner.synthesize(header, url, msg, floor)
    except ReasonerError as exc:
        return {"floor": floor, "errors": [str(exc)]}
    except Exception as exc:
        return {"floor": floor, "errors": [f"synthesizer: {type(exc).__name__}"]}
    return {"floor": floor, "verdict": synthesis.verdict, "usage": synthesis.usage}
