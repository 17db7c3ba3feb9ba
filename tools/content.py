"""Content evidence: hidden text, invisible Unicode, injection attempts and lure language.

Attackers write the input and want the verdict to become "safe". Text that tries to steer an
automated reviewer is looked for everywhere a model or a person might read it (visible text,
hidden HTML, the text/plain part, headers, attachment text, decoded base64/hex/rot13), and each
hiding technique is a finding in its own right. Visible text that merely *quotes* such phrases
(a security newsletter) is reported apart so that it does not block legitimate mail.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import re
import zipfile
import zlib

from tools.html_view import render
from tools.models import Finding, ParsedMessage
from tools.unicode_text import fold_confusables, inspect_invisible, mixed_script_words, normalize

#: Our prompt delimiters start with this; text that imitates it is an injection attempt.
DELIMITER_PREFIX = "QRELEASE-UNTRUSTED"

# --- injection language -----------------------------------------------------------------------------
# Each alternative is a phrase whose only purpose in an email is to steer whoever classifies it.
_INJECTION = re.compile(
    "|".join(
        [
            # plain overrides (en, de, fr, es, it, pt, nl, pl, ru, zh, ja)
            r"(?:ignore|disregard|forget|override|bypass) (?:all |any |the |your )*(?:previous|prior|above|earlier"
            r"|preceding|system|original|existing) (?:instructions|rules|prompts?|guidelines|directives|context)",
            r"disregard (?:all |any )?(?:previous|prior|the above)",
            r"ignorier(?:e|en sie)? (?:alle )?(?:vorherigen|bisherigen|obigen) (?:anweisungen|regeln|instruktionen)",
            r"ignore[rz]? (?:toutes )?les instructions pr[ée]c[ée]dentes",
            r"ignora (?:todas )?las instrucciones (?:anteriores|previas)",
            r"ignora (?:tutte )?le istruzioni precedenti",
            r"ignore (?:todas )?as instru[çc][õo]es anteriores",
            r"negeer (?:alle )?(?:vorige|eerdere) instructies",
            r"zignoruj (?:wszystkie )?(?:poprzednie|wcze[śs]niejsze) instrukcje",
            r"игнориру(?:й|йте) (?:все )?(?:предыдущие|прежние) (?:инструкции|указания)",
            r"忽略(?:之前|以前|上面|先前)的(?:所有)?(?:指令|指示|说明)",
            r"(?:以前|これまで)の指示を無視",
            # role play and fake roles
            r"(?:you are|act as|pretend to be|you're) (?:now )?(?:an? |the )?(?:ai|assistant|language model|llm"
            r"|classifier|security analyst|email filter|spam filter)",
            r"<\|(?:im_start|im_end|system|assistant|user|endoftext)\|>",
            r"\[/?(?:system|inst|assistant|sys)\]|<</?sys>>|###\s*(?:instruction|system|response)",
            r"</?(?:untrusted|system|instructions?|data|email|message|evidence)>",
            r"(?m:^\s*(?:system|assistant|operator|developer)\s*(?:message|prompt)?\s*:)",
            # fake boundary markers (LLMail-Inject)
            r"\[?email_end_indicator\]?|\{\{\s*email\s*\d+\s*\}\}|end of (?:the )?(?:email|message|data|untrusted)"
            r"\W{0,20}(?:new |system |operator |admin )?(?:instructions|message|prompt)",
            r"(?:begin|start) (?:operator|system|admin) (?:instructions|message|prompt)",
            # planted verdicts
            r"\"(?:verdict|decision|classification|action|label|lean|result|status)\"\s*:\s*\"(?:safe|release"
            r"|benign|clean|legitimate|allow|deliver|not[_ ]?spam|ham)\"",
            r"\b(?:verdict|decision|classification)\s*[:=]\s*(?:safe|release|benign|clean|legitimate)\b",
            # directives about this message
            r"(?:classify|mark|label|treat|flag|report|rate|consider|categori[sz]e) (?:this|the|that) (?:message"
            r"|email|e-mail|mail|sender) as (?:safe|legitimate|clean|benign|trusted|not spam|harmless|ham)",
            r"(?:release|whitelist|unblock|allow-?list) (?:this|the|that) (?:message|email|e-mail|mail"
            r"|sender)(?: (?:from|out of) quarantine| immediately| now| to the (?:user|recipient|inbox))?\b"
            r"(?! (?:request|form|portal|process|policy))",
            r"(?:should|must|can) (?:be )?(?:safely )?(?:released|delivered|whitelisted)(?: from quarantine)?",
            r"(?:do not|don't|never) (?:quarantine|flag|block|report|escalate) (?:this|the|that)",
            r"(?:output|respond with|answer|reply with|return) (?:only )?[\"']?(?:safe|release|benign|legitimate)\b",
            r"(?:this|the) (?:message|email|e-mail|mail|sender) (?:is|has been) (?:verified|confirmed|approved"
            r"|cleared|pre-?approved|whitelisted|allow-?listed)(?: as)? (?:safe|legitimate|clean|by)",
            # claimed authority and pre-emptive justification
            r"pre-?approved by (?:it|security|the (?:it|security|quarantine|compliance)|management|the admin)",
            r"(?:note|message|instructions?|memo|notice) (?:to|for) (?:the )?(?:automated |ai |email |security )?"
            r"(?:reviewer|analyst|scanner|filter|classifier|ai|assistant|model|moderator|security (?:system|tool))",
            r"(?:to|for|dear) (?:the )?(?:automated |ai |email )?(?:reviewer|analyst|assistant|model|classifier"
            r"|scanner)\s*[:,]",
            r"(?:scanners?|filters?|defender|exchange online protection|eop|quarantine) (?:often |sometimes |may )?"
            r"(?:mis-?flag|wrongly flag|incorrectly (?:flag|quarantine)|falsely (?:flag|quarantine)|mistakenly)",
            r"(?:this|the) (?:quarantine|flag(?:ging)?|detection|block) (?:is|was) (?:a )?(?:false positive"
            r"|mistake|an error)",
            r"ticket\s*#?\s*\d+ (?:confirms|shows|states|approved)",
            # conditional or delayed triggers
            r"if you are (?:an? )?(?:ai|assistant|language model|llm|automated|bot|model|reviewer|analyst"
            r"|asked to (?:assess|review|classify|summari[sz]e|evaluate))",
            r"when (?:you are )?(?:asked|summari[sz]ing|reviewing|assessing|classifying|evaluating) (?:about )?"
            r"(?:this|the) (?:message|email|e-mail)",
            # encoded instructions and exfiltration/action requests aimed at the agent
            r"(?:decode|base64-?decode|rot13|decipher|translate) (?:this|the following|the text below|it)"
            r"(?: string| text| message)? (?:and|then) (?:follow|execute|obey|apply|do)",
            r"(?:include|add|append|insert|embed) (?:a |the |this |an )?(?:link|url|image|markdown|pixel)\b.{0,80}"
            r"\b(?:in|to|into) your (?:explanation|answer|response|reasoning|summary|rationale|verdict|reply)",
            r"in your (?:explanation|reasoning|rationale|verdict|analysis)\W{0,3}(?:include|add|append|insert|embed"
            r"|mention)",
            r"(?:forward|send|email|copy) (?:this|the|a copy|all)(?: message| email| mail)? to .{0,40}(?:cfo"
            r"|finance|payroll|@)",
            r"(?:the )?release polic(?:y|ies) (?:says|states|allows|requires)|\bafter (?:releasing|you release)\b",
            # German/French/Spanish directives
            r"(?:diese|die) (?:nachricht|e-mail|mail) (?:ist sicher|als sicher|freigeben)",
            r"(?:ce|cet) (?:message|e-mail|courriel) (?:est sûr|est sans danger|comme sûr|doit être libéré)",
            r"(?:este|el) (?:mensaje|correo) (?:es seguro|como seguro|debe ser liberado)",
        ]
    ),
    re.IGNORECASE,
)
_QUOTE_OPEN = "“„«‘‚"
_QUOTE_CLOSE = "”»’"
#: A straight single quote opens a quotation only after a space (not in "it's"), and closes before punctuation.
_SINGLE_OPEN = re.compile(r"(?:^|[\s(\[])'[^']*$")
_SINGLE_CLOSE = re.compile(r"[^']*'(?:[\s.,;:!?)\]]|$)")

# --- lure language ----------------------------------------------------------------------------------
_CREDENTIAL = re.compile(
    r"verify (?:your )?(?:account|identity|email|mailbox|password|information|details|login|profile)"
    r"|confirm (?:your )?(?:account|identity|password|login|credentials|information|details|billing)"
    r"|(?:update|validate|re-?enter|reset|restore|reactivate|unlock) (?:your )?(?:password|credentials|account"
    r"|billing|mailbox|access|information|details)"
    r"|(?:account|mailbox|password|access) (?:has been |will be |is )?(?:suspended|locked|deactivated|disabled"
    r"|limited|restricted|expired?|expires|on hold|terminated|compromised)"
    r"|unusual (?:sign-?in|login|activity)|suspicious (?:sign-?in|login|activity)|unauthori[sz]ed (?:access|login"
    r"|activity|transaction)|sign in to (?:view|access|review|read|download|open)"
    r"|log ?in to (?:view|confirm|access|review|verify)|(?:prove|confirm) your identity"
    r"|(?:shared|sent) (?:a |you a )?(?:secure )?(?:document|file)s? (?:with you)?.{0,40}(?:view|open|access)"
    r"|your (?:mailbox|storage) (?:is )?(?:full|almost full|quota)|wallet (?:verification|validation|sync)"
    r"|seed phrase|recovery phrase|password (?:expires|expiry|expiration)|keep (?:the )?same password"
    r"|(?:using|with) your (?:company|corporate|work|office|microsoft|email|network) (?:login|credentials|password"
    r"|account)|(?:fraud|security) alert"
    r"|click (?:here|below|the link) to (?:verify|confirm|validate|restore|unlock|log ?in|sign ?in|update)"
    r"|pending (?:messages|emails)|undelivered (?:messages|mail)"
    r"|verify your (?:[\w-]+ )?(?:account|identity|wallet|mailbox|card)"
    r"|(?:connect|validate|synchroni[sz]e|sync|restore) your (?:[\w-]+ )?wallet"
    r"|update (?:your )?(?:personal |account |billing )?(?:records|informations?|details)"
    r"|billing informations?|login details|(?:security|account) (?:update|verification|validation) (?:is )?required"
    r"|unauthori[sz]ed (?:[\w-]+ ){0,2}(?:access|login|activity|transaction|charge)|zugangsdaten|kontodaten"
    # German, French, Spanish, Italian, Portuguese, Dutch, Russian
    r"|(?:konto|passwort|zugang)\w* (?:bestätigen|verifizieren|aktualisieren|wurde gesperrt|gesperrt)"
    r"|bestätigen sie (?:ihr|ihre)|vérifie[rz] votre (?:compte|identité)|confirme[rz] votre (?:compte|identité|mot)"
    r"|votre compte (?:a été |sera )?(?:suspendu|bloqué|désactivé)"
    r"|verifi(?:que|car) (?:su|tu) (?:cuenta|identidad)|(?:su|tu) cuenta (?:ha sido |será )?(?:suspendida|bloqueada)"
    r"|verifica (?:il tuo|la tua) (?:account|identità)|il tuo account (?:è stato |verrà )?(?:sospeso|bloccato)"
    r"|verifique (?:sua|a sua) (?:conta|identidade)|sua conta (?:foi |será )?(?:suspensa|bloqueada)"
    r"|(?:verifieer|bevestig) uw (?:account|identiteit)|uw account (?:is |wordt )?(?:geblokkeerd|opgeschort)"
    r"|подтвердите (?:ваш |свою |вашу )?(?:учетную запись|аккаунт|личность|пароль)"
    r"|(?:ваш )?(?:аккаунт|учетная запись) (?:будет |был )?(?:заблокирован|приостановлен)",
    re.IGNORECASE,
)
_URGENCY = re.compile(
    r"\b(?:urgent(?:ly)?|immediately|within (?:24|48|72) hours|final (?:notice|warning)|act now"
    r"|last chance|expires? today|suspended|legal action|dringend|sofort|urgente|imm[ée]diatement|срочно)\b",
    re.IGNORECASE,
)
_PAYMENT = re.compile(
    r"wire transfer|bank (?:details|account details)|gift ?cards?|outstanding (?:invoice|payment|balance)"
    r"|payment (?:failed|declined|overdue)|update (?:your )?payment|bitcoin|btc wallet|crypto(?:currency)? wallet"
    r"|(?:new|updated|changed) (?:bank|banking) (?:details|account)|überweisung|virement|transferencia",
    re.IGNORECASE,
)
_PRIZE = re.compile(
    r"you(?:'ve| have) (?:been (?:selected|chosen) (?:to|for|as)|won (?:a|an|the|our|\$|€|£)\b)"
    r"|you are (?:the |our )?(?:lucky |selected )?winner|(?:claim|collect|redeem) your (?:free |exclusive )?(?:reward"
    r"|prize|gift|bonus|voucher)|(?:reward|prize|gift|package|parcel) (?:is |are )?(?:waiting|pending|reserved|on hold)"
    r" for you|your name (?:came up|was (?:selected|chosen|drawn))|exclusive rewards? for you|customer rewards?"
    r"|(?:sie haben|du hast) (?:\w+ )?gewonnen|sie wurden ausgew[äa]hlt|vous avez (?:été sélectionné|gagné)"
    r"|(?:has|ha) sido seleccionad[oa]|hai vinto|je hebt gewonnen",
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
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){16,}(?![0-9A-Fa-f])")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_PDF_TEXT = re.compile(rb"\(((?:[^()\\]|\\.){1,500})\)")
_XML_TAG = re.compile(r"<[^>]{0,2000}>")
_ICS_UNFOLD = re.compile(r"\r?\n[ \t]")

_TEXTLIKE_EXT = ("txt", "csv", "ics", "vcs", "html", "htm", "xml", "json", "md", "eml", "svg", "rtf")
_OOXML_EXT = ("docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods")
#: Hidden prose longer than this many words that the reader does not also see is concealment;
#: preheaders and responsive duplicates stay below it.
HIDDEN_NOVEL_WORDS = 12
_ATTACHMENT_TEXT_LIMIT = 300_000
_HEADER_SKIP = frozenset(
    {"received", "dkim-signature", "arc-seal", "arc-message-signature", "x-ms-exchange-crosstenant-id"}
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]{3,}", text.lower()))


def _quoted(text: str, start: int, end: int) -> bool:
    """Whether [start, end) sits inside quotation marks in its line: quoted, not addressed to anyone."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - 300) : start]
    line_end = text.find("\n", end)
    after = text[end : line_end if line_end != -1 else len(text)][:300]
    straight = before.count('"') % 2 == 1 and '"' in after
    curly = max(before.rfind(c) for c in _QUOTE_OPEN) > max(before.rfind(c) for c in _QUOTE_CLOSE) and any(
        c in after for c in _QUOTE_CLOSE + "“"
    )
    single = bool(_SINGLE_OPEN.search(before) and _SINGLE_CLOSE.match(after))
    return straight or curly or single


