"""Shared fixtures. Network is blocked for every test by pytest-socket (see pyproject addopts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.offline_reasoner import OfflineReasoner
from graph.context import Deps
from policies.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "qrelease" / "samples"
#: The shared public corpus lives beside the checkout; tests that need it skip when it is absent.
CORPUS = Path(__import__("os").environ.get("QRELEASE_CORPUS", ROOT.parent / "shared" / "corpora"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings, keys or working directory."""
    import os

    for key in list(os.environ):
        if key.startswith("QRELEASE_") and key != "QRELEASE_CORPUS":
            monkeypatch.delenv(key)
    # Dummy provider keys: an accidental live call would fail on auth, and the socket block stops it first.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "dummy")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings() -> Settings:
    """Default settings, enforcing (so decisions read as they would in production)."""
    return load_settings(mode="enforce")


@pytest.fixture
def offline_deps(settings: Settings) -> Deps:
    """Offline reasoner dependencies."""
    return Deps(settings=settings, reasoner=OfflineReasoner())


def sample(name: str) -> bytes:
    """Bytes of a bundled sample message."""
    return (SAMPLES / name).read_bytes()
