"""Figures for the evidence layer over the labeled corpus (issue 3).

Per label and per source: the share of messages with at least one high-severity finding, the ten
most frequent findings per label, and per-message extraction time (median, p95, max).

    .venv/bin/python benchmarks/evidence_figures.py --corpus /work/shared/corpora [--json out.json]

The corpus is read in place (never copied). Extraction runs with the default detection settings
and no quarantine type, so Microsoft's quarantine reason cannot leak the label.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.catalogue import Severity
from tools.evidence import extract_all

HIGH = {Severity.HIGH, Severity.CRITICAL}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(corpus: Path, limit: int | None = None) -> dict[str, object]:
    """Extract evidence from every manifest row and aggregate the figures."""
    rows = list(csv.DictReader((corpus / "MANIFEST.csv").open(encoding="utf-8")))
    if limit:
        rows = rows[:limit]
    by_label: dict[str, list[tuple[set[str], bool]]] = defaultdict(list)
    by_source: dict[tuple[str, str], list[bool]] = defaultdict(list)
    high_ids: dict[str, Counter[str]] = defaultdict(Counter)
    times: list[float] = []
    stage_times: dict[str, list[float]] = defaultdict(list)
    slowest: list[tuple[float, str]] = []
    extract_all(b"From: a@example.com\nTo: b@example.com\nSubject: warm-up\n\n<a href='http://example.com'>x</a>")
    for row in rows:
        raw = (corpus / row["path"]).read_bytes()
        start = time.perf_counter()
        evidence = extract_all(raw)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        for stage, seconds in evidence.seconds.items():
            stage_times[stage].append(seconds)
        slowest.append((elapsed, row["path"]))
        ids = {f.id for f in evidence.findings}
        high = any(f.severity in HIGH for f in evidence.findings)
        for fid in {f.id for f in evidence.findings if f.severity in HIGH}:
            high_ids[row["label"]][fid] += 1
        by_label[row["label"]].append((ids, high))
        by_source[(row["source"], row["label"])].append(high)

    figures: dict[str, object] = {"messages": len(rows)}
    labels: dict[str, object] = {}
    for label, items in sorted(by_label.items()):
        counts: Counter[str] = Counter()
        for ids, _ in items:
            counts.update(ids)
        labels[label] = {
            "n": len(items),
            "share_high": sum(h for _, h in items) / len(items),
            "top10": counts.most_common(10),
            "top_high": high_ids[label].most_common(5),
        }
    figures["by_label"] = labels
    figures["by_source"] = {
        f"{source}/{label}": {"n": len(v), "share_high": sum(v) / len(v)}
        for (source, label), v in sorted(by_source.items())
    }
    figures["time_ms"] = {
        "median": statistics.median(times) * 1000 if times else 0.0,
        "p95": _pct(times, 0.95) * 1000,
        "max": max(times, default=0.0) * 1000,
        "slowest": [p for _, p in sorted(slowest, reverse=True)[:3]],
        "stages": {
            stage: {"median": statistics.median(v) * 1000, "p95": _pct(v, 0.95) * 1000, "max": max(v) * 1000}
            for stage, v in stage_times.items()
        },
    }
    return figures


def _print(figures: dict[str, object]) -> None:
    out = sys.stdout.write
    out(f"messages: {figures['messages']}\n\n")
    out("share with >= 1 high-severity finding, per label\n")
    labels = figures["by_label"]
    assert isinstance(labels, dict)
    for label, info in labels.items():
        out(f"  {label:8} n={info['n']:4}  {info['share_high']:6.1%}\n")
    out("\nper source/label\n")
    sources = figures["by_source"]
    assert isinstance(sources, dict)
    for key, info in sources.items():
        out(f"  {key:32} n={info['n']:4}  {info['share_high']:6.1%}\n")
    for label, info in labels.items():
        out(f"\ntop 10 findings, {label}\n")
        for fid, n in info["top10"]:
            out(f"  {fid:40} {n:4}  {n / info['n']:6.1%}\n")
        out("  most frequent high-severity: " + ", ".join(f"{fid} ({n})" for fid, n in info["top_high"]) + "\n")
    t = figures["time_ms"]
    assert isinstance(t, dict)
    out(f"\nextraction time per message: median {t['median']:.1f} ms, p95 {t['p95']:.1f} ms, max {t['max']:.1f} ms\n")
    out(f"  slowest: {', '.join(t['slowest'])}\n")
    for stage, s in t["stages"].items():
        out(f"  {stage:12} median {s['median']:.1f} ms, p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder holding MANIFEST.csv")
    parser.add_argument("--limit", type=int, default=None, help="only the first N manifest rows")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not (args.corpus / "MANIFEST.csv").is_file():
        sys.stderr.write(f"error: no MANIFEST.csv in {args.corpus}\n")
        return 2
    figures = run(args.corpus, args.limit)
    _print(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
