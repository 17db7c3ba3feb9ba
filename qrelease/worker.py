"""The long-running worker: poll the tenant, claim requests, triage, decide, act, record.

One asyncio loop per process. Requests are leased from the store (SKIP LOCKED on PostgreSQL, so
several workers share one database; SQLite allows one worker and refuses a second). Graph runs are
checkpointed under the request id, so a crash resumes a half-done analysis. Side effects go through
the ledger (`qrelease.executor`). SIGTERM/SIGINT stop claiming, let in-flight work finish within the
shutdown deadline, and hand the rest back. Logs are JSON lines built from an allow-list of fields:
never subjects, bodies, addresses' local parts, tokens or secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from graph.context import Deps
from graph.runner import resume, triage
from graph.state import TriageResult
from policies.models import QuarantineType, ReleaseRequest
from policies.settings import Settings
from qrelease.executor import Executor, Outcome
from qrelease.store.db import is_postgres, sqlite_path
from qrelease.store.models import RequestState, utc_now
from qrelease.store.repo import Claim, LeaseLost, Store
from tools.m365.interfaces import DirectoryClient, QuarantineClient, QuarantineStateError, TenantError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

log = logging.getLogger("qrelease.worker")

#: The only fields a log line may carry (anything else is dropped at the formatter).
LOG_FIELDS = frozenset(
    {
        "worker",
        "request_id",
        "state",
        "action",
        "rule",
        "verdict",
        "confidence",
        "attempts",
        "outcome",
        "error",
        "duration_ms",
        "count",
        "claimed",
        "in_flight",
        "mode",
        "pid",
        "db",
        "resumed",
    }
)


class WorkerStartError(Exception):
    """The worker cannot start (a second worker on SQLite, a worker id already running, ...)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields pass only through `LOG_FIELDS`."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize the record with allow-listed fields only."""
        out: dict[str, Any] = {
            "ts": utc_now().isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k in LOG_FIELDS})
        return json.dumps(out, default=str)


