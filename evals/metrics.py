"""The eval's numbers: verdict accuracy, and the product's own outcomes under the release policy.

Outcomes matter more than accuracy: a phish called "spam" is still denied, but a phish released is
the one failure the product exists to prevent. The policy is pure, so outcomes under the other
value of `release_confirmed_spam` and under other confidence thresholds are replayed from each
stored verdict and floor instead of re-analyzing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evals.runner import CaseRun, request_for
from policies.models import Action, Verdict, VerdictLabel
from policies.release_policy import decide
from policies.settings import Settings
from tools.catalogue import SEVERITY_WEIGHT, Severity, Signal

CLASSES: tuple[str, ...] = tuple(v.value for v in VerdictLabel)
#: Column for runs that produced no verdict (analysis error: manual review).
NO_VERDICT = "none"
#: Confidence thresholds the release-vs-leak curve is drawn over.
CURVE_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.01 * i, 2) for i in range(51))


@dataclass
class CaseRecord:
    """One case's outcome, flat and JSON-ready."""

    case_id: str
    dataset: str
    source: str
    label: str
    expected: str
    verdict: str
    confidence: float
    action: str
    rule: str
    action_spam_off: str
    """The action with `release_confirmed_spam = false`."""
    action_spam_on: str
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    errors: list[str] = field(default_factory=list)
    top_findings: list[str] = field(default_factory=list)
    """The heaviest non-benign findings, `id (severity)`, so a person can see why."""

    @property
    def correct(self) -> bool:
        """Whether the verdict matches the label."""
        return self.verdict == self.expected


def _verdict(run: CaseRun) -> Verdict | None:
    r = run.result
    if r.verdict is None:
        return None
    return Verdict(verdict=r.verdict, confidence=r.confidence, reasoning=r.reasoning or "-")


def replay(run: CaseRun, settings: Settings) -> Action:
    """The policy's action for a stored analysis under other settings (pure, no re-analysis)."""
    r = run.result
    return decide(
        verdict=_verdict(run), floor=r.floor, settings=settings, request=request_for(run.case), errors=r.errors
    ).action


def top_findings(run: CaseRun, n: int = 5) -> list[str]:
    """The heaviest warning findings of a run (benign and info ones are not reasons)."""
    ranked = sorted(
        {
            f.id: f for f in run.result.evidence if f.signal is not Signal.BENIGN and f.severity is not Severity.INFO
        }.values(),
        key=lambda f: (-SEVERITY_WEIGHT[f.severity], f.id),
    )
    return [f"{f.id} ({f.severity})" for f in ranked[:n]]


def record(run: CaseRun, settings: Settings) -> CaseRecord:
    """Flatten a run, replaying the policy under both values of `release_confirmed_spam`."""
    r = run.result
    off = settings.model_copy(update={"release_confirmed_spam": False})
    on = settings.model_copy(update={"release_confirmed_spam": True})
    return CaseRecord(
        case_id=run.case.case_id,
        dataset=run.case.dataset,
        source=run.case.source,
        label=run.case.label,
        expected=run.case.expected.value,
        verdict=r.verdict.value if r.verdict else NO_VERDICT,
        confidence=round(r.confidence, 4),
        action=r.decision.action.value,
        rule=r.decision.rule,
        action_spam_off=replay(run, off).value,
        action_spam_on=replay(run, on).value,
        seconds=round(run.seconds, 5),
        input_tokens=sum(u.input_tokens for u in r.usage),
        output_tokens=sum(u.output_tokens for u in r.usage),
        errors=list(r.errors),
        top_findings=top_findings(run),
    )


def _rate(num: int, den: int) -> float:
    return round(num / den, 4) if den else 0.0


def confusion(records: Sequence[CaseRecord]) -> dict[str, dict[str, int]]:
    """Expected verdict (rows) x produced verdict (columns, plus `none` for failed runs)."""
    table = {e: dict.fromkeys((*CLASSES, NO_VERDICT), 0) for e in CLASSES}
    for rec in records:
        table[rec.expected][rec.verdict] += 1
    return table


