"""Attacker text in, quoted data out: cleaning, clipping and the delimited data block.

Token names, symbols, URIs and descriptions come from whoever launched the token, and wallet
aliases from whoever typed them. They reach the model only inside a ``<data>`` block as JSON in
which ``<``, ``>`` and ``&`` are escaped, so no string can close the block or open a fake one,
after control, zero-width and bidi characters are removed and the text is clipped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Final

from agent import lexicon
from engine.signals.explain import short_address as _short_address

# Per-field clip lengths: enough to recognise a token, too short to carry a long payload.
CLIP: Final = {"name": 64, "symbol": 16, "uri": 120, "description": 200, "alias": 32}
LABEL_MAX: Final = 24

# Cc (controls), Cf (format: zero-width, bidi overrides and isolates, BOM), Co (private use),
# Cs (surrogates) and Cn (unassigned): nothing a reader sees, everything a payload can hide in.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_SPACES = re.compile(r"\s+")
_LABEL_OK = re.compile(r"^[\w$.+\- ]+$")


def strip_invisible(text: str, *, keep_newlines: bool = False) -> str:
    """NFKC-normalise and drop control, format (zero-width, bidi) and unassigned characters."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\r\n\v\f":
            out.append(" ")
        elif unicodedata.category(ch) not in _INVISIBLE_CATEGORIES:
            out.append(ch)
    return "".join(out)


def clean_untrusted(value: str | None, limit: int) -> str | None:
    """Attacker text made safe to quote: invisible characters gone, one line, clipped."""
    if value is None:
        return None
    text = _SPACES.sub(" ", strip_invisible(value)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def clean_field(field: str, value: str | None) -> str | None:
    """``clean_untrusted`` with the clip length of a known field (name, symbol, uri, …)."""
    return clean_untrusted(value, CLIP[field])


# How addresses are shown in texts (the guardrail knows these forms); one definition for all.
short_address = _short_address


def is_clean_label(text: str | None) -> bool:
    """True when a name or symbol can be shown as is: short, plain, no link/address/advice."""
    if not text or len(text) > LABEL_MAX or not _LABEL_OK.match(text):
        return False
    if not any(ch.isalpha() for ch in text):
        return False  # "3" or "2026" as a name would let a text hide figures behind it
    if lexicon.find_addresses(text) or lexicon.find_links(text) or lexicon.find_mentions(text):
        return False
    return not lexicon.advice_hits(text)


def token_label(mint: str, symbol: str | None, name: str | None) -> str:
    """The one name texts use for a token: a clean symbol, else a clean name, else the mint."""
    for candidate in (clean_field("symbol", symbol), clean_field("name", name)):
        if candidate is not None and is_clean_label(candidate):
            return candidate
    return short_address(mint)


def data_block(payload: Any) -> str:
    """JSON inside ``<data>…</data>``, with ``<``, ``>`` and ``&`` escaped so nothing breaks out."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<data>\n{text}\n</data>"


def clean_question(text: str, limit: int = 1000) -> str:
    """A user's own question: invisible characters removed, clipped (it is theirs, not data)."""
    cleaned = strip_invisible(text, keep_newlines=True).strip()
    return cleaned[:limit]
