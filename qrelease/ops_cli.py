"""Operating commands: `worker`, `health`, `review list|show|approve|deny`, `history`, `stats`, `demo`.

Registered on the main app by `qrelease.cli`. Heavy modules (SQLAlchemy, LangGraph, the tenant
adapters) are imported inside the commands so `qrelease --help` stays fast.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from policies.settings import Settings
    from qrelease.store.repo import Store

EXIT_BAD_INPUT = 2
EXIT_UNHEALTHY = 1

SettingsOpt = Annotated[
    Path | None,
    typer.Option("--settings", "-s", help="Settings TOML file (default: ./qrelease.toml if present)."),
]
DbOpt = Annotated[
    str | None, typer.Option("--database-url", help="Override database_url (sqlite:///path or postgresql://...).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

review_app = typer.Typer(help="The manual-review queue: list, show, approve (release) or deny.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _settings(path: Path | None, database_url: str | None = None, **overrides: Any) -> Settings:
    from policies.settings import SettingsError, load_settings

    if database_url:
        overrides["database_url"] = database_url
    try:
        return load_settings(path, **overrides)
    except SettingsError as exc:
        _fail(str(exc))


def _store(settings: Settings) -> Store:
    from qrelease.store import StoreError, open_store

    try:
        return open_store(settings.database_url)
    except StoreError as exc:
        _fail(str(exc))


def _short(rid: str) -> str:
    return rid[:8]


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


# -- worker ---------------------------------------------------------------------------------------------


def worker_command(
    settings_file: SettingsOpt = None,
    database_url: DbOpt = None,
    worker_id: Annotated[
        str | None,
        typer.Option("--worker-id", help="Stable id (e.g. the pod name); default host-pid. One process per id."),
    ] = None,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Poll once, process everything, then exit (batch runs, cron).")
    ] = False,
    fake_tenant: Annotated[
        str | None,
        typer.Option(
            "--fake-tenant",
            hidden=True,
            help="Development only: talk to a loopback fake tenant (qrelease.fake_tenant) at this URL.",
        ),
    ] = None,
) -> None:
    """Run the worker: poll the tenant, triage each release request, act (or record, in shadow mode).

    Stops on SIGTERM/SIGINT: no new claims, in-flight requests finish within worker.shutdown_deadline_seconds,
    the rest are handed back. Logs are JSON lines on stderr.
    """
    settings = _settings(settings_file, database_url)
    if fake_tenant is not None:
        settings = _fake_tenant_settings(settings, fake_tenant)
    from qrelease.worker import setup_json_logging

    setup_json_logging()
    code = asyncio.run(_run_worker(settings, worker_id, until_idle, fake=fake_tenant is not None))
    raise typer.Exit(code)


def _fake_tenant_settings(settings: Settings, url: str) -> Settings:
    """Point the adapters at a loopback fake tenant; anything else is refused (a fake token must never leave)."""
    from urllib.parse import urlsplit

    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        _fail("--fake-tenant must be a loopback URL (http://127.0.0.1:PORT)")
    base = url.rstrip("/")
    tenant = settings.tenant.model_copy(
        update={
            "tenant_id": settings.tenant.tenant_id or "00000000-0000-0000-0000-000000000000",
            "exchange_base_url": base,
            "graph_base_url": base + "/v1.0",
        }
    )
    return settings.model_copy(update={"tenant": tenant})


async def _run_worker(settings: Settings, worker_id: str | None, until_idle: bool, *, fake: bool = False) -> int:
    from qrelease.store import StoreError
    from qrelease.worker import TenantClients, WorkerStartError, install_signal_handlers, run_worker
    from tools.m365.credentials import TenantConfigError
    from tools.m365.factory import connect

    stop = asyncio.Event()
    install_signal_handlers(stop)
    credential = None
    if fake:
        from tools.m365.credentials import StaticTokenCredential

        credential = StaticTokenCredential()
    try:
        async with connect(settings, credential=credential) as clients:
            await run_worker(
                settings,
                TenantClients(clients.quarantine, clients.directory),
                worker_id=worker_id,
                until_idle=until_idle,
                stop=stop,
            )
    except (TenantConfigError, StoreError, WorkerStartError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_BAD_INPUT
    return 0


def health_command(
    settings_file: SettingsOpt = None,
    health_file: Annotated[
        Path | None, typer.Option("--file", help="Health file (default: worker.health_file from the settings).")
    ] = None,
    max_age: Annotated[float, typer.Option("--max-age", help="Seconds after which the file counts as stale.")] = 0,
) -> None:
    """Probe the worker's health file (exit 0 healthy, 1 not): for systemd, Kubernetes or a cron check."""
    from qrelease.worker import check_health

    settings = _settings(settings_file)
    path = health_file or settings.worker.health_file
    if path is None:
        _fail("no health file: set worker.health_file or pass --file")
    # Heartbeats come every lease/3 seconds and polls every poll interval: allow a few of either.
    limit = max_age or max(3 * settings.worker.poll_interval_seconds, settings.worker.lease_seconds)
    ok, message = check_health(path, limit)
    Console().print(message, markup=False)
    raise typer.Exit(0 if ok else EXIT_UNHEALTHY)


