"""The policy's vocabulary: the request, verdicts, actions, decisions and notifications."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VerdictLabel(StrEnum):
    """What the analysis concludes the message is, ordered by severity."""

    SAFE = "safe"
    SPAM = "spam"
    MALICIOUS = "malicious"

    @property
    def rank(self) -> int:
        """Severity order: safe < spam < malicious."""
        return _RANK[self]


_RANK = {VerdictLabel.SAFE: 0, VerdictLabel.SPAM: 1, VerdictLabel.MALICIOUS: 2}


class QuarantineType(StrEnum):
    """Microsoft's quarantine reasons (the `QuarantineTypes` values of Get-QuarantineMessage)."""

    SPAM = "Spam"
    HIGH_CONFIDENCE_SPAM = "HighConfSpam"
    BULK = "Bulk"
    PHISH = "Phish"
    HIGH_CONFIDENCE_PHISH = "HighConfPhish"
    MALWARE = "Malware"
    SPOOF = "Spoof"
    TRANSPORT_RULE = "TransportRule"
    FILE_TYPE_BLOCK = "FileTypeBlock"
    SAFE_ATTACHMENT = "SPOMalware"
    OTHER = "Other"


class ReleaseRequest(BaseModel):
    """An employee's request to release one quarantined message."""

    requester: str | None = None
    """Address of the employee who asked for the release."""
    recipient: str | None = None
    quarantine_type: QuarantineType | None = None
    quarantine_identity: str | None = None
    requester_groups: list[str] | None = None
    """Ids of the scope groups the requester is a member of; None when not resolved."""


class Verdict(BaseModel):
    """The synthesizer's conclusion."""

    model_config = ConfigDict(frozen=True)

    verdict: VerdictLabel
    confidence: float = Field(ge=0.0, le=1.0)
    reasoning: str


class Action(StrEnum):
    """What the product does with the request."""

    RELEASE = "release"
    DENY = "deny"
    MANUAL_REVIEW = "manual_review"


class Floor(BaseModel):
    """The evidence floor that the model cannot override."""

    model_config = ConfigDict(frozen=True)

    min_verdict: VerdictLabel = VerdictLabel.SAFE
    """The verdict may not be below this."""
    blocks_release: bool = False
    """No automatic release whatever the verdict."""
    because: list[str] = Field(default_factory=list)
    """Finding ids that set the floor."""


class PolicyDecision(BaseModel):
    """The deterministic policy's decision and the rule that produced it."""

    model_config = ConfigDict(frozen=True)

    action: Action
    rule: str
    """Id of the rule that fired, e.g. `release.safe` or `review.low_confidence`."""
    reason: str
    notify: Literal["none", "spam", "malicious"] = "none"
    enforced: bool = True
    """False in shadow mode: recorded, never acted on."""


class Notification(BaseModel):
    """The email to the requester, composed from a template."""

    to: str
    from_address: str
    from_name: str
    subject: str
    body: str
    kind: Literal["spam", "malicious"]
