"""App-only credentials for Graph and Exchange Online, built from `TenantSettings` (never logged).

Preference: certificate (Microsoft's documented path for Exchange app-only), then client secret,
then managed identity. azure-identity is imported only when a credential is built.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from policies.settings import TenantSettings

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken
    from azure.core.credentials_async import AsyncTokenCredential

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


class TenantConfigError(Exception):
    """The tenant section of the settings cannot produce a credential; the message says what to set."""


def describe(tenant: TenantSettings) -> str:
    """Which credential kind the settings select (for operator output; contains no secret)."""
    if tenant.certificate_path is not None:
        return "certificate"
    if tenant.client_secret is not None:
        return "client secret"
    if tenant.use_managed_identity:
        return "managed identity"
    return "none"


def check_tenant_settings(tenant: TenantSettings) -> None:
    """Raise `TenantConfigError` when the tenant is not configured enough to call it.

    Raises:
        TenantConfigError: names the missing `tenant.*` setting (or `QRELEASE_TENANT__*` variable).
    """
    missing = [name for name in ("tenant_id", "client_id") if not getattr(tenant, name)]
    if missing and not (tenant.use_managed_identity and missing == ["client_id"]):
        names = ", ".join(f"tenant.{m} (QRELEASE_TENANT__{m.upper()})" for m in missing)
        raise TenantConfigError(f"no Microsoft 365 tenant configured: set {names}")
    if describe(tenant) == "none":
        raise TenantConfigError(
            "no tenant credential configured: set tenant.certificate_path (preferred), tenant.client_secret "
            "or tenant.use_managed_identity = true"
        )
    if tenant.certificate_path is not None and not tenant.certificate_path.is_file():
        raise TenantConfigError(f"tenant.certificate_path does not exist: {tenant.certificate_path}")


def build_credential(tenant: TenantSettings) -> AsyncTokenCredential:
    """An async azure-identity credential for the configured app (the caller closes it).

    Raises:
        TenantConfigError: the settings are incomplete or the certificate cannot be loaded.
    """
    check_tenant_settings(tenant)
    from azure.identity.aio import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

    tenant_id = tenant.tenant_id or ""
    client_id = tenant.client_id or ""
    try:
        if tenant.certificate_path is not None:
            password = tenant.certificate_password.get_secret_value() if tenant.certificate_password else None
            return CertificateCredential(
                tenant_id, client_id, certificate_path=str(tenant.certificate_path), password=password
            )
        if tenant.client_secret is not None:
            return ClientSecretCredential(tenant_id, client_id, tenant.client_secret.get_secret_value())
        return (
            ManagedIdentityCredential(client_id=tenant.client_id) if tenant.client_id else ManagedIdentityCredential()
        )
    except (ValueError, OSError) as exc:
        # The exception text of a bad certificate names the file, never its content or the password.
        raise TenantConfigError(
            f"cannot load the tenant credential ({describe(tenant)}): {type(exc).__name__}"
        ) from None


class StaticTokenCredential:
    """A credential that returns a fixed fake token: for tests and the local fake tenant, never production.

    Makes no network call, so no token exchange is ever recorded in a cassette.
    """

    def __init__(self, token: str = "fake-token") -> None:
        self._token = token
        self.scopes_requested: list[str] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """Always the same token, valid for an hour."""
        from azure.core.credentials import AccessToken

        self.scopes_requested.extend(scopes)
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None
