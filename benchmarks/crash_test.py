"""Crash figure: kill -9 workers at random moments; count duplicate releases, duplicate notifications, lost requests.

Each run: a fresh PostgreSQL database, a loopback fake tenant seeded with the bundled samples, and two
`qrelease worker` processes (real adapters over HTTP). Workers are SIGKILLed at random moments while they
process and restarted under the same id (as systemd or Kubernetes would). When every request is at rest
the tenant's own counters are compared with the ledger.

    .venv/bin/python benchmarks/crash_test.py --runs 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from qrelease.fake_tenant import FakeTenant, serve_fake_tenant  # noqa: E402
from qrelease.store import open_store  # noqa: E402
from qrelease.store.models import RequestState  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESTING = {RequestState.DONE, RequestState.SHADOWED, RequestState.EXPIRED, RequestState.MANUAL_REVIEW}
QRELEASE = str(ROOT / ".venv" / "bin" / "qrelease")


class Worker:
    """One `qrelease worker` child process, restartable under the same id."""

    def __init__(self, wid: str, url: str, tenant_url: str, tmp: Path) -> None:
        self.wid, self.url, self.tenant_url, self.tmp = wid, url, tenant_url, tmp
        self.health = tmp / f"{wid}.health.json"
        self.log = (tmp / f"{wid}.log").open("a")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.health.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("QRELEASE_")}
        env.update(
            {
                "QRELEASE_MODE": "enforce",
                "QRELEASE_SENDER_MAILBOX": "quarantine@contoso.com",
                # Release spam too, so runs hold releases as well as denies with notifications.
                "QRELEASE_RELEASE_CONFIRMED_SPAM": "true",
                "QRELEASE_MIN_RELEASE_CONFIDENCE": "0",
                "QRELEASE_WORKER__POLL_INTERVAL_SECONDS": "0.3",
                "QRELEASE_WORKER__LEASE_SECONDS": "10",
                # The fake tenant files a sent mail in Sent Items at once; real Exchange needs the default wait.
                "QRELEASE_WORKER__NOTIFY_SETTLE_SECONDS": "1",
                "QRELEASE_WORKER__MAX_ATTEMPTS": "20",
                "QRELEASE_WORKER__CONCURRENCY": "3",
                "QRELEASE_WORKER__HEALTH_FILE": str(self.health),
            }
        )
        cmd = [
            QRELEASE,
            "worker",
            "--worker-id",
            self.wid,
            "--fake-tenant",
            self.tenant_url,
            "--database-url",
            self.url,
        ]
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=self.log)

    def ready(self) -> bool:
        return self.health.exists()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_for(pred: Any, timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def one_run(run: int, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    name = f"qrelease_crash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    samples = sorted((ROOT / "qrelease" / "samples").glob("*.eml"))
    tenant = FakeTenant(latency_seconds=args.latency)
    for i in range(args.requests):
        tenant.add_request(samples[i % len(samples)].read_bytes(), requester=f"user{i}@contoso.com")
    kills = 0
    try:
        with tempfile.TemporaryDirectory() as tmp_name, serve_fake_tenant(tenant) as server:
            tmp = Path(tmp_name)
            workers = [Worker(w, url, server.base_url, tmp) for w in ("wA", "wB")]
            for w in workers:
                w.start()
            wait_for(lambda: all(w.ready() for w in workers), 60)
            for _ in range(args.kills):
                time.sleep(rng.uniform(0.0, args.window))
                victim = rng.choice(workers)
                if victim.proc is not None and victim.proc.poll() is None:
                    victim.kill9()
                    kills += 1
                    victim.start()  # same id: it recovers its own dead claims at start
            store = open_store(url)

            def at_rest() -> bool:
                counts = store.counts()
                return sum(counts.values()) == args.requests and all(s in RESTING for s in counts)

            settled = wait_for(at_rest, args.timeout, step=0.2)
            for w in workers:
                w.stop()
            rows = store.requests(limit=10_000)
            reconciled = sum(
                1 for r in rows for a in store.actions(r.id) if a.outcome and a.outcome.startswith("reconciled")
            )
            counts = store.counts()
            store.engine.dispose()
            resumed = sum(p.read_text().count('"resumed": true') for p in tmp.glob("*.log"))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    snap = tenant.snapshot()
    known = {r.identity for r in rows if r.state in RESTING}
    return {
        "run": run,
        "kills": kills,
        "settled": settled,
        "duplicate_releases": sum(n - 1 for n in snap["release_calls"].values() if n > 1)
        + sum(n - 1 for n in snap["releases_applied"].values() if n > 1),
        "duplicate_denies": sum(n - 1 for n in snap["deny_calls"].values() if n > 1),
        "duplicate_notifications": sum(n - 1 for n in snap["sent_per_marker"].values() if n > 1),
        "lost": len(set(tenant.messages) - known),
        "released": len(snap["releases_applied"]),
        "notified": len(snap["sent_per_marker"]),
        "reconciled_actions": reconciled,
        "resumed_analyses": resumed,
        "states": counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--requests", type=int, default=12, help="release requests per run")
    ap.add_argument("--kills", type=int, default=3, help="SIGKILLs per run")
    ap.add_argument("--window", type=float, default=1.5, help="max seconds between kills")
    ap.add_argument("--latency", type=float, default=0.03, help="seconds added to every tenant call")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds for a run to settle")
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    results = []
    for run in range(args.runs):
        r = one_run(run, args, rng)
        results.append(r)
        print(json.dumps(r), flush=True)
    total = {
        k: sum(r[k] for r in results)
        for k in (
            "kills",
            "duplicate_releases",
            "duplicate_denies",
            "duplicate_notifications",
            "lost",
            "released",
            "notified",
            "reconciled_actions",
            "resumed_analyses",
        )
    }
    total["runs"] = len(results)
    total["requests"] = args.requests * len(results)
    total["unsettled_runs"] = sum(1 for r in results if not r["settled"])
    print("SUMMARY " + json.dumps(total))


if __name__ == "__main__":
    main()
