"""URL/attachment analyst: links, attachments and the text a person would see."""

from __future__ import annotations

import hashlib
from typing import Any

from langgraph.runtime import Runtime

from agents.analyst_common import report
from graph.context import Deps
from graph.state import TriageState
from tools.attachments import attachment_findings
from tools.content import content_findings
from tools.models import Finding
from tools.urls import url_findings


async def analyze_urls_attachments(state: TriageState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Gather link, attachment and content evidence, then let the reasoner judge it."""
    deps = runtime.context
    msg = state.message
    if msg is None:
        return {}
    detection = deps.settings.detection
    # A checkpoint that lost attachment bytes would make a dangerous file look empty: refuse.
    damaged = [a.filename or a.content_type for a in msg.attachments if hashlib.sha256(a.data).hexdigest() != a.sha256]
    if damaged:
        return {"errors": [f"attachment data does not match its hash: {', '.join(damaged)[:200]}"]}
    try:
        findings: list[Finding] = [
            *content_findings(msg),
            *url_findings(msg, detection),
            *attachment_findings(msg, detection),
        ]
    except Exception as exc:  # an extractor bug must not release anything
        return {"errors": [f"url/attachment tools: {type(exc).__name__}"]}
    if detection.url_reputation:
        # Imported here: the optional lookup pulls in httpx, which offline runs never need.
        from tools.reputation import ReputationConfig, url_reputation_findings

        key = detection.urlhaus_auth_key.get_secret_value() if detection.urlhaus_auth_key else None
        config = ReputationConfig(
            enabled=True, urlhaus_auth_key=key, timeout_seconds=detection.reputation_timeout_seconds
        )
        findings += await url_reputation_findings([link.url for link in msg.links], config)
    return await report("url_attachment", "url_report", findings, msg, deps)
