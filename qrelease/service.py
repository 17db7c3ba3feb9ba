"""Services the entry points share: build dependencies from settings and run a triage."""

from __future__ import annotations

from graph.context import Deps
from graph.runner import triage_sync
from graph.state import TriageResult
from policies.models import ReleaseRequest
from policies.settings import Settings, SettingsError


def build_deps(settings: Settings) -> Deps:
    """Dependencies for an offline run (no tenant). Model clients are constructed here, not at import."""
    from agents.reasoner import build_reasoner

    try:
        reasoner = build_reasoner(settings)
    except Exception as exc:
        raise SettingsError(f"cannot build the {settings.reasoner.kind} reasoner: {exc}") from None
    return Deps(settings=settings, reasoner=reasoner)


def analyze_message(raw: bytes, request: ReleaseRequest, settings: Settings) -> TriageResult:
    """Triage one message without a tenant (CLI `analyze`)."""
    return triage_sync(raw, request, build_deps(settings))
