"""Property-based fuzzing of the evidence layer with hypothesis.

Structure-aware generation (nested multipart, broken boundaries, bogus charsets and transfer
encodings, truncated base64, encoded-word abuse, NUL bytes, invalid UTF-8, huge headers, archive
attachments) plus byte-level mutation of the result.

Two layers, for speed: a seeded bulk run (`test_bulk_fuzz_ten_thousand_messages`) draws 10,000+
messages from the same building blocks with `random.Random` and feeds them to `parse_message` and
every extractor; hypothesis then explores the same space with shrinking (a few hundred examples per
property), and a smaller sample goes through the whole graph (`graph.runner.triage`).

Properties: no exception escapes, every message finishes within a time bound, every injected
defect yields a `parse.*` finding, and every non-informational `parse.*` finding blocks release.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.context import Deps
from graph.runner import triage
from policies.floors import BLOCKS_RELEASE
from policies.models import Action, ReleaseRequest
from policies.settings import DetectionSettings
from tests.evidence.builders import zip_of
from tools.attachments import attachment_findings
from tools.catalogue import CATALOGUE, Severity
from tools.evidence import extract_all
from tools.headers import auth_findings, identity_findings, microsoft_findings
from tools.mime import parse_message
from tools.urls import url_findings

#: Small limits so that the generator can exceed them cheaply.
LIMITS = DetectionSettings(
    max_message_bytes=200_000,
    max_headers=60,
    max_header_bytes=4_000,
    max_parts=25,
    max_depth=6,
    max_attachment_bytes=50_000,
    max_archive_members=50,
    max_archive_total_bytes=2_000_000,
)
#: Per-message wall-clock bound (generous for a loaded CI runner; typical runs take a few ms).
MAX_SECONDS = 5.0
#: Hypothesis examples per property (the bulk count comes from the seeded run below).
EXAMPLES = 100
#: Messages in the seeded bulk run.
BULK = 10_000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HEADER_POOL = [
    b"From: Maria <maria@fabrikam.com>",
    b"From: ceo@contoso.com <attacker@evil.example>",
    b"From: =?utf-8?b?UGF5UGFs?= <a@b.example>",
    b"From: =?bogus?q?x?= <a@b.example>",
    b"From: ,,,;;;<<>>@@",
    b"To: " + b", ".join(b"u%d@x.example" % i for i in range(40)),
    b"Subject: =?utf-8?q?=E2=80=AE?= =?utf-8?b?////?= =?=?=?",
    b"Subject: " + b"A" * 5000,
    b"Reply-To: x@gmail.com",
    b"Return-Path: <>",
    b"Date: Thu, 31 Feb 99999 25:61:61 +9999",
    b"Date: Tue, 01 Dec 2026 10:13:55 +0100",
    b"Message-ID: <" + b"x" * 300 + b">",
    b"Authentication-Results: spf=fail; dkim=fail; dmarc=fail; compauth=fail reason=000",
    b"Authentication-Results: evil.example; spf=pass; dkim=pass; dmarc=pass",
    b"Authentication-Results: ;;;;=;=;;",
    b"X-Forefront-Antispam-Report: CIP:1.2.3.4;SCL:9;CAT:PHSH;SFTY:9.19;SFV:SPM;",
    b"X-Forefront-Antispam-Report: SCL:-99999999999;CAT::::",
    b"X-Microsoft-Antispam: BCL:8;",
    b"Received: from a by b; Tue, 01 Dec 2026 10:13:55 +0100",
    b"Received: from a by b; garbage",
    b"Received: from a by b; Sat, 01 Jan 2033 10:00:00 +0000",
    b"List-Id: <x.lists.example>",
    b" continuation line first",
    b"X-Null: a\x00b",
    b"X-Bad-UTF8: \xff\xfe\xfd",
]
CHARSETS = [b"utf-8", b"us-ascii", b"iso-8859-1", b"no-such-charset", b"utf-7", b'"utf-8\r\n x"', b""]
ENCODINGS = [b"7bit", b"8bit", b"base64", b"quoted-printable", b"x-uuencode", b"bogus"]
BODIES = [
    b"Hello, see https://bit.ly/x and http://45.33.32.156/login",
    b"<html><body><a href='http://paypa1.com'>www.paypal.com</a><div style='display:none'>hidden</div></body></html>",
    "Caf\u00e9 \u202egnp.exe \u200b\u200b\u200b p\u0430ypal".encode(),
    b"=E2=80=AE broken qp =ZZ =\r\n",
    b"QUJD" * 10 + b"!!!",  # base64 with junk
    b"\x00\x01\x02\xff",
    b"",
]


ATTACHMENTS = [
    b"MZ\x90\x00" + b"\x00" * 64,
    zip_of({"a.js": b"x", "b.txt": b"y"}),
    zip_of({"inner.zip": zip_of({"c.exe": b"MZ"})}),
    b"%PDF-1.4 /OpenAction /JavaScript /URI (http://x.example)",
    b"PK\x03\x04 truncated zip",
    b"\x1f\x8b\x08\x00 truncated gzip",
    b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR",
    b"<svg><script>atob('x')</script></svg>",
]


def _attachment_bytes() -> st.SearchStrategy[bytes]:
    return st.sampled_from(ATTACHMENTS)


@st.composite
def leaf(draw: st.DrawFn) -> tuple[bytes, bool]:
    """One leaf part and whether it was made broken on purpose."""
    ctype = draw(st.sampled_from([b"text/plain", b"text/html", b"application/octet-stream", b"message/rfc822"]))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    if ctype == b"application/octet-stream":
        name = draw(
            st.sampled_from([b"a.zip", b"invoice.pdf.exe", b"x.ics", b"\xe2\x80\xaeexe.pdf", b"=?utf-8?q?a=2Ehtml?="])
        )
        data = draw(_attachment_bytes())
        body = base64.encodebytes(data) if cte == b"base64" else data
        head = b'Content-Type: application/octet-stream; name="' + name + b'"\r\nContent-Disposition: attachment\r\n'
    else:
        body = draw(st.sampled_from(BODIES))
        head = b"Content-Type: " + ctype + b"; charset=" + charset + b"\r\n"
    truncated = cte == b"base64" and draw(st.booleans())
    if cte == b"base64" and ctype != b"application/octet-stream":
        body = base64.encodebytes(body)
    if truncated and len(body) > 3:
        body = body[: len(body) // 2] + b"=*=\r\n"  # cut in the middle of a quantum, with junk
    return head + b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + body + b"\r\n", truncated


@st.composite
def mime_tree(draw: st.DrawFn, depth: int = 0) -> tuple[bytes, bool]:
    """A (possibly deeply nested, possibly broken) MIME tree; returns (bytes, injected_defect)."""
    if depth >= 8 or draw(st.integers(0, 3)) == 0:
        return draw(leaf())
    boundary = b"b%d" % depth
    children = draw(st.lists(mime_tree(depth + 1), min_size=0, max_size=4))
    broken = draw(st.sampled_from(["ok", "ok", "no-close", "no-start", "wrong"]))
    declared = boundary if broken != "wrong" else b"different"
    out = b'Content-Type: multipart/mixed; boundary="' + declared + b'"\r\n\r\npreamble\r\n'
    for child, _ in children:
        if broken != "no-start":
            out += b"--" + boundary + b"\r\n"
        out += child
    if broken not in ("no-close", "no-start"):
        out += b"--" + boundary + b"--\r\n"
    injected = broken in ("no-start", "wrong") and bool(children) or any(d for _, d in children)
    return out, injected


@st.composite
def message(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A whole message: headers from the pool (some repeated many times) and a MIME tree."""
    headers = draw(st.lists(st.sampled_from(HEADER_POOL), min_size=0, max_size=12))
    if draw(st.integers(0, 20)) == 0:
        headers += [b"X-Flood: y"] * 70
    body, injected = draw(mime_tree())
    prefix = draw(st.sampled_from([b"", b"", b"From sender@x Mon Jan  1 00:00:00 2024\n"]))
    sep = draw(st.sampled_from([b"\r\n", b"\n"]))
    raw = prefix + sep.join(headers) + sep + b"MIME-Version: 1.0" + sep + body.replace(b"\r\n", sep)
    return raw, injected


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A generated message with byte-level damage: flips, cuts, duplications and insertions."""
    raw, _ = draw(message())
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 4))
        if op == 0:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == 2:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 256))] * draw(st.integers(1, 8))
        elif op == 3:
            data[pos:pos] = draw(st.sampled_from([b"\x00", b"\r", b"\n\n", b"--b0--", b"=?", b"\xff\xfe", b"<"]))
        else:
            data = data[:pos]
    return bytes(data)


def _evidence_ids(raw: bytes, with_content: bool) -> set[str]:
    if with_content:
        return {f.id for f in extract_all(raw, LIMITS).findings}
    msg = parse_message(raw, LIMITS)
    findings = [
        *msg.findings,
        *microsoft_findings(msg, ReleaseRequest()),
        *auth_findings(msg),
        *identity_findings(msg, LIMITS, datetime.now(UTC)),
        *url_findings(msg, LIMITS),
        *attachment_findings(msg, LIMITS),
    ]
    return {f.id for f in findings}


def _check(raw: bytes, with_content: bool = True) -> set[str]:
    start = time.perf_counter()
    ids = _evidence_ids(raw, with_content)
    elapsed = time.perf_counter() - start
    assert elapsed < MAX_SECONDS, f"{elapsed:.1f}s for a {len(raw)}-byte message"
    for fid in ids:
        spec = CATALOGUE[fid]
        if fid.startswith("parse.") and spec.severity is not Severity.INFO:
            assert fid in BLOCKS_RELEASE, f"{fid} is a defect but does not block release"
    return ids


@FUZZ
@given(message())
def test_generated_messages_never_crash_and_defects_are_reported(case: tuple[bytes, bool]) -> None:
    raw, injected = case
    ids = _check(raw)
    if injected:
        assert any(fid.startswith("parse.") and fid != "parse.mbox_envelope" for fid in ids), sorted(ids)


@FUZZ
@given(mutated())
def test_mutated_messages_never_crash(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(st.lists(st.sampled_from(HEADER_POOL), max_size=30), st.binary(max_size=500))
def test_header_soup_never_crashes(headers: list[bytes], tail: bytes) -> None:
    _check(b"\n".join(headers) + b"\n\n" + tail)


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(message().map(lambda c: c[0]), mutated()))
def test_broken_input_through_the_graph_is_never_released(offline_deps: Deps, raw: bytes) -> None:
    deps = Deps(settings=offline_deps.settings.model_copy(update={"detection": LIMITS}), reasoner=offline_deps.reasoner)
    result = asyncio.run(triage(raw, ReleaseRequest(requester="alexw@contoso.com"), deps))
    defects = {
        f.id for f in result.evidence if f.id.startswith("parse.") and CATALOGUE[f.id].severity is not Severity.INFO
    }
    if defects or result.errors:
        assert result.decision.action is not Action.RELEASE
        # Broken input judged spam or malicious may be denied (still not released); judged safe, it goes to review.
        if result.verdict is None or result.verdict.value == "safe":
            assert result.decision.action is Action.MANUAL_REVIEW, (defects, result.decision)


# --- seeded bulk run -------------------------------------------------------------------------


def _bulk_leaf(rng: random.Random) -> tuple[bytes, bool]:
    ctype = rng.choice([b"text/plain", b"text/html", b"application/octet-stream", b"message/rfc822"])
    cte = rng.choice(ENCODINGS)
    if ctype == b"application/octet-stream":
        data = rng.choice(ATTACHMENTS)
        body = base64.encodebytes(data) if cte == b"base64" else data
        name = rng.choice([b"a.zip", b"invoice.pdf.exe", b"x.ics", b"\xe2\x80\xaeexe.pdf", b"=?utf-8?q?a=2Ehtml?="])
        head = b'Content-Type: application/octet-stream; name="' + name + b'"\r\nContent-Disposition: attachment\r\n'
    else:
        body = rng.choice(BODIES)
        body = base64.encodebytes(body) if cte == b"base64" else body
        head = b"Content-Type: " + ctype + b"; charset=" + rng.choice(CHARSETS) + b"\r\n"
    truncated = cte == b"base64" and len(body) > 3 and rng.random() < 0.5
    if truncated:
        body = body[: len(body) // 2] + b"=*=\r\n"
    return head + b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + body + b"\r\n", truncated


def _bulk_tree(rng: random.Random, depth: int = 0) -> tuple[bytes, bool]:
    if depth >= 12 or rng.random() < 0.35:
        return _bulk_leaf(rng)
    boundary = b"b%d" % depth
    if depth == 0 and rng.random() < 0.05:
        children = [_bulk_leaf(rng) for _ in range(30)]  # wide: more parts than the limit allows
    else:
        children = [_bulk_tree(rng, depth + 1) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    broken = rng.choice(["ok", "ok", "no-close", "no-start", "wrong"])
    declared = boundary if broken != "wrong" else b"different"
    out = b'Content-Type: multipart/mixed; boundary="' + declared + b'"\r\n\r\npreamble\r\n'
    for child, _ in children:
        out += (b"" if broken == "no-start" else b"--" + boundary + b"\r\n") + child
    if broken not in ("no-close", "no-start"):
        out += b"--" + boundary + b"--\r\n"
    return out, (broken in ("no-start", "wrong") and bool(children)) or any(d for _, d in children)


def _bulk_message(rng: random.Random) -> tuple[bytes, bool]:
    headers = [rng.choice(HEADER_POOL) for _ in range(rng.randint(0, 12))]
    body, injected = _bulk_tree(rng)
    raw = b"\r\n".join(headers) + b"\r\nMIME-Version: 1.0\r\n" + body
    if rng.random() < 0.5:  # byte-level damage on half of them
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            if not data:
                break
            pos = rng.randrange(len(data))
            op = rng.randrange(5)
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                del data[pos : pos + rng.randint(1, 64)]
            elif op == 2:
                data[pos:pos] = data[pos : pos + rng.randint(1, 256)] * rng.randint(1, 8)
            elif op == 3:
                data[pos:pos] = rng.choice([b"\x00", b"\r", b"\n\n", b"--b0--", b"=?", b"\xff\xfe", b"<"])
            else:
                del data[pos:]
        return bytes(data), False
    return raw, injected


def test_bulk_fuzz_ten_thousand_messages() -> None:
    rng = random.Random(20261204)
    slowest = 0.0
    injected_seen = 0
    for i in range(BULK):
        raw, injected = _bulk_message(rng)
        start = time.perf_counter()
        # The content extractors (another module, with their own tests) see every 20th message: CI time.
        ids = _check(raw, with_content=i % 20 == 0)
        slowest = max(slowest, time.perf_counter() - start)
        if injected:
            injected_seen += 1
            assert any(fid.startswith("parse.") and fid != "parse.mbox_envelope" for fid in ids), (raw[:300], ids)
    assert injected_seen > BULK // 10  # the generator really produces broken structure
    assert slowest < MAX_SECONDS
