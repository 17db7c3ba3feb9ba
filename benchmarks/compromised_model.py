"""Compromised-model exposure: what would be released if the model always said "safe, confidence 1.0".

Runs the real triage graph with a chat model fully under the attacker's control over the malicious
part (phish + malware) of the shared corpus, and prints how many messages would be released and, for
each leak, the findings that were present (none of which forbids release). Goal: 0.

Usage:
    .venv/bin/python benchmarks/compromised_model.py --corpus ../shared/corpora
    .venv/bin/python benchmarks/compromised_model.py --corpus ../shared/corpora --labels ham   # floor cost on ham
    .venv/bin/python benchmarks/compromised_model.py --adversarial   # every hostile mode over the adversarial set
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the compromised model lives with the tests that use it


#: Set by --floors-only: measure the evidence floors alone, without the two-key rule (the default setting).
TWO_KEYS = True


def _deps(mode: str = "always_safe", quote: str = "") -> object:
    from agents.llm_reasoner import LLMReasoner
    from graph.context import Deps
    from policies.settings import load_settings
    from tests.adversarial.compromised import compromised

    settings = load_settings(
        mode="enforce",
        reasoner={"kind": "openai", "api_key": "unused-offline"},
        model_release_needs_scorer=TWO_KEYS,
    )
    return Deps(settings=settings, reasoner=LLMReasoner(compromised(mode, quote), settings.reasoner))


async def corpus(root: Path, labels: set[str], quarantine_type: str | None) -> int:
    from graph.runner import triage
    from policies.models import Action, QuarantineType, ReleaseRequest

    rows = [r for r in csv.DictReader((root / "MANIFEST.csv").open(encoding="utf-8")) if r["label"] in labels]
    qtype = QuarantineType(quarantine_type) if quarantine_type else None
    request = ReleaseRequest(requester="alexw@contoso.com", recipient="alexw@contoso.com", quarantine_type=qtype)
    deps = _deps()
    released: list[tuple[str, str, list[str]]] = []
    rules: Counter[str] = Counter()
    start = time.perf_counter()
    for row in rows:
        result = await triage((root / row["path"]).read_bytes(), request, deps)  # type: ignore[arg-type]
        rules[result.decision.rule] += 1
        if result.decision.action is Action.RELEASE:
            found = sorted({f.id for f in result.evidence if f.severity.value != "info"})
            released.append((row["path"], row["label"], found))
    seconds = time.perf_counter() - start
    by_source = Counter(path.split("/", 1)[0] for path, _, _ in released)
    print(f"labels {','.join(sorted(labels))}; quarantine type {quarantine_type or '(none: evidence alone)'}")
    print("two-key rule:", "on (default settings)" if TWO_KEYS else "off (evidence floors alone)")
    print(f"{len(released)} of {len(rows)} would be released by an always-safe model ({seconds:.0f}s)")
    print("decisions:", dict(rules.most_common()))
    print("released by source:", dict(by_source.most_common()))
    for path, label, found in released:
        print(f"  LEAK {label:7} {path}: {', '.join(found) or '(no warning findings)'}")
    return len(released)


async def adversarial() -> int:
    from graph.runner import triage
    from policies.models import Action
    from tests.adversarial.compromised import MODES
    from tests.adversarial.dataset import load_cases
    from tools.mime import parse_message

    cases = [c for c in load_cases() if c.is_attack]
    total = 0
    for mode in MODES:
        released = []
        for case in cases:
            quote = parse_message(case.raw()).hidden_text if mode == "quote_hidden" else ""
            result = await triage(case.raw(), case.request(), _deps(mode, quote))  # type: ignore[arg-type]
            if result.decision.action is Action.RELEASE:
                released.append(case.name)
        total += len(released)
        print(f"{mode:15} released {len(released)} of {len(cases)} attacks {released or ''}")
    return total


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when nothing malicious would be released, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument(
        "--labels", default="phish,malware", help="comma-separated labels to run (default phish,malware)"
    )
    parser.add_argument(
        "--quarantine-type", default=None, help="Microsoft's quarantine reason to assume (default none)"
    )
    parser.add_argument("--adversarial", action="store_true", help="run every hostile mode over the adversarial set")
    parser.add_argument("--floors-only", action="store_true", help="turn the two-key rule off (floors alone)")
    args = parser.parse_args(argv)
    global TWO_KEYS
    TWO_KEYS = not args.floors_only
    if args.adversarial:
        return 1 if asyncio.run(adversarial()) else 0
    if not (args.corpus / "MANIFEST.csv").is_file():
        print(f"error: no MANIFEST.csv in {args.corpus}", file=sys.stderr)
        return 2
    labels = {x.strip() for x in args.labels.split(",") if x.strip()}
    leaks = asyncio.run(corpus(args.corpus, labels, args.quarantine_type))
    return 1 if leaks and labels & {"phish", "malware"} else 0


if __name__ == "__main__":
    raise SystemExit(main())
