"""The adversarial set on disk is exactly what its committed, seeded generator writes."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tests.adversarial.dataset import ADVERSARIAL, load_cases
from tools.mime import parse_message


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("adversarial_generate", ADVERSARIAL / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_committed_files_match_the_generator_byte_for_byte() -> None:
    built = {f"{case.name}.eml": raw for case, raw in _generator().build()}
    on_disk = {p.name: p.read_bytes() for p in Path(ADVERSARIAL).glob("*.eml")}
    assert built.keys() == on_disk.keys()
    assert [name for name in built if built[name] != on_disk[name]] == []
    with (ADVERSARIAL / "MANIFEST.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["path"]: r["sha256"] for r in rows} == {n: hashlib.sha256(b).hexdigest() for n, b in on_disk.items()}
    assert list(rows[0])[:5] == ["path", "label", "source", "pattern", "quarantine_type"]


def test_every_message_parses_and_looks_like_modern_microsoft_365_mail() -> None:
    auth_results: set[str] = set()
    for case in load_cases():
        msg = parse_message(case.raw())
        assert msg.from_address and msg.subject, case.name
        assert msg.header("X-Forefront-Antispam-Report"), case.name
        auth_results.add((msg.header_all("Authentication-Results")[-1] or "").split(";")[0].split()[0])
        assert (case.source == "benign_control") == (case.label == "ham"), case.name
    # Attacks come from attacker-owned domains that pass SPF/DKIM/DMARC, and from ones that do not.
    assert {"spf=pass", "spf=softfail", "spf=none"} <= auth_results
