"""Load figure: N release requests through the fake tenant with the offline reasoner.

Runs the real `qrelease worker` in a child process (real Exchange and Graph adapters over HTTP to the
loopback fake tenant) and prints throughput, time-to-decision p50/p95, per-request service time and the
worker's peak memory.

    .venv/bin/python benchmarks/worker_load.py                      # 1,000 requests, SQLite
    .venv/bin/python benchmarks/worker_load.py --postgres           # on a throw-away PostgreSQL database
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qrelease.fake_tenant import FakeTenant, serve_fake_tenant  # noqa: E402
from qrelease.store import open_store  # noqa: E402
from qrelease.store.models import utc_now  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def temp_postgres() -> Iterator[str]:
    """A throw-away database on the local server."""
    import psycopg

    name = f"qrelease_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRELEASE_")}
    env.update(
        {
            "QRELEASE_MODE": "enforce",
            "QRELEASE_SENDER_MAILBOX": "quarantine@contoso.com",
            "QRELEASE_WORKER__POLL_INTERVAL_SECONDS": "1",
            **extra,
        }
    )
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--postgres", action="store_true", help="use a temporary database on 127.0.0.1:5432")
    args = ap.parse_args()

    samples = sorted((ROOT / "qrelease" / "samples").glob("*.eml"))
    tenant = FakeTenant()
    for i in range(args.requests):
        tenant.add_request(samples[i % len(samples)].read_bytes(), requester=f"user{i % 50}@contoso.com")

    with tempfile.TemporaryDirectory() as tmp, serve_fake_tenant(tenant) as server:
        ctx = temp_postgres() if args.postgres else _nullctx(f"sqlite:///{Path(tmp) / 'load.db'}")
        with ctx as url:
            env = worker_env({"QRELEASE_WORKER__CONCURRENCY": str(args.concurrency)})
            cmd = [str(ROOT / ".venv" / "bin" / "qrelease"), "worker", "--until-idle", "--worker-id", "load",
                   "--fake-tenant", server.base_url, "--database-url", url]  # fmt: skip
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                raise SystemExit(f"worker exited with {proc.returncode}")
            events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
            service_ms = [e["duration_ms"] for e in events if e.get("event") == "processed"]
            store = open_store(url)
            rows = store.requests(limit=args.requests + 10)
            first = min(r.discovered_at for r in rows)
            last = max(r.updated_at for r in rows)
            stats = store.stats(utc_now().replace(year=2000))
            store.engine.dispose()
    span = (last - first).total_seconds()
    snap = tenant.snapshot()
    out = {
        "requests": args.requests,
        "database": "postgresql" if args.postgres else "sqlite",
        "concurrency": args.concurrency,
        "decided": stats.decisions,
        "states": stats.states,
        "throughput_rps": round(args.requests / span, 1),
        "processing_span_s": round(span, 2),
        "wall_s_incl_startup": round(wall, 2),
        "time_to_decision_p50_s": round(stats.p50_seconds or 0, 2),
        "time_to_decision_p95_s": round(stats.p95_seconds or 0, 2),
        "service_ms_p50": round(percentile(service_ms, 0.5), 1),
        "service_ms_p95": round(percentile(service_ms, 0.95), 1),
        "worker_peak_rss_mb": round(peak_mb, 1),
        "tenant": {
            "released": len(snap["releases_applied"]),
            "denied": snap["status"].get("Denied", 0),
            "notifications": sum(snap["sent_per_marker"].values()),
            "max_release_calls_per_message": max(snap["release_calls"].values(), default=0),
            "max_mails_per_marker": max(snap["sent_per_marker"].values(), default=0),
        },
    }
    print(json.dumps(out, indent=2))


@contextmanager
def _nullctx(value: str) -> Iterator[str]:
    yield value


if __name__ == "__main__":
    main()
