"""File classes by name and by content: what a double-click on this file would do.

True type comes from the bytes (a few exact signatures checked here, then `puremagic`), never
from the name or the declared MIME type, which the sender chooses.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from tools.unicode_text import BIDI

EXECUTABLE_EXT = frozenset(
    [
        "exe",
        "scr",
        "pif",
        "com",
        "bat",
        "cmd",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "wsh",
        "wsc",
        "ps1",
        "psm1",
        "psd1",
        "msi",
        "msp",
        "mst",
        "jar",
        "dll",
        "cpl",
        "hta",
        "scf",
        "reg",
        "sct",
        "gadget",
        "appx",
        "appxbundle",
        "msix",
        "msixbundle",
        "py",
        "pyw",
        "sh",
        "app",
        "apk",
        "ocx",
        "sys",
        "drv",
        "inf",
        "ins",
        "isp",
        "application",
        "appref-ms",
        "xbap",
        "msc",
        "ws",
        "ps2",
        "ps2xml",
        "psc1",
        "psc2",
        "elf",
        "run",
        "bin",
        "command",
        "mjs",
        "cjs",
    ]
)
CONTAINER_EXT = frozenset(
    [
        "iso",
        "img",
        "vhd",
        "vhdx",
        "udf",
        "lnk",
        "one",
        "onepkg",
        "onetoc2",
        "xll",
        "chm",
        "url",
        "library-ms",
        "settingcontent-ms",
        "iqy",
        "slk",
        "search-ms",
        "searchconnector-ms",
        "mobileconfig",
        "diagcab",
        "msh",
        "msh1",
        "msh2",
        "mshxml",
        "website",
        "desktopthemepackfile",
        "themepack",
    ]
)
SMUGGLING_EXT = frozenset(["html", "htm", "shtml", "xhtml", "svg", "mht", "mhtml", "xht", "shtm"])
MACRO_EXT = frozenset(["docm", "dotm", "xlsm", "xltm", "xlam", "xla", "pptm", "potm", "ppam", "ppsm", "sldm"])
OFFICE_EXT = (
    frozenset(["doc", "dot", "xls", "xlt", "ppt", "pps", "docx", "xlsx", "pptx", "rtf", "xlsb", "dotx", "xltx"])
    | MACRO_EXT
)
ARCHIVE_EXT = frozenset(["zip", "7z", "rar", "gz", "tgz", "tar", "cab", "ace", "arj", "bz2", "xz", "z", "lzh", "r00"])
CALENDAR_EXT = frozenset(["ics", "vcs", "ical", "icalendar"])
DOC_EXT = frozenset(
    [
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "txt",
        "rtf",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "csv",
        "odt",
        "ods",
        "bmp",
        "tif",
        "tiff",
        "mp3",
        "mp4",
        "wav",
        "zip",
    ]
)

#: Exact leading signatures we act on; puremagic's table is the fallback for naming the type.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "exe"),
    (b"\x7fELF", "elf"),
    (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"{\\rt", "rtf"),
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"MSCF", "cab"),
    (b"ITSF", "chm"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "lnk"),
    (b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d", "one"),
    (b"conectix", "vhd"),
    (b"vhdxfile", "vhdx"),
    (b"BEGIN:VCALENDAR", "ics"),
    (b"\xca\xfe\xba\xbe", "macho"),
)


def ext_of(name: str) -> str:
    """The last extension, lower-case, without bidi controls, trailing dots or spaces."""
    clean = "".join(c for c in name if c not in BIDI).lower().strip().rstrip(". ")
    return PurePosixPath(clean.replace("\\", "/")).suffix.lstrip(".")


def true_type(data: bytes) -> str:
    """A short type name from the bytes ('' when unknown)."""
    head = data[:64]
    for sig, kind in _SIGNATURES:
        if head.startswith(sig):
            return kind
    if len(data) > 0x8006 and data[0x8001:0x8006] == b"CD001":
        return "iso"
    stripped = data[:2048].lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml")) and (
        b"<html" in stripped or b"<svg" in stripped or b"<script" in stripped
    ):
        return "svg" if b"<svg" in stripped and b"<html" not in stripped else "html"
    if b"<?mso-application" in stripped or b"<pkg:package" in stripped or b"w:wordDocument" in data[:4096]:
        return "office-xml"
    if not data:
        return ""
    try:
        import puremagic

        return str(puremagic.from_string(data[:8192])).lstrip(".").lower()
    except Exception:  # puremagic raises PureError when nothing matches
        return ""


def name_class(name: str) -> str | None:
    """'executable', 'container', 'smuggling', 'macro', 'calendar' or None for a file name."""
    ext = ext_of(name)
    if ext in EXECUTABLE_EXT:
        return "executable"
    if ext in CONTAINER_EXT:
        return "container"
    if ext in SMUGGLING_EXT:
        return "smuggling"
    if ext in MACRO_EXT:
        return "macro"
    if ext in CALENDAR_EXT:
        return "calendar"
    return None


#: True types whose content runs code whatever the name says.
EXECUTABLE_TYPES = frozenset(["exe", "elf", "macho", "dll"])
CONTAINER_TYPES = frozenset(["lnk", "one", "chm", "iso", "vhd", "vhdx"])
#: Extensions each true type may legitimately carry; anything else is a mismatch.
EXPECTED_EXT: dict[str, frozenset[str]] = {
    "pdf": frozenset(["pdf", "ai"]),
    "zip": frozenset(
        [
            "zip",
            "docx",
            "xlsx",
            "pptx",
            "docm",
            "xlsm",
            "pptm",
            "dotx",
            "xltx",
            "potx",
            "ppsx",
            "dotm",
            "xltm",
            "xlam",
            "ppam",
            "ppsm",
            "potm",
            "odt",
            "ods",
            "odp",
            "jar",
            "apk",
            "epub",
            "xps",
            "oxps",
            "vsdx",
            "kmz",
            "appx",
            "msix",
            "nupkg",
            "whl",
            "ipa",
            "xpi",
            "crx",
            "3mf",
            "sldm",
            "sldx",
            "xlsb",
            "pkpass",
            "mobileconfig",
            "one",
            "onepkg",
        ]
    ),
    "ole": frozenset(
        [
            "doc",
            "xls",
            "ppt",
            "dot",
            "xlt",
            "pps",
            "msg",
            "msi",
            "pub",
            "vsd",
            "mpp",
            "xla",
            "msp",
            "mst",
            "db",
            "one",
            "wps",
            "ppa",
            "pot",
        ]
    ),
    "rtf": frozenset(["rtf", "doc", "wri"]),
}