def find_injection(text: str) -> re.Match[str] | None:
    """The first injection phrase in `text` (also across homoglyph folding and rot13), or None."""
    if not text:
        return None
    folded = fold_confusables(text)
    m = _INJECTION.search(folded) or (_INJECTION.search(text) if folded != text else None)
    if m:
        return m
    return _INJECTION.search(codecs.decode(folded, "rot13"))


def _decoded_blobs(text: str) -> list[str]:
    """Printable text hidden in base64 or hex runs (bounded: hostile input may be huge)."""
    out: list[str] = []
    for m in list(_BASE64.finditer(text))[:50]:
        blob = m.group(0)
        try:
            data = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=False)
        except (binascii.Error, ValueError):
            continue
        decoded = data.decode("utf-8", errors="ignore")
        if decoded and sum(c.isprintable() or c.isspace() for c in decoded) / len(decoded) > 0.9:
            out.append(decoded)
    for m in list(_HEX.finditer(text))[:20]:
        try:
            decoded = bytes.fromhex(re.sub(r"[ :]", "", m.group(0))).decode("utf-8", errors="ignore")
        except ValueError:
            continue
        if decoded and sum(c.isprintable() or c.isspace() for c in decoded) / len(decoded) > 0.9:
            out.append(decoded)
    return out


