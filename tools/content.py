"""Content evidence: hidden text, invisible Unicode, injection attempts and lure language."""

from __future__ import annotations

import re

from tools.models import Finding, ParsedMessage
from tools.unicode_text import inspect_invisible, normalize

#: Our prompt delimiters start with this; text that imitates it is an injection attempt.
DELIMITER_PREFIX = "QRELEASE-UNTRUSTED"

_INJECTION = re.compile(
    r"ignore (?:all |any )?(?:previous|prior|above|earlier) (?:instructions|rules|prompts?)"
    r"|disregard (?:all |any )?(?:previous|prior|the above)"
    r"|(?:you are|act as) (?:now )?(?:an? )?(?:ai|assistant|language model|classifier|security analyst)"
    r"|<\|im_start\|>|<\|im_end\|>|\[/?(?:system|inst)\]|###\s*(?:instruction|system)|</?untrusted"
    r"|\"(?:verdict|decision|classification)\"\s*:\s*\"(?:safe|release|benign|clean)\""
    r"|(?:classify|mark|label|treat) (?:this|the) (?:message|email|mail) as (?:safe|legitimate|clean|benign)"
    r"|(?:release|approve) (?:this|the) (?:message|email|mail) (?:from|out of) quarantine"
    r"|(?:to|for) the (?:reviewer|analyst|ai|assistant|model)\s*[:,]"
    r"|\[?email_end_indicator\]?|end of (?:the )?email\W+(?:new|system|operator) (?:instructions|message)"
    r"|pre-?approved by (?:it|security|the quarantine admin)",
    re.IGNORECASE,
)
_CREDENTIAL = re.compile(
    r"verify (?:your )?(?:account|identity|email|mailbox|password)|confirm (?:your )?(?:account|identity|password"
    r"|login|credentials)|(?:update|validate|re-?enter|reset) (?:your )?(?:password|credentials|account|billing)"
    r"|(?:account|mailbox|password) (?:will be )?(?:suspended|locked|deactivated|disabled|expired?|expires)"
    r"|unusual (?:sign-?in|login|activity)|sign in to (?:view|access|review)|log ?in to (?:view|confirm|access)"
    r"|(?:shared|sent) (?:a |you a )?(?:secure )?(?:document|file)s? (?:with you)?.{0,40}(?:view|open|access)"
    r"|your (?:mailbox|storage) (?:is )?(?:full|almost full|quota)|wallet (?:verification|validation|sync)"
    r"|seed phrase|recovery phrase",
    re.IGNORECASE,
)
_URGENCY = re.compile(
    r"\b(?:urgent(?:ly)?|immediately|within (?:24|48|72) hours|final (?:notice|warning)|act now"
    r"|last chance|expires? today|suspended|legal action)\b",
    re.IGNORECASE,
)
_PAYMENT = re.compile(
    r"wire transfer|bank (?:details|account details)|gift ?cards?|outstanding (?:invoice|payment|balance)"
    r"|payment (?:failed|declined|overdue)|update (?:your )?payment|bitcoin|btc wallet|crypto(?:currency)? wallet",
    re.IGNORECASE,
)
_ADVANCE_FEE = re.compile(
    r"(?:million|\d[\d,.]*) (?:us )?(?:dollars|usd|euros|gbp)|next of kin|beneficiary|inheritance"
    r"|barrister|diplomat(?:ic)? (?:bag|courier)|lottery|compensation fund|consignment|foreign partner"
    r"|confidential (?:business )?(?:proposal|transaction)",
    re.IGNORECASE,
)
_MARKETING = re.compile(
    r"\b(?:free|discount|% off|limited time|special offer|order now|buy now|click here|best price|lowest price"
    r"|unsubscribe|opt[- ]out|remove (?:me|yourself)|viagra|cialis|casino|weight loss|mortgage|rates?|investment"
    r"|guest post|seo|backlinks?|loan|credit|earn \$|make money|dear friend|congratulations|winner|prize)\b",
    re.IGNORECASE,
)
_HIDDEN_MIN = 40  # preheaders and spacer text are normal; longer hidden text is not


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())}


def content_findings(msg: ParsedMessage) -> list[Finding]:
    """Findings over the text a reader sees, with hidden and invisible material reported apart."""
    out: list[Finding] = []
    raw_text = "\n".join((msg.subject, msg.from_display_name, msg.text_plain, msg.html))
    inv = inspect_invisible(raw_text + "".join(a.filename for a in msg.attachments))
    if inv.tags:
        out.append(Finding.of("content.tag_characters", f"{inv.tags} tag characters: {inv.tag_payload[:80]}"))
    if inv.bidi:
        out.append(Finding.of("content.bidi_override", f"{inv.bidi} bidi control characters"))
    if inv.zero_width >= 3:
        out.append(Finding.of("content.invisible_unicode", f"{inv.zero_width} zero-width characters"))
    hidden = msg.hidden_text
    if len(hidden.replace(" ", "")) >= _HIDDEN_MIN:
        out.append(Finding.of("content.hidden_text", hidden[:200]))

    visible = normalize(f"{msg.subject}\n{msg.visible_text}")
    everything = normalize(f"{visible}\n{hidden}\n{msg.text_plain}\n{inv.tag_payload}")
    if DELIMITER_PREFIX.lower() in everything.lower():
        out.append(Finding.of("content.delimiter_collision", DELIMITER_PREFIX))
    m = _INJECTION.search(everything)
    if m:
        out.append(Finding.of("content.prompt_injection", m.group(0)))
    for pattern, fid in (
        (_CREDENTIAL, "content.credential_lure"),
        (_PAYMENT, "content.payment_lure"),
        (_URGENCY, "content.urgency"),
    ):
        m = pattern.search(visible)
        if m:
            out.append(Finding.of(fid, m.group(0)))
    fee_hits = {h.lower() for h in _ADVANCE_FEE.findall(visible)}
    if len(fee_hits) >= 2:
        out.append(Finding.of("content.advance_fee", ", ".join(sorted(fee_hits))[:200]))
    marketing_hits = {h.lower() for h in _MARKETING.findall(visible)}
    if len(marketing_hits) >= 3:
        out.append(Finding.of("content.marketing", ", ".join(sorted(marketing_hits))[:200]))
    if msg.header("List-Unsubscribe"):
        out.append(Finding.of("content.unsubscribe", "List-Unsubscribe"))
    if msg.header("List-Id") or msg.header("List-Post"):
        out.append(Finding.of("content.mailing_list", (msg.header("List-Id") or "")[:120]))
    if msg.header("In-Reply-To") or msg.header("References"):
        out.append(Finding.of("content.in_thread_reply"))
    if msg.text_plain.strip() and msg.html.strip():
        plain_words, seen_words = _words(msg.text_plain), _words(msg.visible_text)
        if len(plain_words) >= 20 and len(seen_words) >= 20:
            overlap = len(plain_words & seen_words) / min(len(plain_words), len(seen_words))
            if overlap < 0.2:
                out.append(Finding.of("content.plain_html_mismatch", f"word overlap {overlap:.0%}"))
    return out
