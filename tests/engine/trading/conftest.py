"""Trading test rig: a constant-product market behind the Quoter port, real bus, real database.

``Market`` is an in-process implementation of our own ``Quoter`` protocol (not a network
boundary): it quotes from pump.fun-style virtual reserves that the test moves along a price path,
and emits the chain events a scorer would see at each step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from engine.bus.memory import MemoryBus
from engine.clock import FixedClock
from engine.events import ChainEvent
from engine.storage.repos import tokens as token_repo
from engine.storage.repos import users as user_repo
from engine.trading.adapters import BusNotifier, MiniAppLinks
from engine.trading.errors import QuoteUnavailable
from engine.trading.exits import ExitService
from engine.trading.monitor import PriceMonitor
from engine.trading.orders import TriggerOutcome
from engine.trading.ports import Quote
from engine.trading.prefs import save_prefs
from engine.trading.price import BPS, Price
from tests.conftest import Db

SOL = 1_000_000_000
VTOK = 1_000_000_000_000_000
BASE_VSOL = 30 * SOL
MINT = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
TRADER = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
PUBLIC_URL = "https://solai.test"
_sigs = itertools.count(1)


class Market:
    """A constant-product curve whose price the test sets; quotes like the venue would."""

    def __init__(self, mint: str = MINT) -> None:
        self.mint = mint
        self.vsol = BASE_VSOL
        self.vtok = VTOK
        self.calls: list[tuple[str, str, int]] = []
        self.fail = False

    @property
    def price(self) -> Price:
        return Price(self.vsol, self.vtok)

    def set_bps(self, bps: int) -> Price:
        """Move the price to ``bps``/10000 of the starting price."""
        self.vsol = BASE_VSOL * bps // BPS
        return self.price

    def sell_out(self, amount: int) -> int:
        return self.vsol * amount // (self.vtok + amount)

    def buy_out(self, lamports: int) -> int:
        return self.vtok * lamports // (self.vsol + lamports)

    async def quote(self, mint: str, side: str, amount_in: int) -> Quote:
        self.calls.append((mint, side, amount_in))
        if self.fail:
            raise QuoteUnavailable("market closed for the test")
        if side == "sell":
            out, ideal = self.sell_out(amount_in), amount_in * self.vsol // self.vtok
        else:
            out, ideal = self.buy_out(amount_in), amount_in * self.vtok // self.vsol
        return Quote(out_amount=out, price_impact_bps=(ideal - out) * BPS // max(ideal, 1))

    def event(self, ts: int) -> ChainEvent:
        """A pump.fun trade at the current reserves, as the scorer would see it."""
        return ChainEvent(
            kind="trade",
            venue="pumpfun",
            signature=f"sig{next(_sigs):08d}",
            slot=ts // 400,
            ts=ts,
            mint=self.mint,
            trader=TRADER,
            side="buy",
            sol_lamports=1_000_000,
            token_amount=1_000_000_000,
            virtual_sol_reserves=self.vsol,
            virtual_token_reserves=self.vtok,
        )


@dataclass
class Rig:
    """Everything a trading scenario needs, over one database."""

    db: Db
    clock: FixedClock
    market: Market
    bus: MemoryBus
    exits: ExitService
    user_id: int
    triggered: list[TriggerOutcome] = field(default_factory=list)

    def monitor(self, *, inline: bool = True) -> PriceMonitor:
        """A monitor that prepares exits inline (``inline``) or leaves them to the safety net."""

        async def after(outcome: TriggerOutcome) -> None:
            self.triggered.append(outcome)
            await self.exits.advance(outcome.order_id)

        async def record_only(outcome: TriggerOutcome) -> None:
            self.triggered.append(outcome)

        return PriceMonitor(
            self.db.sessions, self.clock, after_trigger=after if inline else record_only
        )

    async def notices(self) -> list[dict[str, Any]]:
        """Every notice published on the ``orders`` topic so far."""
        await self.bus.ensure_group("orders", "test-reader")
        out = []
        while True:
            msgs = await self.bus.consume("orders", "test-reader", "t", count=1000, block_ms=0)
            if not msgs:
                return out
            out += [orjson.loads(m.payload) for m in msgs]
            await self.bus.ack("test-reader", msgs)

    async def tick(self, bps: int, monitor: PriceMonitor, *, advance_ms: int = 1000) -> list[Any]:
        """Move the price, store the tick and feed it to ``monitor``."""
        self.clock.advance(advance_ms)
        self.market.set_bps(bps)
        ev = self.market.event(self.clock.now_ms())
        async with self.db.sessions.begin() as session:
            await token_repo.insert_ticks(session, events=[ev])
        return await monitor.on_event(ev)


async def new_user(db: Db, clock: FixedClock, telegram_id: int, **prefs: Any) -> int:
    async with db.sessions.begin() as session:
        user = await user_repo.get_or_create_telegram_user(
            session, telegram_id=telegram_id, now_ms=clock.now_ms()
        )
        if prefs:
            await save_prefs(session, user_id=user.id, prefs=prefs)
        return user.id


@pytest.fixture
async def rig(db: Db, clock: FixedClock) -> Rig:
    """A market at its starting price, a bus, an exit service and one user (slippage 3%)."""
    bus = MemoryBus(partitions=2, clock=clock)
    market = Market()
    exits = ExitService(
        db.sessions,
        clock,
        quoter=market,
        preparer=MiniAppLinks(PUBLIC_URL),
        notifier=BusNotifier(bus),
    )
    user_id = await new_user(db, clock, 1001, slippage_bps=300, exit_link_ttl_s=120)
    return Rig(db, clock, market, bus, exits, user_id)
