"""Build the real tenant clients from settings, and close them (credential and HTTP clients) afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.settings import Settings
from tools.m365.credentials import build_credential, check_tenant_settings

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

    from tools.m365.exchange import ExchangeQuarantineClient
    from tools.m365.graph_directory import GraphDirectoryClient


@dataclass(frozen=True)
class TenantClients:
    """The Exchange quarantine client and the Graph directory client of one tenant."""

    quarantine: ExchangeQuarantineClient
    directory: GraphDirectoryClient
    credential: AsyncTokenCredential


@asynccontextmanager
async def connect(settings: Settings, credential: AsyncTokenCredential | None = None) -> AsyncIterator[TenantClients]:
    """Clients for the configured tenant; `credential` overrides the one from settings (tests, fake tenant).

    Raises:
        TenantConfigError: the tenant settings are incomplete.
    """
    from tools.m365.exchange import ExchangeQuarantineClient
    from tools.m365.graph_directory import GraphDirectoryClient, build_graph_client

    tenant = settings.tenant
    if credential is None:
        credential = build_credential(tenant)
    elif not tenant.tenant_id:
        check_tenant_settings(tenant)
    exchange = ExchangeQuarantineClient(
        credential,
        tenant.tenant_id or "",
        base_url=tenant.exchange_base_url,
        timeout=tenant.request_timeout_seconds,
    )
    directory = GraphDirectoryClient(
        build_graph_client(credential, base_url=tenant.graph_base_url, timeout=tenant.request_timeout_seconds),
        group_cache_ttl=tenant.group_cache_ttl_seconds,
        timeout=tenant.request_timeout_seconds,
    )
    try:
        yield TenantClients(quarantine=exchange, directory=directory, credential=credential)
    finally:
        await exchange.aclose()
        await directory.aclose()
        close = getattr(credential, "close", None)
        if close is not None:
            await close()