def _pdf_text(data: bytes) -> str:
    """Literal strings of a PDF's (possibly Flate-compressed) content streams, bounded."""
    chunks: list[bytes] = [data[:2_000_000]]
    for m in list(_PDF_STREAM.finditer(data[:5_000_000]))[:40]:
        try:
            chunks.append(zlib.decompressobj().decompress(m.group(1), 1_000_000))
        except zlib.error:
            continue
    parts = [t.decode("latin-1") for chunk in chunks for t in _PDF_TEXT.findall(chunk)]
    return " ".join(parts)[:_ATTACHMENT_TEXT_LIMIT]


def _ooxml_text(data: bytes) -> str:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = [n for n in zf.namelist() if n.endswith(".xml") and ("word/" in n or "sheet" in n or "slide" in n)]
        texts: list[str] = []
        budget = _ATTACHMENT_TEXT_LIMIT
        for name in names[:30]:
            info = zf.getinfo(name)
            if info.file_size > 5_000_000:
                continue
            xml = zf.read(name).decode("utf-8", errors="ignore")
            text = _XML_TAG.sub(" ", xml)
            texts.append(text[:budget])
            budget -= len(text)
            if budget <= 0:
                break
        return " ".join(texts)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError, KeyError):
        return ""


def attachment_texts(msg: ParsedMessage) -> list[tuple[str, str]]:
    """(attachment name, readable text) for text-bearing attachments: where a model could read instructions."""
    out: list[tuple[str, str]] = []
    for att in msg.attachments[:20]:
        name = att.filename or att.content_type
        ext = att.filename.lower().rpartition(".")[2] if "." in att.filename else ""
        data = att.data
        text = ""
        if data.startswith(b"%PDF") or ext == "pdf":
            text = _pdf_text(data)
        elif data.startswith(b"PK\x03\x04") and ext in _OOXML_EXT:
            text = _ooxml_text(data)
        elif att.content_type.startswith("text/") or ext in _TEXTLIKE_EXT:
            text = data[:_ATTACHMENT_TEXT_LIMIT].decode("utf-8", errors="replace")
            if ext in ("ics", "vcs") or att.content_type == "text/calendar":
                text = _ICS_UNFOLD.sub("", text).replace("\\n", "\n").replace("\\,", ",")
            elif ext in ("html", "htm", "svg") or att.content_type == "text/html":
                view = render(text)
                text = "\n".join([view.visible, *view.hidden, *view.attributes])
        if text.strip():
            out.append((name, text))
    return out


