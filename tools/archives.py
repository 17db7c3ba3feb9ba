"""Archive listing without extraction to disk: zip (recursive), tar/gzip/bzip2/xz, ISO 9660.

Zip is listed from the central directory; members are read into memory only to look inside
nested archives, and only under the member-count, total-size and ratio limits (zip bombs).
ISO images are listed with `pycdlib` in the sandboxed child process (`tools.limits`).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from dataclasses import dataclass, field

from policies.settings import DetectionSettings
from tools.filetypes import ARCHIVE_EXT, ext_of, true_type

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    ValueError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)
#: How deep archives inside archives are opened (zip -> zip -> js is a known lure).
MAX_NESTING = 3
_STREAM_READ = 64 * 1024


@dataclass
class Member:
    """One file inside an archive (path includes the outer archives)."""

    path: str
    size: int = 0
    encrypted: bool = False
    data: bytes = b""
    """Bytes of small members, for type sniffing and nested archives (never written to disk)."""


@dataclass
class Listing:
    """An archive's members and what went wrong reading it."""

    members: list[Member] = field(default_factory=list)
    bomb: str = ""
    """Why the archive exceeds the expansion limits ('' when it does not)."""
    unreadable: str = ""
    nested: bool = False


def list_archive(data: bytes, name: str, limits: DetectionSettings, depth: int = 0) -> Listing:
    """Members of a zip/tar/gz/bz2/xz archive, recursively; unsupported kinds are `unreadable`."""
    kind = true_type(data)
    if kind == "zip":
        return _zip(data, name, limits, depth)
    if kind in ("gz", "bz2", "xz"):
        return _compressed(data, name, kind, limits, depth)
    if kind == "iso":
        from tools.limits import run_isolated

        result = run_isolated("iso", data, name)
        if not result.ok:
            return Listing(unreadable=result.error)
        return Listing(members=[Member(path=f"{name}/{m}") for _, m in result.hits])
    if _is_tar(data):
        return _tar(io.BytesIO(data), name, limits, len(data))
    if kind in ("rar", "7z", "cab") or ext_of(name) in ARCHIVE_EXT:
        return Listing(unreadable=f"{name}: {kind or ext_of(name)} archive cannot be listed")
    return Listing()


def _is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def _zip(data: bytes, name: str, limits: DetectionSettings, depth: int) -> Listing:
    out = Listing()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _ZIP_ERRORS as exc:
        return Listing(unreadable=f"{name}: {type(exc).__name__}")
    total = sum(max(i.file_size, 0) for i in infos)
    packed = max(sum(i.compress_size for i in infos), 1)
    if len(infos) > limits.max_archive_members:
        out.bomb = f"{name}: {len(infos)} members"
    elif total > limits.max_archive_total_bytes:
        out.bomb = f"{name}: expands to {total} bytes"
    elif total > 1_000_000 and total / packed > limits.max_archive_ratio:
        out.bomb = f"{name}: compression ratio {total / packed:.0f}:1"
    if out.bomb:
        return out
    budget = limits.max_archive_total_bytes
    for info in infos:
        path = f"{name}/{info.filename}"
        member = Member(path=path, size=info.file_size, encrypted=bool(info.flag_bits & 0x1))
        out.members.append(member)
        if member.encrypted or info.is_dir() or info.file_size > min(budget, limits.max_attachment_bytes):
            continue
        try:
            with zf.open(info) as fh:
                # Read at most the declared size + 1: a lying header cannot make us read more.
                member.data = fh.read(info.file_size + 1)[: info.file_size]
        except _ZIP_ERRORS:
            out.unreadable = out.unreadable or f"{path}: cannot be read"
            continue
        budget -= len(member.data)
        _nested(member, limits, depth, out)
    return out


def _nested(member: Member, limits: DetectionSettings, depth: int, out: Listing) -> None:
    kind = true_type(member.data)
    if kind not in ("zip", "gz", "bz2", "xz", "rar", "7z", "iso", "cab") and not _is_tar(member.data):
        return
    if kind == "zip" and ext_of(member.path) not in ("zip", "jar", ""):
        return  # OOXML documents are zips too; they are analysed as documents, not archives
    out.nested = True
    if depth >= MAX_NESTING:
        out.bomb = out.bomb or f"{member.path}: archives nested more than {MAX_NESTING} deep"
        return
    inner = list_archive(member.data, member.path, limits, depth + 1)
    out.members.extend(inner.members)
    out.bomb = out.bomb or inner.bomb
    out.unreadable = out.unreadable or inner.unreadable


def _compressed(data: bytes, name: str, kind: str, limits: DetectionSettings, depth: int) -> Listing:
    """A single compressed stream: bounded decompression, then tar or a single member."""
    opener = {"gz": gzip.GzipFile, "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
    cap = min(limits.max_archive_total_bytes, limits.max_attachment_bytes * 4)
    try:
        with opener(fileobj=io.BytesIO(data)) as fh:
            head = fh.read(min(cap, 50_000_000) + 1)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        return Listing(unreadable=f"{name}: {type(exc).__name__}")
    if len(head) > min(cap, 50_000_000) or (
        len(head) > 1_000_000 and len(head) / max(len(data), 1) > limits.max_archive_ratio
    ):
        return Listing(bomb=f"{name}: {kind} stream expands beyond {len(head)} bytes")
    if _is_tar(head):
        return _tar(io.BytesIO(head), name, limits, len(data))
    inner_name = name[: -len(ext_of(name)) - 1] if ext_of(name) in ("gz", "bz2", "xz", "tgz") else name + ".out"
    if kind == "gz" and data[3:4] and data[3] & 0x08:  # FNAME: the original file name is stored
        end = data.find(b"\x00", 10, 10 + 1024)
        if end > 10:
            inner_name = data[10:end].decode("latin-1")
    out = Listing(members=[Member(path=f"{name}/{inner_name}", size=len(head), data=head)])
    _nested(out.members[0], limits, depth, out)
    return out


def _tar(fileobj: io.BytesIO, name: str, limits: DetectionSettings, packed: int) -> Listing:
    out = Listing()
    try:
        with tarfile.open(fileobj=fileobj, mode="r:") as tf:
            total = 0
            for count, info in enumerate(tf):
                if count >= limits.max_archive_members:
                    out.bomb = f"{name}: more than {count} members"
                    break
                total += max(info.size, 0)
                if total > limits.max_archive_total_bytes:
                    out.bomb = f"{name}: expands to more than {total} bytes"
                    break
                if info.isfile():
                    member = Member(path=f"{name}/{info.name}", size=info.size)
                    extracted = tf.extractfile(info) if info.size <= 1_000_000 else None
                    if extracted is not None:
                        member.data = extracted.read(info.size)
                    out.members.append(member)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        out.unreadable = f"{name}: {type(exc).__name__}"
    return out


def iso_members(data: bytes, limit: int = 5000) -> list[str]:
    """File paths inside an ISO 9660 / Joliet / UDF image. Runs in the sandbox (pycdlib)."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    names: list[str] = []
    try:
        facade_kwargs = {"joliet_path": "/"} if iso.has_joliet() else {"iso_path": "/"}
        key = next(iter(facade_kwargs))
        for root, _dirs, files in iso.walk(**facade_kwargs):
            for file in files:
                path = f"{root.rstrip('/')}/{file}".lstrip("/")
                names.append(path.split(";")[0] if key == "iso_path" else path)
                if len(names) >= limit:
                    return names
    finally:
        iso.close()
    return names
