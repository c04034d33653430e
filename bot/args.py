"""Command arguments: their kinds, how the text is split, and parsing with errors naming the value.

Telegram hands us the text after the command; Discord hands us named options. Both end up as a
mapping of argument name to string, then each kind's parser turns it into a typed value.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from bot.errors import UserError, from_service
from bot.i18n import N_
from engine.chain.programs import LAMPORTS_PER_SOL
from engine.services.errors import ServiceError
from engine.services.signals import clean_symbol
from engine.services.trade import parse_percent, parse_sol
from engine.services.watchlist import check_address

ArgKind = Literal["token", "mint", "address", "sol", "percent", "word", "text", "choice"]
MAX_TEXT: Final = 500


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command, as the table declares it."""

    name: str
    kind: ArgKind
    help: str
    """English msgid shown in /help and as the Discord option description."""
    required: bool = True
    choices: tuple[str, ...] = ()

    @property
    def rest(self) -> bool:
        """Free text takes the rest of the line."""
        return self.kind == "text"

    def usage(self) -> str:
        """``<name>`` or ``[name]``; choices spelled out."""
        label = "|".join(self.choices) if self.choices else self.name
        return f"<{label}>" if self.required else f"[{label}]"


def split_words(text: str) -> list[str]:
    """Words of a command line; quotes group words ("Big Whale"), unbalanced quotes are literal."""
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def assign(specs: Sequence[Arg], raw: str | Mapping[str, str | None]) -> dict[str, str]:
    """Map the typed text (or Discord's options) onto the argument names."""
    if not isinstance(raw, str):
        return {k: v.strip() for k, v in raw.items() if v is not None and v.strip()}
    out: dict[str, str] = {}
    words = split_words(raw.strip())
    for i, spec in enumerate(specs):
        if i >= len(words):
            break
        if spec.rest:
            out[spec.name] = " ".join(words[i:])
            return out
        out[spec.name] = words[i]
    if len(words) > len(specs):
        extra = " ".join(words[len(specs) :])
        raise UserError(N_("unexpected extra text: %(value)s"), value=extra[:60])
    return out


def _token(value: str) -> str:
    try:
        check_address(value)
    except ServiceError:
        return clean_symbol(value)
    return value.strip()


PARSERS: Final[dict[ArgKind, Callable[[str], Any]]] = {
    "token": _token,
    "mint": lambda v: check_address(v, field="mint"),
    "address": check_address,
    "sol": parse_sol,
    "percent": parse_percent,
    "word": lambda v: v,
    "text": lambda v: v[:MAX_TEXT],
    "choice": lambda v: v,
}


def parse(specs: Sequence[Arg], raw: str | Mapping[str, str | None]) -> dict[str, Any]:
    """Typed arguments; UserError naming the missing or bad argument and its value."""
    given = assign(specs, raw)
    out: dict[str, Any] = {}
    for spec in specs:
        value = given.get(spec.name)
        if value is None:
            if spec.required:
                raise UserError(N_("missing %(name)s"), name=spec.usage())
            continue
        if spec.kind == "choice":
            choice = value.lower()
            if choice not in spec.choices:
                raise UserError(
                    N_("%(value)s is not one of %(choices)s"),
                    value=value[:32],
                    choices=", ".join(spec.choices),
                )
            out[spec.name] = choice
            continue
        try:
            out[spec.name] = PARSERS[spec.kind](value)
        except ServiceError as exc:
            raise from_service(exc) from None
    return out


def parse_strength(value: str) -> float:
    """A minimum Strength 0-3 (``1.5`` or ``1,5``)."""
    try:
        number = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        raise UserError(N_("not a Strength between 0 and 3: %(value)s"), value=value[:16]) from None
    if not number.is_finite() or not 0 <= number <= 3:
        raise UserError(N_("not a Strength between 0 and 3: %(value)s"), value=value[:16])
    return float(number)


def parse_sol_amount(value: str) -> int:
    """A SOL amount (liquidity filters) as lamports, 0 allowed."""
    try:
        number = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        raise UserError(N_("not an amount: %(value)s"), value=value[:24]) from None
    if not number.is_finite() or number < 0 or number > 10_000_000:
        raise UserError(N_("not an amount: %(value)s"), value=value[:24])
    return int(number * LAMPORTS_PER_SOL)
