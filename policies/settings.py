"""What a security admin configures: `qrelease.toml` and `QRELEASE_*` environment variables.

Settings are built once at an entry point (CLI, worker, eval) and passed down; nothing else
reads the environment.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: Looked for in the working directory when no `--settings` file is given.
DEFAULT_SETTINGS_FILE = Path("qrelease.toml")

# The TOML path is chosen at run time, but pydantic-settings picks sources in a classmethod;
# a context variable carries the path there without mutating the class.
_toml_path: ContextVar[Path | None] = ContextVar("_toml_path", default=None)

ReasonerKind = Literal["offline", "openai", "azure-openai", "openai-compatible"]


class SettingsError(Exception):
    """The settings file or environment is unreadable or invalid."""


class ReasonerSettings(BaseModel):
    """Which judgment engine the analysts and the synthesizer use."""

    model_config = ConfigDict(extra="forbid")

    kind: ReasonerKind = "offline"
    model: str = "gpt-4.1-mini"
    base_url: str | None = None
    """For `openai-compatible` (Ollama, vLLM, LM Studio) or an OpenAI proxy."""
    api_key: SecretStr | None = None
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    api_version: str = "2024-10-21"
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_output_tokens: int = Field(default=1200, ge=64, le=16000)
    #: USD per million tokens, only to estimate cost in records and reports.
    input_cost_per_mtok: float = 0.0
    output_cost_per_mtok: float = 0.0

    @model_validator(mode="after")
    def _check_kind(self) -> ReasonerSettings:
        if self.kind == "openai-compatible" and not self.base_url:
            raise ValueError("reasoner.base_url is required for kind 'openai-compatible'")
        if self.kind == "azure-openai" and not (self.azure_endpoint and self.azure_deployment):
            raise ValueError("reasoner.azure_endpoint and reasoner.azure_deployment are required for Azure")
        return self


class DetectionSettings(BaseModel):
    """What the organization protects: its domains, brands and VIP names."""

    model_config = ConfigDict(extra="forbid")

    org_domains: list[str] = Field(default_factory=list)
    protected_brands: list[str] = Field(
        default_factory=lambda: [
            "microsoft",
            "office365",
            "outlook",
            "onedrive",
            "sharepoint",
            "paypal",
            "apple",
            "amazon",
            "docusign",
            "dhl",
            "fedex",
            "ups",
            "netflix",
            "google",
            "dropbox",
            "adobe",
            "wellsfargo",
            "chase",
            "bankofamerica",
            "citibank",
            "ebay",
            "linkedin",
            "facebook",
            "instagram",
            "coinbase",
            "binance",
            "metamask",
        ]
    )
    vip_display_names: list[str] = Field(default_factory=list)
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    """Extra authserv-ids whose Authentication-Results are trusted (a gateway in front of Microsoft)."""
    url_reputation: bool = False
    """Ask URLhaus about the message's links (off by default; never required)."""
    urlhaus_auth_key: SecretStr | None = None
    reputation_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: Hard limits that turn into `parse.*` findings instead of crashes.
    max_message_bytes: int = 40 * 1024 * 1024
    max_headers: int = 1000
    max_header_bytes: int = 64 * 1024
    max_parts: int = 500
    max_depth: int = 20
    max_attachment_bytes: int = 25 * 1024 * 1024
    max_archive_members: int = 2000
    max_archive_total_bytes: int = 200 * 1024 * 1024
    max_archive_ratio: float = 200.0


class TenantSettings(BaseModel):
    """The Microsoft 365 tenant (needed only by the worker and `--quarantine-id`)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = None
    client_id: str | None = None
    certificate_path: Path | None = None
    certificate_password: SecretStr | None = None
    client_secret: SecretStr | None = None
    use_managed_identity: bool = False
    organization: str | None = None
    """The tenant's initial domain (contoso.onmicrosoft.com), needed by the Exchange admin API."""
    exchange_base_url: str = "https://outlook.office365.com"
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    group_cache_ttl_seconds: int = Field(default=900, ge=0)


class WorkerSettings(BaseModel):
    """The long-running worker."""

    model_config = ConfigDict(extra="forbid")

    poll_interval_seconds: float = Field(default=60.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    max_attempts: int = Field(default=3, ge=1, le=20)
    lease_seconds: int = Field(default=300, ge=10)
    shutdown_deadline_seconds: float = Field(default=30.0, ge=0)
    retention_days: int = Field(default=30, ge=1)
    notify_settle_seconds: float = Field(default=120.0, ge=0, le=3600)
    """After a send with an unknown outcome, how long Sent Items gets to show the copy before a resend."""
    health_file: Path | None = None


class Settings(BaseSettings):
    """Every knob of the product."""

    model_config = SettingsConfigDict(
        env_prefix="QRELEASE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    enabled: bool = True
    """Automatic answers to release requests on/off (off: every request goes to manual review)."""
    mode: Literal["enforce", "shadow"] = "shadow"
    """`shadow` decides and records but never acts: the safe way to roll out."""
    release_confirmed_spam: bool = False
    release_scope: Literal["none", "specific", "all"] = "all"
    eligible_users: list[str] = Field(default_factory=list)
    eligible_groups: list[str] = Field(default_factory=list)
    """Entra ID group object ids whose (transitive) members are in scope."""
    min_release_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    model_release_needs_scorer: bool = True
    """With a model reasoner, release only what the deterministic scorer would also release."""
    sender_name: str = "IT Security"
    sender_mailbox: EmailStr = "quarantine@example.com"
    default_sender_mailbox: EmailStr = "no-reply@example.com"
    """Used while the sender mailbox's domain is not a verified domain of the tenant."""
    notification_max_reasoning_chars: int = Field(default=1200, ge=100, le=10000)
    database_url: str = "sqlite:///qrelease.db"
    reasoner: ReasonerSettings = Field(default_factory=ReasonerSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    tenant: TenantSettings = Field(default_factory=TenantSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments beat environment variables, which beat the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an explicit file, else `./qrelease.toml` if present, then the environment.

    Raises:
        SettingsError: the file is missing, not TOML, or a value is invalid (message names the field).
    """
    if path is None and DEFAULT_SETTINGS_FILE.is_file():
        path = DEFAULT_SETTINGS_FILE
    if path is not None:
        if not path.is_file():
            raise SettingsError(f"settings file not found: {path}")
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
    token = _toml_path.set(path)
    try:
        return Settings(**overrides)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise SettingsError(_summarize(exc)) from None
    finally:
        _toml_path.reset(token)


def _summarize(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "invalid settings: " + "; ".join(parts)
