"""Prompt and notification templates, stored as `.md` files and loaded by name."""

from __future__ import annotations

import hashlib
import string
from functools import cache
from importlib import resources


class PromptError(KeyError):
    """A template is missing or was rendered with the wrong variables."""


@cache
def load(name: str) -> str:
    """The raw text of `prompts/<name>.md`."""
    try:
        return (resources.files(__package__) / f"{name}.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt named {name!r}") from None


def variables(name: str) -> set[str]:
    """The `{slots}` a template declares."""
    return {field for _, field, _, _ in string.Formatter().parse(load(name)) if field}


def render(name: str, **values: str) -> str:
    """Fill every slot; a missing or unexpected variable is an error, not a silent blank."""
    expected = variables(name)
    if set(values) != expected:
        raise PromptError(f"prompt {name!r} expects {sorted(expected)}, got {sorted(values)}")
    return load(name).format(**values)


def prompt_sha256(name: str) -> str:
    """Recorded with every decision so runs with different prompts are distinguishable."""
    return hashlib.sha256(load(name).encode()).hexdigest()


def names() -> list[str]:
    """Every template shipped."""
    return sorted(p.name[:-3] for p in resources.files(__package__).iterdir() if p.name.endswith(".md"))
