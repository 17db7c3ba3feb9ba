"""The tenant interfaces the worker depends on; real adapters and the fake tenant implement them.

Read-only lookups may be offered to agents as tools. Release, deny and send are called only by
the worker's executor after the policy decision, never by a model.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from policies.models import QuarantineType


class TenantError(Exception):
    """A tenant call failed; `permanent` errors (401/403/400) must not be retried blindly."""

    def __init__(self, message: str, *, status: int | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.permanent = permanent


class ReleaseStatus(StrEnum):
    """Release state of a quarantined message as Exchange reports it."""

    REQUESTED = "Requested"
    RELEASED = "Released"
    DENIED = "Denied"
    NOT_RELEASED = "NotReleased"
    EXPIRED = "Expired"
    NOT_FOUND = "NotFound"
    PREPARING = "PreparingToRelease"
    ERROR = "Error"

    @property
    def terminal(self) -> bool:
        """Nothing more can be done for a request in this state."""
        return self in {
            ReleaseStatus.RELEASED,
            ReleaseStatus.DENIED,
            ReleaseStatus.EXPIRED,
            ReleaseStatus.NOT_FOUND,
        }


class QuarantinedMessage(BaseModel):
    """One row of Get-QuarantineMessage (the fields the product uses)."""

    identity: str
    """`Identity` (`<guid>\\<guid>`), the key of every other cmdlet."""
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    recipients: list[str] = Field(default_factory=list)
    received: datetime | None = None
    expires: datetime | None = None
    quarantine_type: QuarantineType | None = None
    release_status: ReleaseStatus = ReleaseStatus.REQUESTED
    requester: str | None = None
    """Who asked for the release, when known (audit log or single recipient)."""


class QuarantineClient(Protocol):
    """Exchange Online quarantine operations."""

    async def list_release_requests(self) -> list[QuarantinedMessage]:
        """All messages whose release was requested (every page)."""
        ...

    async def export_message(self, identity: str) -> bytes:
        """The full message as RFC 822 bytes (Export-QuarantineMessage)."""
        ...

    async def get_message(self, identity: str) -> QuarantinedMessage:
        """Re-read one message's current state."""
        ...

    async def release(self, identity: str, user: str) -> None:
        """Release to one recipient (Release-QuarantineMessage -User). Not idempotent: re-read first."""
        ...

    async def deny(self, identity: str) -> None:
        """Deny the release request (Release-QuarantineMessage -ActionType Deny)."""
        ...


class DirectoryClient(Protocol):
    """Microsoft Graph lookups and the notification mail."""

    async def member_of(self, user: str, group_ids: list[str]) -> list[str]:
        """Which of `group_ids` the user is a transitive member of (checkMemberGroups)."""
        ...

    async def verified_domains(self) -> frozenset[str]:
        """The tenant's verified domains."""
        ...

    async def send_mail(self, sender: str, to: str, subject: str, body: str, marker: str) -> None:
        """Send a plain-text mail from `sender`; `marker` goes into a custom header for reconciliation."""
        ...

    async def sent_with_marker(self, sender: str, marker: str) -> bool:
        """Whether a mail carrying `marker` is already in the sender's Sent Items."""
        ...

    async def sender_history(self, user: str, sender: str) -> str | None:
        """A line of evidence on earlier mail from `sender` in `user`'s mailbox, or None."""
        ...


# --- Extensions (new names only; the names above stay stable for the worker and the fake tenant) ---


class TransientTenantError(TenantError):
    """Throttled (429/503), a 5xx, a timeout or a dropped connection: a read may be retried later."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status, permanent=False)
        self.retry_after = retry_after


class TenantPermissionError(TenantError):
    """401/403: the app lacks a credential, a permission or a role; the message names which."""

    def __init__(self, message: str, *, status: int | None = None, permission: str = "") -> None:
        super().__init__(message, status=status, permanent=True)
        self.permission = permission


class TenantNotFound(TenantError):
    """404 or "cannot find an object": the user, mailbox or quarantined message does not exist (any more)."""

    def __init__(self, message: str, *, status: int | None = 404) -> None:
        super().__init__(message, status=status, permanent=True)


class QuarantineStateError(TenantError):
    """Release or deny is impossible because the message reached another terminal state first.

    Not a failure of the call: the worker closes the request with `state` instead of retrying.
    """

    def __init__(self, message: str, *, state: ReleaseStatus) -> None:
        super().__init__(message, status=None, permanent=True)
        self.state = state


class UserProfile(BaseModel):
    """The few directory fields an analyst may see about a person (read-only lookup)."""

    address: str
    display_name: str = ""
    job_title: str = ""
    department: str = ""
    account_enabled: bool | None = None
    user_type: str = ""
    """`Member` or `Guest`."""


class UserLookup(Protocol):
    """Read-only directory lookup offered to agents next to `DirectoryClient.sender_history`."""

    async def user_profile(self, address: str) -> UserProfile | None:
        """The person's profile, or None when the address is not a user of the tenant."""
        ...