# -- review -----------------------------------------------------------------------------------------------


@review_app.command("list")
def review_list(settings_file: SettingsOpt = None, database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Requests waiting for an operator, oldest first."""
    from qrelease.store.models import RequestState

    store = _store(_settings(settings_file, database_url))
    rows = list(reversed(store.requests(RequestState.MANUAL_REVIEW, limit=500)))
    if as_json:
        out = [
            {
                "id": r.id,
                "identity": r.identity,
                "requester": r.requester,
                "reason": r.review_reason,
                "discovered_at": _fmt_time(r.discovered_at),
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    table = Table(title=f"Manual review ({len(rows)})")
    for col in ("id", "since", "requester", "sender", "subject", "why"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            _short(r.id),
            _fmt_time(r.discovered_at),
            escape(r.requester or "?"),
            escape(r.sender[:40]),
            escape(r.subject[:50]),
            escape((r.review_reason or "")[:80]),
        )
    Console().print(table)


@review_app.command("show")
def review_show(
    ref: Annotated[str, typer.Argument(help="Request id (or its first 8+ characters) or quarantine identity.")],
    settings_file: SettingsOpt = None,
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One request: its decisions, the evidence, the actions ledger and the audit trail."""
    store = _store(_settings(settings_file, database_url))
    row = store.find(ref)
    if row is None:
        _fail(f"no request matches {ref!r} (give the id shown by `review list`, at least 6 characters)")
    decisions = store.decisions(row.id, limit=20)
    actions = store.actions(row.id)
    audit = store.audit_trail(row.id)
    if as_json:
        out = {
            "request": row.model_dump(mode="json"),
            "decisions": [d.model_dump(mode="json") for d in decisions],
            "actions": [a.model_dump(mode="json", exclude={"payload"}) for a in actions],
            "audit": [a.model_dump(mode="json") for a in audit],
        }
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return
    c = Console()
    c.print(f"[bold]Request[/] {row.id}  [dim]{escape(row.identity)}[/]")
    c.print(
        f"[bold]State[/]   {row.state}  attempts={row.attempts}"
        + (f"  [yellow]{escape(row.review_reason)}[/]" if row.review_reason else "")
    )
    c.print(f"[bold]From[/]    {escape(row.sender)}  [bold]to[/] {escape(row.requester or '?')}")
    c.print(f"[bold]Subject[/] {escape(row.subject)}")
    for d in decisions:
        c.print(
            f"\n[bold]Decision[/] {_fmt_time(d.created_at)} by {escape(d.decided_by)}: {d.action} ({d.rule})"
            f" verdict={d.verdict} confidence={d.confidence:.2f}" + ("" if d.enforced else " [dim](shadow)[/]")
        )
        if d.reasoning:
            c.print(f"  {escape(d.reasoning[:1500])}")
        for f in d.findings[:15]:
            c.print(f"  - {escape(str(f.get('id')))} {escape(str(f.get('evidence', ''))[:100])}")
    if actions:
        t = Table(title="Actions ledger")
        for col in ("kind", "state", "attempts", "outcome", "updated"):
            t.add_column(col)
        for a in actions:
            t.add_row(a.kind, a.state, str(a.attempts), escape(a.outcome or ""), _fmt_time(a.updated_at))
        c.print(t)
    t = Table(title="Audit trail")
    for col in ("at", "actor", "event", "detail"):
        t.add_column(col)
    for e in audit:
        t.add_row(_fmt_time(e.at), escape(e.actor), e.event, escape(e.detail[:100]))
    c.print(t)


OperatorOpt = Annotated[str, typer.Option("--operator", "-o", help="Your name, recorded in the audit trail.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit trail).")]


@review_app.command("approve")
def review_approve(
    ref: Annotated[str, typer.Argument(help="Request id (or prefix) or quarantine identity.")],
    operator: OperatorOpt,
    reason: ReasonOpt = "",
    settings_file: SettingsOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Release the message to the requester. The worker carries it out through the ledger."""
    from policies.models import Action

    _operator_decide(ref, operator, Action.RELEASE, reason, False, settings_file, database_url)


@review_app.command("deny")
def review_deny(
    ref: Annotated[str, typer.Argument(help="Request id (or prefix) or quarantine identity.")],
    operator: OperatorOpt,
    reason: ReasonOpt = "",
    notify: Annotated[bool, typer.Option("--notify/--no-notify", help="Tell the requester why.")] = True,
    settings_file: SettingsOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Deny the release request (and by default notify the requester)."""
    from policies.models import Action

    _operator_decide(ref, operator, Action.DENY, reason, notify, settings_file, database_url)


def _operator_decide(
    ref: str,
    operator: str,
    action: Any,
    reason: str,
    notify: bool,
    settings_file: Path | None,
    database_url: str | None,
) -> None:
    operator = operator.strip()
    if not operator:
        _fail("--operator must name who decides (it goes into the audit trail)")
    settings = _settings(settings_file, database_url)
    store = _store(settings)
    row = store.find(ref)
    if row is None:
        _fail(f"no request matches {ref!r}")
    notification = _operator_notification(settings, store, row) if notify else None
    if notify and notification is None:
        err.print("[yellow]warning:[/] the requester is unknown: no notification will be sent")
    try:
        store.operator_decide(row.id, operator, action, reason, notification)
    except ValueError as exc:
        _fail(str(exc))
    note = "" if settings.mode == "enforce" else " (the worker is in shadow mode: it acts once mode = enforce)"
    Console().print(
        f"{action} recorded for {_short(row.id)} by {escape(operator)}; the worker will carry it out{note}."
    )


def _finding_lines(findings: list[dict[str, Any]], limit: int = 5) -> str:
    """The recorded findings in the catalogue's own words (never text from the email), strongest first."""
    from tools.catalogue import SEVERITY_WEIGHT, Severity, Signal, spec

    specs = []
    for f in findings:
        try:
            specs.append(spec(str(f.get("id"))))
        except Exception:
            continue  # a finding id retired from the catalogue since the decision
    ranked = sorted(
        (s for s in specs if s.signal is not Signal.BENIGN and s.severity is not Severity.INFO),
        key=lambda s: -SEVERITY_WEIGHT[s.severity],
    )
    lines = list(dict.fromkeys(f"- {s.description}" for s in ranked))[:limit]
    return "\n".join(lines) or "- A security analyst reviewed the message."


def _operator_notification(settings: Settings, store: Store, row: Any) -> dict[str, Any] | None:
    """The requester's notification for an operator's deny, from the same templates as automatic ones."""
    import prompts
    from agents.notification_composer import choose_sender
    from tools.sanitize import sanitize_header, sanitize_text

    if not row.requester:
        return None
    last = next((d for d in store.decisions(row.id, limit=20) if d.decided_by.startswith("worker:")), None)
    kind = "malicious" if last is not None and last.verdict == "malicious" else "spam"
    reasoning = (last.reasoning if last is not None and last.verdict else "") or "A security analyst reviewed it."
    subject = sanitize_header(row.subject, 120) or "(no subject)"
    values = {
        "subject": subject,
        "findings": _finding_lines(last.findings if last is not None else []),
        "reasoning": sanitize_text(reasoning, settings.notification_max_reasoning_chars),
        "sender_name": sanitize_header(settings.sender_name, 80),
        "reference": "QR-" + hashlib.sha256(row.identity.encode()).hexdigest()[:10].upper(),
    }
    name = f"notify_{kind}"
    try:
        # Give the template exactly the slots it declares; one this command cannot fill is an error.
        body = prompts.render(name, **{k: v for k, v in values.items() if k in prompts.variables(name)})
    except prompts.PromptError as exc:
        _fail(f"cannot compose the notification: {exc}", code=1)
    return {
        "to": row.requester,
        "from_address": choose_sender(settings, None),
        "from_name": sanitize_header(settings.sender_name, 80),
        "subject": sanitize_header("Quarantined message not released: " + subject, 200),
        "body": body,
        "kind": kind,
    }


# -- history and stats --------------------------------------------------------------------------------------


def history_command(
    settings_file: SettingsOpt = None,
    database_url: DbOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 25,
    as_json: JsonOpt = False,
) -> None:
    """Recent decisions, newest first."""
    store = _store(_settings(settings_file, database_url))
    decisions = store.decisions(limit=limit)
    if as_json:
        cols = ("request_id", "decided_by", "verdict", "confidence", "action", "rule", "enforced", "model_id")
        out = [{**{k: getattr(d, k) for k in cols}, "created_at": _fmt_time(d.created_at)} for d in decisions]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    table = Table(title=f"Last {len(decisions)} decisions")
    for col in ("when", "request", "by", "verdict", "conf", "action", "rule"):
        table.add_column(col)
    for d in decisions:
        action = d.action + ("" if d.enforced else " (shadow)")
        table.add_row(
            _fmt_time(d.created_at),
            _short(d.request_id),
            escape(d.decided_by),
            d.verdict or "-",
            f"{d.confidence:.2f}",
            action,
            d.rule,
        )
    Console().print(table)


def stats_command(
    settings_file: SettingsOpt = None,
    database_url: DbOpt = None,
    days: Annotated[float, typer.Option("--days", min=0.001, help="Window, in days, ending now.")] = 7.0,
    as_json: JsonOpt = False,
) -> None:
    """Counts per verdict and action, escalation rate, time-to-decision p50/p95; in shadow mode, what would happen."""
    from dataclasses import asdict

    from qrelease.store.models import utc_now

    store = _store(_settings(settings_file, database_url))
    stats = store.stats(utc_now() - timedelta(days=days))
    if as_json:
        sys.stdout.write(json.dumps({"days": days, **asdict(stats)}, indent=2) + "\n")
        return
    c = Console()
    c.print(f"[bold]Last {days:g} days[/]: {stats.decisions} automatic decisions")
    c.print(f"  by verdict: {_kv(stats.by_verdict)}")
    c.print(f"  by action:  {_kv(stats.by_action)}")
    c.print(f"  escalation rate (manual review): {stats.escalation_rate:.1%}")
    p50 = "-" if stats.p50_seconds is None else f"{stats.p50_seconds:.2f}s"
    p95 = "-" if stats.p95_seconds is None else f"{stats.p95_seconds:.2f}s"
    c.print(f"  time to decision: p50 {p50}, p95 {p95}")
    c.print(f"  side effects carried out: {_kv(stats.executed) or 'none'}")
    if stats.shadow_would:
        c.print(f"  [bold]shadow mode[/], would have: {_kv(stats.shadow_would)}")
    c.print(f"  requests by state: {_kv(stats.states)}")
    c.print(f"  top rules: {_kv(dict(list(stats.by_rule.items())[:6]))}")


def _kv(d: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


# -- demo ----------------------------------------------------------------------------------------------------


def demo_command(
    copies: Annotated[int, typer.Option("--copies", min=1, max=250, help="Requests per bundled sample.")] = 3,
    mode: Annotated[str, typer.Option("--mode", help="enforce (act on the fake tenant) or shadow.")] = "enforce",
    workdir: Annotated[Path, typer.Option("--dir", help="Where the demo database goes.")] = Path(".qrelease/demo"),
) -> None:
    """See the whole loop: a fake tenant on 127.0.0.1, seeded with the bundled samples, and a worker on it."""
    if mode not in ("enforce", "shadow"):
        _fail("--mode must be enforce or shadow")
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "demo.db"
    for p in workdir.glob("demo.db*"):
        p.unlink()
    asyncio.run(_demo(copies, mode, db))


async def _demo(copies: int, mode: str, db: Path) -> None:
    from importlib import resources

    from rich.live import Live

    from policies.settings import load_settings
    from qrelease.fake_tenant import FakeTenant, serve_fake_tenant
    from qrelease.worker import TenantClients, Worker, run_worker
    from tools.m365.credentials import StaticTokenCredential
    from tools.m365.factory import connect

    tenant = FakeTenant(domains={"contoso.com"})
    folder = resources.files("qrelease").joinpath("samples")
    samples = sorted((p for p in folder.iterdir() if p.name.endswith(".eml")), key=lambda p: p.name)
    for i in range(copies):
        for n, sample in enumerate(samples):
            tenant.add_request(
                sample.read_bytes(), requester=f"user{n + 1}@contoso.com", subject=f"{sample.name} #{i + 1}"
            )
    console = Console()
    with serve_fake_tenant(tenant) as server:
        settings = load_settings(
            mode=mode,
            database_url=f"sqlite:///{db}",
            sender_mailbox="quarantine@contoso.com",
            tenant={
                "tenant_id": "00000000-0000-0000-0000-000000000000",
                "exchange_base_url": server.base_url,
                "graph_base_url": server.graph_url,
            },
            worker={"poll_interval_seconds": 1.0, "concurrency": 4},
        )
        console.print(
            f"Fake tenant on {server.base_url} with {len(tenant.messages)} release requests; "
            f"worker in [bold]{mode}[/] mode, database {db}"
        )
        holder: dict[str, Worker] = {}
        stop = asyncio.Event()
        async with connect(settings, credential=StaticTokenCredential()) as clients:
            task = asyncio.create_task(
                run_worker(
                    settings,
                    TenantClients(clients.quarantine, clients.directory),
                    worker_id="demo",
                    until_idle=True,
                    stop=stop,
                    retry_base_seconds=0.5,
                    idle_sleep_seconds=0.1,
                    on_ready=lambda w: holder.__setitem__("w", w),
                )
            )
            with Live(console=console, refresh_per_second=8) as live:
                while not task.done():
                    if "w" in holder:
                        live.update(_live_view(holder["w"], tenant))
                    await asyncio.sleep(0.12)
                if "w" in holder:
                    live.update(_live_view(holder["w"], tenant))
            await task
    console.print("\nDone. Try: qrelease history / stats / review list --database-url " + settings.database_url)


def _live_view(worker: Any, tenant: Any) -> Table:
    counts = worker.store.counts()
    snap = tenant.snapshot()
    table = Table(title="qrelease demo (live)", show_header=True)
    table.add_column("worker: requests by state")
    table.add_column("tenant: message status")
    table.add_column("recent decisions")
    left = "\n".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    mid = "\n".join(f"{k}: {v}" for k, v in sorted(snap["status"].items()))
    mid += f"\nnotifications sent: {sum(snap['sent_per_marker'].values())}"
    recent = worker.store.decisions(limit=8)
    right = "\n".join(f"{_short(d.request_id)} {d.verdict or '-':9} -> {d.action} ({d.rule})" for d in recent)
    table.add_row(left, mid, right)
    return table


def register(app: typer.Typer) -> None:
    """Add the operating commands to the main `qrelease` app."""
    app.command("worker")(worker_command)
    app.command("health")(health_command)
    app.add_typer(review_app, name="review")
    app.command("history")(history_command)
    app.command("stats")(stats_command)
    app.command("demo")(demo_command)
