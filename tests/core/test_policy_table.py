"""The release policy's decision table, over every combination of its inputs."""

from __future__ import annotations

import itertools

import pytest

from policies.models import Action, Floor, ReleaseRequest, Verdict, VerdictLabel
from policies.release_policy import decide
from policies.settings import load_settings

REQUESTER = "alexw@contoso.com"
GROUP = "4f0c7a4e-0000-4000-8000-000000000001"

FLOORS = {
    "none": Floor(),
    "blocks": Floor(blocks_release=True, because=["content.hidden_text"]),
    "spam": Floor(min_verdict=VerdictLabel.SPAM, blocks_release=True, because=["m365.cat_phish"]),
    "malicious": Floor(min_verdict=VerdictLabel.MALICIOUS, blocks_release=True, because=["attachment.executable"]),
}
SCOPES = {
    "none": {"release_scope": "none"},
    "all": {"release_scope": "all"},
    "specific-user": {"release_scope": "specific", "eligible_users": [REQUESTER]},
    "specific-group": {"release_scope": "specific", "eligible_groups": [GROUP]},
    "specific-other": {"release_scope": "specific", "eligible_users": ["someone@contoso.com"]},
}


def _expected(verdict: str, conf: float, floor: str, toggle: bool, enabled: bool, scope: str, error: bool) -> str:
    """The decision table of issue 2, written out independently of the implementation."""
    if not enabled:
        return "review.disabled"
    if scope in ("none", "specific-other"):
        return "review.out_of_scope"
    if error:
        return "review.analysis_error"
    ranks = {"safe": 0, "spam": 1, "malicious": 2}
    if ranks[verdict] < ranks[FLOORS[floor].min_verdict.value]:
        return "review.floor_contradicted"
    if verdict == "malicious":
        return "deny.malicious"
    if verdict == "spam" and not toggle:
        return "deny.spam"
    if FLOORS[floor].blocks_release:
        return "review.floor_blocks_release"
    if conf < 0.8:
        return "review.low_confidence"
    return "release.spam" if verdict == "spam" else "release.safe"


CASES = list(
    itertools.product(
        ["safe", "spam", "malicious"],
        [0.5, 0.95],
        list(FLOORS),
        [True, False],  # release_confirmed_spam
        [True, False],  # enabled
        list(SCOPES),
        [False, True],  # analysis error
        ["enforce", "shadow"],
    )
)


@pytest.mark.parametrize(("verdict", "conf", "floor", "toggle", "enabled", "scope", "error", "mode"), CASES)
def test_decision_table(
    verdict: str, conf: float, floor: str, toggle: bool, enabled: bool, scope: str, error: bool, mode: str
) -> None:
    settings = load_settings(
        enabled=enabled, release_confirmed_spam=toggle, mode=mode, min_release_confidence=0.8, **SCOPES[scope]
    )
    request = ReleaseRequest(requester=REQUESTER, requester_groups=[GROUP] if scope == "specific-group" else [])
    decision = decide(
        verdict=Verdict(verdict=VerdictLabel(verdict), confidence=conf, reasoning="r"),
        floor=FLOORS[floor],
        settings=settings,
        request=request,
        errors=["boom"] if error else [],
    )
    assert decision.rule == _expected(verdict, conf, floor, toggle, enabled, scope, error)
    assert decision.enforced is (mode == "enforce")
    # The invariant that matters most: nothing malicious or floored is ever released.
    if decision.action is Action.RELEASE:
        assert verdict != "malicious"
        assert not FLOORS[floor].blocks_release
        assert FLOORS[floor].min_verdict is VerdictLabel.SAFE
        assert conf >= 0.8 and enabled and not error
    notify = {"deny.malicious": "malicious", "deny.spam": "spam"}.get(decision.rule, "none")
    assert decision.notify == notify


def test_missing_verdict_is_manual_review() -> None:
    decision = decide(
        verdict=None, floor=Floor(), settings=load_settings(), request=ReleaseRequest(requester=REQUESTER)
    )
    assert decision.action is Action.MANUAL_REVIEW
    assert decision.rule == "review.analysis_error"


def test_specific_scope_with_unresolved_groups_names_the_reason() -> None:
    settings = load_settings(release_scope="specific", eligible_groups=[GROUP])
    decision = decide(
        verdict=Verdict(verdict=VerdictLabel.SAFE, confidence=0.99, reasoning="r"),
        floor=Floor(),
        settings=settings,
        request=ReleaseRequest(requester=REQUESTER, requester_groups=None),
    )
    assert decision.rule == "review.out_of_scope"
    assert "could not be resolved" in decision.reason


def test_eligible_user_match_ignores_case() -> None:
    settings = load_settings(release_scope="specific", eligible_users=["AlexW@Contoso.com"])
    decision = decide(
        verdict=Verdict(verdict=VerdictLabel.SAFE, confidence=0.99, reasoning="r"),
        floor=Floor(),
        settings=settings,
        request=ReleaseRequest(requester=REQUESTER),
    )
    assert decision.rule == "release.safe"
