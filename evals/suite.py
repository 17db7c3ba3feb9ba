"""One eval run end to end: cases in, the report document out. Shared by `qrelease eval` and the CI gate."""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.reasoner import Reasoner
from evals.gate import check, load_thresholds
from evals.llm_cache import CachingReasoner, prompt_hashes
from evals.metrics import summarize
from evals.report import build_report
from evals.runner import CaseRun, EvalCase, dataset_digest, eval_settings, run_cases, run_in_processes
from graph.context import Deps
from policies.settings import Settings

#: Where model judgments are cached unless told otherwise (gitignored).
DEFAULT_CACHE = Path(".qrelease") / "eval-cache.sqlite"
#: Below this many messages, starting worker processes costs more than it saves.
PARALLEL_FROM = 200


def evaluate(
    cases: list[EvalCase],
    settings: Settings,
    *,
    gate: bool = True,
    thresholds_path: Path | None = None,
    cache_path: Path | None = DEFAULT_CACHE,
    concurrency: int | None = None,
    processes: int | None = None,
    on_done: Callable[[CaseRun], None] | None = None,
    reasoner: Reasoner | None = None,
) -> dict[str, Any]:
    """Run every case through the graph and return the report (with the gate's verdict when `gate`).

    Raises:
        SettingsError: the configured reasoner cannot be built.
        ThresholdError: the thresholds file is unreadable.

    `reasoner` replaces the one the settings would build (tests pass a scripted model). `processes`
    spreads an offline run over CPUs (default: every CPU for runs of `PARALLEL_FROM` messages or more).
    """
    from qrelease.service import build_deps

    settings = eval_settings(settings)
    thresholds = load_thresholds(thresholds_path) if gate else None
    deps = build_deps(settings) if reasoner is None else Deps(settings=settings, reasoner=reasoner)
    cache: CachingReasoner | None = None
    offline = deps.reasoner.name == "offline"
    if not offline and cache_path is not None:
        # The offline reasoner is deterministic and faster than a cache lookup: only model calls are cached.
        cache = CachingReasoner(deps.reasoner, cache_path)
        deps = replace(deps, reasoner=cache)
    if concurrency is None:
        concurrency = 1 if offline else settings.worker.concurrency
    if processes is None:
        processes = (os.cpu_count() or 1) if offline and reasoner is None and len(cases) >= PARALLEL_FROM else 1
    started = time.perf_counter()
    try:
        if processes > 1 and offline and reasoner is None:
            runs = run_in_processes(cases, settings, processes=processes, on_done=on_done)
        else:
            processes = 1
            runs = asyncio.run(run_cases(cases, deps, concurrency=concurrency, on_done=on_done))
    finally:
        if cache is not None:
            cache.close()
    wall = time.perf_counter() - started
    summary = summarize(runs, settings)
    meta = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reasoner": deps.reasoner.name,
        "model_id": deps.reasoner.model_id,
        "dataset_sha256": dataset_digest(cases),
        "datasets": dict(Counter(c.dataset for c in cases)),
        "labels": dict(Counter(c.label for c in cases)),
        "messages": len(cases),
        "prompt_sha256": prompt_hashes(),
        "settings": {
            "release_confirmed_spam": settings.release_confirmed_spam,
            "min_release_confidence": settings.min_release_confidence,
            "reasoner_kind": settings.reasoner.kind,
            "temperature": settings.reasoner.temperature,
        },
        "concurrency": concurrency,
        "processes": processes,
        "wall_seconds": round(wall, 2),
        "cache_hits": cache.hits if cache else 0,
        "cache_misses": cache.misses if cache else 0,
        "python": platform.python_version(),
    }
    failures = check(summary.by_dataset, thresholds) if thresholds is not None else None
    return build_report(meta, summary, failures)
