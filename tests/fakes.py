"""Test doubles: a scripted chat model that answers through tool calls (structured output)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult


class ScriptedChatModel(GenericFakeChatModel):
    """Plays scripted replies in order; `bind_tools` is a no-op so structured output parses tool calls.

    `seen` records every prompt sent, so tests can assert on what the model was shown.
    """

    seen: list[list[BaseMessage]] = []
    delay: float = 0.0

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super()._agenerate(messages, *args, **kwargs)


def tool_reply(name: str, args: dict[str, Any], tokens: tuple[int, int] = (120, 40)) -> AIMessage:
    """An assistant message that calls the structured-output tool `name` with `args`."""
    return AIMessage(
        content="",
        tool_calls=[{"name": name, "args": args, "id": "call-1", "type": "tool_call"}],
        usage_metadata={"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)},
    )


def scripted(*replies: AIMessage, repeat: bool = False, delay: float = 0.0) -> ScriptedChatModel:
    """A fresh model playing `replies` (cycled forever when `repeat`)."""
    it: Iterator[AIMessage] = itertools.cycle(replies) if repeat else iter(replies)
    return ScriptedChatModel(messages=it, seen=[], delay=delay)


def analyst(lean: str = "safe", confidence: float = 0.9, cited: list[str] | None = None) -> AIMessage:
    """A valid AnalystOpinion reply."""
    return tool_reply(
        "AnalystOpinion",
        {"rationale": f"Looks {lean}.", "lean": lean, "confidence": confidence, "cited_findings": cited or []},
    )


def synthesis(
    verdict: str = "safe",
    confidence: float = 0.95,
    cited: list[str] | None = None,
    quotes: list[str] | None = None,
    rationale: str | None = None,
) -> AIMessage:
    """A valid SynthesisOpinion reply."""
    return tool_reply(
        "SynthesisOpinion",
        {
            "rationale": rationale or f"The message is {verdict}.",
            "verdict": verdict,
            "confidence": confidence,
            "cited_findings": cited or [],
            "quoted_spans": quotes or [],
        },
    )
