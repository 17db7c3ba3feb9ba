"""`qrelease` through typer's runner: exit codes, JSON shape, one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qrelease.cli import app
from tests.conftest import SAMPLES

runner = CliRunner()


def flat(text: str) -> str:
    """Terminal output without box drawing and line wrapping, for phrase assertions."""
    return " ".join(text.replace("│", " ").split())


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_analyze_human_output_shows_verdict_decision_rule_and_notification() -> None:
    code, out, _ = invoke("analyze", str(SAMPLES / "credential-phish.eml"), "--requester", "alexw@contoso.com")
    assert code == 0
    assert "malicious" in out and "deny.malicious" in out
    assert "Notification to the requester" in out
    assert "shadow mode" in flat(out)  # the default mode is shadow


def test_analyze_json_is_a_triage_result() -> None:
    code, out, _ = invoke("analyze", str(SAMPLES / "marketing-spam.eml"), "--json", "-r", "alexw@contoso.com")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"verdict", "confidence", "reasoning", "evidence", "decision", "notification", "floor"}
    assert data["verdict"] == "spam"
    assert data["decision"]["rule"] == "deny.spam"
    assert data["notification"]["kind"] == "spam"
    assert all({"id", "severity", "description", "evidence"} <= set(f) for f in data["evidence"])


def test_quarantine_type_option_reaches_the_analysis() -> None:
    code, out, _ = invoke("analyze", str(SAMPLES / "legit-invoice.eml"), "--json", "-q", "HighConfPhish")
    assert code == 0
    data = json.loads(out)
    assert data["verdict"] == "malicious"
    assert "m365.quarantine_high_phish" in data["floor"]["because"]


def test_settings_file_changes_the_decision(tmp_path: Path) -> None:
    cfg = tmp_path / "q.toml"
    cfg.write_text('enabled = false\nmode = "enforce"\n')
    code, out, _ = invoke("analyze", str(SAMPLES / "marketing-spam.eml"), "--json", "--settings", str(cfg))
    assert code == 0
    assert json.loads(out)["decision"]["rule"] == "review.disabled"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.eml", None, "no such file"),
        ("empty.eml", b"", "is empty"),
        ("blank.eml", b"  \n\n ", "is empty"),
        ("bin.eml", bytes(range(256)) * 40, "binary data"),
        ("notes.txt", b"buy milk\neggs\n", "not an email"),
        (".", None, "is a directory"),
        ("x.msg", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, ".msg"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = invoke("analyze", str(path))
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) <= 2


def test_unreadable_settings_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("this is = = not toml")
    code, _, err = invoke("analyze", str(SAMPLES / "legit-invoice.eml"), "--settings", str(cfg))
    assert code == 2 and "not valid TOML" in err


def test_invalid_option_value_exit_2() -> None:
    code, _, err = invoke("analyze", str(SAMPLES / "legit-invoice.eml"), "--quarantine-type", "Bogus")
    assert code == 2
    assert "Traceback" not in err


def test_settings_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRELEASE_REASONER__API_KEY", "sk-supersecret")
    code, out, _ = invoke("settings", "show")
    assert code == 0
    assert "sk-supersecret" not in out
    assert json.loads(out)["reasoner"]["kind"] == "offline"


def test_settings_validate(tmp_path: Path) -> None:
    code, out, _ = invoke("settings", "validate")
    assert code == 0 and "settings OK" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('release_scope = "everyone"\n')
    code, _, err = invoke("settings", "validate", "--settings", str(bad))
    assert code == 2 and "release_scope" in err


def test_help_documents_exit_codes() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    assert "Exit codes" in out and "2 bad input" in flat(out)


def test_internal_errors_end_with_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from qrelease import cli

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.setattr(sys, "argv", ["qrelease", "analyze", "x.eml"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError" in err and "Traceback" not in err


def test_error_messages_print_brackets_verbatim(tmp_path: Path) -> None:
    code, _, err = invoke("analyze", str(tmp_path / "[bold]odd[/bold].eml"))
    assert code == 2
    assert "[bold]odd[/bold].eml" in err
