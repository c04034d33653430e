"""Implementations of the trading ports over our own pieces: Jupiter, the bus, windows, ticks.

- :class:`JupiterQuoter`: the trade bridge's Jupiter client (``engine.trade.jupiter``), so a
  trigger's quote is the same ``/quote`` the Mini App's buy uses;
- :class:`MiniAppLinks`: one-tap links into the Mini App (``{public_url}/app/trade?exit=<id>``),
  where the bridge builds the unsigned swap when the user opens it;
- :class:`BusNotifier`: order notices on the bus ``orders`` topic, keyed by user;
- :class:`WindowPrices` / :class:`TickPrices`: the live windows' price, or the newest stored tick;
- :class:`FixedSolUsd`: a constant SOL/USD rate (demo, tests, or a rate read elsewhere).
"""

from __future__ import annotations

import logging
import math
from typing import Final
from urllib.parse import urlencode

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.bus.base import Bus
from engine.chain.programs import WSOL_MINT
from engine.signals.windows import Windows
from engine.trade.jupiter import JupiterClient, JupiterError
from engine.trading import store
from engine.trading.errors import QuoteUnavailable
from engine.trading.ports import ExitRequest, OrderNotice, PreparedExit, Quote
from engine.trading.price import BPS, Price

logger = logging.getLogger(__name__)

ORDERS_STREAM: Final = "orders"


class JupiterQuoter:
    """Quoter over the Jupiter ``/quote`` endpoint (real API or the simulator's)."""

    def __init__(self, client: JupiterClient, *, slippage_bps: int = 500) -> None:
        self._client = client
        # Only sent along with the request; our min out is computed from out_amount.
        self._slippage_bps = slippage_bps

    async def quote(self, mint: str, side: str, amount_in: int) -> Quote:
        """A fresh ``/quote`` of ``amount_in`` for ``mint`` against SOL."""
        if side == "sell":
            input_mint, output_mint = mint, WSOL_MINT
        elif side == "buy":
            input_mint, output_mint = WSOL_MINT, mint
        else:
            raise ValueError(f"side must be buy or sell, got {side!r}")
        try:
            q = await self._client.quote(
                input_mint=input_mint,
                output_mint=output_mint,
                amount=amount_in,
                slippage_bps=self._slippage_bps,
            )
        except JupiterError as exc:
            raise QuoteUnavailable(f"no quote for {side} {mint}: {exc}") from exc
        # Rounded up: a limit on impact should never pass on a rounding.
        impact = max(0, math.ceil(q.price_impact * BPS))
        return Quote(out_amount=q.out_amount, price_impact_bps=impact)


class MiniAppLinks:
    """Signing links into the Mini App's trade page for a prepared exit.

    ``{public_url}/app/trade?side=sell&mint=<mint>&amount=<raw>&exit=<order id>&key=<key>``: the
    page loads the priced exit (``engine.trading.exits.exit_for_link``), has the bridge build the
    swap, and submits it with ``Idempotency-Key: <key>`` so the order follows the trade.
    """

    def __init__(self, public_url: str, *, path: str = "/app/trade") -> None:
        self._base = public_url.rstrip("/") + path

    async def prepare(self, request: ExitRequest) -> PreparedExit:
        """The link for one attempt (the same request gives the same link)."""
        query = {
            "side": request.side,
            "mint": request.mint,
            "amount": request.amount_in,
            "exit": request.order_id,
            "key": request.idempotency_key,
        }
        return PreparedExit(link=f"{self._base}?{urlencode(query)}", expires_ts=request.expires_ts)


class BusNotifier:
    """Publishes order notices on the ``orders`` stream, keyed by user (ordered per user)."""

    def __init__(self, bus: Bus, *, stream: str = ORDERS_STREAM) -> None:
        self._bus = bus
        self._stream = stream

    async def notify(self, notice: OrderNotice) -> None:
        """Publish one notice as JSON."""
        await self._bus.publish(self._stream, str(notice.user_id), orjson.dumps(notice.to_dict()))


class WindowPrices:
    """Prices from the scorer's live windows (in the scoring process)."""

    def __init__(self, windows: Windows) -> None:
        self._windows = windows

    async def price(self, mint: str) -> Price | None:
        """The windows' last price of ``mint``."""
        mw = self._windows.get(mint)
        if mw is None or not mw.has_price:
            return None
        return Price(mw.price_num, mw.price_den)


class TickPrices:
    """Prices from the newest stored tick (any process with the database)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def price(self, mint: str) -> Price | None:
        """The newest tick's price of ``mint``."""
        async with self._sessions() as session:
            found = await store.latest_price(session, mint=mint)
        return None if found is None else found[0]


class FixedSolUsd:
    """A constant SOL/USD rate in micro-dollars per SOL."""

    def __init__(self, micros: int | None) -> None:
        self._micros = micros

    async def sol_usd_micros(self) -> int | None:
        """The configured rate."""
        return self._micros
