"""`qrelease tenant check` and `qrelease analyze --quarantine-id` against replayed tenant responses."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qrelease.cli import app
from tools.m365 import factory
from tools.m365.credentials import StaticTokenCredential

from .conftest import TENANT_ID

ID1 = "c14401cf-aa9a-465b-cfd5-08d0f0ca37c5\\4c2ca98e-94ea-db3a-7eb8-3b63657d4db7"
GROUP = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
runner = CliRunner()


def flat(text: str) -> str:
    """Terminal output without box drawing and wrapping."""
    return " ".join(text.replace("│", " ").replace("┃", " ").split())


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch) -> StaticTokenCredential:
    """A configured tenant whose credential is the static fake (no token exchange)."""
    monkeypatch.setenv("QRELEASE_TENANT__TENANT_ID", TENANT_ID)
    monkeypatch.setenv("QRELEASE_TENANT__CLIENT_ID", "11111111-1111-1111-1111-111111111111")
    monkeypatch.setenv("QRELEASE_TENANT__CLIENT_SECRET", "not-a-real-secret")
    monkeypatch.setenv("QRELEASE_SENDER_MAILBOX", "quarantine@contoso.com")
    monkeypatch.setenv("QRELEASE_DEFAULT_SENDER_MAILBOX", "no-reply@contoso.com")
    monkeypatch.setenv("QRELEASE_ELIGIBLE_GROUPS", json.dumps([GROUP]))
    monkeypatch.setenv("COLUMNS", "300")
    cred = StaticTokenCredential()
    monkeypatch.setattr(factory, "build_credential", lambda _tenant: cred)
    return cred


@pytest.mark.vcr
def test_tenant_check_all_pass(tenant: StaticTokenCredential, sleeps: list[float]) -> None:
    result = runner.invoke(app, ["tenant", "check"])
    out = flat(result.stdout)
    assert result.exit_code == 0, out
    assert "FAIL" not in out
    assert out.count(" pass ") == 12  # 2 tokens, 2 Exchange, 8 Graph
    assert "sending as meganb@contoso.com is refused (probe, nothing sent)" in out
    assert "may send as quarantine@contoso.com" in out
    assert set(tenant.scopes_requested) == {
        "https://graph.microsoft.com/.default",
        "https://outlook.office365.com/.default",
    }
    assert "not-a-real-secret" not in result.stdout + result.stderr


@pytest.mark.vcr
def test_tenant_check_reports_each_failure_with_its_fix(tenant: StaticTokenCredential) -> None:
    result = runner.invoke(app, ["tenant", "check"])
    out = flat(result.stdout)
    assert result.exit_code == 1
    assert out.count("FAIL") == 5
    # Exchange role missing: the fix says what to grant.
    assert "not authorized to run Get-QuarantineMessage" in out
    assert "not allowed: Export-QuarantineMessage, Release-QuarantineMessage" in out
    assert "fix: Grant Exchange.ManageAsApp" in out
    # Graph group read refused.
    assert "Authorization_RequestDenied" in out and "fix: Grant User.Read.All and GroupMember.Read.All." in out
    # Least privilege broken: the app may send as anyone.
    assert "the app may send as the unrelated mailbox meganb@contoso.com" in out
    assert "fix: Remove the tenant-wide Mail.Send admin consent" in out
    # Reading requesters' mail metadata is refused.
    assert "fix: Assign 'Application Mail.ReadBasic' scoped to the employees" in out
    # The sender's domain is not verified: the fallback sender is named.
    assert "contoso.com is NOT verified: notifications will come from no-reply@contoso.com" in out


def test_tenant_check_without_a_tenant_exits_2() -> None:
    result = runner.invoke(app, ["tenant", "check"])
    assert result.exit_code == 2
    assert "no Microsoft 365 tenant configured" in flat(result.stderr)
    assert "QRELEASE_TENANT__TENANT_ID" in flat(result.stderr)


@pytest.mark.vcr
def test_analyze_quarantine_id_exports_and_analyzes(tenant: StaticTokenCredential) -> None:
    result = runner.invoke(app, ["analyze", "--quarantine-id", ID1, "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "malicious"
    assert data["decision"]["action"] == "deny"
    # The requester comes from the quarantine row (its only recipient).
    assert data["notification"]["to"] == "alexw@contoso.com"


@pytest.mark.vcr
def test_analyze_quarantine_id_of_a_released_message(tenant: StaticTokenCredential) -> None:
    result = runner.invoke(app, ["analyze", "--quarantine-id", ID1])
    assert result.exit_code == 2
    assert "cannot be analyzed: Released" in flat(result.stderr)


@pytest.mark.vcr
def test_analyze_quarantine_id_without_permission(tenant: StaticTokenCredential) -> None:
    result = runner.invoke(app, ["analyze", "--quarantine-id", ID1])
    assert result.exit_code == 2
    err = flat(result.stderr)
    assert "403 forbidden" in err and "Exchange.ManageAsApp" in err
    assert "Traceback" not in result.stderr


def test_analyze_quarantine_id_without_a_tenant_exits_2() -> None:
    result = runner.invoke(app, ["analyze", "--quarantine-id", ID1])
    assert result.exit_code == 2
    assert "no Microsoft 365 tenant configured" in flat(result.stderr)


def test_analyze_quarantine_id_rejects_a_malformed_id() -> None:
    result = runner.invoke(app, ["analyze", "--quarantine-id", "000"])
    assert result.exit_code == 2
    assert "not a quarantine message identity" in flat(result.stderr)


def test_analyze_needs_a_path_or_an_id(tmp_path: object) -> None:
    result = runner.invoke(app, ["analyze"])
    assert result.exit_code == 2
    assert "give a message file PATH or --quarantine-id ID" in flat(result.stderr)
    result = runner.invoke(app, ["analyze", "x.eml", "--quarantine-id", ID1])
    assert result.exit_code == 2
    assert "not both" in flat(result.stderr)
