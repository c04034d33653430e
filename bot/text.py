"""Untrusted text made safe, and the neutral reply markup converted for each platform.

Replies are written once, in a small HTML subset that is exactly what Telegram's ``HTML``
parse mode accepts (``b i u s code pre a blockquote``, ``&lt; &gt; &amp; &quot;`` and numeric
entities); every interpolated value is escaped by the template engine. Discord gets the same
text converted to its markdown with every text run escaped; the console gets plain text.

Token names, symbols, aliases and notes are attacker-controlled: :func:`clean` removes control,
format (bidi overrides, zero-width) and surrogate characters, caps combining-mark floods,
collapses whitespace, defuses what chat clients would turn into links, mentions or commands,
and truncates.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import ClassVar, Final

TELEGRAM_TEXT_LIMIT: Final = 4096
"""Characters (UTF-16 code units, after entity parsing) in one Telegram message."""
ALLOWED_TAGS: Final = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "blockquote"}
)
_MAX_MARKS: Final = 2
_DOMAIN_DOT: Final = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z])")
_MENTION: Final = re.compile(r"@(?=\w)")
_COMMAND: Final = re.compile(r"(?<![\w/])/(?=\w)")
_SCHEME: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}):/+")
_ENTITY: Final = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_TAG: Final = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*)\s*>"
)
_HREF: Final = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_MD_SPECIAL: Final = re.compile(r"([\\*_~|`>#\-\[\]()<@])")


def clean(text: str | None, limit: int, *, defuse: bool = True) -> str:
    """Untrusted text made printable on one line, at most ``limit`` characters (``…`` when cut)."""
    if not text:
        return ""
    out: list[str] = []
    marks = 0
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Zs", "Zl", "Zp") or ch in "\t\n\r\v\f":
            out.append(" ")
            marks = 0
            continue
        if cat in ("Cc", "Cf", "Cs"):
            # Controls, bidi overrides, zero-width joiners and lone surrogates: never shown.
            continue
        if cat in ("Mn", "Me"):
            marks += 1
            if marks > _MAX_MARKS:
                continue
        else:
            marks = 0
        out.append(ch)
    value = " ".join("".join(out).split())
    if defuse:
        value = defuse_links(value)
    if len(value) > limit:
        value = value[: max(limit - 1, 0)].rstrip() + "…"
    return value


def defuse_links(value: str) -> str:
    """Stop chat clients from turning untrusted text into links, mentions or bot commands."""
    value = _SCHEME.sub(lambda m: m.group(1) + "\u2236\u2215\u2215", value)
    value = _DOMAIN_DOT.sub("\u2024", value)
    value = _MENTION.sub("\uff20", value)
    return _COMMAND.sub("\u2215", value)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text.encode("utf-16-le")) // 2


class MarkupError(ValueError):
    """Text is not valid Telegram HTML (what Telegram reports as "can't parse entities")."""


def telegram_html_text(markup: str) -> str:
    """The visible text of Telegram HTML; MarkupError where Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(markup):
        ch = markup[i]
        if ch == "<":
            m = _TAG.match(markup, i)
            if m is None:
                raise MarkupError(f"unexpected '<' at byte offset {i}")
            closing, tag, attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if tag not in ALLOWED_TAGS:
                raise MarkupError(f"unsupported start tag {tag!r} at byte offset {i}")
            if closing:
                if not stack or stack[-1] != tag:
                    raise MarkupError(f"unmatched end tag at byte offset {i}, expected </{tag}>")
                stack.pop()
            else:
                if tag == "a" and not _HREF.search(attrs):
                    raise MarkupError(f"a tag without href at byte offset {i}")
                stack.append(tag)
            i = m.end()
            continue
        if ch == "&":
            m = _ENTITY.match(markup, i)
            if m is None:
                raise MarkupError(f"unexpected '&' at byte offset {i}")
            out.append(html.unescape(m.group(0)))
            i = m.end()
            continue
        if ch == ">":
            raise MarkupError(f"unexpected '>' at byte offset {i}")
        out.append(ch)
        i += 1
    if stack:
        raise MarkupError(f"can't find end tag corresponding to start tag {stack[-1]}")
    return "".join(out)


