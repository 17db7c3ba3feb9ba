"""`qrelease tenant ...`: operator commands against the Microsoft 365 tenant, and the tenant side of
`qrelease analyze --quarantine-id`. Everything here is read-only: no release, deny or real mail.

Exit codes of `tenant check`: 0 every check passed; 1 at least one check failed; 2 no tenant configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from policies.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

    from tools.m365.factory import TenantClients
    from tools.m365.interfaces import QuarantinedMessage

tenant_app = typer.Typer(help="Check the Microsoft 365 tenant connection and permissions.", no_args_is_help=True)

#: The group id used to exercise checkMemberGroups when no scope group is configured.
_ZERO_GROUP = "00000000-0000-0000-0000-000000000000"
#: Cmdlets the worker runs; all must be allowed by the app's Exchange role.
REQUIRED_CMDLETS = ("Get-QuarantineMessage", "Export-QuarantineMessage", "Release-QuarantineMessage")


class TenantCommandError(Exception):
    """A tenant command cannot run; `code` is the CLI exit code (2 configuration, 1 tenant failure)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class CheckResult:
    """One row of the `tenant check` table."""

    name: str
    passed: bool | None
    """None: skipped."""
    detail: str
    fix: str = ""


async def run_checks(settings: Settings, credential: AsyncTokenCredential | None = None) -> list[CheckResult]:
    """Every permission check, in order; a failing check never stops the others.

    Raises:
        TenantConfigError: the tenant settings are incomplete (nothing was called).
    """
    from tools.m365.credentials import EXCHANGE_SCOPE, GRAPH_SCOPE
    from tools.m365.factory import connect

    results: list[CheckResult] = []
    async with connect(settings, credential) as tenant:
        for scope, name in ((GRAPH_SCOPE, "Graph token"), (EXCHANGE_SCOPE, "Exchange Online token")):
            results.append(
                await _check(
                    name,
                    _token(tenant, scope),
                    "Check tenant_id, client_id and the certificate (or secret); the certificate must be uploaded "
                    "to the app registration.",
                )
            )
        results.extend(await _exchange_checks(tenant))
        results.extend(await _graph_checks(tenant, settings))
    return results


async def _token(tenant: TenantClients, scope: str) -> str:
    await tenant.credential.get_token(scope)
    return "token acquired"


async def _exchange_checks(tenant: TenantClients) -> list[CheckResult]:
    fix_role = (
        "Grant Exchange.ManageAsApp (Office 365 Exchange Online, application) with admin consent, and give the "
        "service principal a role that runs the quarantine cmdlets (docs/m365-setup.md, step 4)."
    )

    async def read() -> str:
        rows = await tenant.quarantine.invoke("Get-QuarantineMessage", {"PageSize": 1, "Page": 1})
        return f"Get-QuarantineMessage answered ({len(rows)} row(s))"

    async def cmdlets() -> str:
        allowed = await tenant.quarantine.available_cmdlets()
        missing = [c for c in REQUIRED_CMDLETS if c not in allowed]
        if missing:
            raise AssertionError("not allowed: " + ", ".join(missing))
        return "allowed: " + ", ".join(REQUIRED_CMDLETS)

    return [
        await _check("Exchange quarantine read", read(), fix_role),
        await _check("Exchange quarantine cmdlets (export, release)", cmdlets(), fix_role),
    ]


