"""Parse node: raw bytes in, one `ParsedMessage` out, never an exception."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Deps
from graph.state import TriageState
from tools.mime import parse_message


async def parse(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Parse the raw message with the configured hard limits."""
    try:
        return {"message": parse_message(state.raw, runtime.context.settings.detection)}
    except Exception as exc:
        return {"errors": [f"parse: {type(exc).__name__}"]}
