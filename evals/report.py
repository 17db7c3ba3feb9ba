"""Eval output: a rich summary on the terminal, `report.json`, `report.md` and `report.png`.

Case ids and finding ids are the only message-derived strings shown; no subject or body text
reaches the report, so a hostile message cannot write into it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evals.metrics import CLASSES, NO_VERDICT, Summary

#: Columns of the per-group tables: (metric, header, format).
OUTCOME_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("n", "n", "d"),
    ("accuracy", "accuracy", "%"),
    ("malicious_released", "mal released", "d"),
    ("malicious_released_any_toggle", "mal released (either toggle)", "d"),
    ("ham_released_rate", "ham released", "%"),
    ("spam_released_rate_toggle_off", "spam released (toggle off)", "%"),
    ("spam_released_rate_toggle_on", "spam released (toggle on)", "%"),
    ("manual_review_rate", "manual review", "%"),
)
MISCLASSIFIED_SHOWN = 25


def build_report(meta: dict[str, Any], summary: Summary, gate_failures: list[str] | None) -> dict[str, Any]:
    """The JSON document: a header that makes runs comparable, then every metric."""
    return {
        "meta": meta,
        **summary.as_dict(),
        "gate": None if gate_failures is None else {"passed": not gate_failures, "failures": gate_failures},
    }


def _fmt(value: Any, kind: str) -> str:
    if kind == "%":
        return f"{100 * float(value):.1f}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _groups(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Overall, each data set, and each source of a data set that has more than one."""
    sources: dict[str, int] = {}
    for key in report["by_source"]:
        sources[key.split(":", 1)[0]] = sources.get(key.split(":", 1)[0], 0) + 1
    multi = {k: v for k, v in report["by_source"].items() if sources[k.split(":", 1)[0]] > 1}
    return {"overall": report["overall"], **report["by_dataset"], **multi}


def _outcome_rows(groups: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [[name, *(_fmt(m.get(k, 0), f) for k, _, f in OUTCOME_COLUMNS)] for name, m in groups.items()]


def render_terminal(console: Console, report: dict[str, Any]) -> None:
    """The summary tables (escaped: case ids come from manifests)."""
    meta = report["meta"]
    console.print(
        f"[bold]qrelease eval[/]  reasoner [cyan]{escape(meta['reasoner'])}[/] ({escape(meta['model_id'])}), "
        f"{meta['messages']} messages, dataset {meta['dataset_sha256'][:12]}, {meta['wall_seconds']:.1f}s"
    )
    table = Table(title="Outcomes (enforce semantics)")
    table.add_column("group", no_wrap=True)
    for _, header, _ in OUTCOME_COLUMNS:
        table.add_column(header, justify="right")
    for row in _outcome_rows(_groups(report)):
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    conf = Table(title="Confusion matrix (rows: expected, columns: verdict)")
    conf.add_column("expected")
    for col in (*CLASSES, NO_VERDICT):
        conf.add_column(col, justify="right")
    for cls in CLASSES:
        conf.add_row(cls, *(str(report["confusion"][cls][c]) for c in (*CLASSES, NO_VERDICT)))
    console.print(conf)
    classes = Table(title="Per class")
    for col in ("class", "precision", "recall", "F1", "support"):
        classes.add_column(col, justify="right")
    for cls, m in report["classes"].items():
        classes.add_row(cls, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    console.print(classes)
    lat, use = report["latency"], report["usage"]
    console.print(
        f"latency p50 {lat['p50_s'] * 1000:.1f} ms, p95 {lat['p95_s'] * 1000:.1f} ms; tokens/message "
        f"{use['input_tokens_per_message']:g} in, {use['output_tokens_per_message']:g} out; "
        f"est. ${use['cost_usd_per_message']:.5f}/message"
    )
    wrong = report["misclassified"]
    if wrong:
        mis = Table(title=f"Misclassified ({len(wrong)}; first {min(len(wrong), MISCLASSIFIED_SHOWN)})")
        for col in ("case", "label", "verdict", "action", "top findings"):
            mis.add_column(col, overflow="fold")
        for r in wrong[:MISCLASSIFIED_SHOWN]:
            mis.add_row(
                escape(r["case_id"]), r["label"], r["verdict"], r["action"], escape(", ".join(r["top_findings"][:3]))
            )
        console.print(mis)
    gate = report.get("gate")
    if gate is not None:
        if gate["passed"]:
            console.print("[bold green]gate passed[/]")
        else:
            console.print("[bold red]gate FAILED[/]")
            for line in gate["failures"]:
                console.print(f"  - {escape(line)}")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    """`report.md`: the same content for people reading a CI artifact or a pull request."""
    meta = report["meta"]
    out = [
        "# qrelease eval report",
        "",
        f"- reasoner: `{meta['reasoner']}` model `{meta['model_id']}`",
        f"- dataset sha256: `{meta['dataset_sha256']}` ({meta['messages']} messages: "
        + ", ".join(f"{k} {v}" for k, v in meta["datasets"].items())
        + ")",
        "- prompt sha256: " + ", ".join(f"{k} `{v[:12]}`" for k, v in meta["prompt_sha256"].items()),
        f"- settings: release_confirmed_spam={meta['settings']['release_confirmed_spam']}, "
        f"min_release_confidence={meta['settings']['min_release_confidence']}, mode=enforce (eval)",
        f"- created {meta['created_at']}, wall time {meta['wall_seconds']:.1f}s, cache hits {meta['cache_hits']}",
        "",
        "## Outcomes",
        "",
        _md_table(
            ["group", *(h for _, h, _ in OUTCOME_COLUMNS)],
            _outcome_rows(_groups(report)),
        ),
        "",
        "## Confusion matrix (rows: expected, columns: verdict)",
        "",
        _md_table(
            ["expected", *CLASSES, NO_VERDICT],
            [[c, *(str(report["confusion"][c][k]) for k in (*CLASSES, NO_VERDICT))] for c in CLASSES],
        ),
        "",
        "## Per class",
        "",
        _md_table(
            ["class", "precision", "recall", "F1", "support"],
            [
                [c, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])]
                for c, m in report["classes"].items()
            ],
        ),
        "",
        f"Latency p50 {report['latency']['p50_s'] * 1000:.1f} ms, p95 {report['latency']['p95_s'] * 1000:.1f} ms. "
        f"Tokens per message {report['usage']['input_tokens_per_message']:g} in / "
        f"{report['usage']['output_tokens_per_message']:g} out, "
        f"estimated ${report['usage']['cost_usd_per_message']:.5f} per message.",
        "",
    ]
    gate = report.get("gate")
    if gate is not None:
        out += ["## Gate", "", "passed" if gate["passed"] else "FAILED", ""]
        out += [f"- {line}" for line in gate["failures"]] + [""]
    wrong = report["misclassified"]
    out += [f"## Misclassified ({len(wrong)})", ""]
    out.append(
        _md_table(
            ["case", "label", "verdict", "conf.", "action", "top findings"],
            [
                [
                    r["case_id"],
                    r["label"],
                    r["verdict"],
                    f"{r['confidence']:.2f}",
                    r["action"],
                    ", ".join(r["top_findings"]),
                ]
                for r in wrong
            ],
        )
    )
    return "\n".join(out) + "\n"


