"""Load labeled manifests and run every message through the same triage graph the worker runs.

A manifest is a CSV with at least `path,label` (paths relative to the manifest's folder) and
optionally `source` and `quarantine_type`; the shared corpus's `MANIFEST.csv` is one. A directory
argument means the `MANIFEST.csv` inside it.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from graph.context import Deps
from graph.state import TriageResult
from policies.models import QuarantineType, ReleaseRequest, VerdictLabel
from policies.settings import Settings

MANIFEST_NAME = "MANIFEST.csv"
LABELS = ("ham", "spam", "phish", "malware")
#: Ground-truth label -> the verdict the product should reach.
EXPECTED: dict[str, VerdictLabel] = {
    "ham": VerdictLabel.SAFE,
    "spam": VerdictLabel.SPAM,
    "phish": VerdictLabel.MALICIOUS,
    "malware": VerdictLabel.MALICIOUS,
}
#: Every eval request comes from the same in-scope employee: scope is about who asks, not the message.
EVAL_REQUESTER = "eval.requester@example.com"


class ManifestError(Exception):
    """A manifest is missing, malformed, or names a file that is not there; the message says which."""


@dataclass(frozen=True)
class EvalCase:
    """One labeled message."""

    case_id: str
    """`<dataset>/<path in manifest>`: unique across data sets."""
    path: Path
    label: str
    source: str
    dataset: str
    """The manifest's folder name (`corpora`, `project`, `adversarial`, ...)."""
    sha256: str
    quarantine_type: QuarantineType | None = None

    @property
    def expected(self) -> VerdictLabel:
        """The verdict the label calls for."""
        return EXPECTED[self.label]


@dataclass(frozen=True)
class CaseRun:
    """One case and what the graph made of it."""

    case: EvalCase
    result: TriageResult
    seconds: float


def _manifest_path(arg: Path) -> Path:
    path = arg / MANIFEST_NAME if arg.is_dir() else arg
    if not path.is_file():
        raise ManifestError(f"no manifest at {path} (give a MANIFEST.csv or a folder that holds one)")
    return path


def _quarantine_type(value: str, where: str) -> QuarantineType | None:
    value = value.strip()
    if not value:
        return None
    by_lower = {q.value.lower(): q for q in QuarantineType}
    try:
        return by_lower[value.lower()]
    except KeyError:
        allowed = ", ".join(q.value for q in QuarantineType)
        raise ManifestError(f"{where}: unknown quarantine_type {value!r} (one of {allowed})") from None


def load_manifest(arg: Path) -> list[EvalCase]:
    """The cases of one manifest, each file checked to exist (and to match its sha256 when given).

    Raises:
        ManifestError: missing manifest, missing columns, unknown label, a path outside the manifest's
            folder, a missing file or a sha256 mismatch (e.g. antivirus rewrote a malware sample).
    """
    manifest = _manifest_path(arg)
    root = manifest.parent.resolve()
    dataset = root.name
    try:
        with manifest.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read {manifest}: {exc}") from None
    if not rows:
        raise ManifestError(f"{manifest} lists no messages")
    missing = {"path", "label"} - set(rows[0])
    if missing:
        raise ManifestError(f"{manifest} lacks the column(s) {', '.join(sorted(missing))}")
    cases: list[EvalCase] = []
    for lineno, row in enumerate(rows, start=2):
        where = f"{manifest}:{lineno}"
        rel, label = (row.get("path") or "").strip(), (row.get("label") or "").strip().lower()
        if label not in LABELS:
            raise ManifestError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
        path = (root / rel).resolve()
        if not rel or not path.is_relative_to(root):
            raise ManifestError(f"{where}: path {rel!r} must be a file inside {root}")
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise ManifestError(f"{where}: cannot read {path}") from None
        declared = (row.get("sha256") or "").strip().lower()
        if declared and declared != digest:
            raise ManifestError(f"{where}: {rel} does not match its sha256 (was the file changed?)")
        cases.append(
            EvalCase(
                case_id=f"{dataset}/{rel}",
                path=path,
                label=label,
                source=(row.get("source") or "").strip() or dataset,
                dataset=dataset,
                sha256=digest,
                quarantine_type=_quarantine_type(row.get("quarantine_type") or "", where),
            )
        )
    return cases


def load_corpora(args: Iterable[Path]) -> list[EvalCase]:
    """Cases of several manifests; a manifest given twice counts once."""
    seen: set[str] = set()
    cases: list[EvalCase] = []
    for arg in args:
        for case in load_manifest(arg):
            if case.case_id not in seen:
                seen.add(case.case_id)
                cases.append(case)
    return cases


def dataset_digest(cases: Iterable[EvalCase]) -> str:
    """A hash of what was evaluated (ids, labels, quarantine types, bytes): equal digests, comparable runs."""
    h = hashlib.sha256()
    for c in sorted(cases, key=lambda c: c.case_id):
        h.update(f"{c.case_id}\t{c.label}\t{c.quarantine_type or ''}\t{c.sha256}\n".encode())
    return h.hexdigest()


def eval_settings(settings: Settings) -> Settings:
    """The configured settings with enforce semantics, turned on, every requester in scope.

    The eval measures the analysis and the release policy; who may ask is a deployment choice.
    """
    return settings.model_copy(update={"mode": "enforce", "enabled": True, "release_scope": "all"})


def request_for(case: EvalCase) -> ReleaseRequest:
    """The release request an employee would file for this message."""
    return ReleaseRequest(requester=EVAL_REQUESTER, recipient=EVAL_REQUESTER, quarantine_type=case.quarantine_type)


async def run_cases(
    cases: list[EvalCase],
    deps: Deps,
    *,
    concurrency: int = 1,
    on_done: Callable[[CaseRun], None] | None = None,
) -> list[CaseRun]:
    """Triage every case in process, at most `concurrency` at a time, in the input order.

    The offline reasoner is CPU-bound, so concurrency 1 keeps its latencies honest; model reasoners
    wait on the network and gain from more.
    """
    from graph.runner import triage

    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(case: EvalCase) -> CaseRun:
        async with sem:
            raw = case.path.read_bytes()
            started = time.perf_counter()
            result = await triage(raw, request_for(case), deps)
            run = CaseRun(case=case, result=result, seconds=time.perf_counter() - started)
        if on_done is not None:
            on_done(run)
        return run

    return list(await asyncio.gather(*(one(c) for c in cases)))


def _run_chunk(cases: list[EvalCase], settings: Settings) -> list[CaseRun]:
    """One worker process's share: its own graph and dependencies, run sequentially."""
    from qrelease.service import build_deps

    return asyncio.run(run_cases(cases, build_deps(settings)))


def run_in_processes(
    cases: list[EvalCase],
    settings: Settings,
    *,
    processes: int,
    on_done: Callable[[CaseRun], None] | None = None,
    chunk_size: int = 48,
) -> list[CaseRun]:
    """Spread a CPU-bound (offline) run over processes, in the input order.

    Only for reasoners that settings alone can rebuild in a child (the offline one): nothing is shared
    between processes. `forkserver` children start clean, so threads of the parent (the progress bar)
    cannot leave a lock held in them.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    chunks = [cases[i : i + chunk_size] for i in range(0, len(cases), chunk_size)]
    done: dict[int, list[CaseRun]] = {}
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
        futures = {pool.submit(_run_chunk, chunk, settings): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            runs = future.result()
            done[futures[future]] = runs
            if on_done is not None:
                for run in runs:
                    on_done(run)
    return [run for i in range(len(chunks)) for run in done[i]]
