"""Human output of a triage result (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from graph.state import TriageResult
from policies.models import Action
from tools.catalogue import SEVERITY_WEIGHT

_VERDICT_STYLE = {"safe": "green", "spam": "yellow", "malicious": "bold red"}
_ACTION_STYLE = {Action.RELEASE: "green", Action.DENY: "red", Action.MANUAL_REVIEW: "yellow"}


def render_result(console: Console, result: TriageResult, name: str) -> None:
    """Verdict, decision and rule, top evidence, notification preview. Email text is escaped."""
    verdict = str(result.verdict) if result.verdict else "none (analysis failed)"
    style = _VERDICT_STYLE.get(verdict, "magenta")
    decision = result.decision
    mode = "" if decision.enforced else "  [dim](shadow mode: recorded, not acted on)[/]"
    lines = [
        f"[bold]Message[/]    {escape(result.message.subject or '(no subject)')}",
        f"[bold]From[/]       {escape(result.message.from_display_name)} <{escape(result.message.from_address)}>",
        f"[bold]Verdict[/]    [{style}]{verdict}[/] (confidence {result.confidence:.2f})",
        f"[bold]Decision[/]   [{_ACTION_STYLE[decision.action]}]{decision.action}[/] by rule "
        f"[cyan]{decision.rule}[/]: {escape(decision.reason)}{mode}",
        f"[bold]Reasoning[/]  {escape(result.reasoning)}",
        f"[dim]reasoner {result.reasoner} ({result.model_id})[/]",
    ]
    console.print(Panel("\n".join(lines), title=f"qrelease analyze: {escape(name)}", expand=False))
    if result.evidence:
        table = Table(title="Evidence", show_lines=False)
        table.add_column("finding")
        table.add_column("severity")
        table.add_column("what")
        table.add_column("evidence", overflow="fold", max_width=60)
        floor_ids = set(result.floor.because)
        ranked = sorted(result.evidence, key=lambda f: -SEVERITY_WEIGHT[f.severity])[:12]
        for f in ranked:
            mark = " [bold red](floor)[/]" if f.id in floor_ids else ""
            table.add_row(f.id + mark, str(f.severity), f.description, escape(f.evidence))
        console.print(table)
    if result.notification:
        n = result.notification
        body = f"From: {escape(n.from_name)} <{escape(n.from_address)}>\nTo: {escape(n.to)}\n"
        body += f"Subject: {escape(n.subject)}\n\n{escape(n.body)}"
        console.print(Panel(body, title="Notification to the requester", expand=False))
    for error in result.errors:
        console.print(f"[yellow]analysis error:[/] {escape(error)}")
