"""Read-only tenant lookups offered to agents as LangChain tools.

No tool here can release, deny or send: those run in code after the policy decision. Each tool is
bound to one request, so a model steered by a hostile email cannot point it at another mailbox:
`sender_history` always reads the requester's mailbox, and `user_profile` answers only for the
addresses the request involves (requester, recipients, the message's sender).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tools.m365.interfaces import DirectoryClient, TenantError, UserLookup

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

#: Names of the tools; a test pins that none of them can act.
READ_ONLY_TOOL_NAMES = frozenset({"sender_history", "user_profile"})


def build_lookup_tools(
    directory: DirectoryClient,
    users: UserLookup | None,
    *,
    requester: str,
    allowed_profiles: Iterable[str] = (),
) -> list[BaseTool]:
    """The read-only tools for one request.

    Args:
        directory: the Graph directory client (only `sender_history` is used).
        users: the user lookup, or None to offer no profile tool.
        requester: whose mailbox `sender_history` reads; fixed here, not chosen by the model.
        allowed_profiles: the addresses `user_profile` may answer for (the requester is always allowed).
    """
    from langchain_core.tools import StructuredTool

    owner = requester.strip().lower()
    allowed = {a.strip().lower() for a in allowed_profiles} | {owner}

    async def sender_history(sender: str) -> str:
        """How often and since when the requester has received mail from `sender` (metadata only)."""
        try:
            line = await directory.sender_history(owner, sender)
        except (TenantError, ValueError) as exc:
            return f"lookup unavailable: {type(exc).__name__}"
        return line or f"{owner} has no earlier mail from {sender.strip().lower()} (first contact)"

    tools: list[BaseTool] = [
        StructuredTool.from_function(
            coroutine=sender_history,
            name="sender_history",
            description=(
                "Read-only. Given the sender's email address, says whether the requester received mail from "
                "that sender before and how long ago. Cannot read message content."
            ),
        )
    ]
    if users is not None:

        async def user_profile(address: str) -> str:
            """Directory profile (name, title, department, enabled, member or guest) of a person in this request."""
            wanted = address.strip().lower()
            if wanted not in allowed:
                return "refused: only the people involved in this request can be looked up"
            try:
                profile = await users.user_profile(wanted)
            except (TenantError, ValueError) as exc:
                return f"lookup unavailable: {type(exc).__name__}"
            if profile is None:
                return f"{wanted} is not a user of this tenant"
            return profile.model_dump_json()

        tools.append(
            StructuredTool.from_function(
                coroutine=user_profile,
                name="user_profile",
                description=(
                    "Read-only. Directory profile of the requester, a recipient or the sender of this message: "
                    "display name, job title, department, whether the account is enabled, member or guest."
                ),
            )
        )
    return tools
