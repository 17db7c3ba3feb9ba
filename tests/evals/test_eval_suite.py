"""The eval runner, metrics, report, gate, model cache and `qrelease eval`, on small manifests in tmp."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.llm_reasoner import LLMReasoner
from evals.gate import check
from evals.metrics import CaseRecord, outcomes, summarize
from evals.runner import CaseRun, EvalCase, ManifestError, eval_settings, load_corpora, load_manifest
from evals.suite import evaluate
from graph.state import TriageResult
from policies.models import Action, Floor, PolicyDecision, QuarantineType, VerdictLabel
from policies.settings import Settings, load_settings
from qrelease.cli import app
from tests.conftest import SAMPLES
from tests.fakes import analyst, scripted, synthesis

#: (sample file, label, quarantine type) of the bundled samples.
SAMPLE_CASES = [
    ("credential-phish.eml", "phish", "Phish"),
    ("dangerous-attachment.eml", "malware", "malware"),  # lower case on purpose: parsed case-insensitively
    ("legit-invoice.eml", "ham", ""),
    ("marketing-spam.eml", "spam", "Spam"),
]


def write_manifest(folder: Path, rows: list[dict[str, str]], *, copy_samples: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if copy_samples:
        for name, *_ in SAMPLE_CASES:
            shutil.copy(SAMPLES / name, folder / name)
    fields = sorted({k for r in rows for k in r}, key=["path", "label", "source", "quarantine_type", "sha256"].index)
    with (folder / "MANIFEST.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder / "MANIFEST.csv"


@pytest.fixture
def samples_set(tmp_path: Path) -> Path:
    rows = [{"path": n, "label": lab, "source": "samples", "quarantine_type": q} for n, lab, q in SAMPLE_CASES]
    write_manifest(tmp_path / "mini", rows)
    return tmp_path / "mini"


# --- manifests ---------------------------------------------------------------------------------


def test_a_folder_means_its_manifest_and_paths_are_relative_to_it(samples_set: Path) -> None:
    cases = load_manifest(samples_set)
    assert [c.case_id for c in cases] == [f"mini/{n}" for n, *_ in SAMPLE_CASES]
    assert cases[1].quarantine_type is QuarantineType.MALWARE
    assert cases[2].quarantine_type is None
    assert cases[0].sha256 == hashlib.sha256((SAMPLES / "credential-phish.eml").read_bytes()).hexdigest()
    assert [c.expected for c in cases] == [
        VerdictLabel.MALICIOUS,
        VerdictLabel.MALICIOUS,
        VerdictLabel.SAFE,
        VerdictLabel.SPAM,
    ]
    # Same manifest twice (folder and file): counted once.
    assert len(load_corpora([samples_set, samples_set / "MANIFEST.csv"])) == len(SAMPLE_CASES)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"path": "legit-invoice.eml", "label": "eggs"}, "label 'eggs'"),
        ({"path": "../outside.eml", "label": "ham"}, "must be a file inside"),
        ({"path": "missing.eml", "label": "ham"}, "cannot read"),
        ({"path": "legit-invoice.eml", "label": "ham", "quarantine_type": "Nope"}, "unknown quarantine_type"),
        ({"path": "legit-invoice.eml", "label": "ham", "sha256": "0" * 64}, "does not match its sha256"),
    ],
)
def test_bad_manifest_rows_are_named_with_their_line(tmp_path: Path, row: dict[str, str], message: str) -> None:
    manifest = write_manifest(tmp_path / "bad", [row])
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(manifest)
    assert f"{manifest}:2" in str(info.value)


def test_missing_manifest_or_columns(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no manifest"):
        load_manifest(tmp_path)
    (tmp_path / "MANIFEST.csv").write_text("file,kind\na.eml,ham\n")
    with pytest.raises(ManifestError, match="lacks the column"):
        load_manifest(tmp_path)


# --- metrics -----------------------------------------------------------------------------------


def _run(label: str, verdict: VerdictLabel | None, confidence: float, action: Action, **floor: object) -> CaseRun:
    case = EvalCase(case_id=f"t/{label}-{verdict}", path=Path("x"), label=label, source="t", dataset="t", sha256="")
    result = TriageResult(
        verdict=verdict,
        confidence=confidence,
        reasoning="r",
        evidence=[],
        floor=Floor(**floor),  # type: ignore[arg-type]
        decision=PolicyDecision(action=action, rule="x", reason="x"),
        errors=[] if verdict else ["boom"],
    )
    return CaseRun(case=case, result=result, seconds=0.01)


def test_outcomes_replay_the_policy_under_both_spam_toggles(settings: Settings) -> None:
    s = eval_settings(settings)
    runs = [
        _run("spam", VerdictLabel.SPAM, 0.9, Action.DENY),
        _run("phish", VerdictLabel.SPAM, 0.9, Action.DENY),  # a phish called spam leaks when spam is released
        _run("ham", VerdictLabel.SAFE, 0.95, Action.RELEASE),
        _run("ham", VerdictLabel.SAFE, 0.5, Action.MANUAL_REVIEW),
        _run("malware", None, 0.0, Action.MANUAL_REVIEW, blocks_release=True),
    ]
    summary = summarize(runs, s)
    o = summary.overall
    assert summary.policy_replay_mismatches == 0
    assert o["malicious_released"] == 0
    assert o["malicious_released_any_toggle"] == 1
    assert o["spam_released_rate_toggle_off"] == 0.0
    assert o["spam_released_rate_toggle_on"] == 1.0
    assert o["ham_released_rate"] == 0.5
    assert o["manual_review_rate"] == 0.4
    assert o["analysis_errors"] == 1
    assert summary.confusion["malicious"] == {"safe": 0, "spam": 1, "malicious": 0, "none": 1}
    assert summary.classes["spam"]["precision"] == 0.5
    assert summary.classes["spam"]["recall"] == 1.0
    # The worst mistake is listed first.
    assert summary.misclassified[0].label in {"phish", "malware"}
    # Raising the threshold never releases more ham.
    ham = [p["ham_released_rate"] for p in summary.curve]
    assert ham == sorted(ham, reverse=True) and ham[0] == 1.0 and ham[-1] == 0.0


def test_outcomes_of_an_empty_group_are_zero_not_an_error() -> None:
    assert outcomes([])["ham_released_rate"] == 0.0
    rec = CaseRecord("a", "d", "s", "ham", "safe", "safe", 0.9, "release", "r", "release", "release", 0.1)
    assert outcomes([rec])["accuracy"] == 1.0


# --- gate ----------------------------------------------------------------------------------------


def test_gate_rules() -> None:
    metrics = {"malicious_released_any_toggle": 0, "ham_released_rate": 0.8, "manual_review_rate": 0.2}
    limits = {"d": {"min": {"ham_released_rate": 0.9}, "max": {"manual_review_rate": 0.1, "typo_rate": 1}}}
    failures = check({"d": metrics}, limits)
    assert any("ham_released_rate = 0.8 is below the threshold 0.9" in f for f in failures)
    assert any("manual_review_rate = 0.2 is above" in f for f in failures)
    assert any("unknown metric 'typo_rate'" in f for f in failures)
    assert (
        check(
            {"d": {**metrics, "ham_released_rate": 0.95, "manual_review_rate": 0.1}}, {"d": limits["d"] | {"max": {}}}
        )
        == []
    )
    # The hard rule holds with or without thresholds; a data set that did not run is not checked.
    assert check({"x": {"malicious_released_any_toggle": 2}}, {}) == [
        "x: 2 malicious message(s) would be released (must be 0)"
    ]
    assert check({}, limits) == []


# --- whole runs -----------------------------------------------------------------------------------


def test_offline_eval_end_to_end_writes_the_report(samples_set: Path, tmp_path: Path) -> None:
    from evals.report import write_report

    report = evaluate(load_corpora([samples_set]), load_settings(), gate=False, cache_path=None)
    meta = report["meta"]
    assert meta["messages"] == 4 and meta["datasets"] == {"mini": 4} and meta["reasoner"] == "offline"
    assert len(meta["dataset_sha256"]) == 64 and "verdict_synthesizer" in meta["prompt_sha256"]
    assert report["overall"]["malicious_released_any_toggle"] == 0
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 4
    assert report["gate"] is None
    written = write_report(tmp_path / "out", report)
    names = {p.name for p in written}
    assert {"report.json", "report.md"} <= names
    assert (
        json.loads((tmp_path / "out" / "report.json").read_text())["meta"]["dataset_sha256"] == meta["dataset_sha256"]
    )
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| mini |" in md and meta["dataset_sha256"] in md
    pytest.importorskip("matplotlib")
    png = (tmp_path / "out" / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_model_reasoner_tokens_are_counted_and_reruns_hit_the_cache(samples_set: Path, tmp_path: Path) -> None:
    settings = load_settings(reasoner={"kind": "openai", "input_cost_per_mtok": 1.0, "output_cost_per_mtok": 4.0})
    cases = load_corpora([samples_set])
    cache = tmp_path / "cache.sqlite"
    model = scripted(analyst("spam", 0.9), analyst("spam", 0.9), synthesis("spam", 0.9), repeat=True)
    first = evaluate(
        cases, settings, gate=False, cache_path=cache, concurrency=1, reasoner=LLMReasoner(model, settings.reasoner)
    )
    calls = len(model.seen)
    assert calls > 0 and first["meta"]["cache_hits"] == 0
    assert first["usage"]["input_tokens_per_message"] > 0
    assert first["usage"]["cost_usd_per_message"] > 0
    assert first["meta"]["model_id"] == "openai:gpt-4.1-mini"
    again = scripted(analyst("safe", 0.99), repeat=True)  # would change every answer if it were asked
    second = evaluate(
        cases, settings, gate=False, cache_path=cache, concurrency=1, reasoner=LLMReasoner(again, settings.reasoner)
    )
    assert again.seen == []
    assert second["meta"]["cache_hits"] == calls and second["meta"]["cache_misses"] == 0
    assert [r["verdict"] for r in second["misclassified"]] == [r["verdict"] for r in first["misclassified"]]


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_eval_writes_reports_and_gates(samples_set: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rep"
    res = runner.invoke(app, ["eval", "--corpus", str(samples_set), "--report", str(out), "--no-gate"])
    assert res.exit_code == 0, res.output
    assert "Outcomes" in res.output and (out / "report.json").is_file()
    strict = tmp_path / "strict.toml"
    strict.write_text("[datasets.mini.min]\naccuracy = 1.01\n")
    res = runner.invoke(app, ["eval", "-c", str(samples_set), "-o", str(out), "--thresholds", str(strict)])
    assert res.exit_code == 3, res.output
    assert "gate FAILED" in res.output and json.loads((out / "report.json").read_text())["gate"]["passed"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "nowhere"], "no manifest at nowhere"),
        (["--reasoner", "psychic"], "--reasoner must be one of"),
    ],
)
def test_cli_eval_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["eval", *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
