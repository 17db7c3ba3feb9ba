"""A SQLite cache of model judgments so rerunning an eval costs nothing.

The model reasoner wraps every prompt in a fresh random delimiter, so a cache keyed on the prompt
text would never hit. This one wraps the reasoner and keys each call on what actually decides the
answer: the model id, the prompt templates' hashes, the findings and the parsed message. Changing
a prompt, the model or the evidence tools therefore misses the cache, as it should.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import prompts
from agents.reasoner import Judgment, Reasoner, Synthesis
from graph.state import AnalystName, AnalystReport, ModelUsage
from policies.models import Floor, Verdict, VerdictLabel
from tools.models import Finding, ParsedMessage

_SCHEMA = "CREATE TABLE IF NOT EXISTS judgments (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: Bump when the cached value's shape changes.
CACHE_VERSION = "1"


def prompt_hashes() -> dict[str, str]:
    """sha256 of every shipped prompt template (recorded in every report)."""
    return {name: prompts.prompt_sha256(name) for name in prompts.names()}


def _message_digest(message: ParsedMessage) -> str:
    return hashlib.sha256(message.model_dump_json().encode()).hexdigest()


def _findings(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.id, f.evidence) for f in findings]


class CachingReasoner:
    """Wraps a model reasoner; answers from SQLite when the same question was asked before."""

    def __init__(self, inner: Reasoner, path: Path) -> None:
        self._inner = inner
        self.name = inner.name
        self.model_id = inner.model_id
        self.hits = 0
        self.misses = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection used from the event loop thread only; each call is a short read or write.
        self._db = sqlite3.connect(path)
        self._db.execute(_SCHEMA)
        self._db.commit()
        self._prompts = prompt_hashes()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _key(self, kind: str, payload: dict[str, Any]) -> str:
        doc = {"v": CACHE_VERSION, "kind": kind, "model": self.model_id, "prompts": self._prompts, **payload}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()

    def _get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM judgments WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        value: dict[str, Any] = json.loads(row[0])
        return value

    def _put(self, key: str, value: dict[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO judgments (key, value) VALUES (?, ?)", (key, json.dumps(value)))
        self._db.commit()

    async def judge(self, analyst: AnalystName, findings: list[Finding], message: ParsedMessage) -> Judgment:
        """A cached or fresh analyst judgment (failures are never cached)."""
        key = self._key("judge", {"analyst": analyst, "findings": _findings(findings), "msg": _message_digest(message)})
        hit = self._get(key)
        if hit is not None:
            return Judgment(
                lean=VerdictLabel(hit["lean"]),
                confidence=hit["confidence"],
                summary=hit["summary"],
                usage=[ModelUsage.model_validate(u) for u in hit["usage"]],
            )
        j = await self._inner.judge(analyst, findings, message)
        self._put(
            key,
            {
                "lean": j.lean.value,
                "confidence": j.confidence,
                "summary": j.summary,
                "usage": [u.model_dump() for u in j.usage],
            },
        )
        return j

    async def synthesize(
        self, header: AnalystReport, url: AnalystReport, message: ParsedMessage, floor: Floor
    ) -> Synthesis:
        """A cached or fresh verdict."""
        key = self._key(
            "synthesize",
            {
                "header": header.model_dump(mode="json"),
                "url": url.model_dump(mode="json"),
                "floor": floor.model_dump(mode="json"),
                "msg": _message_digest(message),
            },
        )
        hit = self._get(key)
        if hit is not None:
            return Synthesis(
                Verdict.model_validate(hit["verdict"]), [ModelUsage.model_validate(u) for u in hit["usage"]]
            )
        s = await self._inner.synthesize(header, url, message, floor)
        self._put(key, {"verdict": s.verdict.model_dump(mode="json"), "usage": [u.model_dump() for u in s.usage]})
        return s
