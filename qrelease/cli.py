"""The `qrelease` command line. Commands parse arguments, build dependencies, call a service, render.

Exit codes: 0 the command completed (an analysis ending in manual review is a completed
analysis); 1 an internal error; 2 bad input: missing, empty or non-email file, unreadable or
invalid settings, bad option values.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from policies.models import QuarantineType, ReleaseRequest
from policies.settings import Settings, SettingsError, load_settings
from qrelease.inputs import InputError, read_message

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="qrelease",
    help=__doc__,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
settings_app = typer.Typer(help="Show or validate the settings.", no_args_is_help=True)
app.add_typer(settings_app, name="settings")

SettingsOpt = Annotated[
    Path | None,
    typer.Option("--settings", "-s", help="Settings TOML file (default: ./qrelease.toml if present)."),
]

err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr and a non-zero exit: no traceback for bad input."""
    # File names and tenant errors may contain [brackets]: escape them so rich prints them verbatim.
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_fail(path: Path | None) -> Settings:
    """Settings, or exit 2 with the reason."""
    try:
        return load_settings(path)
    except SettingsError as exc:
        fail(str(exc))


@app.command()
def analyze(
    path: Annotated[Path | None, typer.Argument(help="The message: .eml (RFC 822) or Outlook .msg.")] = None,
    requester: Annotated[
        str | None, typer.Option("--requester", "-r", help="Address of the employee asking for release.")
    ] = None,
    quarantine_type: Annotated[
        QuarantineType | None,
        typer.Option("--quarantine-type", "-q", help="Why Microsoft quarantined it, if known.", case_sensitive=False),
    ] = None,
    settings_file: SettingsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the TriageResult as JSON.")] = False,
    quarantine_id: Annotated[
        str | None,
        typer.Option("--quarantine-id", help="Analyze a live quarantined message (GUID\\GUID), read-only."),
    ] = None,
) -> None:
    """Analyze one message and show the verdict, the decision and the notification (read-only)."""
    settings = settings_or_fail(settings_file)
    if quarantine_id is not None:
        if path is not None:
            fail("give either a message PATH or --quarantine-id, not both")
        from qrelease.tenant_cli import TenantCommandError, fetch_quarantined

        try:
            raw, row = fetch_quarantined(settings, quarantine_id)
        except TenantCommandError as exc:
            fail(str(exc), exc.code)
        requester = requester or row.requester
        quarantine_type = quarantine_type or row.quarantine_type
        path = Path(quarantine_id.replace("\\", "_") + ".eml")
    elif path is None:
        fail("give a message file PATH or --quarantine-id ID")
    else:
        try:
            raw = read_message(path)
        except InputError as exc:
            fail(str(exc))
    from tools.mime import sniff

    unusable = sniff(raw)
    if unusable is not None:
        reason = {"parse.binary_garbage": "binary data", "parse.empty": "empty"}.get(unusable, "not an email")
        fail(f"{path} is {reason}: expected an RFC 822 message (.eml) or an Outlook .msg file")
    request = ReleaseRequest(
        requester=requester, recipient=requester, quarantine_type=quarantine_type, quarantine_identity=quarantine_id
    )
    from qrelease.service import analyze_message

    try:
        result = analyze_message(raw, request, settings)
    except SettingsError as exc:  # e.g. a model reasoner that cannot be built
        fail(str(exc))
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    from qrelease.render import render_result

    render_result(Console(), result, path.name)


@settings_app.command("show")
def settings_show(settings_file: SettingsOpt = None) -> None:
    """Print the effective settings as JSON (secrets masked)."""
    settings = settings_or_fail(settings_file)
    sys.stdout.write(json.dumps(json.loads(settings.model_dump_json()), indent=2) + "\n")


@settings_app.command("validate")
def settings_validate(settings_file: SettingsOpt = None) -> None:
    """Check the settings; exit 2 with the reason when they are invalid."""
    settings = settings_or_fail(settings_file)
    Console().print(
        f"settings OK: mode={settings.mode}, enabled={settings.enabled}, scope={settings.release_scope}, "
        f"reasoner={settings.reasoner.kind}"
    )


# Command groups from other modules (each imports its heavy dependencies lazily).
from qrelease.tenant_cli import tenant_app  # noqa: E402

app.add_typer(tenant_app, name="tenant")

from qrelease.eval_cli import eval_command  # noqa: E402

app.command("eval")(eval_command)

from qrelease.ops_cli import register as register_ops  # noqa: E402

register_ops(app)  # worker, health, review, history, stats, demo


def main() -> None:
    """Console-script entry point: bad input never shows a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug must still end with one line, not a traceback
        if os.environ.get("QRELEASE_DEBUG"):
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__} (set QRELEASE_DEBUG=1 for details)")
        sys.exit(EXIT_INTERNAL)
