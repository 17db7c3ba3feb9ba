"""Checkpoint serialization: our state types are allow-listed explicitly for msgpack.

LangGraph warns on (and will block) deserializing unregistered types; listing them here keeps a
resumed run faithful, attachment bytes included.
"""

from __future__ import annotations

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

STATE_TYPES: list[tuple[str, str]] = [
    ("tools.models", "Finding"),
    ("tools.models", "Link"),
    ("tools.models", "Attachment"),
    ("tools.models", "ParsedMessage"),
    ("tools.catalogue", "Severity"),
    ("tools.catalogue", "Signal"),
    ("policies.models", "VerdictLabel"),
    ("policies.models", "QuarantineType"),
    ("policies.models", "ReleaseRequest"),
    ("policies.models", "Verdict"),
    ("policies.models", "Action"),
    ("policies.models", "Floor"),
    ("policies.models", "PolicyDecision"),
    ("policies.models", "Notification"),
    ("graph.state", "ModelUsage"),
    ("graph.state", "AnalystReport"),
    ("graph.state", "TriageInput"),
    ("graph.state", "MessageSummary"),
    ("graph.state", "TriageResult"),
    ("graph.state", "TriageOutput"),
    ("graph.state", "TriageState"),
]


def serializer() -> JsonPlusSerializer:
    """The serializer every checkpointer of the triage graph must use."""
    return JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
