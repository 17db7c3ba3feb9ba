"""Policy node: hands the analysis to the pure release policy. No model, no I/O."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Deps
from graph.state import TriageState
from policies.models import Floor
from policies.release_policy import decide


def apply_policy(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Decide; a missing floor (analysis failed early) counts as an error."""
    errors = list(state.errors)
    floor = state.floor
    if floor is None:
        floor = Floor(blocks_release=True)
        if not errors:
            errors.append("no evidence floor was computed")
    decision = decide(
        verdict=state.verdict,
        floor=floor,
        settings=runtime.context.settings,
        request=state.request,
        errors=errors,
    )
    return {"decision": decision, "floor": floor}
