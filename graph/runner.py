"""Run the graph once and validate its output at the edge; any failure ends in manual review."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any, Literal

from graph.builder import build_graph
from graph.context import Deps
from graph.state import TriageInput, TriageResult
from policies.models import Action, Floor, PolicyDecision, ReleaseRequest

#: A whole run may take the reasoner's timeout for each of its three calls, plus slack.
RUN_SLACK_SECONDS = 30.0


@cache
def _default_graph() -> Any:
    return build_graph()


def failed_result(reason: str, deps: Deps) -> TriageResult:
    """The fail-closed result: manual review, nothing released, nobody notified."""
    return TriageResult(
        verdict=None,
        confidence=0.0,
        reasoning=f"The analysis did not complete: {reason}",
        evidence=[],
        floor=Floor(blocks_release=True),
        decision=PolicyDecision(
            action=Action.MANUAL_REVIEW,
            rule="review.analysis_error",
            reason=f"the analysis failed: {reason}",
            enforced=deps.settings.mode == "enforce",
        ),
        reasoner=deps.reasoner.name,
        model_id=deps.reasoner.model_id,
        errors=[reason],
    )


Durability = Literal["sync", "async", "exit"]


async def _run(
    graph: Any,
    graph_input: TriageInput | None,
    deps: Deps,
    config: dict[str, Any] | None,
    durability: Durability | None,
) -> TriageResult:
    """Invoke (or, with no input, resume) the graph; every failure is the fail-closed result."""
    timeout = 3 * deps.settings.reasoner.timeout_seconds + RUN_SLACK_SECONDS
    options: dict[str, Any] = {"durability": durability} if durability else {}
    try:
        out = await asyncio.wait_for(graph.ainvoke(graph_input, config=config, context=deps, **options), timeout)
        return TriageResult.model_validate(out["result"])
    except TimeoutError:
        return failed_result(f"the run exceeded {timeout:.0f}s", deps)
    except Exception as exc:  # fail closed: an unexpected error is manual review
        verb = "resuming triage" if graph_input is None else "triage"
        return failed_result(f"{type(exc).__name__} during {verb}", deps)


async def triage(
    raw: bytes,
    request: ReleaseRequest,
    deps: Deps,
    *,
    graph: Any = None,
    config: dict[str, Any] | None = None,
    durability: Durability | None = None,
) -> TriageResult:
    """Analyze one message and decide; never raises for bad input, model or graph failures.

    `durability="sync"` (with a checkpointer) writes each step's checkpoint before the next starts.
    """
    return await _run(graph or _default_graph(), TriageInput(raw=raw, request=request), deps, config, durability)


async def resume(
    deps: Deps, *, graph: Any, config: dict[str, Any], durability: Durability | None = None
) -> TriageResult:
    """Continue a checkpointed run that stopped mid-graph (a crash); same fail-closed contract as `triage`."""
    return await _run(graph, None, deps, config, durability)


def triage_sync(raw: bytes, request: ReleaseRequest, deps: Deps) -> TriageResult:
    """`triage` for synchronous callers (CLI)."""
    return asyncio.run(triage(raw, request, deps))