def write_png(report: dict[str, Any], path: Path, threshold: float) -> bool:
    """Confusion matrix and the release-vs-leak curve; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_c, ax_t) = plt.subplots(1, 2, figsize=(12, 5))
    cols = [*CLASSES, NO_VERDICT]
    grid = [[report["confusion"][r][c] for c in cols] for r in CLASSES]
    ax_c.imshow(grid, cmap="Blues")
    ax_c.set_xticks(range(len(cols)), cols)
    ax_c.set_yticks(range(len(CLASSES)), CLASSES)
    ax_c.set_xlabel("verdict")
    ax_c.set_ylabel("expected")
    ax_c.set_title("Confusion matrix")
    peak = max((v for row in grid for v in row), default=0)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax_c.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    pts = report["curve"]
    xs = [p["threshold"] for p in pts]
    ax_t.plot(xs, [100 * p["ham_released_rate"] for p in pts], label="ham released %", color="tab:green")
    ax_t.plot(xs, [100 * p["spam_released_rate"] for p in pts], label="spam released %", color="tab:orange")
    ax_t.plot(xs, [100 * p["malicious_released_rate"] for p in pts], label="malicious released %", color="tab:red")
    ax_t.axvline(threshold, color="grey", linestyle="--", label=f"configured {threshold:.2f}")
    ax_t.set_xlabel("min_release_confidence")
    ax_t.set_ylabel("% of the label's messages")
    ax_t.set_ylim(-2, 102)
    ax_t.set_title("Release vs leak over the confidence threshold")
    ax_t.legend(loc="center left")
    fig.suptitle(f"{report['meta']['reasoner']} ({report['meta']['model_id']}), {report['meta']['messages']} messages")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(directory: Path, report: dict[str, Any]) -> list[Path]:
    """Write report.json, report.md and (when matplotlib is there) report.png; return what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "report.json", directory / "report.md"]
    written[0].write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    written[1].write_text(render_markdown(report), encoding="utf-8")
    png = directory / "report.png"
    if write_png(report, png, float(report["meta"]["settings"]["min_release_confidence"])):
        written.append(png)
    return written
