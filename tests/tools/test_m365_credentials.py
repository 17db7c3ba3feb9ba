"""Credentials from the tenant settings: the preferred kind is chosen, secrets are never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.settings import TenantSettings
from tools.m365.credentials import TenantConfigError, build_credential, check_tenant_settings, describe

TID = "00000000-0000-0000-0000-000000000000"
CID = "11111111-1111-1111-1111-111111111111"


def test_missing_ids_name_the_settings() -> None:
    with pytest.raises(TenantConfigError, match=r"tenant\.tenant_id \(QRELEASE_TENANT__TENANT_ID\)"):
        check_tenant_settings(TenantSettings())


def test_no_credential_kind_is_an_error() -> None:
    with pytest.raises(TenantConfigError, match="no tenant credential configured"):
        check_tenant_settings(TenantSettings(tenant_id=TID, client_id=CID))


def test_missing_certificate_file(tmp_path: Path) -> None:
    tenant = TenantSettings(tenant_id=TID, client_id=CID, certificate_path=tmp_path / "nope.pem")
    with pytest.raises(TenantConfigError, match="does not exist"):
        build_credential(tenant)


def test_certificate_is_preferred_over_a_secret(tmp_path: Path) -> None:
    pem = tmp_path / "app.pem"
    pem.write_text("not a certificate")
    tenant = TenantSettings(
        tenant_id=TID, client_id=CID, certificate_path=pem, client_secret="s3cr3t-value", use_managed_identity=True
    )
    assert describe(tenant) == "certificate"
    with pytest.raises(TenantConfigError) as info:  # an unreadable certificate: the error names no content
        build_credential(tenant)
    assert "s3cr3t-value" not in str(info.value) and "not a certificate" not in str(info.value)


def test_client_secret_credential_is_built_without_network() -> None:
    from azure.identity.aio import ClientSecretCredential

    cred = build_credential(TenantSettings(tenant_id=TID, client_id=CID, client_secret="s3cr3t-value"))
    assert isinstance(cred, ClientSecretCredential)
    assert "s3cr3t-value" not in repr(cred)


def test_managed_identity_needs_no_client_id() -> None:
    from azure.identity.aio import ManagedIdentityCredential

    tenant = TenantSettings(tenant_id=TID, use_managed_identity=True)
    assert describe(tenant) == "managed identity"
    assert isinstance(build_credential(tenant), ManagedIdentityCredential)
