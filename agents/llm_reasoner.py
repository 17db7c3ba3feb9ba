"""Model reasoners (OpenAI, Azure OpenAI, any OpenAI-compatible endpoint) with structured output.

The model sees evidence and visible text inside per-request random delimiters, answers only
through a strict schema, and every claim it cites is checked by code. A timeout, invalid output
after one retry, a refusal or unverifiable evidence raises `ReasonerError` (manual review).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import prompts
from agents.reasoner import Judgment, ReasonerError, Synthesis
from graph.state import AnalystName, AnalystReport, ModelUsage
from policies.models import Floor, Verdict, VerdictLabel
from policies.settings import ReasonerSettings
from tools.content import DELIMITER_PREFIX
from tools.models import Finding, ParsedMessage
from tools.unicode_text import normalize

VISIBLE_TEXT_CHARS = 6000
RATIONALE_CHARS = 1500


class AnalystOpinion(BaseModel):
    """An analyst's structured answer. Reasoning comes before the decision field."""

    model_config = ConfigDict(extra="forbid")

    rationale: str = Field(max_length=RATIONALE_CHARS, description="Short reasoning, no links or markup")
    lean: Literal["safe", "spam", "malicious"] = Field(description="What the evidence points to")
    confidence: float = Field(ge=0.0, le=1.0)
    cited_findings: list[str] = Field(default_factory=list, max_length=20, description="Finding ids relied on")


class SynthesisOpinion(BaseModel):
    """The synthesizer's structured answer."""

    model_config = ConfigDict(extra="forbid")

    rationale: str = Field(max_length=RATIONALE_CHARS, description="Reasoning an employee can read")
    verdict: Literal["safe", "spam", "malicious", "insufficient_evidence"]
    confidence: float = Field(ge=0.0, le=1.0)
    cited_findings: list[str] = Field(default_factory=list, max_length=20)
    quoted_spans: list[str] = Field(
        default_factory=list, max_length=5, description="Verbatim quotes from the visible text"
    )


def build_chat_model(cfg: ReasonerSettings) -> BaseChatModel:
    """A chat model from settings; imports langchain-openai only here (it is slow to import)."""
    from langchain_openai import AzureChatOpenAI, ChatOpenAI

    key = cfg.api_key.get_secret_value() if cfg.api_key else None
    common: dict[str, Any] = {
        "temperature": cfg.temperature,
        "timeout": cfg.timeout_seconds,
        "max_retries": 0,  # one retry on invalid output is ours; transport retries would hide timeouts
        "max_tokens": cfg.max_output_tokens,
    }
    if cfg.kind == "azure-openai":
        return AzureChatOpenAI(
            azure_endpoint=cfg.azure_endpoint,
            azure_deployment=cfg.azure_deployment,
            api_version=cfg.api_version,
            api_key=key,
            **common,
        )
    return ChatOpenAI(
        model=cfg.model,
        base_url=cfg.base_url,
        # Local servers (Ollama, vLLM) accept any key; the client insists on one.
        api_key=key or ("unused" if cfg.kind == "openai-compatible" else None),
        **common,
    )


def _delimiter(*texts: str) -> str:
    """A boundary the email cannot have guessed; input containing it is rejected."""
    token = f"{DELIMITER_PREFIX}-{secrets.token_hex(12)}"
    if any(token in t for t in texts):
        raise ReasonerError("the message contains the analysis delimiter")
    return token


def _format_findings(findings: list[Finding]) -> str:
    if not findings:
        return "(none)"
    return "\n".join(f"- {f.id} [{f.severity}]: {f.description}. evidence: {f.evidence}" for f in findings)


