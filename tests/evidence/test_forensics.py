"""Deeper behaviour of the evidence layer: trust boundaries, unwrapping, sandboxing, archives, PDFs."""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib

import pytest

from policies.settings import DetectionSettings
from tests.evidence.builders import MS_AUTH, evidence, ids, pdf, raw, zip_of
from tools import attachments as attachments_module
from tools.catalogue import Severity, spec
from tools.limits import IsolatedResult, run_isolated
from tools.mime import parse_mailbox, parse_message
from tools.office import macro_hits
from tools.pdf import scan_pdf

PE = b"MZ\x90\x00" + b"\x00" * 100


# --- identity parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "address"),
    [
        ("ceo@contoso.com <attacker@evil.example>", "attacker@evil.example"),
        ('"support@paypal.com" <x@evil.example>', "x@evil.example"),
        ("Maria <maria@fabrikam.com.>", "maria@fabrikam.com"),
        ("maria@fabrikam.com", "maria@fabrikam.com"),
    ],
)
def test_the_angle_address_is_the_sender_not_an_address_in_the_name(header: str, address: str) -> None:
    assert parse_mailbox(header)[1] == address


def test_address_planted_in_display_name_is_reported() -> None:
    msg, findings = evidence(raw(from_="ceo@contoso.com <attacker@evil.example>"))
    assert msg.from_address == "attacker@evil.example"
    assert "sender.display_name_address" in {f.id for f in findings}


# --- authentication trust boundary ------------------------------------------------------------


def test_planted_pass_below_our_failure_is_forged_and_ignored() -> None:
    found = ids(
        raw(
            headers=[
                (
                    "Authentication-Results",
                    "spf=fail; dkim=none; dmarc=fail action=quarantine; compauth=fail reason=000",
                ),
                ("Authentication-Results", "spf=pass; dkim=pass header.d=fabrikam.com; dmarc=pass"),
            ]
        )
    )
    assert {"auth.dmarc_fail", "auth.forged_results"} <= found
    assert "auth.dmarc_pass" not in found


def test_list_servers_dkim_failure_is_not_used_as_evidence() -> None:
    # Mailing lists rewrite messages; their own view of DKIM is not our server's and may not convict.
    found = ids(
        raw(
            headers=[
                ("Authentication-Results", 'lists.example.org; dkim=fail reason="signature verification failed"'),
                ("List-Id", "<dev.lists.example.org>"),
            ]
        )
    )
    assert "auth.dkim_fail" not in found and "auth.untrusted_results" in found


def test_list_id_does_not_excuse_our_own_dmarc_failure() -> None:
    failing = "spf=fail; dkim=fail; dmarc=fail action=quarantine header.from=fabrikam.com; compauth=fail reason=000"
    found = ids(raw(headers=[("Authentication-Results", failing), ("List-Id", "<dev.lists.example.org>")]))
    assert "auth.dmarc_fail" in found


def test_absence_of_authentication_is_never_a_strong_signal() -> None:
    # 2002-era mail has no Authentication-Results at all; that alone must not push a verdict.
    assert spec("auth.none").severity is Severity.INFO
    assert spec("auth.untrusted_results").severity is Severity.INFO


def test_old_mail_is_judged_by_its_own_clock() -> None:
    old = raw(
        headers=[("Received", "from a.example.net by mx.example.org; Mon, 2 Sep 2002 10:00:00 +0000")],
        date="Mon, 2 Sep 2002 09:59:00 +0000",
    )
    assert "sender.date_anomaly" not in ids(old)


def test_antispam_report_values_are_in_the_evidence() -> None:
    _, findings = evidence(raw(headers=[("X-Forefront-Antispam-Report", "CIP:203.0.113.7;CTRY:RU;CAT:PHSH;SCL:9;")]))
    phish = next(f for f in findings if f.id == "m365.cat_phish")
    assert "CIP:203.0.113.7" in phish.evidence and "CTRY:RU" in phish.evidence


def test_aligned_pass_is_benign_evidence() -> None:
    _, findings = evidence(raw(headers=[("Authentication-Results", MS_AUTH)]))
    assert {f.id for f in findings if f.signal == "benign"} >= {"auth.dmarc_pass", "auth.dkim_pass_aligned"}


# --- links ------------------------------------------------------------------------------------


def test_links_come_from_html_text_and_attachments_with_anchor_text() -> None:
    page = b'<html><a href="https://files.evil.example/doc">View</a></html>'
    doc = pdf(b"<< /A << /S /URI /URI (https://pdf.evil.example/x) >> >>")
    msg = parse_message(
        raw(
            body="See https://plain.example.com/a for details.",
            html='<p><a href="https://html.example.com/b">Open report</a></p>',
            attachments=[("page.html", "text/html", page), ("doc.pdf", "application/pdf", doc)],
        )
    )
    by_url = {link.url: link for link in msg.links}
    assert by_url["https://html.example.com/b"].anchor_text == "Open report"
    assert by_url["https://plain.example.com/a"].source == "text"
    assert by_url["https://files.evil.example/doc"].source == "attachment"
    assert by_url["https://pdf.evil.example/x"].source == "attachment"