def _header_text(msg: ParsedMessage) -> str:
    """Header values a model or a reader may see: subject, names, X- headers (not routing or signatures)."""
    keep = []
    for key, value in msg.headers:
        low = key.lower()
        if low in ("subject", "from", "reply-to", "to", "cc", "sender", "thread-topic", "comments", "keywords") or (
            low.startswith("x-") and low not in _HEADER_SKIP and not low.startswith(("x-ms-", "x-forefront"))
        ):
            keep.append(value[:2000])
    keep.extend(a.filename for a in msg.attachments if a.filename)
    return "\n".join(keep)


def _injection_findings(msg: ParsedMessage, tag_payload: str) -> list[Finding]:
    """Where injection language appears decides its weight: anywhere unseen or unquoted blocks release."""
    visible = normalize(f"{msg.subject}\n{msg.visible_text}")
    hidden = msg.hidden_text
    attributes = normalize("\n".join(msg.unseen_attributes))
    plain_only = normalize(msg.text_plain) if msg.html.strip() else ""
    sources: list[tuple[str, str]] = [
        ("hidden text", hidden),
        ("tag characters", tag_payload),
        ("text/plain part", plain_only),
        ("headers", normalize(_header_text(msg))),
        ("image or attribute text", attributes),
    ]
    sources += [(f"attachment {name[:60]}", normalize(text)) for name, text in attachment_texts(msg)]
    every = "\n".join([visible, *(t for _, t in sources)])
    sources += [("encoded text", normalize(blob)) for blob in _decoded_blobs(every)]

    lowered_all = every.lower() + "\n" + "\n".join(t for _, t in sources).lower()
    if DELIMITER_PREFIX.lower() in lowered_all or DELIMITER_PREFIX.lower() in msg.html.lower():
        return [Finding.of("content.delimiter_collision", DELIMITER_PREFIX)]
    for where, text in sources:
        m = find_injection(text)
        if m:
            return [Finding.of("content.prompt_injection", f"{where}: {m.group(0)}")]
    quoted: re.Match[str] | None = None
    folded = fold_confusables(visible)
    for m in [*_INJECTION.finditer(folded), *(_INJECTION.finditer(visible) if folded != visible else [])]:
        if not _quoted(visible, m.start(), m.end()):
            return [Finding.of("content.prompt_injection", f"visible text: {m.group(0)}")]
        quoted = quoted or m
    rot = _INJECTION.search(codecs.decode(fold_confusables(visible), "rot13"))
    if rot:
        return [Finding.of("content.prompt_injection", f"rot13 text: {rot.group(0)}")]
    if quoted:
        return [Finding.of("content.injection_quoted", quoted.group(0))]
    return []


