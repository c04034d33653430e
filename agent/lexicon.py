"""What the guardrails look for in a text: addresses, links, handles, numbers, advice phrases.

Pure functions over strings, shared by the guardrails (on outputs) and the sanitizer (on token
labels). Advice phrases are matched in English and French on every text whatever its language,
on a copy folded to lower case with common Cyrillic/Greek look-alikes mapped to Latin letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_B58 = "1-9A-HJ-NP-Za-km-z"
# 32-44 chars is a public key; up to 88 is a transaction signature. Both must come from facts.
ADDRESS_RE: Final = re.compile(rf"(?<![{_B58}])[{_B58}]{{32,88}}(?![{_B58}])")
SHORT_ADDRESS_RE: Final = re.compile(
    rf"(?<![{_B58}])([{_B58}]{{3,8}})(?:…|\.\.\.)([{_B58}]{{3,8}})"
)
LINK_RES: Final = (
    re.compile(r"\b[a-z][a-z0-9+.-]{1,15}://\S+", re.IGNORECASE),
    re.compile(r"\bwww\.\S+", re.IGNORECASE),
    # Bare domains (t.me/x, pump.fun, evil.xyz): labels, a dot, an alphabetic TLD.
    re.compile(
        r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b(?:/\S*)?", re.IGNORECASE
    ),
)
MENTION_RE: Final = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,32}")
# A numeral: digits with . , or (thin/no-break) space separators; a k/M/B suffix is read apart.
NUMERAL_RE: Final = re.compile(r"\d+(?:[.,\u00a0\u202f\u2009 ]\d+)*(?:\s?([kKmMbB])(?![A-Za-z]))?")

# Cyrillic, Armenian and Greek letters that pass for Latin ones, and curly apostrophes.
_CONFUSABLES: Final = str.maketrans(
    {
        "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
        "\u0445": "x", "\u0456": "i", "\u0455": "s", "\u0458": "j", "\u0501": "d", "\u0578": "n",
        "\u057d": "u", "\u03bd": "v", "\u03bf": "o", "\u03b1": "a", "\u03b9": "i", "\u03ba": "k",
        "\u03c4": "t", "\u03c5": "u", "\u03b5": "e",
        "\u2019": "'", "\u2018": "'", "\u0060": "'", "\u02bc": "'",
    }
)  # fmt: skip

_EN: Final = (
    r"\b(?:buy|sell|ape|snipe|grab|dump|accumulate|load up on)\s+"
    r"(?:it|this|now|more|here|asap|today|before|the dip|in|early|quick(?:ly)?)\b",
    r"(?:^|[.!?;:]\s+)(?:buy|sell|ape|snipe|grab|hodl|hold|load up|get in|get out)\b"
    r"(?!\s+(?:share|pressure|side|volume|count|trades?|orders?|burst|flow|wallets?|ratio))",
    r"\byou\s+(?:should|must|need to|have to|want to|gotta|better|ought to)\s+"
    r"(?:buy|sell|ape|get in|get out|invest|hold|send|jump|grab|snipe)\b",
    r"\b(?:should|must)\s+(?:buy|sell|ape|invest)\b",
    r"\b(?:don'?t|do not|never)\s+(?:miss|fade|sleep on|wait)\b",
    r"\bguarantee[ds]?\b",
    r"\brisk[- ]?free\b",
    r"\bno[- ]risk\b",
    r"\bcan'?t\s+(?:lose|go wrong|fail)\b",
    r"\bsure\s+(?:thing|bet|win|profit)\b",
    r"\bsafe\s+bet\b",
    r"\b(?:\d{2,}|\d+k)\s*x\b",
    r"\bx\s?\d{3,}\b",
    r"\bto the moon\b",
    r"\bmoon(?:ing|shot|boy)?\b",
    r"\bprice\s+target",
    r"\btarget\s+(?:price|of)\b",
    r"\b(?:pt|tp)\s*[:=]?\s*\$?\d",
    r"\bwill\s+(?:reach|hit|go up|go to|pump|moon|explode|rise|climb|double|triple|"
    r"skyrocket|rally|recover|run|flip|soar|10x|100x)\b",
    r"\b(?:going|about|set|poised|bound|likely|expected)\s+to\s+(?:pump|moon|explode|rise|"
    r"skyrocket|run|soar|rally|double|triple|go up|climb|reach)\b",
    r"\b(?:financial|investment|trading)\s+advice\b",
    r"\bnfa\b",
    r"\bsend\b.{0,40}\b(?:sol|tokens?|funds|usdc|money|crypto)\b",
    r"\bsend\b.{0,20}\bto\b",
    r"\bdeposit\b.{0,40}\b(?:sol|tokens?|funds|usdc|money|crypto)\b",
    r"\b(?:seed|recovery|secret)\s+phrase\b",
    r"\bprivate\s+key\b",
    r"\bconnect\s+(?:your\s+)?wallet\b",
    r"\bclaim\s+(?:your|the|free|now)\b",
    r"\bfree\s+(?:sol|tokens?|airdrop|money|crypto)\b",
    r"\b(?:easy|free|quick|fast)\s+(?:money|gains?|profits?)\b",
    r"\bget\s+rich\b",
    r"\b(?:huge|massive|big|guaranteed|insane)\s+(?:gains?|profits?|returns?|upside)\b",
    r"\b(?:strong|good|great|perfect|best)\s+(?:buy|entry|opportunity|investment)\b",
    r"\b(?:entry|exit)\s+(?:point|price|zone)\b",
    r"\bbuy\s+signal\b",
    r"\bact\s+(?:now|fast|quickly)\b",
    r"\blast\s+chance\b",
    r"\bbefore\s+it'?s\s+too\s+late\b",
    r"\b(?:dm|message|contact)\s+(?:me|us|@)",
    r"\bignore\s+(?:all\s+|any\s+)?(?:previous|prior|above|earlier|the|your)\s+"
    r"(?:instructions|rules|prompts?)\b",
    r"\bsystem\s+prompt\b",
    r"\bdeveloper\s+mode\b",
    r"\bjailbreak",
    r"</?data\b",
)
_FR: Final = (
    r"\bach[eè]te[sz]?\b",
    r"\bachetons\b",
    r"\bvend(?:s|ez|ons)\b",
    r"\b(?:il faut|faut|vous devriez|tu devrais|devriez|devrais|vous devez|tu dois)\s+"
    r"(?:acheter|vendre|investir|entrer|sortir|garder|envoyer)\b",
    r"\b(?:acheter|vendre|investir)\s+(?:maintenant|vite|tout de suite|avant|aujourd'hui|"
    r"d[eè]s maintenant|rapidement)\b",
    r"\bne\s+(?:ratez|manquez|loupez|rate|manque|loupe)\s+pas\b",
    r"\bgaranti(?:e|s|es)?\b",
    r"\bsans\s+risques?\b",
    r"\b(?:aucun|z[ée]ro)\s+risque\b",
    r"\b(?:gains?|profits?|rendements?)\s+(?:assur[ée]s?|garantis?|faciles?|[ée]normes?)\b",
    r"\bargent\s+facile\b",
    r"\bdevenir\s+riche\b",
    r"\b(?:vers|jusqu'?[àa])\s+la\s+lune\b",
    r"\bobjectif\s+de\s+(?:prix|cours)\b",
    r"\b(?:prix|cours)\s+cible\b",
    r"\b(?:va|vont|devrait|devraient)\s+(?:monter|exploser|doubler|tripler|pumper|atteindre|"
    r"grimper|d[ée]coller|flamber|s'envoler)\b",
    r"\bconseils?\s+(?:financiers?|en\s+investissement|d'investissement)\b",
    r"\b(?:envoyez|envoie|envoyer|d[ée]posez|d[ée]poser)\b.{0,40}\b(?:sol|jetons?|tokens?|"
    r"fonds|argent|crypto|adresse)\b",
    r"\bphrase\s+(?:secr[eè]te|de\s+r[ée]cup[ée]ration)\b",
    r"\bcl[ée]\s+priv[ée]e\b",
    r"\bconnectez\s+(?:votre\s+)?(?:wallet|portefeuille)\b",
    r"\b(?:bon|excellent|meilleur)\s+(?:point\s+d'entr[ée]e|achat|investissement)\b",
    r"\bpoint\s+d'(?:entr[ée]e|sortie)\b",
    r"\bsignal\s+d'achat\b",
    r"\bderni[eè]re\s+chance\b",
    r"\bagissez\b",
    r"\bignore[rz]?\s+(?:toutes?\s+)?(?:les\s+)?(?:instructions|consignes|r[eè]gles)\b",
    r"\bprompt\s+syst[eè]me\b",
)
_ADVICE: Final = tuple(re.compile(p, re.IGNORECASE) for p in _EN + _FR)


def fold(text: str) -> str:
    """Lower case with look-alike letters mapped to Latin and whitespace collapsed."""
    return re.sub(r"\s+", " ", text.casefold().translate(_CONFUSABLES))


def advice_hits(text: str) -> list[str]:
    """The advice, promise or scam phrases found (EN and FR), as matched in the folded text."""
    folded = fold(text)
    return [m.group(0).strip() for rx in _ADVICE for m in [rx.search(folded)] if m]


def find_addresses(text: str) -> list[str]:
    """Base58 runs of 32-88 characters: public keys and signatures."""
    return ADDRESS_RE.findall(text)


def find_short_addresses(text: str) -> list[tuple[str, str, str]]:
    """``ABCD…WXYZ`` forms as (whole match, head, tail)."""
    return [(m.group(0), m.group(1), m.group(2)) for m in SHORT_ADDRESS_RE.finditer(text)]


def find_links(text: str) -> list[str]:
    """URLs with a scheme, ``www.`` hosts and bare domains, trailing punctuation dropped."""
    found: list[str] = []
    for rx in LINK_RES:
        for m in rx.finditer(text):
            link = m.group(0).rstrip(".,;:!?)]}'\"")
            if not any(link in f or f in link for f in found):
                found.append(link)
    return found


def find_mentions(text: str) -> list[str]:
    """``@handles`` (Telegram, X, Discord)."""
    return MENTION_RE.findall(text)


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read a number: its value and the half-width of its rounding."""

    value: float
    tolerance: float


