"""The model reasoner through the whole graph, with a scripted fake chat model."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage

from agents.llm_reasoner import LLMReasoner
from graph.context import Deps
from graph.runner import triage
from graph.state import TriageResult
from policies.models import Action, ReleaseRequest, VerdictLabel
from policies.settings import Settings, load_settings
from tests.conftest import sample
from tests.fakes import ScriptedChatModel, analyst, scripted, synthesis, tool_reply

REQ = ReleaseRequest(requester="alexw@contoso.com")


@pytest.fixture
def llm_settings() -> Settings:
    return load_settings(mode="enforce", reasoner={"kind": "openai", "timeout_seconds": 0.5})


def run(model: ScriptedChatModel, settings: Settings, name: str = "legit-invoice.eml") -> TriageResult:
    deps = Deps(settings=settings, reasoner=LLMReasoner(model, settings.reasoner))
    return asyncio.run(triage(sample(name), REQ, deps))


def test_valid_answers_release_a_safe_message_and_record_usage(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("safe", 0.95))
    result = run(model, llm_settings)
    assert result.verdict is VerdictLabel.SAFE
    assert result.decision.rule == "release.safe"
    assert result.reasoner == "llm" and result.model_id == "openai:gpt-4.1-mini"
    assert sorted(u.node for u in result.usage) == ["header_analyst", "url_attachment_analyst", "verdict_synthesizer"]
    assert sum(u.input_tokens for u in result.usage) == 360
    assert all(len(u.prompt_sha256) == 64 for u in result.usage)


def test_untrusted_text_is_inside_random_delimiters_and_labeled_as_data(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("safe", 0.95))
    run(model, llm_settings)
    system, user = model.seen[0][0].content, model.seen[0][1].content
    assert isinstance(system, str) and isinstance(user, str)
    marker = user.split("<<", 1)[1].split(">>", 1)[0]
    assert marker.startswith("QRELEASE-UNTRUSTED-") and len(marker) > 30
    assert f"<</{marker}>>" in user
    assert "DATA" in system and marker in system
    assert "Maria Lopez" not in system  # no email text in the system prompt
    # Each request gets a new delimiter.
    markers = {m[1].content.split("<<", 1)[1].split(">>", 1)[0] for m in model.seen}  # type: ignore[union-attr]
    assert len(markers) == 3


def test_one_invalid_answer_is_retried(llm_settings: Settings) -> None:
    bad = tool_reply("AnalystOpinion", {"lean": "definitely-safe", "confidence": 7})
    model = scripted(bad, analyst(), analyst(), synthesis("safe", 0.95))
    result = run(model, llm_settings)
    assert result.decision.rule == "release.safe"


def test_two_invalid_answers_mean_manual_review(llm_settings: Settings) -> None:
    bad = tool_reply("AnalystOpinion", {"rationale": "x", "lean": "safe", "confidence": 1.0, "extra": "field"})
    model = scripted(bad, repeat=True)
    result = run(model, llm_settings)
    assert result.decision.action is Action.MANUAL_REVIEW
    assert result.decision.rule == "review.analysis_error"
    assert any("after one retry" in e for e in result.errors)


def test_plain_text_answer_without_tool_call_is_invalid(llm_settings: Settings) -> None:
    model = scripted(AIMessage(content='{"verdict": "safe"}'), repeat=True)
    result = run(model, llm_settings)
    assert result.decision.action is Action.MANUAL_REVIEW


def test_timeout_means_manual_review(llm_settings: Settings) -> None:
    model = scripted(analyst(), repeat=True, delay=2.0)
    result = run(model, llm_settings)
    assert result.decision.action is Action.MANUAL_REVIEW
    assert any("timed out" in e for e in result.errors)


def test_model_saying_safe_over_a_floor_goes_to_review(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("safe", 1.0))
    result = run(model, llm_settings, "dangerous-attachment.eml")
    assert result.verdict is VerdictLabel.SAFE
    assert result.decision.rule == "review.floor_contradicted"
    assert result.decision.action is Action.MANUAL_REVIEW


def test_citing_a_finding_that_does_not_exist_means_review(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("safe", 0.99, cited=["auth.verified_by_ceo"]))
    result = run(model, llm_settings)
    assert result.decision.rule == "review.analysis_error"
    assert any("do not exist" in e for e in result.errors)


def test_quoting_text_the_reader_cannot_see_means_review(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("safe", 0.99, quotes=["this sender is pre-approved"]))
    result = run(model, llm_settings)
    assert result.decision.rule == "review.analysis_error"


def test_a_verbatim_quote_is_accepted(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("safe", 0.99, quotes=["Migration runbook review: 3 days"]))
    assert run(model, llm_settings).decision.rule == "release.safe"


def test_insufficient_evidence_means_review(llm_settings: Settings) -> None:
    model = scripted(analyst(), analyst(), synthesis("insufficient_evidence", 0.3))
    assert run(model, llm_settings).decision.rule == "review.analysis_error"


def test_malicious_reasoning_reaches_the_employee_sanitized(llm_settings: Settings) -> None:
    rationale = "Credential phish. See <b>https://evil.example/x</b> and write to boss@evil.example [here](http://x.io)"
    model = scripted(analyst("malicious"), analyst("malicious"), synthesis("malicious", 0.97, rationale=rationale))
    result = run(model, llm_settings, "credential-phish.eml")
    assert result.decision.rule == "deny.malicious"
    assert result.notification is not None
    body = result.notification.body
    assert "Credential phish" in body
    for leaked in ("https://", "evil.example", "boss@", "<b>", "](", "x.io"):
        assert leaked not in body


def test_provider_error_means_review(llm_settings: Settings) -> None:
    class Exploding(ScriptedChatModel):
        async def _agenerate(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def, override]
            raise ConnectionError("provider down")

    result = run(Exploding(messages=iter([]), seen=[]), llm_settings)
    assert result.decision.action is Action.MANUAL_REVIEW
    assert any("ConnectionError" in e for e in result.errors)


def test_build_reasoner_needs_no_network_and_picks_the_provider() -> None:
    from agents.reasoner import build_reasoner

    for cfg, expected in [
        ({"kind": "openai", "api_key": "sk-x"}, "ChatOpenAI"),
        ({"kind": "openai-compatible", "base_url": "http://127.0.0.1:11434/v1", "model": "llama3.1"}, "ChatOpenAI"),
        (
            {
                "kind": "azure-openai",
                "api_key": "k",
                "azure_endpoint": "https://x.openai.azure.com",
                "azure_deployment": "d",
            },
            "AzureChatOpenAI",
        ),
    ]:
        reasoner = build_reasoner(load_settings(reasoner=cfg))
        assert isinstance(reasoner, LLMReasoner)
        assert type(reasoner._model).__name__ == expected


def test_model_safe_needs_the_scorer_to_agree(llm_settings: Settings) -> None:
    # The scorer calls the marketing mail spam: a model's "safe" alone must not release it.
    model = scripted(analyst(), analyst(), synthesis("safe", 1.0))
    result = run(model, llm_settings, "marketing-spam.eml")
    assert result.verdict is VerdictLabel.SAFE
    assert result.decision.rule == "review.floor_blocks_release"
    assert "scorer.spam" in result.floor.because


def test_two_keys_can_be_turned_off_by_the_admin(llm_settings: Settings) -> None:
    relaxed = llm_settings.model_copy(update={"model_release_needs_scorer": False})
    model = scripted(analyst(), analyst(), synthesis("safe", 1.0))
    result = run(model, relaxed, "marketing-spam.eml")
    assert not any(b.startswith("scorer.") for b in result.floor.because)
    assert result.decision.action is Action.RELEASE
