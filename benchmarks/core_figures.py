"""Figures for the walking skeleton: cold CLI time, per-message triage time, offline confusion matrix.

Usage: .venv/bin/python benchmarks/core_figures.py [--corpus ../shared/corpora] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABEL_TO_VERDICT = {"ham": "safe", "spam": "spam", "phish": "malicious", "malware": "malicious"}


def cold_cli(runs: int) -> list[float]:
    exe = ROOT / ".venv" / "bin" / "qrelease"
    sample = ROOT / "qrelease" / "samples" / "credential-phish.eml"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(exe), "analyze", str(sample), "--json"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


async def corpus_times(corpus: Path) -> tuple[list[float], Counter[tuple[str, str]]]:
    from graph.runner import triage
    from policies.models import ReleaseRequest
    from policies.settings import load_settings
    from qrelease.service import build_deps

    deps = build_deps(load_settings(mode="enforce"))
    rows = list(csv.DictReader((corpus / "MANIFEST.csv").open()))
    times: list[float] = []
    matrix: Counter[tuple[str, str]] = Counter()
    request = ReleaseRequest(requester="user@example.com")
    await triage(b"From: a@b.c\nSubject: warm-up\n\nhi", request, deps)
    for row in rows:
        raw = (corpus / row["path"]).read_bytes()
        start = time.perf_counter()
        result = await triage(raw, request, deps)
        times.append(time.perf_counter() - start)
        matrix[(LABEL_TO_VERDICT[row["label"]], str(result.verdict))] += 1
    return times, matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold = cold_cli(args.runs)
    print(
        f"cold `qrelease analyze --json` on a sample: median {statistics.median(cold):.3f}s "
        f"(min {min(cold):.3f}s, max {max(cold):.3f}s, {args.runs} runs)"
    )
    if not (args.corpus / "MANIFEST.csv").is_file():
        print(f"no corpus at {args.corpus}; skipping per-message figures")
        return
    times, matrix = asyncio.run(corpus_times(args.corpus))
    ms = sorted(t * 1000 for t in times)
    print(
        f"in-process triage over {len(ms)} messages: median {statistics.median(ms):.1f} ms, "
        f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms"
    )
    labels = ["safe", "spam", "malicious"]
    print("confusion matrix (rows: expected from label, columns: offline verdict)")
    print(f"{'':>12}" + "".join(f"{c:>12}" for c in [*labels, "none"]))
    for row in labels:
        print(f"{row:>12}" + "".join(f"{matrix[(row, col)]:>12}" for col in [*labels, "None"]))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
