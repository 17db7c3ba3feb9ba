"""The example settings file shipped in the repository stays valid."""

from __future__ import annotations

from policies.settings import load_settings
from tests.conftest import ROOT


def test_example_settings_file_is_valid() -> None:
    s = load_settings(ROOT / "qrelease.example.toml")
    assert s.mode == "shadow" and s.reasoner.kind == "offline"
    assert s.detection.org_domains == ["contoso.com"]
