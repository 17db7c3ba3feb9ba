"""Every deterministic extractor over one raw message, in the order the graph runs them.

The graph calls the extractors node by node; this module exists for the benchmark, the fuzz
tests and anyone who wants the whole evidence layer in one call without a reasoner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from policies.models import ReleaseRequest
from policies.settings import DetectionSettings
from tools.models import Finding, ParsedMessage


@dataclass
class Evidence:
    """The parsed message and the findings of every extractor."""

    message: ParsedMessage
    findings: list[Finding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage (parse, headers, content, urls, attachments)."""


def extract_all(
    raw: bytes,
    detection: DetectionSettings | None = None,
    request: ReleaseRequest | None = None,
    now: datetime | None = None,
) -> Evidence:
    """Parse `raw` and run the header, identity, content, URL and attachment extractors."""
    from tools.attachments import attachment_findings
    from tools.content import content_findings
    from tools.headers import auth_findings, identity_findings, microsoft_findings
    from tools.mime import parse_message
    from tools.urls import url_findings

    detection = detection or DetectionSettings()
    request = request or ReleaseRequest()
    clock = time.perf_counter
    seconds: dict[str, float] = {}
    start = clock()
    msg = parse_message(raw, detection)
    seconds["parse"] = clock() - start
    findings = list(msg.findings)
    stages: list[tuple[str, Callable[[], list[Finding]]]] = [
        (
            "headers",
            lambda: [
                *microsoft_findings(msg, request),
                *auth_findings(msg),
                *identity_findings(msg, detection, now or datetime.now(UTC)),
            ],
        ),
        ("content", lambda: content_findings(msg)),
        ("urls", lambda: url_findings(msg, detection)),
        ("attachments", lambda: attachment_findings(msg, detection)),
    ]
    for name, stage in stages:
        start = clock()
        findings.extend(stage())
        seconds[name] = clock() - start
    return Evidence(message=msg, findings=findings, seconds=seconds)
