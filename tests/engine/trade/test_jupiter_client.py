"""The Jupiter client against the local Jupiter-compatible server: typed answers, the API key,
and a typed error for every way the service can fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from engine.chain import programs as P
from engine.sim.jupiter import LocalJupiter
from engine.trade.jupiter import (
    JupiterClient,
    JupiterMalformed,
    JupiterRejected,
    JupiterTimeout,
    JupiterUnavailable,
    parse_quote,
    parse_swap,
)
from tests.engine.sim.support import running_sim


@pytest.fixture
async def setup() -> AsyncIterator[tuple[Any, LocalJupiter, JupiterClient, str]]:
    async with running_sim() as sim:
        await sim.emit(50)
        mint = next(m for m, c in sim.chain.curves.items() if not c.complete)
        async with LocalJupiter(sim, api_key="secret-key") as jup:
            client = JupiterClient(jup.url, api_key="secret-key", timeout_s=0.5)
            try:
                yield sim, jup, client, mint
            finally:
                await client.aclose()


async def test_quote_then_swap(setup: Any) -> None:
    sim, _, client, mint = setup
    quote = await client.quote(
        input_mint=P.WSOL_MINT, output_mint=mint, amount=250_000_000, slippage_bps=300
    )
    assert quote.in_amount == 250_000_000 and quote.out_amount > 0
    assert quote.min_out() == quote.other_amount_threshold == quote.out_amount * 97 // 100
    # A slippage of 100 % or more would make any output acceptable: refused, not floored at 0.
    for bad in (10_000, -1):
        with pytest.raises(ValueError, match="slippage_bps"):
            quote.min_out(bad)
    assert quote.route[0].amm_key == sim.chain.curves[mint].address
    assert 0 < quote.price_impact_pct < 100 and quote.context_slot == sim.current_slot
    wallet = str(Keypair().pubkey())
    swap = await client.swap(
        quote=quote, user_public_key=wallet, priority_fee_lamports=50_000,
        dynamic_compute_unit_limit=False,
    )  # fmt: skip
    tx = VersionedTransaction.from_bytes(swap.transaction)
    assert str(tx.message.account_keys[0]) == wallet
    assert swap.compute_unit_limit == 1_400_000  # Jupiter's default without the dynamic limit
    assert 0 < swap.prioritization_fee_lamports <= 50_000
    assert swap.last_valid_block_height > 0


async def test_every_failure_is_typed(setup: Any) -> None:
    _, jup, client, mint = setup
    args = {"input_mint": P.WSOL_MINT, "output_mint": mint, "amount": 1_000_000, "slippage_bps": 50}
    jup.delay_s = 2.0
    with pytest.raises(JupiterTimeout, match="timed out"):
        await client.quote(**args)
    jup.delay_s = 0.0
    jup.fail_next(503)
    with pytest.raises(JupiterUnavailable, match="503"):
        await client.quote(**args)
    jup.fail_next(429)
    with pytest.raises(JupiterUnavailable):
        await client.quote(**args)
    for kind, field in (
        ("not_json", "not JSON"),
        ("no_field", "swapMode"),
        ("bad_amount", "inAmount"),
    ):
        jup.malformed_next(kind)
        with pytest.raises(JupiterMalformed, match=field):
            await client.quote(**args)
    with pytest.raises(JupiterRejected) as err:
        await client.quote(**{**args, "output_mint": str(Keypair().pubkey())})
    assert err.value.error_code == "TOKEN_NOT_TRADABLE" and err.value.http_status == 400
    no_key = JupiterClient(jup.url, timeout_s=0.5)
    try:
        with pytest.raises(JupiterRejected) as err:
            await no_key.quote(**args)
        assert err.value.http_status == 401
    finally:
        await no_key.aclose()
    down = JupiterClient("http://127.0.0.1:9/swap/v1", timeout_s=0.5)
    try:
        with pytest.raises(JupiterUnavailable, match="unreachable"):
            await down.quote(**args)
    finally:
        await down.aclose()
    with pytest.raises(ValueError):
        await client.quote(**{**args, "amount": 0})


def test_parsers_name_the_bad_field() -> None:
    good = {
        "inputMint": P.WSOL_MINT,
        "inAmount": "100",
        "outputMint": "M",
        "outAmount": "90",
        "otherAmountThreshold": "89",
        "swapMode": "ExactIn",
        "slippageBps": 100,
        "priceImpactPct": "0.0125",
        "routePlan": [
            {
                "swapInfo": {
                    "ammKey": "A",
                    "inputMint": "x",
                    "outputMint": "y",
                    "inAmount": "1",
                    "outAmount": "2",
                }
            }
        ],
    }
    q = parse_quote(good)
    assert q.price_impact_pct == pytest.approx(1.25) and q.route[0].label == "?"
    assert q.raw is good
    bad_cases = {
        "swapMode": {**good, "swapMode": "Sideways"},
        "outAmount": {**good, "outAmount": "-1"},
        "slippageBps": {**good, "slippageBps": "100"},
        "priceImpactPct": {**good, "priceImpactPct": "NaN"},
        "routePlan": {**good, "routePlan": "x"},
        "ammKey": {**good, "routePlan": [{"swapInfo": {}}]},
    }
    for field, body in bad_cases.items():
        with pytest.raises(JupiterMalformed, match=field):
            parse_quote(body)
    with pytest.raises(JupiterMalformed, match="not a JSON object"):
        parse_quote([1])
    with pytest.raises(JupiterMalformed, match="base64"):
        parse_swap({"swapTransaction": "%%%", "lastValidBlockHeight": 1})
    with pytest.raises(JupiterMalformed, match="lastValidBlockHeight"):
        parse_swap({"swapTransaction": "AAAA"})
    s = parse_swap(
        {"swapTransaction": "AAAA", "lastValidBlockHeight": 7, "prioritizationFeeLamports": "x"}
    )
    assert s.prioritization_fee_lamports == 0 and s.base64 == "AAAA"
