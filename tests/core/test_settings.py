"""Settings: TOML file, environment overrides, validation with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.settings import SettingsError, load_settings


def test_defaults_are_safe_without_any_file() -> None:
    s = load_settings()
    assert s.reasoner.kind == "offline"
    assert s.mode == "shadow"
    assert s.release_confirmed_spam is False


def test_toml_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "q.toml"
    path.write_text(
        'mode = "enforce"\nrelease_scope = "specific"\neligible_users = ["a@contoso.com"]\n'
        '[reasoner]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:11434/v1"\nmodel = "llama3.1"\n'
    )
    s = load_settings(path)
    assert s.mode == "enforce" and s.release_scope == "specific"
    assert s.reasoner.kind == "openai-compatible" and s.reasoner.model == "llama3.1"


def test_env_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "q.toml"
    path.write_text('mode = "enforce"\n[reasoner]\ntimeout_seconds = 30\n')
    monkeypatch.setenv("QRELEASE_MODE", "shadow")
    monkeypatch.setenv("QRELEASE_REASONER__TIMEOUT_SECONDS", "12")
    s = load_settings(path)
    assert s.mode == "shadow"
    assert s.reasoner.timeout_seconds == 12


def test_qrelease_toml_in_working_directory_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "qrelease.toml").write_text("release_confirmed_spam = true\n")
    assert load_settings().release_confirmed_spam is True


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("mode = \n", "not valid TOML"),
        ('mode = "yolo"\n', "mode"),
        ("relase_scope = 'all'\n", "relase_scope"),  # typo in a security setting must not pass silently
        ('[reasoner]\nkind = "openai-compatible"\n', "base_url is required"),
        ("min_release_confidence = 1.5\n", "min_release_confidence"),
        ('sender_mailbox = "not-an-address"\n', "sender_mailbox"),
    ],
)
def test_invalid_settings_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_are_masked_when_dumped() -> None:
    s = load_settings(reasoner={"kind": "openai", "api_key": "sk-very-secret"}, tenant={"client_secret": "hush"})
    dumped = s.model_dump_json()
    assert "sk-very-secret" not in dumped and "hush" not in dumped