Number = tuple[Reading, ...]
"""Alternative readings of one number: it is a fact when any of them is."""


def _decimal(digits: str) -> Reading:
    _, _, frac = digits.partition(".")
    return Reading(float(digits), 0.5 * 10.0 ** -len(frac) if frac else 0.5)


def _part(part: str) -> list[Number]:
    # One numeral without spaces: "1,234.5", "1.234,5", "1,5", "12.5", "1,234", "2026".
    dots, commas = part.count("."), part.count(",")
    if dots and commas:
        dec = "." if part.rfind(".") > part.rfind(",") else ","
        grp = "," if dec == "." else "."
        head, _, frac = part.rpartition(dec)
        return [(_decimal(head.replace(grp, "") + "." + frac),)]
    sep = "." if dots else "," if commas else ""
    if not sep:
        return [(_decimal(part),)]
    groups = part.split(sep)
    if len(groups) > 2:
        if all(len(g) == 3 for g in groups[1:]):
            return [(_decimal("".join(groups)),)]
        return [(_decimal(g),) for g in groups]  # "1.2.3": not one number; check each piece
    if len(groups[1]) == 3:  # "1,234" is 1234 in English and 1.234 in French: accept either
        return [(_decimal(f"{groups[0]}.{groups[1]}"), _decimal("".join(groups)))]
    return [(_decimal(f"{groups[0]}.{groups[1]}"),)]


