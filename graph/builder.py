"""The triage state machine. Wiring only: the nodes live in `agents/`."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.header_analyst import analyze_headers
from agents.notification_composer import compose_notification
from agents.parser import parse
from agents.policy_node import apply_policy
from agents.url_attachment_analyst import analyze_urls_attachments
from agents.verdict_synthesizer import synthesize_verdict
from graph.context import Deps
from graph.state import TriageInput, TriageOutput, TriageState


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """parse -> (header analyst || URL/attachment analyst) -> synthesizer -> policy -> notification."""
    builder = StateGraph(TriageState, context_schema=Deps, input_schema=TriageInput, output_schema=TriageOutput)
    builder.add_node(parse)
    builder.add_node(analyze_headers)
    builder.add_node(analyze_urls_attachments)
    builder.add_node(synthesize_verdict)
    builder.add_node(apply_policy)
    builder.add_node(compose_notification)
    builder.add_edge(START, "parse")
    builder.add_edge("parse", "analyze_headers")
    builder.add_edge("parse", "analyze_urls_attachments")
    # The synthesizer waits for both analysts.
    builder.add_edge(["analyze_headers", "analyze_urls_attachments"], "synthesize_verdict")
    builder.add_edge("synthesize_verdict", "apply_policy")
    builder.add_edge("apply_policy", "compose_notification")
    builder.add_edge("compose_notification", END)
    return builder.compile(checkpointer=checkpointer, name="quarantine-triage")