def _hidden_findings(msg: ParsedMessage) -> list[Finding]:
    """Hidden prose the reader does not also see; preheaders and responsive duplicates stay below the bar."""
    if not msg.hidden_parts:
        return []
    seen = _words(msg.visible_text) | _words(msg.subject)
    novel: list[str] = []
    techniques: list[str] = []
    for technique, text in msg.hidden_parts:
        if technique in ("comment", "container"):
            continue  # layout notes and commented-out markup are everywhere; only their language counts (below)
        words = [w for w in re.findall(r"[^\W\d_]{3,}", text.lower()) if w not in seen]
        if words:
            novel.extend(words)
            techniques.append(technique)
    hidden_all = normalize(" ".join(t for _, t in msg.hidden_parts))
    lure = _CREDENTIAL.search(fold_confusables(hidden_all)) or find_injection(hidden_all)
    if len(set(novel)) >= HIDDEN_NOVEL_WORDS or lure:
        kinds = ",".join(sorted(set(techniques))) or "hidden"
        return [Finding.of("content.hidden_text", f"{kinds}: {hidden_all[:200]}")]
    return []


def _mismatch_findings(msg: ParsedMessage) -> list[Finding]:
    """text/plain and text/html that say different things: one reader is shown something else."""
    if not (msg.text_plain.strip() and msg.html.strip()):
        return []
    plain_words, seen_words = _words(msg.text_plain), _words(msg.visible_text)
    if len(plain_words) < 10 or len(seen_words) < 10:
        return []
    overlap = len(plain_words & seen_words) / min(len(plain_words), len(seen_words))
    if overlap < 0.2:
        return [Finding.of("content.plain_html_mismatch", f"word overlap {overlap:.0%}")]
    return []


