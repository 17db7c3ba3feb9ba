"""The reasoner interface: how an analyst's evidence becomes a judgment.

Chosen by settings at the entry point: `offline` scores findings deterministically; the model
reasoners ask an OpenAI-compatible chat model for structured output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from graph.state import AnalystName, AnalystReport, ModelUsage
from policies.models import Floor, Verdict, VerdictLabel
from policies.settings import Settings
from tools.models import Finding, ParsedMessage


class ReasonerError(Exception):
    """The reasoner could not produce a valid judgment (timeout, invalid output, refusal)."""


@dataclass
class Judgment:
    """An analyst's lean over its evidence."""

    lean: VerdictLabel
    confidence: float
    summary: str
    usage: list[ModelUsage] = field(default_factory=list)


@dataclass
class Synthesis:
    """The synthesizer's verdict plus the usage it cost."""

    verdict: Verdict
    usage: list[ModelUsage] = field(default_factory=list)


class Reasoner(Protocol):
    """Judges evidence. Implementations never act and never see credentials."""

    name: str
    model_id: str

    async def judge(self, analyst: AnalystName, findings: list[Finding], message: ParsedMessage) -> Judgment:
        """An analyst's lean over its findings."""
        ...

    async def synthesize(
        self,
        header: AnalystReport,
        url: AnalystReport,
        message: ParsedMessage,
        floor: Floor,
    ) -> Synthesis:
        """The verdict over both analysts' reports."""
        ...


def build_reasoner(settings: Settings) -> Reasoner:
    """The reasoner the settings ask for; model clients are imported only when needed."""
    if settings.reasoner.kind == "offline":
        from agents.offline_reasoner import OfflineReasoner

        return OfflineReasoner()
    from agents.llm_reasoner import LLMReasoner, build_chat_model

    return LLMReasoner(build_chat_model(settings.reasoner), settings.reasoner)