class LLMReasoner:
    """Asks a chat model for structured judgments and verifies what it cites."""

    name = "llm"

    def __init__(self, model: BaseChatModel, cfg: ReasonerSettings) -> None:
        self._model = model
        self._cfg = cfg
        self.model_id = f"{cfg.kind}:{cfg.azure_deployment or cfg.model}"

    async def _ask(
        self, node: str, prompt_name: str, schema: type[BaseModel], user: str, delimiter: str
    ) -> tuple[Any, list[ModelUsage]]:
        system = prompts.render("system", delimiter=delimiter)
        structured = self._model.with_structured_output(schema, method="function_calling", include_raw=True)
        messages = [SystemMessage(system), HumanMessage(user)]
        usage: list[ModelUsage] = []
        last_problem = "no answer"
        for _ in range(2):  # one retry on invalid output, never more
            try:
                out = await asyncio.wait_for(structured.ainvoke(messages), self._cfg.timeout_seconds)
            except TimeoutError:
                raise ReasonerError(f"{node}: the model timed out after {self._cfg.timeout_seconds:.0f}s") from None
            except ValidationError as exc:
                last_problem = f"invalid output ({exc.error_count()} errors)"
                continue
            except Exception as exc:
                raise ReasonerError(f"{node}: model call failed: {type(exc).__name__}") from None
            raw = out.get("raw") if isinstance(out, dict) else None
            meta = getattr(raw, "usage_metadata", None) or {}
            usage.append(
                ModelUsage(
                    node=node,
                    model_id=self.model_id,
                    input_tokens=int(meta.get("input_tokens", 0)),
                    output_tokens=int(meta.get("output_tokens", 0)),
                    prompt_sha256=prompts.prompt_sha256(prompt_name),
                )
            )
            parsed = out.get("parsed") if isinstance(out, dict) else None
            if isinstance(parsed, schema):
                return parsed, usage
            error = out.get("parsing_error") if isinstance(out, dict) else None
            last_problem = f"invalid output: {type(error).__name__ if error else 'no structured answer'}"
        raise ReasonerError(f"{node}: {last_problem} after one retry")

    def _check_citations(self, node: str, cited: list[str], findings: list[Finding]) -> None:
        known = {f.id for f in findings}
        unknown = [c for c in cited if c not in known]
        if unknown:
            raise ReasonerError(f"{node}: cited findings that do not exist: {', '.join(unknown[:5])[:200]}")

    async def judge(self, analyst: AnalystName, findings: list[Finding], message: ParsedMessage) -> Judgment:
        """One analyst's lean."""
        visible = message.visible_text[:VISIBLE_TEXT_CHARS]
        headers = "\n".join(
            f"{k}: {v[:300]}"
            for k, v in message.headers
            if k.lower() in {"from", "reply-to", "return-path", "subject", "authentication-results", "date"}
        )[:4000]
        links = "\n".join(f"- {link.url[:200]} shown as: {link.anchor_text[:100]}" for link in message.links[:40])
        atts = "\n".join(f"- {a.filename} ({a.content_type}, {a.size} bytes)" for a in message.attachments)
        found = _format_findings(findings)
        delimiter = _delimiter(visible, headers, links, atts, found)
        if analyst == "header":
            name = "header_analyst"
            user = prompts.render(name, delimiter=delimiter, findings=found, headers=headers or "(none)")
        else:
            name = "url_attachment_analyst"
            user = prompts.render(
                name,
                delimiter=delimiter,
                findings=found,
                links=links or "(none)",
                attachments=atts or "(none)",
                visible_text=visible or "(empty)",
            )
        opinion, usage = await self._ask(name, name, AnalystOpinion, user, delimiter)
        self._check_citations(name, opinion.cited_findings, findings)
        return Judgment(
            lean=VerdictLabel(opinion.lean),
            confidence=opinion.confidence,
            summary=opinion.rationale,
            usage=usage,
        )

    async def synthesize(
        self, header: AnalystReport, url: AnalystReport, message: ParsedMessage, floor: Floor
    ) -> Synthesis:
        """The verdict; citations and quotes must be checkable or the run goes to review."""
        findings = [*message.findings, *header.findings, *url.findings]
        visible = message.visible_text[:VISIBLE_TEXT_CHARS]
        found = _format_findings(findings)
        delimiter = _delimiter(visible, found, header.summary, url.summary)
        user = prompts.render(
            "verdict_synthesizer",
            delimiter=delimiter,
            floor=str(floor.min_verdict),
            header_lean=str(header.lean),
            header_confidence=f"{header.confidence:.2f}",
            header_summary=header.summary or "(none)",
            url_lean=str(url.lean),
            url_confidence=f"{url.confidence:.2f}",
            url_summary=url.summary or "(none)",
            findings=found,
            visible_text=visible or "(empty)",
        )
        opinion, usage = await self._ask(
            "verdict_synthesizer", "verdict_synthesizer", SynthesisOpinion, user, delimiter
        )
        if opinion.verdict == "insufficient_evidence":
            raise ReasonerError("verdict_synthesizer: the model found the evidence insufficient")
        self._check_citations("verdict_synthesizer", opinion.cited_findings, findings)
        seen = normalize(message.visible_text).lower()
        for quote in opinion.quoted_spans:
            if normalize(quote).lower() not in seen:
                raise ReasonerError("verdict_synthesizer: quoted text that is not in the visible message")
        verdict = Verdict(
            verdict=VerdictLabel(opinion.verdict), confidence=opinion.confidence, reasoning=opinion.rationale
        )
        return Synthesis(verdict, usage)
