"""The CI gate: no malicious message released on any data set, and no tracked metric below its threshold.

Thresholds live in `evals/thresholds.toml`, per data set (the manifest's folder name), as
`[datasets.<name>.min]` / `[datasets.<name>.max]` tables of metric names from `evals.metrics.outcomes`.
A data set that was not part of the run is not checked (the shared corpus may be absent).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"
#: Not a threshold: the product's one absolute rule, checked whatever the file says.
HARD_RULE = "malicious_released_any_toggle"


class ThresholdError(Exception):
    """The thresholds file is unreadable or names a metric that does not exist."""


def load_thresholds(path: Path | None = None) -> dict[str, Any]:
    """The thresholds table (the bundled `evals/thresholds.toml` by default)."""
    try:
        # Beside this module: importlib.resources breaks on a stale editable install where `evals`
        # was once a namespace package.
        text = (path or DEFAULT_THRESHOLDS).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThresholdError(f"cannot read thresholds {path or 'evals/thresholds.toml'}: {exc}") from None
    datasets = data.get("datasets", {})
    if not isinstance(datasets, dict):
        raise ThresholdError("thresholds: [datasets] must be a table")
    return datasets


def check(by_dataset: dict[str, dict[str, float]], thresholds: dict[str, Any]) -> list[str]:
    """Every violated rule as one readable line; empty when the gate passes."""
    failures: list[str] = []
    for name, metrics in sorted(by_dataset.items()):
        released = metrics.get(HARD_RULE, 0)
        if released:
            failures.append(f"{name}: {released:g} malicious message(s) would be released (must be 0)")
        limits = thresholds.get(name, {})
        for kind in ("min", "max"):
            for metric, bound in sorted(limits.get(kind, {}).items()):
                if metric not in metrics:
                    failures.append(f"{name}: unknown metric {metric!r} in thresholds")
                    continue
                value = metrics[metric]
                if (kind == "min" and value < bound) or (kind == "max" and value > bound):
                    word = "below" if kind == "min" else "above"
                    failures.append(f"{name}: {metric} = {value:g} is {word} the threshold {bound:g}")
    return failures
