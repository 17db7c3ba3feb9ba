"""Prompt templates render with exactly their variables; our top-level names are ours alone."""

from __future__ import annotations

from importlib.metadata import packages_distributions

import pytest

import prompts

EXPECTED_VARIABLES = {
    "system": {"delimiter"},
    "header_analyst": {"delimiter", "findings", "headers"},
    "url_attachment_analyst": {"delimiter", "findings", "links", "attachments", "visible_text"},
    "verdict_synthesizer": {
        "delimiter", "floor", "header_lean", "header_confidence", "header_summary",
        "url_lean", "url_confidence", "url_summary", "findings", "visible_text",
    },
    "notify_malicious": {"subject", "findings", "reasoning", "sender_name", "reference"},
    "notify_spam": {"subject", "findings", "reasoning", "sender_name", "reference"},
}  # fmt: skip


def test_every_shipped_prompt_is_covered() -> None:
    assert set(prompts.names()) == set(EXPECTED_VARIABLES)


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_prompt_renders_with_its_variables(name: str) -> None:
    assert prompts.variables(name) == EXPECTED_VARIABLES[name]
    values = {v: f"<<{v.upper()}-VALUE>>" for v in EXPECTED_VARIABLES[name]}
    text = prompts.render(name, **values)
    for value in values.values():
        assert value in text
    assert "{" not in text.replace("{{", "")  # no slot left unfilled


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_missing_or_extra_variables_are_errors(name: str) -> None:
    values = dict.fromkeys(EXPECTED_VARIABLES[name], "x")
    with pytest.raises(prompts.PromptError):
        prompts.render(name, **{**values, "unexpected": "y"})
    values.pop(sorted(values)[0])
    with pytest.raises(prompts.PromptError):
        prompts.render(name, **values)


def test_prompt_hashes_are_stable_and_distinct() -> None:
    hashes = {prompts.prompt_sha256(n) for n in EXPECTED_VARIABLES}
    assert len(hashes) == len(EXPECTED_VARIABLES)
    assert prompts.prompt_sha256("system") == prompts.prompt_sha256("system")


def test_unknown_prompt_is_a_clear_error() -> None:
    with pytest.raises(prompts.PromptError, match="no prompt named"):
        prompts.load("does_not_exist")


@pytest.mark.parametrize("name", ["agents", "graph", "tools", "policies", "prompts", "evals", "qrelease"])
def test_no_other_distribution_provides_our_top_level_packages(name: str) -> None:
    # openai-agents ships a top-level `agents`; installing it beside us would shadow or merge our package.
    owners = set(packages_distributions().get(name, [])) - {"quarantine-release", "quarantine_release"}
    assert not owners, f"{name!r} is also provided by {sorted(owners)}"


def test_importing_the_packages_builds_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agents.reasoner, graph.builder, policies.settings, qrelease.cli;"
        "heavy=[m for m in ('langchain_openai','openai','msgraph','azure.identity','tldextract') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
