"""Reading a message file for the CLI: `.eml` bytes, or `.msg` converted to RFC 822."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """The input file cannot be analyzed; the message says why in one line."""


MAX_INPUT_BYTES = 64 * 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_message(path: Path) -> bytes:
    """Bytes of an email file, with a one-line error for anything that is not one."""
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an email file")
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{path} is {size} bytes; the limit is {MAX_INPUT_BYTES}")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise InputError(f"{path} is empty")
    if raw.startswith(_OLE_MAGIC):
        return _msg_to_eml(path)
    return raw


def _msg_to_eml(path: Path) -> bytes:
    """Outlook .msg -> RFC 822 via extract-msg (imported only for .msg input)."""
    try:
        import extract_msg

        msg = extract_msg.openMsg(str(path))
        try:
            if not isinstance(msg, extract_msg.Message):
                raise InputError(f"{path} is an Outlook item but not an email message")
            return bytes(msg.asEmailMessage().as_bytes())
        finally:
            msg.close()
    except Exception as exc:
        raise InputError(f"{path} looks like an Outlook .msg file but cannot be read: {type(exc).__name__}") from None