def content_findings(msg: ParsedMessage) -> list[Finding]:
    """Findings over the text a reader sees, with hidden and invisible material reported apart."""
    out: list[Finding] = []
    raw_text = "\n".join(
        (msg.subject, msg.from_display_name, msg.text_plain, msg.html, *(link.url for link in msg.links))
    )
    inv = inspect_invisible(raw_text + "\n".join(a.filename for a in msg.attachments))
    if inv.tags:
        out.append(Finding.of("content.tag_characters", f"{inv.tags} tag characters: {inv.tag_payload[:80]}"))
    if inv.bidi:
        out.append(Finding.of("content.bidi_override", f"{inv.bidi} bidi control characters"))
    if inv.splits >= 2 or inv.shy_words:
        detail = f"{inv.splits} words or links split by zero-width characters"
        if inv.shy_words:
            detail += f"; soft hyphens inside: {', '.join(inv.shy_words)}"
        out.append(Finding.of("content.invisible_unicode", detail))
    out.extend(_hidden_findings(msg))
    out.extend(_injection_findings(msg, inv.tag_payload))

    visible = normalize(f"{msg.subject}\n{msg.visible_text}")
    mixed = mixed_script_words(f"{msg.subject}\n{msg.from_display_name}\n{msg.visible_text}")
    if mixed:
        out.append(Finding.of("content.mixed_script", ", ".join(mixed)[:200]))
    folded = fold_confusables(visible)
    for pattern, fid in (
        (_CREDENTIAL, "content.credential_lure"),
        (_PAYMENT, "content.payment_lure"),
        (_PRIZE, "content.prize_lure"),
        (_URGENCY, "content.urgency"),
    ):
        # A threat digest that quotes a lure is not making one; a quoted credential lure still gets a human look.
        # Folding is one character for one, so offsets agree; the unfolded text keeps Cyrillic lures readable.
        matches = [*list(pattern.finditer(folded))[:50], *list(pattern.finditer(visible))[:50]]
        direct = next((m for m in matches if not _quoted(folded, m.start(), m.end())), None)
        if direct:
            out.append(Finding.of(fid, direct.group(0)))
        elif matches and fid == "content.credential_lure":
            out.append(Finding.of("content.credential_lure_quoted", matches[0].group(0)))
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
    out.extend(_mismatch_findings(msg))
    return out
