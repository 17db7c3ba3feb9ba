"""Render HTML as a person sees it, and keep apart what is hidden from them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

#: Containers whose text is never rendered.
NON_RENDERED = ("script", "style", "template", "noscript", "head", "title", "meta", "object", "iframe")
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
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)|mso-hide\s*:\s*all"
    r"|font-size\s*:\s*(?:0(?:\.\d+)?|1)(?:px|pt|em|rem|%)?\s*(?:;|$|!)"
    r"|(?:max-)?(?:height|width)\s*:\s*0(?:px)?\s*(?:;|$)|(?:left|top|text-indent)\s*:\s*-\d{3,}",
    re.IGNORECASE,
)
_COLOR = re.compile(r"(?<![-\w])color\s*:\s*([^;]+)", re.IGNORECASE)
_BG = re.compile(r"background(?:-color)?\s*:\s*([^;]+)", re.IGNORECASE)
_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_WHITE = {"#fff", "#ffffff", "white", "rgb(255,255,255)"}


@dataclass
class HtmlView:
    """Visible text, hidden text and links of one HTML body."""

    visible: str = ""
    hidden: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    """(href, anchor text) pairs of visible anchors and forms."""


def _norm_color(value: str) -> str:
    return re.sub(r"\s+", "", value.strip().lower().replace("!important", ""))


def _is_hidden(node: Node, inherited_bg: str | None) -> tuple[bool, str | None]:
    attrs = node.attributes
    style = attrs.get("style") or ""
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" and not node.text(strip=True):
        return True, inherited_bg
    if style and _HIDDEN_STYLE.search(style):
        return True, inherited_bg
    bg = inherited_bg
    m = _BG.search(style)
    if m:
        words = m.group(1).split()
        bg = _norm_color(words[0]) if words else bg
    elif attrs.get("bgcolor"):
        bg = _norm_color(attrs["bgcolor"] or "")
    colors = [_norm_color(c) for c in _COLOR.findall(style)]
    if attrs.get("color"):
        colors.append(_norm_color(attrs["color"] or ""))
    for color in colors:
        if bg is not None and color == bg:
            return True, bg
        if bg is None and color in _WHITE:
            # White text on the default white background.
            return True, bg
    return False, bg


def render(html: str) -> HtmlView:
    """Walk the DOM once, splitting text into what is shown and what is hidden."""
    view = HtmlView()
    view.hidden.extend(c.strip() for c in _COMMENT.findall(html) if c.strip())
    tree = HTMLParser(html)
    root: Node | None = tree.body or tree.root
    if root is None:
        return view
    visible: list[str] = []
    # Tracks each non-rendered container's text separately so that hidden text is reported.
    for container in NON_RENDERED:
        if container in ("script", "style", "head", "meta"):
            continue
        for node in tree.css(container):
            text = node.text(separator=" ", strip=True)
            if text:
                view.hidden.append(text)

    # Iterative walk: hostile HTML can nest deeper than Python's recursion limit.
    stack: list[tuple[Node | str, str | None]] = [(root, None)]
    while stack:
        item, bg = stack.pop()
        if isinstance(item, str):
            visible.append(item)
            continue
        children: list[tuple[Node | str, str | None]] = []
        child = item.child
        while child is not None:
            tag = child.tag
            if tag == "-text":
                children.append((child.text_content or "", bg))
            elif tag is not None and not tag.startswith("-") and tag not in NON_RENDERED:
                hidden, child_bg = _is_hidden(child, bg)
                if hidden:
                    text = child.text(separator=" ", strip=True)
                    if text:
                        view.hidden.append(text)
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
