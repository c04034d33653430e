"""Through the real bridge: a stop-loss priced by the trade bridge's Jupiter client, over HTTP,
against the simulator's Jupiter-compatible server and its bonding curves."""

from __future__ import annotations

import orjson

from engine.bus.memory import MemoryBus
from engine.chain import programs as P
from engine.clock import FixedClock
from engine.sim.jupiter import LocalJupiter
from engine.trade.jupiter import JupiterClient
from engine.trading.adapters import BusNotifier, JupiterQuoter, MiniAppLinks
from engine.trading.attach import attach_exit_plan
from engine.trading.exits import ExitService
from engine.trading.monitor import PriceMonitor
from engine.trading.orders import TriggerOutcome
from engine.trading.price import Price, min_out
from tests.conftest import Db
from tests.engine.sim.support import running_sim
from tests.engine.trading.conftest import new_user


async def test_a_stop_loss_is_priced_by_jupiter_against_the_simulator(
    db: Db, clock: FixedClock
) -> None:
    user_id = await new_user(db, clock, 5005, slippage_bps=250)
    bus = MemoryBus(partitions=1, clock=clock)
    async with running_sim() as sim:
        await sim.emit(50)
        mint, curve = next((m, c) for m, c in sim.chain.curves.items() if not c.complete)
        now_price = Price(curve.virtual_sol, curve.virtual_tokens)
        position = curve.virtual_tokens // 200
        async with LocalJupiter(sim) as jup:
            client = JupiterClient(jup.url)
            try:
                exits = ExitService(
                    db.sessions,
                    clock,
                    quoter=JupiterQuoter(client),
                    preparer=MiniAppLinks("https://solai.test"),
                    notifier=BusNotifier(bus),
                )

                async def prepare(outcome: TriggerOutcome) -> None:
                    await exits.advance(outcome.order_id)

                async with db.sessions.begin() as session:
                    await attach_exit_plan(
                        session,
                        user_id=user_id,
                        mint=mint,
                        plan={"stop_loss": {"loss_bps": 3000}},
                        entry=now_price.scaled_bps(10_000),  # bought at twice today's price
                        position=position,
                        key="bracket:sim",
                        now_ms=clock.now_ms(),
                    )
                monitor = PriceMonitor(db.sessions, clock, after_trigger=prepare)
                await monitor.load()
                [stop] = await monitor.on_price(mint, now_price, clock.now_ms())
                assert stop.amount == position
                independent = await client.quote(
                    input_mint=mint, output_mint=P.WSOL_MINT, amount=position, slippage_bps=250
                )
            finally:
                await client.aclose()
        assert jup.stats["quote"] == 2
    await bus.ensure_group("orders", "t")
    [msg] = await bus.consume("orders", "t", "t", block_ms=0)
    notice = orjson.loads(msg.payload)
    assert notice["min_out"] == min_out(independent.out_amount, 250)
    assert notice["min_out"] == independent.min_out(250)  # the bridge's own rounding agrees
    # Priced at the market now, far below the entry-based floor.
    assert notice["min_out"] < now_price.scaled_bps(10_000).scaled_bps(-3000).value_lamports(
        position
    )
    assert notice["price_impact_bps"] >= 0