def test_safe_links_are_judged_by_their_destination() -> None:
    wrapped = "https://eur01.safelinks.protection.outlook.com/?url=http%3A%2F%2Fpaypa1.com%2Flogin&data=x"
    found = ids(raw(html=f'<a href="{wrapped}">Sign in</a>'))
    assert "url.lookalike_domain" in found


@pytest.mark.parametrize("host", ["3232235777", "0x2d21209c", "045.033.032.156"])
def test_numeric_ip_forms_are_recognised(host: str) -> None:
    from tools.urls import is_ip_host

    assert is_ip_host(host) is not None


# --- attachments -------------------------------------------------------------------------------


def test_autoexec_macro_is_found_by_mraptor() -> None:
    assert (
        macro_hits('Sub AutoOpen()\n  Shell "powershell -enc x"\nEnd Sub', "a.doc")[0][0] == "attachment.macro_autoexec"
    )
    assert macro_hits("Sub Format()\n  MsgBox 1\nEnd Sub", "a.doc") == []


def test_office_parsers_run_in_a_child_that_can_time_out() -> None:
    slow = run_isolated("office", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000, "x.doc", timeout=0.001)
    assert not slow.ok and "timed out" in slow.error
    assert not run_isolated("nope", b"", "x").ok


def test_plain_text_is_not_mistaken_for_a_vba_project() -> None:
    result = run_isolated("office", b"Dear customer, please find the report.", "a.doc")
    assert result.ok and result.hits == []


def test_a_sandbox_failure_blocks_instead_of_passing(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.limits

    monkeypatch.setattr(tools.limits, "run_isolated", lambda *a, **k: IsolatedResult(ok=False, error="crashed"))
    doc = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert "attachment.unreadable" in ids(raw(attachments=[("a.doc", "application/msword", doc)]))
    assert attachments_module is not None


def test_zip_inside_zip_inside_zip_with_script_is_found() -> None:
    inner = zip_of({"payload.js": b"WScript.Shell"})
    outer = zip_of({"level1.zip": zip_of({"level2.zip": inner})})
    _, findings = evidence(raw(attachments=[("docs.zip", "application/zip", outer)]))
    member = next(f for f in findings if f.id == "attachment.archive_dangerous_member")
    assert member.evidence.endswith("payload.js")


def test_tar_gz_members_are_listed() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("invoice.scr")
        info.size = len(PE)
        tf.addfile(info, io.BytesIO(PE))
    assert "attachment.archive_dangerous_member" in ids(
        raw(attachments=[("x.tgz", "application/gzip", buf.getvalue())])
    )


def test_gzip_bomb_is_caught_without_full_expansion() -> None:
    bomb = gzip.compress(b"\x00" * 30_000_000)
    detection = DetectionSettings(max_archive_total_bytes=10_000_000, max_attachment_bytes=2_000_000)
    assert "attachment.archive_bomb" in ids(raw(attachments=[("x.gz", "application/gzip", bomb)]), detection)


def test_iso_images_are_listed_in_the_sandbox() -> None:
    pycdlib = pytest.importorskip("pycdlib")
    iso = pycdlib.PyCdlib()
    iso.new(joliet=3)
    iso.add_fp(io.BytesIO(PE), len(PE), "/INVOICE.EXE;1", joliet_path="/invoice.exe")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    _, findings = evidence(raw(attachments=[("invoice.iso", "application/octet-stream", out.getvalue())]))
    assert any(f.id == "attachment.archive_dangerous_member" and "invoice.exe" in f.evidence for f in findings)


def test_pdf_names_hidden_by_escapes_or_compression_are_found() -> None:
    assert "JavaScript" in scan_pdf(pdf(b"<< /OpenAction << /S /J#61vaScript /JS (x) >> >>")).active
    stream = zlib.compress(b"<< /S /Launch /F (cmd.exe) >>")
    compressed = pdf(b"4 0 obj << /Filter /FlateDecode /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    assert "Launch action" in scan_pdf(compressed).active
    assert scan_pdf(pdf(b"<< /Type /Catalog >>")).active == []


def test_bidi_reversed_name_is_a_disguised_extension() -> None:
    assert "attachment.double_extension" in ids(raw(attachments=[("invoice\u202egpj.exe", "image/jpeg", PE)]))


def test_every_attachment_has_a_sha256() -> None:
    msg = parse_message(raw(attachments=[("a.txt", "text/plain", b"abc")]))
    assert msg.attachments[0].sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
