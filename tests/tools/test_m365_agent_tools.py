"""The read-only LangChain tools: bound to the request, unable to act, failing soft."""

from __future__ import annotations

import asyncio

from tools.m365.agent_tools import READ_ONLY_TOOL_NAMES, build_lookup_tools
from tools.m365.interfaces import TransientTenantError, UserProfile


class FakeDirectory:
    """Records lookups; has the acting methods too, so a test can prove tools never reach them."""

    def __init__(self) -> None:
        self.history_calls: list[tuple[str, str]] = []
        self.profile_calls: list[str] = []
        self.acted = False
        self.fail = False

    async def sender_history(self, user: str, sender: str) -> str | None:
        self.history_calls.append((user, sender))
        if self.fail:
            raise TransientTenantError("GET /users/{id}/messages timed out")
        return f"{user} has 2 earlier message(s) from {sender}" if "fabrikam" in sender else None

    async def user_profile(self, address: str) -> UserProfile | None:
        self.profile_calls.append(address)
        return UserProfile(address=address, display_name="Alex Wilber") if address.startswith("alexw") else None

    async def send_mail(self, *args: object) -> None:
        self.acted = True

    async def member_of(self, user: str, group_ids: list[str]) -> list[str]:
        return []

    async def verified_domains(self) -> frozenset[str]:
        return frozenset()

    async def sent_with_marker(self, sender: str, marker: str) -> bool:
        return False


def _tools(directory: FakeDirectory):  # type: ignore[no-untyped-def]
    tools = build_lookup_tools(
        directory, directory, requester="AlexW@contoso.com", allowed_profiles=["invoices@fabrikam.com"]
    )
    return {t.name: t for t in tools}


def test_only_read_only_tools_exist() -> None:
    tools = _tools(FakeDirectory())
    assert set(tools) == READ_ONLY_TOOL_NAMES
    for tool in tools.values():
        assert tool.description.startswith("Read-only.")
        assert not set(tool.name.split("_")) & {"release", "deny", "send", "delete", "forward", "approve", "mail"}


def test_sender_history_always_reads_the_requesters_mailbox() -> None:
    directory = FakeDirectory()
    tools = _tools(directory)
    # Only `sender` is a parameter: the model cannot choose whose mailbox is read.
    assert set(tools["sender_history"].args) == {"sender"}
    out = asyncio.run(tools["sender_history"].ainvoke({"sender": "invoices@fabrikam.com"}))
    assert out == "alexw@contoso.com has 2 earlier message(s) from invoices@fabrikam.com"
    assert directory.history_calls == [("alexw@contoso.com", "invoices@fabrikam.com")]
    assert not directory.acted


def test_user_profile_answers_only_for_people_in_the_request() -> None:
    directory = FakeDirectory()
    tools = _tools(directory)
    refused = asyncio.run(tools["user_profile"].ainvoke({"address": "ceo@contoso.com"}))
    assert refused.startswith("refused")
    assert directory.profile_calls == []
    found = asyncio.run(tools["user_profile"].ainvoke({"address": "ALEXW@contoso.com"}))
    assert '"display_name":"Alex Wilber"' in found
    unknown = asyncio.run(tools["user_profile"].ainvoke({"address": "invoices@fabrikam.com"}))
    assert unknown == "invoices@fabrikam.com is not a user of this tenant"


def test_first_contact_is_said_plainly() -> None:
    out = asyncio.run(_tools(FakeDirectory())["sender_history"].ainvoke({"sender": "New@Northwind.example.com"}))
    assert out == "alexw@contoso.com has no earlier mail from new@northwind.example.com (first contact)"


def test_a_failed_lookup_is_reported_not_raised() -> None:
    directory = FakeDirectory()
    directory.fail = True
    out = asyncio.run(_tools(directory)["sender_history"].ainvoke({"sender": "invoices@fabrikam.com"}))
    assert out == "lookup unavailable: TransientTenantError"


def test_no_profile_tool_without_a_user_lookup() -> None:
    tools = build_lookup_tools(FakeDirectory(), None, requester="alexw@contoso.com")
    assert [t.name for t in tools] == ["sender_history"]
