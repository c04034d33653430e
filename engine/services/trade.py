"""Trade intents: a buy or sell, validated and prefilled for the Mini App; never executed here.

The Mini App (``{public_url}/app/trade``) receives the intent either as query parameters or, when
opened through a ``t.me/<bot>/<app>?startapp=`` link, as the ``startapp`` value
``buy_<mint>_<lamports>`` / ``sell_<mint>_<bps>``; the user reviews the quote and signs in their
wallet. Amounts are parsed with :class:`~decimal.Decimal` into integers: SOL into lamports,
percent into basis points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final, Literal
from urllib.parse import urlencode

from engine.chain.programs import LAMPORTS_PER_SOL
from engine.services.errors import InvalidInput
from engine.services.watchlist import check_address

MIN_BUY_LAMPORTS: Final = 1_000_000
"""0.001 SOL: below this the network fee dwarfs the trade."""
MAX_BUY_LAMPORTS: Final = 1_000 * LAMPORTS_PER_SOL
"""1,000 SOL: more than that in one memecoin tap is a typo, not a trade."""
_DECIMAL: Final = re.compile(r"^\d{1,12}(?:[.,]\d{1,12})?$")
_STARTAPP: Final = re.compile(r"^(buy|sell)_([1-9A-HJ-NP-Za-km-z]{32,44})_(\d{1,19})$")

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class TradeIntent:
    """A prefilled order: ``amount`` is lamports (buy) or basis points of the holding (sell)."""

    side: Side
    mint: str
    amount: int

    def startapp(self) -> str:
        """The ``startapp`` parameter of a Mini App deep link (``[A-Za-z0-9_-]``, <= 512)."""
        return f"{self.side}_{self.mint}_{self.amount}"

    def query(self) -> str:
        """The query string of the Mini App trade page."""
        key = "lamports" if self.side == "buy" else "bps"
        return urlencode({"side": self.side, "mint": self.mint, key: self.amount})


def _decimal(text: str, field: str) -> Decimal:
    raw = text.strip().replace("\u00a0", "").replace(" ", "")
    # Plain decimals only: no exponents, signs, NaN or infinities; a comma is a decimal point.
    if not _DECIMAL.match(raw) or raw.count(",") + raw.count(".") > 1:
        raise InvalidInput(
            "not_amount", f"not an amount: {text[:24]!r}", field=field, value=text[:24]
        )
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise InvalidInput(
            "not_amount", f"not an amount: {text[:24]!r}", field=field, value=text[:24]
        ) from None


def parse_sol(text: str, *, field: str = "sol") -> int:
    """A SOL amount as integer lamports; refuses negatives, dust, sub-lamport and absurd sizes."""
    value = _decimal(text, field)
    lamports = value * LAMPORTS_PER_SOL
    if lamports != lamports.to_integral_value():
        raise InvalidInput(
            "sub_lamport",
            f"{text[:24]} SOL has more than 9 decimals",
            field=field,
            value=text[:24],
        )
    amount = int(lamports)
    if amount < MIN_BUY_LAMPORTS or amount > MAX_BUY_LAMPORTS:
        raise InvalidInput(
            "sol_out_of_range",
            f"{text[:24]} SOL is outside 0.001-1000 SOL",
            field=field,
            value=text[:24],
            min="0.001",
            max="1000",
        )
    return amount


def parse_percent(text: str, *, field: str = "percent") -> int:
    """A share of a holding (``25``, ``12.5%``) as integer basis points, 0.01%-100%."""
    raw = text.strip().removesuffix("%")
    value = _decimal(raw, field) * 100
    if value != value.to_integral_value() or not 1 <= value <= 10_000:
        raise InvalidInput(
            "percent_out_of_range",
            f"{text[:24]} is not a percentage between 0.01 and 100",
            field=field,
            value=text[:24],
        )
    return int(value)


def buy_intent(*, mint: str, lamports: int) -> TradeIntent:
    """A buy of ``lamports`` worth of ``mint``."""
    if type(lamports) is not int or not MIN_BUY_LAMPORTS <= lamports <= MAX_BUY_LAMPORTS:
        raise InvalidInput(
            "sol_out_of_range",
            f"{lamports!r} lamports is outside 0.001-1000 SOL",
            field="lamports",
            value=str(lamports),
            min="0.001",
            max="1000",
        )
    return TradeIntent("buy", check_address(mint, field="mint"), lamports)


def sell_intent(*, mint: str, bps: int) -> TradeIntent:
    """A sell of ``bps`` basis points of the user's holding of ``mint``."""
    if type(bps) is not int or not 1 <= bps <= 10_000:
        raise InvalidInput(
            "percent_out_of_range",
            f"{bps!r} bps is not within 1-10000",
            field="bps",
            value=str(bps),
        )
    return TradeIntent("sell", check_address(mint, field="mint"), bps)


def parse_startapp(value: str) -> TradeIntent:
    """The intent carried by a ``startapp`` parameter (for the Mini App)."""
    m = _STARTAPP.match(value)
    if m is None:
        raise InvalidInput(
            "bad_startapp", f"not a trade link: {value[:80]!r}", field="startapp", value=value[:80]
        )
    side, mint, amount = m.group(1), m.group(2), int(m.group(3))
    if side == "buy":
        return buy_intent(mint=mint, lamports=amount)
    return sell_intent(mint=mint, bps=amount)


def mini_app_url(public_url: str, intent: TradeIntent) -> str:
    """The Mini App trade page prefilled with the intent."""
    return f"{public_url.rstrip('/')}/app/trade?{intent.query()}"
