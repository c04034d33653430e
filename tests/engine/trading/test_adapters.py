"""The port implementations over our own pieces, and the prefs' safe fallback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from engine.chain import programs as P
from engine.signals.windows import Windows
from engine.sim.jupiter import LocalJupiter
from engine.trade.jupiter import JupiterClient
from engine.trading.adapters import JupiterQuoter, MiniAppLinks, WindowPrices
from engine.trading.errors import QuoteUnavailable
from engine.trading.ports import ExitRequest
from engine.trading.prefs import TradingPrefs, prefs_from_settings
from engine.trading.price import event_price
from tests.engine.sim.support import running_sim
from tests.engine.trading.conftest import MINT, Market


async def test_window_prices_are_the_scorers_last_price() -> None:
    windows = Windows()
    market = Market()
    prices = WindowPrices(windows)
    assert await prices.price(MINT) is None
    market.set_bps(12_345)
    ev = market.event(1_000)
    windows.add(ev)
    assert await prices.price(MINT) == event_price(ev) == market.price


async def test_mini_app_links_carry_the_exit_and_its_idempotency_key() -> None:
    request = ExitRequest(
        user_id=1,
        order_id=42,
        mint=MINT,
        side="sell",
        amount_in=123,
        quoted_out=10,
        min_out=9,
        slippage_bps=100,
        price_impact_bps=5,
        attempt=3,
        expires_ts=99,
        idempotency_key="exit:42:3",
        reason="stop-loss",
    )
    prepared = await MiniAppLinks("https://solai.test/").prepare(request)
    url = urlsplit(prepared.link)
    assert (url.netloc, url.path) == ("solai.test", "/app/trade")
    assert parse_qs(url.query) == {
        "side": ["sell"],
        "mint": [MINT],
        "amount": ["123"],
        "exit": ["42"],
        "key": ["exit:42:3"],
    }
    assert prepared.expires_ts == 99 and prepared == await MiniAppLinks(
        "https://solai.test"
    ).prepare(request)


async def test_jupiter_failures_become_quote_unavailable() -> None:
    async with running_sim() as sim:
        await sim.emit(20)
        mint = next(m for m, c in sim.chain.curves.items() if not c.complete)
        async with LocalJupiter(sim) as jup:
            client = JupiterClient(jup.url)
            try:
                quoter = JupiterQuoter(client)
                bought = await quoter.quote(mint, "buy", 10_000_000)
                assert bought.out_amount > 0 and bought.price_impact_bps >= 0
                jup.fail_next(503)
                with pytest.raises(QuoteUnavailable, match="unavailable"):
                    await quoter.quote(mint, "sell", 1_000_000)
                with pytest.raises(QuoteUnavailable):
                    await quoter.quote(P.WSOL_MINT, "sell", 1_000_000)  # no route
            finally:
                await client.aclose()


def test_invalid_stored_prefs_fall_back_field_by_field() -> None:
    prefs = prefs_from_settings(
        {"trading": {"slippage_bps": 99_999, "exit_link_ttl_s": 30, "policy": {"blocklist": 3}}}
    )
    assert prefs.slippage_bps == TradingPrefs().slippage_bps
    assert prefs.exit_link_ttl_s == 30
    assert prefs.policy == TradingPrefs().policy
    assert prefs_from_settings(None) == TradingPrefs()
    assert TradingPrefs().policy.confirm_above_lamports == 0  # every auto buy asks by default
    assert TradingPrefs().server_signer is False
