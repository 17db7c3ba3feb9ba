"""The deterministic release policy: verdict + floor + settings + request -> action.

Pure: no I/O, no model, no clock. Every path that is not explicitly a release is a refusal or
manual review, so an unexpected combination can never release.
"""

from __future__ import annotations

from policies.models import Action, Floor, PolicyDecision, ReleaseRequest, Verdict, VerdictLabel
from policies.settings import Settings


def _review(rule: str, reason: str) -> PolicyDecision:
    return PolicyDecision(action=Action.MANUAL_REVIEW, rule=rule, reason=reason)


def requester_in_scope(settings: Settings, request: ReleaseRequest) -> tuple[bool, str]:
    """Whether the requester may have requests answered automatically, and why not."""
    if settings.release_scope == "none":
        return False, "release scope is 'none'"
    if settings.release_scope == "all":
        return True, ""
    requester = (request.requester or "").strip().lower()
    if requester and requester in {u.strip().lower() for u in settings.eligible_users}:
        return True, ""
    groups = set(request.requester_groups or ())
    if groups & set(settings.eligible_groups):
        return True, ""
    if not requester:
        return False, "the requester is unknown"
    if request.requester_groups is None and settings.eligible_groups:
        return False, "the requester's group membership could not be resolved"
    return False, "the requester is not in the release scope"


def decide(
    *,
    verdict: Verdict | None,
    floor: Floor,
    settings: Settings,
    request: ReleaseRequest,
    errors: list[str] | None = None,
) -> PolicyDecision:
    """Map the analysis onto one of the policy's rules."""
    decision = _decide(verdict, floor, settings, request, errors or [])
    if settings.mode == "shadow":
        return decision.model_copy(update={"enforced": False})
    return decision


def _decide(
    verdict: Verdict | None, floor: Floor, settings: Settings, request: ReleaseRequest, errors: list[str]
) -> PolicyDecision:
    if not settings.enabled:
        return _review("review.disabled", "automatic release handling is turned off")
    in_scope, why = requester_in_scope(settings, request)
    if not in_scope:
        return _review("review.out_of_scope", why)
    if errors or verdict is None:
        detail = "; ".join(errors) if errors else "no verdict was produced"
        return _review("review.analysis_error", f"the analysis failed: {detail}")
    if verdict.verdict.rank < floor.min_verdict.rank:
        return _review(
            "review.floor_contradicted",
            f"the verdict '{verdict.verdict}' is below the evidence floor '{floor.min_verdict}' "
            f"({', '.join(floor.because)})",
        )
    if verdict.verdict is VerdictLabel.MALICIOUS:
        return PolicyDecision(
            action=Action.DENY, rule="deny.malicious", reason="the message is malicious", notify="malicious"
        )
    if verdict.verdict is VerdictLabel.SPAM and not settings.release_confirmed_spam:
        return PolicyDecision(
            action=Action.DENY,
            rule="deny.spam",
            reason="the message is spam and releasing confirmed spam is turned off",
            notify="spam",
        )
    # Only releases remain: safe, or spam with the toggle on.
    if floor.blocks_release:
        return _review("review.floor_blocks_release", "evidence forbids automatic release: " + ", ".join(floor.because))
    if verdict.confidence < settings.min_release_confidence:
        return _review(
            "review.low_confidence",
            f"confidence {verdict.confidence:.2f} is below {settings.min_release_confidence:.2f}",
        )
    if verdict.verdict is VerdictLabel.SPAM:
        return PolicyDecision(
            action=Action.RELEASE, rule="release.spam", reason="confirmed spam; releasing spam is allowed"
        )
    if verdict.verdict is VerdictLabel.SAFE:
        return PolicyDecision(action=Action.RELEASE, rule="release.safe", reason="the message is safe")
    return _review("review.unexpected", f"unexpected verdict {verdict.verdict!r}")  # pragma: no cover
