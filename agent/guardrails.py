"""Guardrails checked in code on every text the agent returns, from the model or a template.

A text passes when:

- it is not empty and fits its limit (400 characters for a narrative, disclaimer included);
- it holds no advice, promise or scam phrase (EN and FR, see :mod:`agent.lexicon`);
- every address, link and @handle in it is one of the facts, and every number in it is one of
  the facts, up to display rounding (``1.5`` / ``1.50`` / ``1,5`` / ``+36.1%`` for 0.3611 /
  ``28k``), including simple unit conversions (lamports to SOL, fractions to percent, bps to
  percent);
- it ends with the configured disclaimer.

Facts are what the trusted parts of the input data hold: every value outside ``untrusted``
sub-objects (token names, symbols, URIs, descriptions and aliases live there), so an address or
a figure that only an attacker wrote never becomes a fact.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from agent import lexicon
from agent.sanitize import short_address, strip_invisible

logger = logging.getLogger(__name__)

NARRATIVE_MAX: Final = 400
ANSWER_MAX: Final = 1200
UNTRUSTED_KEY: Final = "untrusted"
DISCLAIMERS: Final = {
    "en": "Info only, not advice. DYOR.",
    "fr": "Info seulement, pas un conseil. DYOR.",
}
# Numbers our own wording uses whatever the data ("Strength x/3", "top 10 holders"), accepted
# as written only: scaled, "10" would excuse "1000%".
_VOCABULARY_NUMBERS: Final = (3.0, 10.0)
# Display conversions: raw, lamports -> SOL, fraction -> %, bps -> %, raw units (6 dp) -> tokens,
# ms -> s, ms -> min.
_SCALES: Final = (1.0, 1e-9, 100.0, 0.01, 1e-6, 1e-3, 1 / 60_000)
_TS_KEY = re.compile(r"(^|_)ts$")


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a text was rejected: a stable code and a short detail (logged at DEBUG only)."""

    code: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a text may mention: numbers, addresses, links, handles, and verbatim labels."""

    numbers: frozenset[float] = frozenset()
    addresses: frozenset[str] = frozenset()
    links: frozenset[str] = frozenset()
    mentions: frozenset[str] = frozenset()
    labels: frozenset[str] = field(default_factory=frozenset)
    """Clean display labels (token labels, aliases) removed before numbers are read."""

    @classmethod
    def from_data(cls, *data: Any, labels: Iterable[str] = ()) -> Facts:
        """Collect the facts of JSON-like data, skipping every ``untrusted`` sub-object."""
        acc = _Acc()
        for item in data:
            acc.walk(item, key="")
        return cls(
            numbers=frozenset(acc.numbers),
            addresses=frozenset(acc.addresses),
            links=frozenset(acc.links),
            mentions=frozenset(acc.mentions),
            labels=frozenset(x for x in (*acc.labels, *labels) if x),
        )

    def merge(self, *others: Facts) -> Facts:
        """The union of these facts and others'."""
        out = self
        for o in others:
            out = Facts(
                out.numbers | o.numbers,
                out.addresses | o.addresses,
                out.links | o.links,
                out.mentions | o.mentions,
                out.labels | o.labels,
            )
        return out

    def knows_number(self, n: lexicon.Number) -> bool:
        """True when one reading of ``n`` rounds from a fact (sign ignored)."""
        for r in n:
            target, tol = abs(r.value), r.tolerance + 1e-9 * abs(r.value)
            if any(abs(v - target) <= tol for v in _VOCABULARY_NUMBERS):
                return True
            for f in self.numbers:
                for scale in _SCALES:
                    if abs(f * scale - target) <= tol:
                        return True
        return False


class _Acc:
    def __init__(self) -> None:
        self.numbers: set[float] = set()
        self.addresses: set[str] = set()
        self.links: set[str] = set()
        self.mentions: set[str] = set()
        self.labels: set[str] = set()

    def walk(self, value: Any, *, key: str) -> None:
        """Collect facts from a JSON-like value found under ``key``."""
        if key == UNTRUSTED_KEY:
            return
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            if math.isfinite(value) and not _TS_KEY.search(key):
                self.numbers.add(abs(float(value)))
            return
        if isinstance(value, str):
            self.string(value, key=key)
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                self.string(str(k), key="")
                self.walk(v, key=str(k))
            return
        if isinstance(value, list | tuple | set | frozenset):
            for v in value:
                self.walk(v, key=key)

    def string(self, text: str, *, key: str) -> None:
        """Collect the addresses, links, handles and numbers of a trusted string."""
        if key == "label" or key.endswith("_label"):
            self.labels.add(text)
            return
        found = lexicon.find_addresses(text)
        self.addresses.update(found)
        self.links.update(lexicon.find_links(text))
        self.mentions.update(lexicon.find_mentions(text))
        rest = text
        for a in found:
            rest = rest.replace(a, " ")
        for m in lexicon.NUMERAL_RE.finditer(rest):
            for option in lexicon.numeral_options(m)[-1:]:
                for number in option:
                    self.numbers.update(abs(r.value) for r in number)