def per_class(records: Sequence[CaseRecord]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each verdict class."""
    out: dict[str, dict[str, float]] = {}
    for cls in CLASSES:
        tp = sum(1 for r in records if r.expected == cls and r.verdict == cls)
        predicted = sum(1 for r in records if r.verdict == cls)
        support = sum(1 for r in records if r.expected == cls)
        precision, recall = _rate(tp, predicted), _rate(tp, support)
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
        out[cls] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return out


def outcomes(records: Sequence[CaseRecord]) -> dict[str, float]:
    """The product's metrics over a group of cases (flat, so thresholds can name any of them)."""
    n = len(records)
    mal = [r for r in records if r.expected == VerdictLabel.MALICIOUS]
    ham = [r for r in records if r.label == "ham"]
    spam = [r for r in records if r.label == "spam"]
    rel = Action.RELEASE.value

    def count(group: Iterable[CaseRecord], attr: str, action: str = rel) -> int:
        return sum(1 for r in group if getattr(r, attr) == action)

    classes = per_class(records)
    present = [c for c in CLASSES if classes[c]["support"]]
    mal_any = sum(1 for r in mal if rel in (r.action, r.action_spam_off, r.action_spam_on))
    return {
        "n": n,
        "accuracy": _rate(sum(r.correct for r in records), n),
        "macro_f1": round(sum(classes[c]["f1"] for c in present) / len(present), 4) if present else 0.0,
        "malicious_n": len(mal),
        "malicious_released": count(mal, "action"),
        "malicious_released_rate": _rate(count(mal, "action"), len(mal)),
        "malicious_released_any_toggle": mal_any,
        "malicious_recall": _rate(sum(r.verdict == VerdictLabel.MALICIOUS for r in mal), len(mal)),
        "malicious_denied_rate": _rate(count(mal, "action", Action.DENY.value), len(mal)),
        "ham_n": len(ham),
        "ham_released": count(ham, "action"),
        "ham_released_rate": _rate(count(ham, "action"), len(ham)),
        "ham_denied_rate": _rate(count(ham, "action", Action.DENY.value), len(ham)),
        "spam_n": len(spam),
        "spam_released_rate_toggle_off": _rate(count(spam, "action_spam_off"), len(spam)),
        "spam_kept_rate_toggle_off": _rate(len(spam) - count(spam, "action_spam_off"), len(spam)),
        "spam_released_rate_toggle_on": _rate(count(spam, "action_spam_on"), len(spam)),
        "spam_kept_rate_toggle_on": _rate(len(spam) - count(spam, "action_spam_on"), len(spam)),
        "manual_review_rate": _rate(count(records, "action", Action.MANUAL_REVIEW.value), n),
        "analysis_errors": sum(1 for r in records if r.errors),
    }


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency(records: Sequence[CaseRecord]) -> dict[str, float]:
    """Seconds per message: p50, p95, max, mean."""
    secs = [r.seconds for r in records]
    return {
        "p50_s": round(_percentile(secs, 0.5), 4),
        "p95_s": round(_percentile(secs, 0.95), 4),
        "max_s": round(max(secs, default=0.0), 4),
        "mean_s": round(sum(secs) / len(secs), 4) if secs else 0.0,
    }


def usage(records: Sequence[CaseRecord], settings: Settings) -> dict[str, float]:
    """Tokens and estimated USD per message (zero for the offline reasoner)."""
    n = len(records) or 1
    tin = sum(r.input_tokens for r in records)
    tout = sum(r.output_tokens for r in records)
    cfg = settings.reasoner
    cost = (tin * cfg.input_cost_per_mtok + tout * cfg.output_cost_per_mtok) / 1_000_000
    return {
        "input_tokens": tin,
        "output_tokens": tout,
        "input_tokens_per_message": round(tin / n, 1),
        "output_tokens_per_message": round(tout / n, 1),
        "cost_usd": round(cost, 6),
        "cost_usd_per_message": round(cost / n, 6),
    }


def curve(runs: Sequence[CaseRun], settings: Settings) -> list[dict[str, float]]:
    """Release-vs-leak over the confidence threshold: share of ham released against malicious released."""
    points = []
    for t in CURVE_THRESHOLDS:
        at = settings.model_copy(update={"min_release_confidence": t})
        actions = [(run.case, replay(run, at)) for run in runs]
        ham = [a for c, a in actions if c.label == "ham"]
        spam = [a for c, a in actions if c.label == "spam"]
        mal = [a for c, a in actions if c.expected is VerdictLabel.MALICIOUS]
        points.append(
            {
                "threshold": t,
                "ham_released_rate": _rate(sum(a is Action.RELEASE for a in ham), len(ham)),
                "spam_released_rate": _rate(sum(a is Action.RELEASE for a in spam), len(spam)),
                "malicious_released": sum(a is Action.RELEASE for a in mal),
                "malicious_released_rate": _rate(sum(a is Action.RELEASE for a in mal), len(mal)),
            }
        )
    return points


@dataclass
class Summary:
    """Everything the report shows, computed once."""

    records: list[CaseRecord]
    overall: dict[str, float]
    by_dataset: dict[str, dict[str, float]]
    by_source: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    classes: dict[str, dict[str, float]]
    latency: dict[str, float]
    usage: dict[str, float]
    curve: list[dict[str, float]]
    policy_replay_mismatches: int
    """Runs whose recorded action differs from the replayed one: must be 0 (the policy is pure)."""

    @property
    def misclassified(self) -> list[CaseRecord]:
        """Wrong verdicts, worst first: released malicious, then other releases, then the rest."""
        wrong = [r for r in self.records if not r.correct]
        return sorted(
            wrong,
            key=lambda r: (
                not (r.expected == "malicious" and r.action == "release"),
                r.action != "release",
                r.case_id,
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "overall": self.overall,
            "by_dataset": self.by_dataset,
            "by_source": self.by_source,
            "confusion": self.confusion,
            "classes": self.classes,
            "latency": self.latency,
            "usage": self.usage,
            "curve": self.curve,
            "policy_replay_mismatches": self.policy_replay_mismatches,
            "misclassified": [asdict(r) for r in self.misclassified],
        }


def summarize(runs: Sequence[CaseRun], settings: Settings) -> Summary:
    """Every metric of a run of the eval."""
    records = [record(run, settings) for run in runs]
    mismatches = sum(1 for run, rec in zip(runs, records, strict=True) if replay(run, settings).value != rec.action)
    groups: dict[str, dict[str, list[CaseRecord]]] = {"dataset": defaultdict(list), "source": defaultdict(list)}
    for rec in records:
        groups["dataset"][rec.dataset].append(rec)
        groups["source"][f"{rec.dataset}:{rec.source}"].append(rec)
    return Summary(
        records=records,
        overall=outcomes(records),
        by_dataset={k: outcomes(v) for k, v in sorted(groups["dataset"].items())},
        by_source={k: outcomes(v) for k, v in sorted(groups["source"].items())},
        confusion=confusion(records),
        classes=per_class(records),
        latency=latency(records),
        usage=usage(records, settings),
        curve=curve(runs, settings),
        policy_replay_mismatches=mismatches,
    )


def label_counts(records: Iterable[CaseRecord]) -> dict[str, int]:
    """How many cases of each label."""
    return dict(Counter(r.label for r in records))
