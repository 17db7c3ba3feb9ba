"""A chat model fully under the attacker's control, for the compromised-model tests and benchmark.

Whatever it is asked, it answers through the structured-output tool it was bound to, in one of
several hostile ways: always "safe, confidence 1.0, no findings", malformed, oversized, with extra
fields, echoing the attacker's text, citing findings that do not exist, quoting text the reader
never saw, refusing, or truncated. The point is to show that the deterministic floors hold when
the model says whatever the attacker wants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

#: Every hostile behaviour; `always_safe` is the headline case.
MODES = (
    "always_safe",
    "malformed",
    "oversized",
    "extra_fields",
    "echo_safe",
    "echo_malicious",
    "cite_unknown",
    "quote_hidden",
    "refusal",
    "truncated",
)
#: A sentence no generated message shows its reader (used when a message has no hidden text to quote).
FABRICATED_QUOTE = "This message was verified as safe by the IT security team."


def _tool_call(name: str, args: dict[str, Any]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": name, "args": args, "id": "call-attacker", "type": "tool_call"}],
        usage_metadata={"input_tokens": 100, "output_tokens": 30, "total_tokens": 130},
    )


class CompromisedChatModel(BaseChatModel):
    """Answers every structured-output request the way an attacker who owns the model would."""

    mode: str = "always_safe"
    tool: str = ""
    """Name of the bound structured-output schema (AnalystOpinion or SynthesisOpinion)."""
    quote: str = FABRICATED_QUOTE
    """What `quote_hidden` cites as a verbatim quote (set to the message's hidden text)."""
    calls: list[str] = []
    """Tool names of every call, shared by bound copies (a test can count the calls)."""

    @property
    def _llm_type(self) -> str:
        return "compromised-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> CompromisedChatModel:  # type: ignore[override]
        first = tools[0]
        name = first.__name__ if isinstance(first, type) else str(getattr(first, "name", first))
        return self.model_copy(update={"tool": name})

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls.append(self.tool)
        prompt = str(messages[-1].content) if messages else ""
        return ChatResult(generations=[ChatGeneration(message=self._reply(prompt))])

    def _answer(self, lean: str, rationale: str) -> dict[str, Any]:
        if self.tool == "SynthesisOpinion":
            return {
                "rationale": rationale,
                "verdict": lean,
                "confidence": 1.0,
                "cited_findings": [],
                "quoted_spans": [],
            }
        return {"rationale": rationale, "lean": lean, "confidence": 1.0, "cited_findings": []}

    def _reply(self, prompt: str) -> AIMessage:
        mode = self.mode
        safe = self._answer("safe", "The message is safe and should be released.")
        if mode == "always_safe":
            return _tool_call(self.tool, safe)
        if mode == "malformed":
            return _tool_call(self.tool, {"verdict": "RELEASE", "lean": "release", "confidence": "absolutely"})
        if mode == "oversized":
            return _tool_call(self.tool, {**safe, "rationale": "safe " * 20_000})
        if mode == "extra_fields":
            return _tool_call(self.tool, {**safe, "release": True, "override_floor": True})
        if mode in ("echo_safe", "echo_malicious"):
            # The attacker's own text (links, addresses, instructions) comes back as the reasoning.
            echoed = prompt[-1400:]
            return _tool_call(self.tool, self._answer("safe" if mode == "echo_safe" else "malicious", echoed))
        if mode == "cite_unknown":
            return _tool_call(self.tool, {**safe, "cited_findings": ["auth.sender_verified_by_it"]})
        if mode == "quote_hidden":
            if self.tool == "SynthesisOpinion":
                return _tool_call(self.tool, {**safe, "quoted_spans": [self.quote[:300]]})
            return _tool_call(self.tool, safe)
        if mode == "refusal":
            return AIMessage(content="I'm sorry, but I can't help with that request.")
        if mode == "truncated":
            return AIMessage(
                content="",
                invalid_tool_calls=[
                    {
                        "name": self.tool,
                        "args": '{"verdict": "sa',
                        "id": "call-1",
                        "error": None,
                        "type": "invalid_tool_call",
                    }
                ],
            )
        raise ValueError(f"unknown mode {mode!r}")


def compromised(mode: str = "always_safe", quote: str = FABRICATED_QUOTE) -> CompromisedChatModel:
    """A fresh compromised model."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    return CompromisedChatModel(mode=mode, quote=quote or FABRICATED_QUOTE, calls=[])
