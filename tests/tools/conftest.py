"""Fixtures for the Microsoft 365 adapter tests: replayed cassettes, a static credential, instant back-off.

Cassettes live in `tests/cassettes/<test module>/<test name>.yaml`. They are written by hand after
Microsoft's documented response shapes (fake tenant id, contoso.com addresses) and are only ever
replayed: `record_mode` is "none", a request that matches no interaction fails the test, and so
does an interaction the test never played.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.m365.credentials import StaticTokenCredential

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
TENANT_ID = "00000000-0000-0000-0000-000000000000"


def _body(request: Any) -> Any:
    raw = request.body or b""
    if isinstance(raw, str):
        raw = raw.encode()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw


def json_body(live: Any, recorded: Any) -> None:
    """The request bodies are the same JSON document (key order and whitespace aside)."""
    assert _body(live) == _body(recorded), f"body {_body(live)!r} != recorded {_body(recorded)!r}"


def recorded_headers(live: Any, recorded: Any) -> None:
    """Every header written in the cassette request was sent with exactly that value."""
    for name, value in recorded.headers.items():
        expected = value[-1] if isinstance(value, list) else value
        assert live.headers.get(name) == expected, f"header {name}: {live.headers.get(name)!r} != {expected!r}"


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register the matchers used by `vcr_config`."""
    vcr.register_matcher("json_body", json_body)
    vcr.register_matcher("recorded_headers", recorded_headers)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """Replay only; match method, full URL with query, JSON body and declared headers."""
    return {
        "record_mode": "none",
        "match_on": ["method", "scheme", "host", "port", "path", "query", "json_body", "recorded_headers"],
        "allow_playback_repeats": False,
        # Would a cassette ever be recorded against a real tenant, none of this may reach the file.
        "filter_headers": ["authorization", "cookie", "set-cookie"],
        "filter_post_data_parameters": ["client_secret", "client_assertion", "password"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """`tests/cassettes/<test module>/`."""
    return str(CASSETTES / request.module.__name__.rpartition(".")[2])


@pytest.fixture(autouse=True)
def _every_interaction_played(vcr: Any) -> Iterator[None]:
    """A cassette interaction the code never asked for is a failure (a request went missing)."""
    yield
    if vcr is not None:
        unplayed = [r.uri for i, (r, _) in enumerate(vcr.data) if not vcr.play_counts[i]]
        assert not unplayed, f"cassette interactions never played: {unplayed}"


@pytest.fixture
def credential() -> StaticTokenCredential:
    """A fake credential: no token exchange happens, so none is ever recorded."""
    return StaticTokenCredential()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Back-off delays requested, without waiting."""
    import tools.m365.http as http

    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(http, "sleep", fake_sleep)
    return delays
