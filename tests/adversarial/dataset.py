"""The adversarial set's manifest, and running its messages through the real triage graph."""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from graph.context import Deps
from graph.runner import triage
from graph.state import TriageResult
from policies.models import Notification, QuarantineType, ReleaseRequest
from tools.mime import parse_message

ROOT = Path(__file__).resolve().parents[2]
ADVERSARIAL = ROOT / "evals" / "datasets" / "adversarial"
REQUESTER = "alexw@contoso.com"


@dataclass(frozen=True)
class AdvCase:
    """One generated message and its manifest row."""

    name: str
    path: Path
    label: str
    source: str
    pattern: str
    quarantine_type: QuarantineType | None

    @property
    def is_attack(self) -> bool:
        """Attacks are labeled phish or malware; the benign control set is ham."""
        return self.label in ("phish", "malware")

    def raw(self) -> bytes:
        """The message bytes."""
        return self.path.read_bytes()

    def request(self) -> ReleaseRequest:
        """The employee's release request for this message."""
        return ReleaseRequest(requester=REQUESTER, recipient=REQUESTER, quarantine_type=self.quarantine_type)


def load_cases() -> list[AdvCase]:
    """Every row of the adversarial manifest."""
    with (ADVERSARIAL / "MANIFEST.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        AdvCase(
            name=row["path"],
            path=ADVERSARIAL / row["path"],
            label=row["label"],
            source=row["source"],
            pattern=row["pattern"],
            quarantine_type=QuarantineType(row["quarantine_type"]) if row.get("quarantine_type") else None,
        )
        for row in rows
    ]


def run_cases(cases: Iterable[AdvCase], deps_for: Callable[[AdvCase], Deps]) -> list[tuple[AdvCase, TriageResult]]:
    """Triage every case with its own dependencies, in one event loop."""

    async def go() -> list[tuple[AdvCase, TriageResult]]:
        return [(case, await triage(case.raw(), case.request(), deps_for(case))) for case in cases]

    return asyncio.run(go())


_MARKUP = re.compile(r"<\s*/?\s*[a-z!][^>]*>|\]\(|!\[|&lt;|&#|\*\*|`")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URLISH = re.compile(r"(?i)https?:|ftp:|www\.|://|mailto:|javascript:|data:")


def email_tokens(raw: bytes) -> set[str]:
    """Strings from the email that must never reach a notification: link hosts, URLs and addresses."""
    msg = parse_message(raw)
    tokens: set[str] = set()
    for link in msg.links:
        tokens.add(link.url.lower())
        host = re.sub(r"^[a-z]+://", "", link.url.lower()).split("/")[0].split("@")[-1].split(":")[0]
        if "." in host:
            tokens.add(host)
    text = "\n".join([msg.visible_text, msg.hidden_text, msg.text_plain, *(v for _, v in msg.headers)])
    tokens |= {a.lower() for a in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)}
    return {t for t in tokens if len(t) >= 6}


def notification_leaks(notification: Notification, raw: bytes) -> list[str]:
    """What in the notification's subject or body came from the email as a link, address or markup."""
    text = f"{notification.subject}\n{notification.body}"
    lowered = text.lower()
    leaks = [t for t in email_tokens(raw) if t in lowered]
    leaks += [m.group(0) for m in _URLISH.finditer(text)]
    leaks += [m.group(0) for m in _MARKUP.finditer(text)]
    leaks += _ADDRESS.findall(text)
    return leaks