def split_html(markup: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most ``limit`` visible characters, never dropping.

    Splits between lines (templates never carry a tag across a line break); a single line that is
    still too long is sent as escaped plain text in pieces.
    """
    if utf16_len(telegram_html_text(markup)) <= limit:
        return [markup]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in markup.split("\n"):
        n = utf16_len(telegram_html_text(line)) + 1
        if n - 1 > limit:
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            chunks.extend(html.escape(p, quote=False) for p in _pieces(to_plain(line), limit))
            continue
        if size + n > limit and current:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += n
    if current:
        chunks.append("\n".join(current))
    return [c for c in chunks if c.strip()]


def _pieces(text: str, limit: int) -> Iterator[str]:
    piece: list[str] = []
    size = 0
    for ch in text:
        n = utf16_len(ch)
        if size + n > limit:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(ch)
        size += n
    if piece:
        yield "".join(piece)


class _Converter(HTMLParser):
    """Telegram HTML to Discord markdown or plain text."""

    _MD: ClassVar[dict[str, str]] = {
        "b": "**",
        "strong": "**",
        "i": "*",
        "em": "*",
        "u": "__",
        "ins": "__",
        "s": "~~",
        "strike": "~~",
        "del": "~~",
        "code": "`",
    }

    def __init__(self, markdown: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.markdown = markdown
        self.out: list[str] = []
        self._links: list[str] = []
        self._code = 0
        self._pre = 0
        self._quote = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a span: its markdown marker, a link's ``[``, a code block's fence."""
        if tag == "a":
            self._links.append(dict(attrs).get("href") or "")
            if self.markdown:
                self.out.append("[")
            return
        if tag == "pre":
            self._pre += 1
            self.out.append("```\n" if self.markdown else "")
            return
        if tag == "blockquote":
            self._quote = True
            self.out.append("> " if self.markdown else "")
            return
        if tag == "code":
            self._code += 1
        if self.markdown and tag in self._MD and not self._pre:
            self.out.append(self._MD[tag])

    def handle_endtag(self, tag: str) -> None:
        """Close a span (a link's URL goes here)."""
        if tag == "a":
            href = self._links.pop() if self._links else ""
            if self.markdown:
                self.out.append(f"]({_md_url(href)})")
            elif href:
                self.out.append(f" ({href})")
            return
        if tag == "pre":
            self._pre -= 1
            self.out.append("\n```" if self.markdown else "")
            return
        if tag == "blockquote":
            self._quote = False
            return
        if self.markdown and tag in self._MD and not self._pre:
            self.out.append(self._MD[tag])
        if tag == "code":
            self._code -= 1

    def handle_data(self, data: str) -> None:
        """A text run, escaped for markdown unless inside code."""
        if not self.markdown:
            self.out.append(data)
            return
        if self._code or self._pre:
            # Inside code nothing is markdown, but a backtick would end the span.
            self.out.append(data.replace("`", "\u02cb"))
            return
        text = _MD_SPECIAL.sub(r"\\\1", data)
        if self._quote:
            text = text.replace("\n", "\n> ")
        self.out.append(text)


def _md_url(href: str) -> str:
    # A URL inside (...) must not close the parenthesis or break out with spaces.
    return href.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def to_markdown(markup: str) -> str:
    """Telegram HTML as Discord markdown, every text run escaped."""
    conv = _Converter(markdown=True)
    conv.feed(markup)
    conv.close()
    return "".join(conv.out)


def to_plain(markup: str) -> str:
    """Telegram HTML as plain text (links as ``text (url)``)."""
    conv = _Converter(markdown=False)
    conv.feed(markup)
    conv.close()
    return "".join(conv.out)


def escape(text: str) -> str:
    """Text escaped for Telegram HTML."""
    return html.escape(text, quote=True)