def check_body(body: str, facts: Facts, *, max_chars: int) -> list[Violation]:
    """Every rule except the disclaimer, on a text without it."""
    problems: list[Violation] = []
    if not body.strip():
        return [Violation("empty")]
    if len(body) > max_chars:
        problems.append(Violation("too_long", f"{len(body)} > {max_chars}"))
    for phrase in lexicon.advice_hits(body):
        problems.append(Violation("advice", phrase[:40]))
    rest = body
    for address in lexicon.find_addresses(body):
        if address not in facts.addresses:
            problems.append(Violation("unknown_address", short_address(address)))
        rest = rest.replace(address, " ")
    for whole, head, tail in lexicon.find_short_addresses(rest):
        if not any(a.startswith(head) and a.endswith(tail) for a in facts.addresses):
            problems.append(Violation("unknown_address", whole))
        rest = rest.replace(whole, " ")
    for link in lexicon.find_links(rest):
        if not any(link == f or link.rstrip("/") == f.rstrip("/") for f in facts.links):
            problems.append(Violation("unknown_link", link[:60]))
        rest = rest.replace(link, " ")
    for mention in lexicon.find_mentions(rest):
        if mention not in facts.mentions:
            problems.append(Violation("unknown_mention", mention))
        rest = rest.replace(mention, " ")
    # Labels go last and longest first ("PEPE2" must not leave a stray "2" behind), and only
    # as whole words, so a short label cannot carve figures out of longer ones.
    for label in sorted(facts.labels, key=len, reverse=True):
        rest = re.sub(rf"(?<![\w.,]){re.escape(label)}(?![\w])", " ", rest)
    for m in lexicon.NUMERAL_RE.finditer(rest):
        options = lexicon.numeral_options(m)
        if not any(all(facts.knows_number(n) for n in option) for option in options):
            problems.append(Violation("unknown_number", m.group(0).strip()))
    return problems


@dataclass(frozen=True, slots=True)
class Guard:
    """The guardrails of one kind of text: its length limit and per-language disclaimers."""

    max_chars: int = NARRATIVE_MAX
    disclaimers: Mapping[str, str] = field(default_factory=lambda: dict(DISCLAIMERS))

    def disclaimer(self, language: str) -> str:
        """The disclaimer for a language (English when the language has none)."""
        return self.disclaimers.get(language) or self.disclaimers.get("en") or ""

    def body_budget(self, language: str) -> int:
        """How many characters the text may use before the disclaimer."""
        return self.max_chars - len(self.disclaimer(language)) - 1

    def clean(self, text: str) -> str:
        """Model output as shown: invisible characters removed, whitespace tidied."""
        text = strip_invisible(text, keep_newlines=True)
        text = re.sub(r"[ \t]+", " ", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    def check(self, body: str, facts: Facts, language: str) -> list[Violation]:
        """Violations of a text that does not carry the disclaimer yet."""
        return check_body(body, facts, max_chars=self.body_budget(language))

    def finish(self, body: str, language: str) -> str:
        """The text with its disclaimer appended."""
        return f"{body.rstrip()} {self.disclaimer(language)}".strip()

    def validate(self, text: str, facts: Facts, language: str) -> list[Violation]:
        """Violations of a finished text (disclaimer included): the last gate before a user."""
        disclaimer = self.disclaimer(language)
        problems: list[Violation] = []
        if len(text) > self.max_chars:
            problems.append(Violation("too_long", f"{len(text)} > {self.max_chars}"))
        if not text.endswith(disclaimer):
            problems.append(Violation("no_disclaimer"))
            body = text
        else:
            body = text[: len(text) - len(disclaimer)].rstrip()
        problems += check_body(body, facts, max_chars=self.max_chars)
        return problems


def codes(problems: Iterable[Violation]) -> list[str]:
    """The distinct violation codes, in order (what INFO logs may show)."""
    return list(dict.fromkeys(p.code for p in problems))