async def _graph_checks(tenant: TenantClients, settings: Settings) -> list[CheckResult]:
    directory = tenant.directory
    sender = str(settings.sender_mailbox).lower()
    fallback = str(settings.default_sender_mailbox).lower()
    results: list[CheckResult] = []

    async def domains() -> str:
        verified = await directory.verified_domains()
        domain = sender.rpartition("@")[2]
        note = "" if domain in verified else f"; {domain} is NOT verified: notifications will come from {fallback}"
        return f"{len(verified)} verified domain(s){note}"

    async def user() -> str:
        profile = await directory.user_profile(sender)
        if profile is None:
            raise AssertionError(f"{sender} is not a user of this tenant")
        return f"{sender} found"

    async def groups() -> str:
        ids = list(settings.eligible_groups) or [_ZERO_GROUP]
        hits = await directory.member_of(sender, ids)
        return f"checkMemberGroups answered for {len(ids)} group(s) ({len(hits)} hit(s))"

    async def sent_items() -> str:
        await directory.sent_with_marker(sender, "qrelease-tenant-check")
        return f"Sent Items of {sender} searchable"

    async def can_send(mailbox: str) -> str:
        if not await directory.probe_send_as(mailbox):
            raise AssertionError(f"sending as {mailbox} is refused")
        return f"may send as {mailbox} (probe, nothing sent)"

    others: list[str] = []

    async def refused() -> str:
        others.extend(m for m in await directory.some_mailboxes() if m not in {sender, fallback})
        if not others:
            return "skipped: no other mailbox found to probe"
        other = others[0]
        if await directory.probe_send_as(other):
            raise AssertionError(f"the app may send as the unrelated mailbox {other}")
        return f"sending as {other} is refused (probe, nothing sent)"

    async def history() -> str:
        requester = (settings.eligible_users or others or [""])[0]
        if not requester:
            return "skipped: no requester mailbox known (set eligible_users)"
        await directory.sender_history(requester, sender)
        return f"mail metadata of {requester} readable (sender history)"

    results.append(await _check("Graph domains read (Domain.Read.All)", domains(), "Grant Domain.Read.All."))
    results.append(
        await _check("Graph user read (User.Read.All)", user(), "Grant User.Read.All; check sender_mailbox.")
    )
    results.append(
        await _check(
            "Graph group membership (GroupMember.Read.All)", groups(), "Grant User.Read.All and GroupMember.Read.All."
        )
    )
    results.append(
        await _check(
            "Sender Sent Items search (Mail.Read)",
            sent_items(),
            "Assign 'Application Mail.Read' scoped to the sender mailbox (docs/m365-setup.md, step 5).",
        )
    )
    send_fix = "Assign 'Application Mail.Send' scoped to the sender mailbox (docs/m365-setup.md, step 5)."
    results.append(await _check(f"Mail.Send as {sender}", can_send(sender), send_fix))
    if fallback != sender:
        results.append(await _check(f"Mail.Send as {fallback} (fallback)", can_send(fallback), send_fix))
    results.append(
        await _check(
            "Least privilege: sending as an unrelated mailbox is refused",
            refused(),
            "Remove the tenant-wide Mail.Send admin consent in Entra ID; keep only the scoped Exchange role "
            "assignment (docs/m365-setup.md, step 5).",
        )
    )
    results.append(
        await _check(
            "Requester mailbox metadata (Mail.ReadBasic)",
            history(),
            "Assign 'Application Mail.ReadBasic' scoped to the employees who may request releases "
            "(docs/m365-setup.md, step 5).",
        )
    )
    return results


async def _check(name: str, action: Awaitable[str], fix: str) -> CheckResult:
    """Run one check; any failure becomes a failed row with a one-line reason (never a traceback)."""
    from tools.m365.interfaces import TenantError

    try:
        detail = await action
    except (TenantError, AssertionError, ValueError) as exc:
        return CheckResult(name, False, str(exc) or type(exc).__name__, fix)
    except Exception as exc:  # the table must be printed whatever one check does
        return CheckResult(name, False, f"unexpected {type(exc).__name__}", fix)
    return CheckResult(name, None if detail.startswith("skipped") else True, detail)


def render_checks(console: Console, results: list[CheckResult]) -> None:
    """The pass/fail table with the fix for each failure."""
    table = Table(title="Microsoft 365 tenant check")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail / fix", overflow="fold")
    for r in results:
        mark = {True: "[green]pass[/]", False: "[bold red]FAIL[/]", None: "[yellow]skip[/]"}[r.passed]
        text = escape(r.detail) + (f"\n[bold]fix:[/] {escape(r.fix)}" if r.passed is False and r.fix else "")
        table.add_row(escape(r.name), mark, text)
    console.print(table)


@tenant_app.command("check")
def check(
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", "-s", help="Settings TOML file (default: ./qrelease.toml if present)."),
    ] = None,
) -> None:
    """Verify the credentials and every permission the product needs; print a pass/fail table with fixes."""
    err = Console(stderr=True, highlight=False)
    try:
        settings = load_settings(settings_file)
    except SettingsError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    from tools.m365.credentials import TenantConfigError

    try:
        results = asyncio.run(run_checks(settings))
    except TenantConfigError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    render_checks(Console(), results)
    if any(r.passed is False for r in results):
        raise typer.Exit(1)


def fetch_quarantined(
    settings: Settings,
    identity: str,
    credential: AsyncTokenCredential | None = None,
) -> tuple[bytes, QuarantinedMessage]:
    """Read-only: the quarantined message's row and its exported bytes, for `analyze --quarantine-id`.

    Raises:
        TenantCommandError: code 2 for a bad identity, a missing tenant configuration, a missing
            permission or a message no longer in quarantine; code 1 when the tenant call failed.
    """
    from tools.m365.credentials import TenantConfigError
    from tools.m365.exchange import check_identity
    from tools.m365.factory import connect
    from tools.m365.interfaces import TenantError, TenantNotFound, TenantPermissionError

    try:
        identity = check_identity(identity)
    except ValueError as exc:
        raise TenantCommandError(str(exc), 2) from None

    async def run() -> tuple[bytes, QuarantinedMessage]:
        async with connect(settings, credential) as tenant:
            row = await tenant.quarantine.get_message(identity)
            if row.release_status.terminal:
                raise TenantCommandError(
                    f"quarantined message {identity} cannot be analyzed: {row.release_status.value}", 2
                )
            return await tenant.quarantine.export_message(identity), row

    try:
        return asyncio.run(run())
    except TenantConfigError as exc:
        raise TenantCommandError(str(exc), 2) from None
    except (TenantPermissionError, TenantNotFound) as exc:
        raise TenantCommandError(str(exc), 2) from None
    except TenantError as exc:
        raise TenantCommandError(f"the tenant call failed: {exc}", 1) from None
