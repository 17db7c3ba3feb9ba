"""Ordered schema migrations, recorded in `schema_migrations`.

Each migration is a function of a connection inside the migration transaction. Table definitions are
frozen here as they were at that version: the SQLModel classes describe the *current* schema, and a
test checks that the migrated database and the models agree. Never edit a released migration; append.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from qrelease.store.models import utc_now


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    md = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "release_requests",
        md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identity", sa.String(300), nullable=False, unique=True),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("requester", sa.String(320)),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("quarantine_type", sa.String(40)),
        sa.Column("received_at", ts),
        sa.Column("expires_at", ts),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(120)),
        sa.Column("lease_until", ts),
        sa.Column("fencing_token", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("review_reason", sa.String(500)),
        sa.Column("discovered_at", ts, nullable=False, index=True),
        sa.Column("decided_at", ts),
        sa.Column("done_at", ts),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("purged_at", ts),
    )
    sa.Table(
        "decisions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("release_requests.id"), nullable=False, index=True),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(20)),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("reasoning", sa.String, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("rule", sa.String(80), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("notify", sa.String(20), nullable=False),
        sa.Column("enforced", sa.Boolean, nullable=False),
        sa.Column("reasoner", sa.String(80), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("prompt_hashes", sa.JSON, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("created_at", ts, nullable=False, index=True),
    )
    sa.Table(
        "actions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("release_requests.id"), nullable=False, index=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(500)),
        sa.Column("payload", sa.JSON),
        sa.Column("fencing_token", sa.Integer, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("request_id", "kind", name="uq_actions_request_kind"),
    )
    sa.Table(
        "audit_events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", ts, nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(36), index=True),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("detail", sa.String(1000), nullable=False),
    )
    md.create_all(conn)


def _v2_claim_index(conn: Connection) -> None:
    # The claim query filters on state and orders by discovery time; one composite index serves it.
    conn.execute(
        sa.text("CREATE INDEX ix_release_requests_claim ON release_requests (state, lease_until, discovered_at)")
    )


#: Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial tables", _v1_initial),
    Migration(2, "claim index", _v2_claim_index),
)

_VERSIONS = sa.Table(
    "schema_migrations",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


def current_version(engine: Engine) -> int:
    """The highest applied migration, 0 for an empty database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return 0
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_VERSIONS.c.version), 0))).scalar_one())


def migrate(engine: Engine) -> list[int]:
    """Apply pending migrations in order, each in its own transaction; returns the versions applied.

    Several workers may start at once against PostgreSQL: a transaction-scoped advisory lock serializes
    them, and each re-reads the applied versions under the lock. (SQLite's engine begins IMMEDIATE.)
    """
    applied: list[int] = []
    for migration in MIGRATIONS:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7305114)"))
            _VERSIONS.create(conn, checkfirst=True)
            done = set(conn.execute(sa.select(_VERSIONS.c.version)).scalars())
            if migration.version in done:
                continue
            migration.apply(conn)
            conn.execute(
                _VERSIONS.insert().values(version=migration.version, name=migration.name, applied_at=utc_now())
            )
            applied.append(migration.version)
    return applied