def setup_json_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Route the `qrelease` loggers to JSON lines on `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("qrelease")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log an event with structured fields (filtered by `LOG_FIELDS` when formatted)."""
    log.log(level, name, extra={"fields": fields})


def redact_url(url: str) -> str:
    """A database URL without its password."""
    if "://" not in url or "@" not in url.split("://", 1)[1]:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


@dataclass
class TenantClients:
    """The tenant as the worker sees it, and how to close it."""

    quarantine: QuarantineClient
    directory: DirectoryClient
    close: Callable[[], Awaitable[None]] | None = None


@dataclass
class WorkerStats:
    """Counters for the health file, the live view and benchmarks."""

    polled: int = 0
    discovered: int = 0
    processed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    last_poll_ok: float | None = None
    last_poll_error: str | None = None
    in_flight: int = 0
    stopping: bool = False

    def count(self, outcome: str) -> None:
        """Count one finished request."""
        self.processed += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class _ProcessLock:
    """Held for the worker's lifetime: the SQLite single-worker lock, or a PostgreSQL advisory lock per id."""

    def __init__(self) -> None:
        self._fh: Any = None
        self._conn: Any = None

    def acquire(self, store: Store, database_url: str, worker_id: str) -> None:
        if is_postgres(database_url):
            import sqlalchemy as sa

            self._conn = store.engine.connect()
            got = self._conn.execute(
                sa.text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": f"qrelease-worker:{worker_id}"}
            ).scalar_one()
            self._conn.commit()
            if not got:
                self._conn.close()
                self._conn = None
                raise WorkerStartError(f"a worker with id {worker_id!r} is already running against this database")
            return
        path = sqlite_path(database_url)
        if path is None:
            return
        import fcntl

        lock_path = path.with_name(path.name + ".worker.lock")
        fh = lock_path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise WorkerStartError(
                f"another worker (pid {holder}) is already running against the SQLite database {path}; "
                "SQLite supports one worker: stop it, or use PostgreSQL (database_url = postgresql://...) "
                "to run several"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Worker:
    """Polls, claims and processes release requests until stopped."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        tenant: TenantClients,
        *,
        checkpointer: Any,
        worker_id: str | None = None,
        reasoner: Any = None,
        retry_base_seconds: float = 5.0,
        idle_sleep_seconds: float = 1.0,
    ) -> None:
        from agents.reasoner import build_reasoner
        from graph.builder import build_graph

        self.settings = settings
        self.store = store
        self.tenant = tenant
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.reasoner = reasoner or build_reasoner(settings)
        self.graph = build_graph(checkpointer=checkpointer)
        self.checkpointer = checkpointer
        self.executor = Executor(
            store,
            tenant.quarantine,
            tenant.directory,
            min_lease_left=min(30.0, settings.worker.lease_seconds / 3),
            notify_settle_seconds=settings.worker.notify_settle_seconds,
        )
        self.retry_base = retry_base_seconds
        self.idle_sleep = idle_sleep_seconds
        self.stats = WorkerStats()
        self.enforce = settings.mode == "enforce"
        self._deps = Deps(settings=settings, reasoner=self.reasoner, sender_history=tenant.directory.sender_history)
        self._claims: dict[asyncio.Task[None], Claim] = {}
        self._last_purge = 0.0
        self._lock = _ProcessLock()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Take the process lock and recover this worker's own stale claims (its previous life died).

        Raises:
            WorkerStartError: another worker holds the SQLite database, or this worker id is running.
        """
        self._lock.acquire(self.store, self.settings.database_url, self.worker_id)
        # With the lock held, nobody else is this worker (PostgreSQL) or any worker (SQLite): leases that
        # a dead previous run left behind can be expired now instead of waiting for them to lapse.
        owner = None if sqlite_path(self.settings.database_url) is not None else self.worker_id
        recovered = self.store.expire_leases(owner)
        event(
            "worker_started",
            worker=self.worker_id,
            mode=self.settings.mode,
            db=redact_url(self.settings.database_url),
            pid=os.getpid(),
            count=recovered,
        )

    def stop_lock(self) -> None:
        """Release the process lock."""
        self._lock.release()

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False) -> WorkerStats:
        """Work until `stop` is set (or, with `until_idle`, until nothing is left to do)."""
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        next_poll = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_poll:
                    await self.poll()
                    next_poll = time.monotonic() + self.settings.worker.poll_interval_seconds
                    await self._maybe_purge()
                claimed = await self._claim_more()
                if until_idle and not self._claims and not claimed and await self._idle():
                    break
                await self._wait(stop, busy=bool(claimed))
        finally:
            self.stats.stopping = True
            await self._drain()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self.write_health()
            event("worker_stopped", worker=self.worker_id, count=self.stats.processed)
        return self.stats

    async def _idle(self) -> bool:
        counts = await asyncio.to_thread(self.store.counts)
        return not any(counts.get(s, 0) for s in (RequestState.DISCOVERED, RequestState.CLAIMED)) and (
            not self.enforce or not counts.get(RequestState.DECIDED, 0)
        )

    async def _wait(self, stop: asyncio.Event, *, busy: bool) -> None:
        if busy and len(self._claims) < self.settings.worker.concurrency:
            await asyncio.sleep(0)
            return
        waiters: set[asyncio.Future[Any]] = set(self._claims)
        stopper = asyncio.ensure_future(stop.wait())
        waiters.add(stopper)
        try:
            await asyncio.wait(waiters, timeout=self.idle_sleep, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()

    async def _drain(self) -> None:
        """Let in-flight requests finish within the deadline; cancel and hand back the rest."""
        if not self._claims:
            return
        deadline = self.settings.worker.shutdown_deadline_seconds
        event("draining", worker=self.worker_id, in_flight=len(self._claims))
        _, pending = await asyncio.wait(set(self._claims), timeout=deadline)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- polling ------------------------------------------------------------------------------------

    async def poll(self) -> int:
        """Record new release requests from the tenant; refresh the verified domains."""
        self.stats.polled += 1
        try:
            messages = await self.tenant.quarantine.list_release_requests()
            new = await asyncio.to_thread(self.store.record_discovered, messages, f"worker:{self.worker_id}")
            if self.enforce:
                requeued = await asyncio.to_thread(self.store.requeue_shadowed, messages, f"worker:{self.worker_id}")
                if requeued:
                    event("requeued_shadowed", worker=self.worker_id, count=len(requeued))
        except Exception as exc:
            self.stats.last_poll_error = type(exc).__name__
            event("poll_failed", logging.WARNING, worker=self.worker_id, error=_short_error(exc))
            self.write_health()
            return 0
        try:
            domains = await self.tenant.directory.verified_domains()
            self._deps = Deps(
                settings=self.settings,
                reasoner=self.reasoner,
                verified_domains=domains,
                sender_history=self.tenant.directory.sender_history,
            )
        except Exception as exc:
            event("domains_failed", logging.WARNING, worker=self.worker_id, error=_short_error(exc))
        self.stats.discovered += len(new)
        self.stats.last_poll_ok = time.time()
        self.stats.last_poll_error = None
        if new:
            event("discovered", worker=self.worker_id, count=len(new))
        self.write_health()
        return len(new)

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge < 3600:
            return
        self._last_purge = time.monotonic()
        await self.purge()

    async def purge(self) -> int:
        """Apply the retention setting: empty old content and delete its graph checkpoints."""
        cutoff = utc_now() - timedelta(days=self.settings.worker.retention_days)
        ids = await asyncio.to_thread(self.store.purge_content, cutoff, f"worker:{self.worker_id}")
        for rid in ids:
            with contextlib.suppress(Exception):
                await self.checkpointer.adelete_thread(rid)
        if ids:
            event("retention_purge", worker=self.worker_id, count=len(ids))
        return len(ids)

    # -- claims ---------------------------------------------------------------------------------------

    async def _claim_more(self) -> int:
        free = self.settings.worker.concurrency - len(self._claims)
        if free <= 0 or self.stats.stopping:
            return 0
        w = self.settings.worker
        try:
            claims = await asyncio.to_thread(self.store.claim, self.worker_id, free, w.lease_seconds, w.max_attempts)
        except Exception as exc:
            event("claim_failed", logging.WARNING, worker=self.worker_id, error=_short_error(exc))
            return 0
        for c in claims:
            task = asyncio.create_task(self._process(c))
            self._claims[task] = c
            task.add_done_callback(self._claims.pop)
        self.stats.in_flight = len(self._claims)
        return len(claims)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        interval = max(1.0, self.settings.worker.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            claims = dict(self._claims)
            if claims:
                try:
                    held = await asyncio.to_thread(
                        self.store.renew, claims.values(), self.settings.worker.lease_seconds
                    )
                except Exception as exc:
                    event("renew_failed", logging.WARNING, worker=self.worker_id, error=_short_error(exc))
                    continue
                for task, c in claims.items():
                    if c.id not in held:
                        event("lease_lost", logging.WARNING, worker=self.worker_id, request_id=c.id)
                        task.cancel()
            self.write_health()

    async def _process(self, claim: Claim) -> None:
        started = time.perf_counter()
        outcome = "error"
        try:
            outcome = await self._process_inner(claim)
        except asyncio.CancelledError:
            outcome = "handed_back"
            with contextlib.suppress(Exception):
                self.store.hand_back(claim, error="worker stopped", count_attempt=False)
            raise
        except LeaseLost:
            outcome = "lease_lost"
        except Exception as exc:
            outcome = "retry"
            event(
                "process_failed", logging.WARNING, worker=self.worker_id, request_id=claim.id, error=_short_error(exc)
            )
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self.store.hand_back, claim, error=_short_error(exc), retry_in=self._backoff(claim)
                )
        finally:
            self.stats.count(outcome)
            self.stats.in_flight = len(self._claims) - 1
            event(
                "processed",
                worker=self.worker_id,
                request_id=claim.id,
                outcome=outcome,
                attempts=claim.request.attempts,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )

    def _backoff(self, claim: Claim) -> float:
        # Exponential in the attempt, capped at a few poll intervals.
        delay = self.retry_base * 2 ** max(0, claim.request.attempts - 1)
        return float(min(self.settings.worker.poll_interval_seconds * 5, delay))

    async def _process_inner(self, claim: Claim) -> str:
        if claim.request.state != RequestState.DECIDED:
            state = await self._analyze(claim)
            if state != RequestState.DECIDED:
                return str(state)
        if not self.enforce:
            # Shadow mode never acts, even on an operator's decision: it waits for mode = enforce.
            await asyncio.to_thread(
                self.store.hand_back,
                claim,
                error="shadow mode: not acting",
                retry_in=self.settings.worker.poll_interval_seconds,
                count_attempt=False,
            )
            return "waiting_enforce"
        result = await self.executor.execute(claim)
        target = result.request_state
        if result.outcome is Outcome.LOST:
            return "lease_lost"
        if target is None:
            await asyncio.to_thread(self.store.hand_back, claim, error=result.reason, retry_in=self._backoff(claim))
            event("action_retry", logging.WARNING, worker=self.worker_id, request_id=claim.id, error=result.reason)
            return "retry"
        await asyncio.to_thread(self.store.finish_request, claim, target, result.reason)
        return str(target)

    # -- analysis --------------------------------------------------------------------------------------

    async def _analyze(self, claim: Claim) -> RequestState:
        row = claim.request
        config: RunnableConfig = {"configurable": {"thread_id": claim.id}}
        snapshot = await self.graph.aget_state(config)
        resumed = False
        if snapshot.next:
            # A previous attempt died mid-graph: continue from the last checkpoint, not from scratch.
            resumed = True
            # Durability "sync": each step's checkpoint is written before the next starts, so a crash resumes there.
            result = await resume(self._deps, graph=self.graph, config=dict(config), durability="sync")
        elif snapshot.values.get("result") is not None and self._reusable(snapshot.values["result"]):
            resumed = True  # the graph finished but the decision was never recorded
            result = TriageResult.model_validate(snapshot.values["result"])
        else:
            if snapshot.values:
                # A finished run from the other mode (shadow, then enforce): decide again from scratch.
                await self.checkpointer.adelete_thread(claim.id)
            try:
                raw = await self.tenant.quarantine.export_message(row.identity)
            except QuarantineStateError as exc:
                await asyncio.to_thread(
                    self.store.finish_request, claim, RequestState.EXPIRED, f"message is {exc.state.value}"
                )
                return RequestState.EXPIRED
            except TenantError as exc:
                if exc.status == 404 or type(exc).__name__ == "TenantNotFound":
                    await asyncio.to_thread(
                        self.store.finish_request, claim, RequestState.EXPIRED, "the message is no longer in quarantine"
                    )
                    return RequestState.EXPIRED
                raise
            request = ReleaseRequest(
                requester=row.requester,
                recipient=row.requester,
                quarantine_type=_quarantine_type(row.quarantine_type),
                quarantine_identity=row.identity,
                requester_groups=await self._groups(row.requester),
            )
            result = await triage(raw, request, self._deps, graph=self.graph, config=dict(config), durability="sync")
        r = self.settings.reasoner
        state = await asyncio.to_thread(
            self.store.save_decision,
            claim,
            result,
            requester=row.requester,
            cost=(r.input_cost_per_mtok, r.output_cost_per_mtok),
        )
        d = result.decision
        event(
            "decided",
            worker=self.worker_id,
            request_id=claim.id,
            verdict=str(result.verdict) if result.verdict else None,
            confidence=round(result.confidence, 3),
            action=str(d.action),
            rule=d.rule,
            state=str(state),
            resumed=resumed,
        )
        return state

    def _reusable(self, stored: Any) -> bool:
        """A finished run's result may be recorded only if it was decided under the current mode."""
        result = TriageResult.model_validate(stored)
        return result.decision.enforced == self.enforce

    async def _groups(self, requester: str | None) -> list[str] | None:
        """The requester's eligible groups, when the scope depends on them; None if unresolved."""
        groups = self.settings.eligible_groups
        if not groups or not requester or self.settings.release_scope != "specific":
            return None
        try:
            return await self.tenant.directory.member_of(requester, list(groups))
        except Exception as exc:
            event("groups_failed", logging.WARNING, worker=self.worker_id, error=_short_error(exc))
            return None

    # -- health -----------------------------------------------------------------------------------------

    def write_health(self) -> None:
        """Atomically rewrite the health file a supervisor probes (if configured)."""
        path = self.settings.worker.health_file
        if path is None:
            return
        body = {
            "status": "stopping" if self.stats.stopping else "ok",
            "worker": self.worker_id,
            "pid": os.getpid(),
            "mode": self.settings.mode,
            "updated_at": time.time(),
            "last_poll_ok_at": self.stats.last_poll_ok,
            "last_poll_error": self.stats.last_poll_error,
            "in_flight": len(self._claims),
            "processed": self.stats.processed,
        }
        tmp = path.with_name(path.name + ".tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(body))
            os.replace(tmp, path)


def check_health(path: Path, max_age_seconds: float) -> tuple[bool, str]:
    """Whether the health file says the worker is alive and polling recently (for a supervisor probe)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False, f"no readable health file at {path}"
    age = time.time() - float(data.get("updated_at", 0))
    if age > max_age_seconds:
        return False, f"health file is {age:.0f}s old (max {max_age_seconds:.0f}s)"
    if data.get("status") != "ok":
        return False, f"worker status is {data.get('status')!r}"
    last_ok = data.get("last_poll_ok_at")
    if data.get("last_poll_error") and (last_ok is None or time.time() - float(last_ok) > max_age_seconds):
        return False, f"polling the tenant fails: {data['last_poll_error']}"
    return True, f"ok: worker {data.get('worker')} processed {data.get('processed')}"


def _quarantine_type(value: str | None) -> QuarantineType | None:
    try:
        return QuarantineType(value) if value else None
    except ValueError:
        return QuarantineType.OTHER


def _short_error(exc: BaseException) -> str:
    # Exception text from the tenant or database is operational detail, never message content.
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set `stop` (stop claiming, drain within the deadline)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_worker(
    settings: Settings,
    tenant: TenantClients,
    *,
    worker_id: str | None = None,
    until_idle: bool = False,
    stop: asyncio.Event | None = None,
    retry_base_seconds: float = 5.0,
    idle_sleep_seconds: float = 1.0,
    on_ready: Callable[[Worker], None] | None = None,
) -> WorkerStats:
    """Open the store and the checkpointer, run a worker until stopped, close everything.

    Raises:
        StoreError: the database is unusable.
        WorkerStartError: another worker holds the SQLite database, or the worker id is taken.
    """
    from qrelease.store import open_store
    from qrelease.store.checkpoints import open_checkpointer

    store = open_store(settings.database_url)
    stop = stop or asyncio.Event()
    try:
        async with open_checkpointer(settings.database_url, settings.worker.concurrency) as checkpointer:
            worker = Worker(
                settings,
                store,
                tenant,
                checkpointer=checkpointer,
                worker_id=worker_id,
                retry_base_seconds=retry_base_seconds,
                idle_sleep_seconds=idle_sleep_seconds,
            )
            worker.start()
            try:
                if on_ready is not None:
                    on_ready(worker)
                return await worker.run(stop, until_idle=until_idle)
            finally:
                worker.stop_lock()
    finally:
        if tenant.close is not None:
            with contextlib.suppress(Exception):
                await tenant.close()
        store.engine.dispose()
