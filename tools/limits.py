"""Run fragile third-party parsers in a child process with a wall clock and a memory cap.

olefile/oletools and disk-image readers have hung or crashed on malformed files. They run in a
fresh interpreter (`python -E -s -m tools.limits <task>`), never in the worker: the child gets the
bytes on stdin, caps its own address space, CPU time and file writes, and prints JSON. A timeout,
a crash or unreadable output is reported as `attachment.unreadable`, which blocks release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Defaults from the reliability notes: about 10 s wall clock and a memory cap per file.
TIMEOUT_SECONDS = 10.0
MEMORY_MB = 1024

Hit = tuple[str, str]
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass
class IsolatedResult:
    """What the child reported, or why it did not."""

    ok: bool
    hits: list[Hit] = field(default_factory=list)
    error: str = ""


def run_isolated(
    task: str, data: bytes, name: str, *, timeout: float = TIMEOUT_SECONDS, memory_mb: int = MEMORY_MB
) -> IsolatedResult:
    """Run `task` over `data` in a sandboxed child process.

    Args:
        task: a key of `TASKS` (e.g. "office", "iso").
        data: the file's bytes (sent on stdin, never written to disk).
        name: the attachment name, used only in evidence strings.
        timeout: wall-clock limit in seconds.
        memory_mb: address-space limit of the child.

    Returns:
        `IsolatedResult(ok=False, error=...)` on timeout, crash or bad output; never raises.
    """
    if task not in TASKS:
        return IsolatedResult(ok=False, error=f"unknown task {task!r}")
    # -E -s: no PYTHON* variables, no user site; cwd is the project root so `-m tools.limits` resolves
    # to this code whether or not the package is installed.
    cmd = [sys.executable, "-E", "-s", "-m", "tools.limits", task, str(memory_mb), str(int(timeout) + 1), name[:200]]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(
            cmd, input=data, capture_output=True, timeout=timeout, env=env, check=False, cwd=_PROJECT_ROOT
        )
    except subprocess.TimeoutExpired:
        return IsolatedResult(ok=False, error=f"{task} parser timed out after {timeout:.0f}s")
    except OSError as exc:
        return IsolatedResult(ok=False, error=f"{task} parser could not start: {type(exc).__name__}")
    if proc.returncode != 0:
        return IsolatedResult(ok=False, error=f"{task} parser failed (exit {proc.returncode})")
    try:
        payload = json.loads(proc.stdout.decode("utf-8"))
        hits = [(str(fid), str(ev)) for fid, ev in payload["hits"]]
    except (ValueError, KeyError, TypeError):
        return IsolatedResult(ok=False, error=f"{task} parser gave unreadable output")
    return IsolatedResult(ok=True, hits=hits)


def _office(data: bytes, name: str) -> list[Hit]:
    from tools.office import analyze_office

    return analyze_office(data, name)


def _iso(data: bytes, name: str) -> list[Hit]:
    from tools.archives import iso_members

    return [("member", m) for m in iso_members(data)]


TASKS: dict[str, Callable[[bytes, str], list[Hit]]] = {"office": _office, "iso": _iso}


def _limit_self(memory_mb: int, cpu_seconds: int) -> None:
    import resource

    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # the parsers have no business writing files
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(argv: list[str]) -> int:
    task, memory_mb, cpu_seconds, name = argv[0], int(argv[1]), int(argv[2]), argv[3] if len(argv) > 3 else ""
    _limit_self(memory_mb, cpu_seconds)
    data = sys.stdin.buffer.read()
    # oletools logs to stderr and some versions print; keep stdout for our JSON only.
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        hits = TASKS[task](data, name)
    finally:
        sys.stdout = real_stdout
    real_stdout.write(json.dumps({"hits": hits}))
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
