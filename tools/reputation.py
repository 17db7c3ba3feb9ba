"""Optional online URL reputation (abuse.ch URLhaus). Off by default and never required.

Only the URLs already extracted from the message are sent, and only when an admin turned the
lookup on and gave an Auth-Key. A failed or slow lookup is recorded as `url.reputation_unavailable`
(information only): the deterministic evidence stands on its own without it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.models import Finding

if TYPE_CHECKING:
    import httpx

URLHAUS_API = "https://urlhaus-api.abuse.ch/v1"


@dataclass(frozen=True)
class ReputationConfig:
    """Whether and how to ask URLhaus (an admin setting; the lead wires it into `Settings`)."""

    enabled: bool = False
    urlhaus_auth_key: str | None = None
    timeout_seconds: float = 5.0
    max_lookups: int = 10
    base_url: str = URLHAUS_API


async def url_reputation_findings(
    urls: list[str], config: ReputationConfig, client: httpx.AsyncClient | None = None
) -> list[Finding]:
    """Look up the distinct http(s) URLs of a message; [] when the lookup is off or not configured.

    Args:
        urls: link targets, in message order.
        config: the admin's reputation settings.
        client: an `httpx.AsyncClient` to use (tests pass one with a mock transport).

    Returns:
        `url.reputation_listed` for each listed URL, or one `url.reputation_unavailable` on failure.
    """
    if not config.enabled or not config.urlhaus_auth_key:
        return []
    import httpx

    targets = list(dict.fromkeys(u for u in urls if u.lower().startswith(("http://", "https://"))))
    targets = targets[: config.max_lookups]
    if not targets:
        return []
    own = client is None
    session = client or httpx.AsyncClient(timeout=config.timeout_seconds)
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(_lookup(session, config, u) for u in targets), return_exceptions=True),
            config.timeout_seconds * 2,
        )
    except TimeoutError:
        return [Finding.of("url.reputation_unavailable", "URLhaus lookup timed out")]
    finally:
        if own:
            await session.aclose()
    out: list[Finding] = []
    failed = 0
    for url, result in zip(targets, results, strict=True):
        if isinstance(result, BaseException):
            failed += 1
        elif result:
            out.append(Finding.of("url.reputation_listed", f"{url[:200]} ({result})"))
    if failed:
        out.append(Finding.of("url.reputation_unavailable", f"URLhaus lookup failed for {failed} of {len(targets)}"))
    return out


async def _lookup(session: httpx.AsyncClient, config: ReputationConfig, url: str) -> str:
    """The threat URLhaus lists for `url`, '' when it is not listed; raises on any other answer."""
    response = await session.post(
        f"{config.base_url}/url/",
        data={"url": url},
        headers={"Auth-Key": config.urlhaus_auth_key or ""},
        timeout=config.timeout_seconds,
    )
    response.raise_for_status()
    body = response.json()
    status = body.get("query_status") if isinstance(body, dict) else None
    if status == "no_results":
        return ""
    if status == "ok":
        return str(body.get("threat") or "listed")[:60]
    raise ValueError(f"URLhaus answered {str(status)[:40]!r}")
