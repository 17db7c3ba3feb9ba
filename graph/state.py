"""Typed graph state with a narrow input (`TriageInput`) and a narrow output (`TriageOutput`)."""

from __future__ import annotations

import operator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.models import (
    Floor,
    Notification,
    PolicyDecision,
    ReleaseRequest,
    Verdict,
    VerdictLabel,
)
from tools.models import Finding, ParsedMessage

AnalystName = Literal["header", "url_attachment"]


class ModelUsage(BaseModel):
    """Tokens one model call used (zero for the offline reasoner)."""

    node: str
    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    prompt_sha256: str = ""


class AnalystReport(BaseModel):
    """One analyst's evidence and its judgment of it."""

    analyst: AnalystName
    findings: list[Finding] = Field(default_factory=list)
    lean: VerdictLabel | None = None
    """What the evidence points to; None when the judgment failed."""
    confidence: float = 0.0
    summary: str = ""


class TriageInput(BaseModel):
    """What the graph is given: the raw message and the release request."""

    raw: bytes
    request: ReleaseRequest = Field(default_factory=ReleaseRequest)


class MessageSummary(BaseModel):
    """Identifying fields for display and records (untrusted text)."""

    subject: str = ""
    from_address: str = ""
    from_display_name: str = ""
    message_id: str = ""
    size: int = 0
    attachments: list[str] = Field(default_factory=list)


class TriageResult(BaseModel):
    """The validated outcome of one triage run."""

    model_config = ConfigDict(extra="forbid")

    verdict: VerdictLabel | None
    """None only when the analysis failed (the decision is then manual review)."""
    confidence: float = Field(ge=0.0, le=1.0)
    reasoning: str
    evidence: list[Finding]
    floor: Floor
    decision: PolicyDecision
    notification: Notification | None = None
    message: MessageSummary = Field(default_factory=MessageSummary)
    reasoner: str = "offline"
    model_id: str = "offline"
    usage: list[ModelUsage] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


class TriageOutput(BaseModel):
    """The graph's output schema."""

    result: TriageResult | None = None


class TriageState(TriageInput):
    """Internal state. The two analysts run in parallel and write disjoint keys."""

    message: ParsedMessage | None = None
    header_report: AnalystReport | None = None
    url_report: AnalystReport | None = None
    floor: Floor | None = None
    verdict: Verdict | None = None
    decision: PolicyDecision | None = None
    notification: Notification | None = None
    result: TriageResult | None = None
    errors: Annotated[list[str], operator.add] = Field(default_factory=list)
    """Accumulated by every node; any entry forces manual review."""
    usage: Annotated[list[ModelUsage], operator.add] = Field(default_factory=list)
