"""Evidence models shared by every extractor: findings, links, attachments, the parsed message."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.catalogue import Severity, Signal, spec

#: Evidence strings come from hostile input; keep them short so they cannot flood a prompt or a log.
EVIDENCE_MAX = 300


class Finding(BaseModel):
    """One deterministic observation about a message, with the exact evidence behind it."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Stable namespaced id from `tools.catalogue.CATALOGUE`, e.g. `auth.dmarc_fail`."""
    severity: Severity
    signal: Signal
    description: str
    """One human line, from the catalogue (never from the email)."""
    evidence: str = ""
    """The exact header, URL or filename that triggered it (untrusted text, truncated)."""

    @classmethod
    def of(cls, finding_id: str, evidence: str = "") -> Finding:
        """Build a finding from the catalogue; severity and meaning are not the caller's to choose."""
        s = spec(finding_id)
        if len(evidence) > EVIDENCE_MAX:
            evidence = evidence[: EVIDENCE_MAX - 1] + "…"
        return cls(id=finding_id, severity=s.severity, signal=s.signal, description=s.description, evidence=evidence)


class Link(BaseModel):
    """A link as the reader would meet it."""

    url: str
    anchor_text: str = ""
    source: Literal["html", "text", "attachment"] = "html"


class Attachment(BaseModel):
    """An attachment's metadata and its decoded bytes.

    The bytes must survive checkpoint serialization (a resumed run analyzes them again), so they
    are not excluded from dumps; reports carry `MessageSummary`, never this model.
    """

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    filename: str = ""
    content_type: str = "application/octet-stream"
    size: int = 0
    sha256: str = ""
    data: bytes = Field(default=b"", repr=False)
    inline: bool = False


class ParsedMessage(BaseModel):
    """Everything later nodes need from the raw message, parsed once."""

    headers: list[tuple[str, str]] = Field(default_factory=list)
    from_address: str = ""
    from_display_name: str = ""
    reply_to: list[str] = Field(default_factory=list)
    return_path: str = ""
    to: list[str] = Field(default_factory=list)
    subject: str = ""
    date: str = ""
    message_id: str = ""
    text_plain: str = ""
    html: str = ""
    visible_text: str = ""
    """What a person sees: rendered HTML (or the plain part), invisible characters removed, NFKC."""
    hidden_text: str = ""
    """Text present in the HTML but not shown to the reader (CSS-hidden, tiny, comments, ...)."""
    hidden_parts: list[tuple[str, str]] = Field(default_factory=list)
    """(technique, text) for each hidden piece of the HTML body, e.g. ("css", ...), ("comment", ...)."""
    unseen_attributes: list[str] = Field(default_factory=list)
    """alt/title/aria-label/meta texts: legitimately unseen, checked for instructions only."""
    links: list[Link] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    """Parse and content findings (defects, limits, hidden text, invisible Unicode)."""
    size: int = 0

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitive."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def header_all(self, name: str) -> list[str]:
        """All values of a header in message order (topmost first)."""
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    @property
    def from_domain(self) -> str:
        """Domain of the From address, lower-case ('' when absent)."""
        return self.from_address.rpartition("@")[2].lower() if "@" in self.from_address else ""
