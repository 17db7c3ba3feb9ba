"""What both analysts share: turning findings plus a reasoner judgment into a report, safely."""

from __future__ import annotations

from typing import Any

from agents.reasoner import ReasonerError
from graph.context import Deps
from graph.state import AnalystName, AnalystReport
from tools.models import Finding, ParsedMessage


async def report(
    analyst: AnalystName, key: str, findings: list[Finding], message: ParsedMessage, deps: Deps
) -> dict[str, Any]:
    """Ask the reasoner to judge; any failure keeps the findings and records an error."""
    try:
        judgment = await deps.reasoner.judge(analyst, findings, message)
    except ReasonerError as exc:
        return {key: AnalystReport(analyst=analyst, findings=findings), "errors": [str(exc)]}
    except Exception as exc:
        return {
            key: AnalystReport(analyst=analyst, findings=findings),
            "errors": [f"{analyst} analyst: {type(exc).__name__}"],
        }
    return {
        key: AnalystReport(
            analyst=analyst,
            findings=findings,
            lean=judgment.lean,
            confidence=judgment.confidence,
            summary=judgment.summary,
        ),
        "usage": judgment.usage,
    }