_SUFFIX: Final = {"k": 1e3, "K": 1e3, "M": 1e6, "m": 1e6, "b": 1e9, "B": 1e9}


def numeral_options(match: re.Match[str]) -> list[list[Number]]:
    """Ways to read a numeral match: each a list of numbers that must all be facts."""
    body = match.group(0)
    suffix = match.group(1)
    if suffix:
        body = body[: body.rfind(suffix)].rstrip()
    chunks = re.split(r"[\u00a0\u202f\u2009 ]", body)
    options: list[list[Number]] = [[n for chunk in chunks for n in _part(chunk)]]
    if len(chunks) > 1 and all(len(c) == 3 for c in chunks[1:-1]):
        last = chunks[-1]
        if last[:3].isdigit() and (len(last) == 3 or last[3:4] in {",", "."}):
            # "1 234,5": French thousands grouped by spaces, read as one number.
            options.insert(0, _part("".join(chunks[:-1]) + last))
    if not suffix:
        return options
    scale = _SUFFIX[suffix]

    def scaled(n: Number) -> Number:
        up = tuple(Reading(r.value * scale, r.tolerance * scale) for r in n)
        # "5m" is five minutes far more often than five million: accept either reading.
        return up + n if suffix == "m" else up

    return [[*o[:-1], scaled(o[-1])] for o in options]
