"""The CI gate: no malicious message released on any data set, and no tracked metric below its threshold.

Runs the bundled labeled sets (`evals/datasets/*`) and, when it is present, the shared public corpus
through the real graph with the configured default (offline) reasoner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.gate import HARD_RULE, load_thresholds
from evals.runner import load_corpora
from evals.suite import evaluate
from policies.settings import load_settings
from qrelease.eval_cli import default_corpora
from tests.conftest import CORPUS


def _run(corpora: list[Path]) -> dict[str, Any]:
    return evaluate(load_corpora(corpora), load_settings(), gate=True, cache_path=None)


def _explain(report: dict[str, Any]) -> str:
    leaks = [r for r in report["misclassified"] if r["expected"] == "malicious" and r["action"] == "release"]
    lines = [*report["gate"]["failures"], *(f"released: {r['case_id']} {r['top_findings']}" for r in leaks[:10])]
    return "\n".join(lines)


def test_bundled_sets_pass_the_gate() -> None:
    corpora = default_corpora()
    assert any(p.name == "project" for p in corpora), "the project's own labeled set must ship with the repo"
    report = _run(corpora)
    assert report["meta"]["datasets"]["project"] >= 24
    assert report["policy_replay_mismatches"] == 0
    for name, metrics in report["by_dataset"].items():
        assert metrics[HARD_RULE] == 0, f"{name}: {_explain(report)}"
    assert report["gate"]["passed"], _explain(report)


@pytest.mark.slow
@pytest.mark.skipif(not (CORPUS / "MANIFEST.csv").is_file(), reason=f"shared corpus not present at {CORPUS}")
def test_shared_corpus_passes_the_gate() -> None:
    report = _run([CORPUS])
    assert report["meta"]["messages"] > 2000
    assert report["by_dataset"][CORPUS.name][HARD_RULE] == 0, _explain(report)
    assert report["gate"]["passed"], _explain(report)


def test_every_dataset_with_thresholds_tracks_the_product_metrics() -> None:
    thresholds = load_thresholds()
    assert "project" in thresholds
    for name, limits in thresholds.items():
        tracked = set(limits.get("min", {})) | set(limits.get("max", {}))
        assert {"ham_released_rate", "manual_review_rate", "spam_released_rate_toggle_off"} <= tracked, name
