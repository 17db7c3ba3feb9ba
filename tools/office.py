"""Office, OLE and RTF evidence via oletools: macros, auto-exec, OLE objects, DDE, encryption.

`analyze_office` runs *inside* the sandbox subprocess (`tools.limits`): olefile and oletools have
hung and crashed on malformed samples, so they never run in the worker process itself.
`ooxml_members` only reads a zip's central directory and is safe to run anywhere.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile

#: CLSIDs of the Equation Editor, exploited by CVE-2017-11882 / CVE-2018-0802 documents.
EQUATION_CLSIDS = frozenset(["0002ce02-0000-0000-c000-000000000046", "0002ce03-0000-0000-c000-000000000046"])
_DDE = re.compile(rb"(?i)(?:DDEAUTO|<w:instrText[^>]*>\s*DDE\b|\bDDE\s+\"?[a-z]:\\|=\s*cmd\s*\|)")
Hit = tuple[str, str]


def ooxml_members(data: bytes) -> list[str]:
    """Member names of an OOXML (zip) document, or [] when it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [i.filename for i in zf.infolist()[:5000]]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return []


def ooxml_hits(data: bytes, name: str) -> list[Hit]:
    """Macros, embedded OLE objects and DDE fields visible from an OOXML document's members."""
    hits: list[Hit] = []
    members = ooxml_members(data)
    lowered = [m.lower() for m in members]
    if any(m.endswith("vbaproject.bin") for m in lowered):
        hits.append(("attachment.macro", f"{name}: vbaProject.bin"))
    if any("/embeddings/" in m and (m.endswith(".bin") or "oleobject" in m) for m in lowered):
        hits.append(("attachment.ole_object", f"{name}: embedded OLE object"))
    if any(m.endswith(("activex.bin", ".xlm")) or "/macrosheets/" in m for m in lowered):
        hits.append(("attachment.macro", f"{name}: Excel 4 / ActiveX content"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist()[:5000]:
                low = info.filename.lower()
                if low.endswith(".xml") and ("document" in low or "sheet" in low) and info.file_size < 20_000_000:
                    with zf.open(info) as fh:
                        if _DDE.search(fh.read(20_000_000)):
                            hits.append(("attachment.dde", f"{name}: {info.filename}"))
                            break
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        pass
    return hits


def analyze_office(data: bytes, name: str = "attachment") -> list[Hit]:
    """Full oletools analysis. Call only through `tools.limits.run_isolated` (fragile parsers)."""
    hits: list[Hit] = []
    hits.extend(_encryption(data, name))
    if data[:5].startswith(b"{\\rt"):
        hits.extend(_rtf(data, name))
        if _DDE.search(data[:20_000_000]):
            hits.append(("attachment.dde", f"{name}: DDE field"))
        return hits
    if _is_container(data):
        hits.extend(_vba(data, name))
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        hits.extend(_ole_streams(data, name))
    return hits


def _is_container(data: bytes) -> bool:
    """OLE, OOXML zip, Word 2003 / Flat OPC XML or MHT: the forms that can carry a VBA project.

    olevba would also read any plain text as VBA source, which turns every text file into a "macro".
    """
    head = data[:4096].lstrip()
    return (
        data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        or data[:4] == b"PK\x03\x04"
        or (head.startswith(b"<?xml") and (b"<?mso-application" in head or b"pkg:package" in head))
        or b"w:wordDocument" in head
        or head.lower().startswith(b"mime-version")
    )


def macro_hits(code: str, name: str) -> list[Hit]:
    """Auto-exec and suspicious behaviour of VBA source, via mraptor."""
    from oletools.mraptor import MacroRaptor

    raptor = MacroRaptor(code)
    raptor.scan()
    if raptor.autoexec:
        return [("attachment.macro_autoexec", f"{name}: {'suspicious ' if raptor.suspicious else ''}AutoExec")]
    return []


def _encryption(data: bytes, name: str) -> list[Hit]:
    try:
        import msoffcrypto

        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        if office.is_encrypted():
            return [("attachment.encrypted", f"{name}: encrypted Office document")]
    except Exception:  # not an Office container msoffcrypto understands
        return []
    return []


def _vba(data: bytes, name: str) -> list[Hit]:
    from oletools.olevba import VBA_Parser

    hits: list[Hit] = []
    try:
        parser = VBA_Parser(name, data=data, relaxed=True)
    except Exception:
        return hits
    try:
        if parser.detect_vba_macros():
            hits.append(("attachment.macro", f"{name}: VBA project"))
            code = "\n".join(str(c) for _, _, _, c in parser.extract_macros())
            hits.extend(macro_hits(code, name))
        try:
            if parser.detect_xlm_macros():
                hits.append(("attachment.macro", f"{name}: Excel 4 (XLM) macros"))
                hits.append(("attachment.macro_autoexec", f"{name}: XLM macros run from Auto_Open"))
        except Exception:
            pass
    except Exception:
        hits.append(("attachment.unreadable", f"{name}: VBA analysis failed"))
    finally:
        with contextlib.suppress(Exception):
            parser.close()
    return hits


def _ole_streams(data: bytes, name: str) -> list[Hit]:
    import olefile

    hits: list[Hit] = []
    try:
        ole = olefile.OleFileIO(data)
    except Exception:
        return [("attachment.unreadable", f"{name}: malformed OLE file")]
    try:
        for entry in ole.listdir(streams=True, storages=True)[:5000]:
            path = "/".join(entry).lower()
            if path.endswith("\x01ole10native") or path.startswith("objectpool") or path.endswith("\x01ole"):
                hits.append(("attachment.ole_object", f"{name}: {'/'.join(entry)[:80]}"))
                break
        for entry in ole.listdir(streams=False, storages=True)[:5000]:
            clsid = (ole.getclsid(entry) or "").lower()
            if clsid in EQUATION_CLSIDS:
                hits.append(("attachment.exploit_object", f"{name}: Equation Editor object"))
                break
    finally:
        ole.close()
    return hits


def _rtf(data: bytes, name: str) -> list[Hit]:
    from oletools.rtfobj import RtfObjParser

    hits: list[Hit] = []
    try:
        parser = RtfObjParser(data)
        parser.parse()
    except Exception:
        return [("attachment.unreadable", f"{name}: malformed RTF")]
    for obj in parser.objects[:200]:
        if not getattr(obj, "is_ole", False):
            continue
        class_name = getattr(obj, "class_name", b"") or b""
        label = class_name.decode("latin-1", "replace") if isinstance(class_name, bytes) else str(class_name)
        clsid = str(getattr(obj, "clsid", "") or "").lower()
        if clsid in EQUATION_CLSIDS or label.lower().startswith("equation"):
            hits.append(("attachment.exploit_object", f"{name}: RTF {label or 'Equation'} object"))
        else:
            hits.append(("attachment.ole_object", f"{name}: RTF object {label}"[:200]))
    return hits
