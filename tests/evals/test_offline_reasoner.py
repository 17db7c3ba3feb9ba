"""The offline reasoner's scoring rules, one behaviour each."""

from __future__ import annotations

from agents.offline_reasoner import classify, scores
from policies.models import VerdictLabel
from tools.models import Finding

RELEASE_AT = 0.8  # the default min_release_confidence


def of(*ids: str) -> list[Finding]:
    return [Finding.of(i) for i in ids]


def test_microsoft_restating_its_verdict_counts_once() -> None:
    once = scores(of("m365.quarantine_spam"))
    thrice = scores(of("m365.quarantine_spam", "m365.cat_spam", "m365.scl_spam"))
    assert thrice.spam == once.spam > 0


def test_microsofts_ordinary_spam_verdict_alone_does_not_deny_an_authenticated_thread_reply() -> None:
    label, confidence = classify(
        of(
            "m365.quarantine_spam",
            "m365.cat_spam",
            "auth.dmarc_pass",
            "auth.dkim_pass_aligned",
            "content.in_thread_reply",
        ),
        "RE: purchase order 4471",
    )
    assert label is VerdictLabel.SAFE and confidence >= RELEASE_AT


def test_high_confidence_spam_is_not_discounted() -> None:
    assert scores(of("m365.scl_high")).spam > scores(of("m365.scl_spam")).spam


def test_safe_without_positive_evidence_stays_below_the_release_threshold() -> None:
    label, confidence = classify([], "Hello")
    assert label is VerdictLabel.SAFE and confidence < RELEASE_AT
    # Authentication alone proves who sent it, not that the reader expects it.
    label, confidence = classify(of("auth.dmarc_pass", "auth.dkim_pass_aligned"), "Hello")
    assert label is VerdictLabel.SAFE and confidence < RELEASE_AT


def test_a_reply_header_without_a_reply_subject_earns_no_credit() -> None:
    findings = of("auth.dmarc_pass", "content.in_thread_reply")
    assert classify(findings, "Re: lunch")[1] >= RELEASE_AT
    assert classify(findings, "[dev-tools] Re: pinning the linter")[1] >= RELEASE_AT
    assert classify(findings, "MY BELOVED ONE")[1] < RELEASE_AT


def test_lists_rewrite_reply_to_so_it_weighs_less_in_list_mail() -> None:
    alone = scores(of("sender.reply_to_mismatch"))
    in_list = scores(of("sender.reply_to_mismatch", "content.mailing_list"))
    assert in_list.malicious < alone.malicious


def test_malicious_evidence_wins_over_authentication_and_threads() -> None:
    label, _ = classify(
        of("auth.dmarc_pass", "content.in_thread_reply", "content.credential_lure", "url.anchor_mismatch"), "Re: x"
    )
    assert label is VerdictLabel.MALICIOUS
    assert classify(of("attachment.executable", "content.in_thread_reply"), "Re: x")[0] is VerdictLabel.MALICIOUS


def test_spam_with_malicious_leaning_evidence_is_not_confident() -> None:
    # With release_confirmed_spam on, a confident spam verdict is released: phish-like spam must not be.
    pure, pure_conf = classify(of("content.marketing", "m365.scl_high", "sender.no_from", "content.advance_fee"), "x")
    mixed, mixed_conf = classify(
        of("content.marketing", "m365.scl_high", "sender.no_from", "content.advance_fee", "content.urgency"), "x"
    )
    assert pure is mixed is VerdictLabel.SPAM
    assert mixed_conf < pure_conf
