"""Runtime context: everything built from settings at the entry point and handed to nodes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from policies.settings import Settings

if TYPE_CHECKING:
    from agents.reasoner import Reasoner


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


#: Read-only lookup an analyst may use: (requester, sender address) -> a line of evidence or None.
SenderHistoryLookup = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True)
class Deps:
    """Dependencies of one graph run (LangGraph `context_schema`)."""

    settings: Settings
    reasoner: Reasoner
    clock: Callable[[], datetime] = utc_now
    verified_domains: frozenset[str] | None = None
    """The tenant's verified domains; None when no tenant is connected."""
    sender_history: SenderHistoryLookup | None = field(default=None)
