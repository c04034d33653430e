"""Every recorded transaction decodes to the ground truth in the shared fixtures' README.

The README names venues ``pump_bonding_curve`` and ``pumpswap_amm``; our contract calls them
``pumpfun`` and ``pumpswap``. Reserves: pump.fun trades carry the curve's virtual reserves after
the trade; AMM swaps the pool's reserves before it (the README lists PumpSwap's as base/quote,
i.e. token/SOL; we check them as SOL and token).
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.chain.decode import DecodeError, DecodeStats, decode_document, decode_transaction
from engine.events import ChainEvent

from .conftest import fixture_path, load_fixture

PUMP = "pump_bonding_curve"

# fixture, kind, side, venue, mint, trader, sol, token, (virtual sol, virtual token)
GROUND_TRUTH: list[tuple[Any, ...]] = [
    (
        "pumpfun/pump_buy__enc-json.json",
        "trade",
        "buy",
        "pumpfun",
        "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump",
        "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh",
        1000000000,
        34612901212710,
        (31000000888, 1038387067117582),
    ),
    (
        "pumpfun/pump_buy_then_sell_same_tx__enc-jsonParsed.json",
        "trade",
        "buy",
        "pumpfun",
        "HfJVjBdkhAD2ynVM8PdTSii4ECZdsxNTCx5wpEqUpump",
        "2vr538qDgHCPYmr2mjt5LSjQ3kBYjtw3SDSveUKBVkef",
        24080282,
        605426095720,
        (35793720152, 899319782120301),
    ),
    (
        "pumpfun/pump_buy_then_sell_same_tx__enc-jsonParsed.json",
        "trade",
        "sell",
        "pumpfun",
        "HfJVjBdkhAD2ynVM8PdTSii4ECZdsxNTCx5wpEqUpump",
        "2vr538qDgHCPYmr2mjt5LSjQ3kBYjtw3SDSveUKBVkef",
        24080281,
        605426095720,
        (35769639871, 899925208216021),
    ),
    (
        "pumpfun/pump_create_and_dev_buy__enc-json.json",
        "create",
        None,
        "pumpfun",
        "5dNYcCZXEGfGgbdUdq7MMR7KLsNJLLLgL83wLH8Fpump",
        "6xo262KbDXepWbF3vPTrFXysr5vJwk3mozBXmXk3hmMx",
        None,
        None,
        None,
    ),
    (
        "pumpfun/pump_create_and_dev_buy__enc-json.json",
        "trade",
        "buy",
        "pumpfun",
        "5dNYcCZXEGfGgbdUdq7MMR7KLsNJLLLgL83wLH8Fpump",
        "6xo262KbDXepWbF3vPTrFXysr5vJwk3mozBXmXk3hmMx",
        1000000000,
        34612903225806,
        (31000000000, 1038387096774194),
    ),
    (
        "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json",
        "create",
        None,
        "pumpfun",
        "CWiTGbCiDd8BKtNYNE2boT9fJGFG2MU53Uf6HQk4pump",
        "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM",
        None,
        None,
        None,
    ),
    (
        "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json",
        "trade",
        "buy",
        "pumpfun",
        "CWiTGbCiDd8BKtNYNE2boT9fJGFG2MU53Uf6HQk4pump",
        "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM",
        2962962962,
        96449438144093,
        (32962962962, 976550561855907),
    ),
    (
        "pumpfun/pump_sell__enc-json.json",
        "trade",
        "sell",
        "pumpfun",
        "CnNVDyM7GXBBcH8giuRYm17YCn6kpFTTbnd6Tx4hpump",
        "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh",
        37437283903,
        592443959000000,
        (30112848041, 1068978927601996),
    ),
    (
        "pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json",
        "swap",
        "buy",
        "pumpswap",
        "8k1DvnFBsbuWJw2t4JqTibR7cAgqadMveqiykMr1pump",
        "G2341KGbNxuSAfCfqNuPhfLQtPB94hPfgyVPC89Faor4",
        3608391,
        4374143343,
        (122031730722, 147932989042582),
    ),
    (
        "raydium_v4/raydium_v4_buy_token_with_sol__enc-json.json",
        "swap",
        "buy",
        "raydium_amm_v4",
        "E8yBUD4AGdxK7MbQEf85oaAvVBuSoRsGCvX2sMxSpump",
        "ECvj86nDupkVh1cDgxrJw3zJkw3ahcDiVB3pPTbpskjD",
        100000000,
        43045438075,
        (212568283055, 91773319775102),
    ),
    (
        "jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json",
        "swap",
        "buy",
        "raydium_amm_v4",
        "3p7eCgdQx1RiJUfr4t7Z8w6DpVbP7CMa9Z6Ff69tpump",
        "3huskHPRJXT5pL6RW57HaA8pXRFojx6gfNVGL9cJ2vtB",
        400000000,
        3861519639304,
        (57916123652, 564373421680837),
    ),
]

# How many events each recorded transaction holds, in total.
EVENT_COUNTS = {
    "pumpfun/pump_buy__enc-json.json": 1,
    "pumpfun/pump_buy_then_sell_same_tx__enc-jsonParsed.json": 2,
    "pumpfun/pump_create_and_dev_buy__enc-json.json": 2,
    "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json": 2,
    "pumpfun/pump_sell__enc-json.json": 1,
    "pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json": 1,
    "raydium_v4/raydium_v4_buy_token_with_sol__enc-json.json": 1,
    "jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json": 1,
}


def _decode(rel: str) -> list[ChainEvent]:
    return decode_transaction(load_fixture(rel))


@pytest.mark.parametrize("row", GROUND_TRUTH, ids=lambda r: f"{r[0].split('/')[1]}:{r[1]}:{r[2]}")
def test_ground_truth(row: tuple[Any, ...]) -> None:
    rel, kind, side, venue, mint, trader, sol, token, reserves = row
    matches = [e for e in _decode(rel) if e.kind == kind and e.side == side]
    assert len(matches) == 1, matches
    event = matches[0]
    assert event.venue == venue
    assert event.mint == mint
    assert event.trader == trader
    assert event.sol_lamports == sol
    assert event.token_amount == token
    if reserves is None:
        assert event.virtual_sol_reserves is None and event.virtual_token_reserves is None
    else:
        assert (event.virtual_sol_reserves, event.virtual_token_reserves) == reserves


@pytest.mark.parametrize("rel", sorted(EVENT_COUNTS))
def test_each_event_once_and_well_formed(rel: str) -> None:
    doc = load_fixture(rel)
    events = decode_transaction(doc)
    assert len(events) == EVENT_COUNTS[rel]
    keys = [e.key for e in events]
    assert len(set(keys)) == len(keys)
    assert [e.index for e in events] == sorted(e.index for e in events)
    result = doc[0] if isinstance(doc, list) else doc.get("result", doc)
    for event in events:
        assert event.signature == result["transaction"]["signatures"][0]
        assert event.slot == result["slot"]
        assert event.ts == result["blockTime"] * 1000
        assert ChainEvent.from_json(event.to_json()) == event


def test_creates_carry_metadata_and_come_before_the_dev_buy() -> None:
    events = _decode("pumpfun/pump_create_and_dev_buy__enc-json.json")
    assert [e.kind for e in events] == ["create", "trade"]
    create = events[0]
    assert (create.name, create.symbol) == ("MOO DOG", "MOODOG")
    assert create.uri == "https://ipfs.io/ipfs/QmbeFeWTrm1u1ev5VreMoqNK4aVuxtBXKpMdTrjdnHj7P3"
    assert create.creator == create.trader == "6xo262KbDXepWbF3vPTrFXysr5vJwk3mozBXmXk3hmMx"
    assert create.token_program == "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"

    v2 = _decode("pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json")
    assert [e.kind for e in v2] == ["create", "trade"]
    assert (v2[0].name, v2[0].symbol) == ("The Ass Statue", "TAS")
    assert v2[0].creator == "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM"
    assert v2[0].token_program == "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
    assert v2[1].quote_mint is None  # SOL-quoted coin: no quote fields


def test_pumpswap_router_trade_is_the_wallets() -> None:
    (event,) = _decode("pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json")
    assert event.trader == "G2341KGbNxuSAfCfqNuPhfLQtPB94hPfgyVPC89Faor4"
    assert event.trader != "HV1KXxWFaSeriyFvXyx48FqG9BoFbfinB8njCJonqP7K"
    assert event.pool == "9S3zAF8zVffQvD6EfqaVAdRbnYjVW51kVQDH2vHjk4vq"


def test_clmm_negative_control_is_not_amm_v4() -> None:
    events = _decode("raydium_v4/raydium_clmm_swap_not_v4__enc-json.json")
    assert not [e for e in events if e.venue == "raydium_amm_v4"]
    # The swap still surfaces, from the wallet's balances, without claiming a venue.
    (event,) = events
    assert (event.venue, event.kind, event.side) == ("unknown", "swap", "buy")
    assert event.mint == "7eR1yv7pUzhaqQneKJ2fmVTRuzY61ja5KwfbBrLsq1Gu"
    assert event.trader == "98QXkwe6DThTsTq7tukKF4g9Wc6WnRbZyTBZ1iBupY39"
    assert (event.sol_lamports, event.token_amount) == (300000000, 807769528641)


def test_malformed_fixture_is_a_clear_error() -> None:
    doc = load_fixture("malformed/not_a_transaction_string.json")
    with pytest.raises(DecodeError, match=r"not a transaction.*JSON string"):
        decode_transaction(doc)
    with pytest.raises(DecodeError, match="not a transaction"):
        decode_document(doc, receipt_ts_ms=0)


def test_stats_count_transactions_and_events() -> None:
    stats = DecodeStats()
    for rel in EVENT_COUNTS:
        decode_transaction(load_fixture(rel), stats=stats)
    assert stats.transactions == len(EVENT_COUNTS)
    assert stats.events == sum(EVENT_COUNTS.values())
    assert stats.decode_errors == 0


def test_fixture_folder_is_where_the_readme_says() -> None:
    assert fixture_path("pumpfun/pump_buy__enc-json.json").name == "pump_buy__enc-json.json"
