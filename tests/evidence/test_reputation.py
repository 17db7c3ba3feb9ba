"""The optional URLhaus lookup: off by default, listed URLs are evidence, failures never block."""

from __future__ import annotations

import asyncio
import json

import httpx

from tools.reputation import ReputationConfig, url_reputation_findings

ON = ReputationConfig(enabled=True, urlhaus_auth_key="test-key")


def _client(
    answer: dict[str, object] | None, status: int = 200, seen: list[httpx.Request] | None = None
) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=json.dumps(answer or {}).encode())

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _run(urls: list[str], config: ReputationConfig, client: httpx.AsyncClient) -> set[str]:
    return {f.id for f in asyncio.run(url_reputation_findings(urls, config, client))}


def test_lookup_is_off_by_default_and_without_a_key() -> None:
    seen: list[httpx.Request] = []
    client = _client({"query_status": "ok"}, seen=seen)
    assert _run(["https://x.example/"], ReputationConfig(), client) == set()
    assert _run(["https://x.example/"], ReputationConfig(enabled=True), client) == set()
    assert seen == []


def test_listed_url_is_critical_evidence_and_unlisted_is_silent() -> None:
    seen: list[httpx.Request] = []
    listed = _client({"query_status": "ok", "threat": "malware_download"}, seen=seen)
    assert _run(["https://bad.example/a.exe", "mailto:x@y"], ON, listed) == {"url.reputation_listed"}
    assert len(seen) == 1 and seen[0].headers["Auth-Key"] == "test-key"
    assert _run(["https://good.example/"], ON, _client({"query_status": "no_results"})) == set()


def test_a_failed_lookup_is_reported_but_not_a_verdict() -> None:
    assert _run(["https://x.example/"], ON, _client({}, status=503)) == {"url.reputation_unavailable"}
    assert _run(["https://x.example/"], ON, _client({"query_status": "invalid_url"})) == {"url.reputation_unavailable"}
