"""Hygiene of the hand-written cassettes: no secrets, fake tenant id, fictitious addresses, none orphaned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from .conftest import CASSETTES, TENANT_ID

FILES = sorted(CASSETTES.glob("test_m365_*/*.yaml"))
FICTITIOUS = ("contoso.com", "fabrikam.com", "contoso-payments.com", "micros0ft-support.com", "example.com")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.")
#: `name@odata.type` is an OData annotation, not an address.
ODATA_ANNOTATIONS = frozenset({"odata.type", "odata.context", "odata.nextlink"})


def test_there_are_cassettes() -> None:
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cassette_is_clean(path: Path) -> None:
    text = path.read_text()
    data = yaml.safe_load(text)
    assert data["version"] == 1 and data["interactions"]
    lowered = text.lower()
    for forbidden in ("client_secret", "client_assertion", "access_token", "refresh_token", "-----begin"):
        assert forbidden not in lowered, forbidden
    assert not JWT.search(text), "a token-like string is recorded"
    for interaction in data["interactions"]:
        sent = {k.lower() for k in interaction["request"]["headers"]}
        assert not sent & {"authorization", "cookie"}, sent
        uri = interaction["request"]["uri"]
        assert uri.startswith(("https://outlook.office365.com/adminapi/", "https://graph.microsoft.com/v1.0/"))
        tenant_in_path = re.search(r"/adminapi/(?:beta|v1\.0)/([^/]+)/", uri)
        if tenant_in_path:
            assert tenant_in_path.group(1) == TENANT_ID
        headers = {k.lower() for k in interaction["response"]["headers"]}
        assert "content-encoding" not in headers  # bodies are stored decoded
    for domain in re.findall(r"[A-Za-z0-9._%+-]+(?:@|%40)([A-Za-z0-9.-]+\.[A-Za-z]{2,})", text):
        if domain.lower() not in ODATA_ANNOTATIONS:
            assert domain.lower().endswith(FICTITIOUS), domain


def test_every_cassette_belongs_to_a_test() -> None:
    here = Path(__file__).parent
    for path in FILES:
        module = here / f"{path.parent.name}.py"
        assert module.is_file(), path
        names = {n.name for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.FunctionDef)}
        assert path.stem in names, f"{path} has no test {path.stem} in {module.name}"
