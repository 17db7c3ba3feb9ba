"""`qrelease eval`: run labeled messages through the triage graph and report the product's metrics.

Exit codes: 0 done (and the gate passed, when on); 2 bad input (manifest, settings, thresholds);
3 the gate failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from policies.settings import SettingsError, load_settings

EXIT_GATE_FAILED = 3
#: The project's own labeled sets, used when no --corpus is given.
BUNDLED = Path(__file__).resolve().parent.parent / "evals" / "datasets"


def default_corpora() -> list[Path]:
    """Every bundled data set that has a manifest (project, adversarial, ...)."""
    return sorted(p.parent for p in BUNDLED.glob("*/MANIFEST.csv"))


def eval_command(
    corpus: Annotated[
        list[Path] | None,
        typer.Option(
            "--corpus",
            "-c",
            help="A MANIFEST.csv or a folder holding one (repeatable). Default: the bundled evals/datasets/*.",
        ),
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", "-s", help="Settings TOML file (default: ./qrelease.toml if present)."),
    ] = None,
    reasoner: Annotated[
        str | None,
        typer.Option("--reasoner", help="Override reasoner.kind: offline, openai, azure-openai, openai-compatible."),
    ] = None,
    report_dir: Annotated[
        Path, typer.Option("--report", "-o", help="Folder for report.json, report.md and report.png.")
    ] = Path("reports/eval"),
    gate: Annotated[
        bool, typer.Option("--gate/--no-gate", help="Fail (exit 3) on a released malicious message or a threshold.")
    ] = True,
    thresholds: Annotated[
        Path | None, typer.Option("--thresholds", help="Gate thresholds (default: evals/thresholds.toml).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=1, max=64, help="Messages in flight (default: 1 offline, worker.concurrency)."
        ),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="SQLite cache of model judgments (default .qrelease/eval-cache.sqlite)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the model again even for cached questions.")
    ] = False,
) -> None:
    """Evaluate the agents on labeled messages: verdicts, releases, leaks, latency and cost."""
    from rich.console import Console

    from qrelease.cli import fail

    overrides: dict[str, Any] = {}
    if reasoner is not None:
        kinds = ("offline", "openai", "azure-openai", "openai-compatible")
        if reasoner not in kinds:
            fail(f"--reasoner must be one of {', '.join(kinds)}, not {reasoner!r}")
        overrides["reasoner"] = {"kind": reasoner}
    try:
        settings = load_settings(settings_file, **overrides)
    except SettingsError as exc:
        fail(str(exc))
    from evals.gate import ThresholdError
    from evals.runner import ManifestError, load_corpora

    corpora = corpus or default_corpora()
    if not corpora:
        fail("no --corpus given and no bundled data set found")
    try:
        cases = load_corpora(corpora)
    except ManifestError as exc:
        fail(str(exc))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evals.report import render_terminal, write_report
    from evals.suite import DEFAULT_CACHE, evaluate

    # Wide enough for the outcome table when the output is a CI log rather than a terminal.
    console = Console(width=None if sys.stdout.isatty() else 150)
    with Progress(
        TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("eval", total=len(cases))
        try:
            report = evaluate(
                cases,
                settings,
                gate=gate,
                thresholds_path=thresholds,
                cache_path=None if no_cache else (cache or DEFAULT_CACHE),
                concurrency=concurrency,
                on_done=lambda _run: progress.advance(task),
            )
        except (SettingsError, ThresholdError) as exc:
            fail(str(exc))
    render_terminal(console, report)
    try:
        written = write_report(report_dir, report)
    except OSError as exc:
        fail(f"cannot write the report to {report_dir}: {exc}")
    console.print("report: " + ", ".join(str(p) for p in written))
    if report["gate"] is not None and not report["gate"]["passed"]:
        raise typer.Exit(EXIT_GATE_FAILED)
