"""A checkpointed run resumes faithfully: attachment bytes survive, and damage fails closed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graph.builder import build_graph
from graph.checkpointing import serializer
from graph.context import Deps
from graph.runner import triage
from policies.models import Action, ReleaseRequest, VerdictLabel
from tests.conftest import sample
from tools.models import Attachment, ParsedMessage

REQ = ReleaseRequest(requester="alexw@contoso.com")


def test_attachment_bytes_survive_serialization() -> None:
    serde = serializer()
    msg = ParsedMessage(attachments=[Attachment(filename="a.exe", data=b"MZ\x90\x00", sha256="x")])
    restored = serde.loads_typed(serde.dumps_typed(msg))
    assert isinstance(restored, ParsedMessage)
    assert restored.attachments[0].data == b"MZ\x90\x00"


def test_checkpointed_run_matches_plain_run(offline_deps: Deps) -> None:
    graph = build_graph(checkpointer=InMemorySaver(serde=serializer()))
    config = {"configurable": {"thread_id": "req-1"}}
    checkpointed = asyncio.run(
        triage(sample("dangerous-attachment.eml"), REQ, offline_deps, graph=graph, config=config)
    )
    plain = asyncio.run(triage(sample("dangerous-attachment.eml"), REQ, offline_deps))
    assert checkpointed.verdict is VerdictLabel.MALICIOUS
    assert checkpointed.model_dump() == plain.model_dump()


def _stopped_after_parse(saver: InMemorySaver, name: str, config: dict[str, Any], deps: Deps) -> Any:
    """A checkpointed graph whose run on `name` stopped after parse, as a crash there would."""
    graph = build_graph(checkpointer=saver)
    asyncio.run(graph.ainvoke({"raw": sample(name), "request": REQ}, config, context=deps, interrupt_after=["parse"]))
    return graph


def test_resume_after_interrupt_keeps_attachment_evidence(offline_deps: Deps) -> None:
    saver = InMemorySaver(serde=serializer())
    config = {"configurable": {"thread_id": "req-2"}}
    interrupted = _stopped_after_parse(saver, "dangerous-attachment.eml", config, offline_deps)
    assert "analyze_urls_attachments" in interrupted.get_state(config).next  # really stopped mid-run
    resumed = build_graph(checkpointer=saver)
    out = asyncio.run(resumed.ainvoke(None, config, context=offline_deps))
    result = out["result"]
    assert result.decision.action is Action.DENY
    assert any(f.id == "attachment.archive_dangerous_member" for f in result.evidence)


def test_attachment_bytes_lost_in_state_fail_closed(offline_deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents import url_attachment_analyst
    from tools import mime

    real = mime.parse_message

    def lossy(raw: bytes, limits: object = None) -> ParsedMessage:
        msg = real(raw, limits)  # type: ignore[arg-type]
        for att in msg.attachments:
            att.data = b""
        return msg

    monkeypatch.setattr("agents.parser.parse_message", lossy)
    result = asyncio.run(triage(sample("dangerous-attachment.eml"), REQ, offline_deps))
    assert result.decision.action is Action.MANUAL_REVIEW
    assert any("does not match its hash" in e for e in result.errors)
    assert url_attachment_analyst  # the guard lives in this node


def test_runner_resume_finishes_an_interrupted_run_and_fails_closed_on_errors(offline_deps: Deps) -> None:
    from graph.runner import resume

    saver = InMemorySaver(serde=serializer())
    config = {"configurable": {"thread_id": "req-3"}}
    graph = _stopped_after_parse(saver, "credential-phish.eml", config, offline_deps)
    result = asyncio.run(resume(offline_deps, graph=graph, config=config, durability="sync"))
    assert result.decision.rule == "deny.malicious"

    class Broken:
        async def ainvoke(self, *args: object, **kwargs: object) -> object:
            raise OSError("checkpoint store unreachable")

    failed = asyncio.run(resume(offline_deps, graph=Broken(), config=config))
    assert failed.decision.action is Action.MANUAL_REVIEW
    assert "resuming triage" in failed.errors[0]
