"""Render HTML as a person sees it, and keep apart what is hidden from them.

Hidden material is not silently dropped: hiding text from the reader is itself evidence, so every
hidden piece is kept with the technique that hid it (`HtmlView.hidden_items`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

#: Containers whose text is never rendered in a mail client.
NON_RENDERED = ("script", "style", "template", "noscript", "head", "title", "meta", "object", "iframe", "xml")
#: Of those, the ones whose text is prose an attacker could plant (script and style are code).
_PROSE_CONTAINERS = ("template", "noscript", "object", "iframe", "xml")
#: Attributes a screen reader, tooltip or model may read although the page does not show them.
TEXT_ATTRIBUTES = ("alt", "title", "aria-label", "aria-description", "placeholder", "summary", "content")
_BLOCK = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "td",
        "th",
    ]
)
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$|!)"
    r"|mso-hide\s*:\s*all"
    r"|font-size\s*:\s*(?:0(?:\.\d+)?(?:px|pt)?|0(?:\.0\d*)?(?:em|rem|%)|1(?:\.\d+)?(?:px|pt)|[0-4](?:\.\d+)?%)\s*(?:;|$|!)"
    r"|font-size\s*:\s*0?\.\d+(?:px|pt)|(?<![-\w])(?:max-)?(?:height|width)\s*:\s*0(?:px)?\s*(?:;|$|!)"
    r"|(?<![-\w])(?:left|top|right|text-indent|margin-left|margin-top)\s*:\s*-\d{3,}"
    r"|color\s*:\s*transparent|transform\s*:\s*scale\(\s*0|clip\s*:\s*rect\(\s*0"
    r"|color\s*:\s*rgba\([^)]*,\s*0(?:\.0*)?\s*\)",
    re.IGNORECASE,
)
_COLOR = re.compile(r"(?<![-\w])color\s*:\s*([^;]+)", re.IGNORECASE)
_BG = re.compile(r"background(?:-color)?\s*:\s*([^;]+)", re.IGNORECASE)
_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_AT_BLOCK = re.compile(r"@[^{}]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}")
_CLASS_SELECTOR = re.compile(r"^\s*(?:[a-z0-9]*)\.([\w-]+)\s*$", re.IGNORECASE)
_CONDITIONAL = re.compile(r"^\s*\[if\s[^\]]*\]>(.*?)<!\[endif\]\s*$", re.IGNORECASE | re.DOTALL)
_NAMED_COLORS = {"white": (255, 255, 255), "black": (0, 0, 0), "snow": (255, 250, 250), "ivory": (255, 255, 240)}
_WHITE = (255, 255, 255)
#: Channel distance under which text and background read as the same colour.
_CAMOUFLAGE_DISTANCE = 24


@dataclass
class HtmlView:
    """Visible text, hidden text and links of one HTML body."""

    visible: str = ""
    hidden: list[str] = field(default_factory=list)
    """Hidden prose (CSS-hidden, tiny, camouflaged, comments, non-rendered containers)."""
    hidden_items: list[tuple[str, str]] = field(default_factory=list)
    """(technique, text) for each hidden piece, e.g. ("css", ...), ("comment", ...), ("conditional", ...)."""
    attributes: list[str] = field(default_factory=list)
    """Text of alt/title/aria-label/meta content attributes: legitimately unseen, checked for instructions only."""
    links: list[tuple[str, str]] = field(default_factory=list)
    """(href, anchor text) pairs of visible anchors and forms."""

    def _hide(self, technique: str, text: str) -> None:
        text = text.strip()
        if text:
            self.hidden.append(text)
            self.hidden_items.append((technique, text))


def parse_color(value: str) -> tuple[int, int, int] | None:
    """An (r, g, b) triple from a CSS colour value, or None when it is not one we understand."""
    v = re.sub(r"\s+", "", value.strip().lower().replace("!important", ""))
    if v in _NAMED_COLORS:
        return _NAMED_COLORS[v]
    m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", v)
    if m:
        h = m.group(1)
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    m = re.fullmatch(r"rgba?\((\d{1,3}),(\d{1,3}),(\d{1,3})(?:,[\d.]+)?\)", v)
    if m:
        r, g, b = (min(255, int(x)) for x in m.groups())
        return r, g, b
    return None


def _same_color(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= _CAMOUFLAGE_DISTANCE


def hidden_classes(css: str) -> frozenset[str]:
    """Class names that top-level CSS rules hide (`.x{display:none}`); rules inside @media are skipped.

    Responsive mail hides mobile or desktop variants inside media queries; those are not concealment.
    """
    top_level = _AT_BLOCK.sub(" ", css)
    out: set[str] = set()
    for m in _CSS_RULE.finditer(top_level):
        selectors, body = m.group(1), m.group(2)
        if "@" in selectors or not _HIDDEN_STYLE.search(body + ";"):
            continue
        for sel in selectors.split(","):
            cm = _CLASS_SELECTOR.match(sel)
            if cm:
                out.add(cm.group(1).lower())
    return frozenset(out)


def _is_hidden(
    node: Node, inherited_bg: tuple[int, int, int] | None, css_hidden: frozenset[str]
) -> tuple[str | None, tuple[int, int, int] | None]:
    """(technique or None, background for the children)."""
    attrs = node.attributes
    style = attrs.get("style") or ""
    if "hidden" in attrs or (attrs.get("aria-hidden") == "true" and not node.text(strip=True)):
        return "attribute", inherited_bg
    hiding = _HIDDEN_STYLE.search(style) if style else None
    if hiding:
        tiny = re.search(r"font-size|height|width", hiding.group(0), re.IGNORECASE)
        return ("tiny" if tiny else "css"), inherited_bg
    classes = {c.lower() for c in (attrs.get("class") or "").split()}
    if classes & css_hidden:
        return "css-class", inherited_bg
    bg = inherited_bg
    m = _BG.search(style)
    if m:
        words = m.group(1).split()
        parsed = parse_color(words[0]) if words else None
        bg = parsed or bg
    elif attrs.get("bgcolor"):
        bg = parse_color(attrs.get("bgcolor") or "") or bg
    colors = [parse_color(c) for c in _COLOR.findall(style)]
    if attrs.get("color"):
        colors.append(parse_color(attrs.get("color") or ""))
    for color in colors:
        if color is not None and _same_color(color, bg or _WHITE):
            return "camouflage", bg
    return None, bg


def _comment_text(node: Node) -> tuple[str, str]:
    """(technique, text) of a comment: conditional comments hold markup that Outlook renders."""
    content = node.comment_content or ""
    m = _CONDITIONAL.match(content)
    if m:
        inner = HTMLParser(m.group(1))
        root = inner.body or inner.root
        return "conditional", root.text(separator=" ", strip=True) if root is not None else ""
    return "comment", content.strip()


def _collect_attributes(node: Node, view: HtmlView) -> None:
    attrs = node.attributes
    for name in TEXT_ATTRIBUTES:
        value = attrs.get(name)
        if value and value.strip():
            view.attributes.append(value.strip()[:2000])


@lru_cache(maxsize=8)
def render(html: str) -> HtmlView:
    """Walk the DOM once, splitting text into what is shown and what is hidden.

    Cached: the parser and the content detectors both need the view of the same body. Callers must
    treat the returned view as read-only.
    """
    view = HtmlView()
    tree = HTMLParser(html)
    root: Node | None = tree.root
    if root is None:
        return view
    css_hidden = hidden_classes("\n".join(n.text() or "" for n in tree.css("style"))[:500_000])
    for container in _PROSE_CONTAINERS:
        for node in tree.css(container):
            text = node.text(separator=" ", strip=True)
            if not text and container == "template":
                # A template's content lives in a separate fragment; read it from its markup.
                inner = HTMLParser(re.sub(r"^<template[^>]*>|</template>$", "", node.html or ""))
                text = inner.body.text(separator=" ", strip=True) if inner.body is not None else ""
            view._hide("container", text)
    for node in tree.css("meta"):
        _collect_attributes(node, view)
    visible: list[str] = []
    # Iterative walk: hostile HTML can nest deeper than Python's recursion limit.
    start = tree.body or root
    for node in tree.css("head"):
        child = node.child
        while child is not None:
            if child.tag == "-comment":
                view._hide(*_comment_text(child))
            child = child.next
    stack: list[tuple[Node | str, tuple[int, int, int] | None]] = [(start, None)]
    while stack:
        item, bg = stack.pop()
        if isinstance(item, str):
            visible.append(item)
            continue
        children: list[tuple[Node | str, tuple[int, int, int] | None]] = []
        child = item.child
        while child is not None:
            tag = child.tag or ""
            if tag == "-text":
                children.append((child.text_content or "", bg))
            elif tag == "-comment":
                view._hide(*_comment_text(child))
            elif tag and not tag.startswith("-") and tag not in NON_RENDERED:
                _collect_attributes(child, view)
                technique, child_bg = _is_hidden(child, bg, css_hidden)
                if technique:
                    view._hide(technique, child.text(separator=" ", strip=True))
                    for sub in child.traverse():
                        if sub is not child and sub.tag and not sub.tag.startswith("-"):
                            _collect_attributes(sub, view)
                else:
                    if tag == "a" and child.attributes.get("href"):
                        href = (child.attributes.get("href") or "").strip()
                        view.links.append((href, child.text(separator=" ", strip=True)))
                    elif tag == "form" and child.attributes.get("action"):
                        view.links.append(((child.attributes.get("action") or "").strip(), "[form]"))
                    block = "\n" if tag in _BLOCK else ""
                    children.extend([(block, None), (child, child_bg), (block, None)])
            child = child.next
        stack.extend(reversed(children))
    view.visible = "".join(visible)
    return view
