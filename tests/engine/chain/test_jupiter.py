"""Jupiter routes: direct hops stand, other routes become one net event."""

from __future__ import annotations

import struct

import base58

from engine.chain import programs as P
from engine.chain.decode import decode_transaction

from .conftest import Ix, build_tx, data_line, key, load_fixture

JUP = P.JUPITER_V6_PROGRAM
WSOL, USDC = P.WSOL_MINT, P.USDC_MINT
WHIRLPOOL = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"
METEORA = "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo"
USER, TOKEN = key(1), key(2)
ROUTE = bytes.fromhex("e517cb977ae3ad2a")


def _hop(amm: str, in_mint: str, in_amount: int, out_mint: str, out_amount: int) -> Ix:
    data = P.EMIT_CPI_TAG + P.JUPITER_SWAP_EVENT
    data += base58.b58decode(amm) + base58.b58decode(in_mint) + struct.pack("<Q", in_amount)
    data += base58.b58decode(out_mint) + struct.pack("<Q", out_amount)
    return Ix(JUP, [key(9)], data)


def _route(
    hops: list[Ix],
    extra_inner: list[tuple[Ix, int]] | None = None,
    logs_inner: list[str] | None = None,
) -> dict:
    inner = [*(extra_inner or []), *((h, 2) for h in hops)]
    return build_tx(
        signers=[USER],
        instructions=[
            Ix(JUP, [P.TOKEN_PROGRAM, USER, key(5), key(6)], ROUTE + b"\x00" * 8, inner=inner)
        ],
        logs=[
            f"Program {JUP} invoke [1]",
            "Program log: Instruction: Route",
            *(logs_inner or []),
            *[
                line
                for _ in hops
                for line in (f"Program {JUP} invoke [2]", f"Program {JUP} success")
            ],
            f"Program {JUP} success",
        ],
    )


def test_fixture_single_raydium_hop_stays_a_raydium_event() -> None:
    events = decode_transaction(
        load_fixture("jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json")
    )
    assert [e.venue for e in events] == ["raydium_amm_v4"]


def test_two_unknown_hops_become_one_net_event() -> None:
    tx = _route(
        [_hop(WHIRLPOOL, WSOL, 1_000_000, USDC, 150), _hop(METEORA, USDC, 150, TOKEN, 5000)]
    )
    (event,) = decode_transaction(tx)
    assert (event.venue, event.kind, event.side, event.mint) == ("jupiter", "swap", "buy", TOKEN)
    assert (event.sol_lamports, event.token_amount, event.trader) == (1_000_000, 5000, USER)
    assert event.quote_mint is None


def test_split_route_sums_per_mint() -> None:
    tx = _route([_hop(WHIRLPOOL, TOKEN, 3000, WSOL, 600), _hop(METEORA, TOKEN, 2000, WSOL, 400)])
    (event,) = decode_transaction(tx)
    assert (event.side, event.mint, event.sol_lamports, event.token_amount) == (
        "sell",
        TOKEN,
        1000,
        5000,
    )


def test_decoded_hop_through_an_intermediate_mint_is_replaced_by_the_net() -> None:
    # USDC -> SOL on an unknown AMM, then SOL -> TOKEN on pump.fun: the pump leg alone would say
    # "bought with SOL"; the wallet paid USDC. One event, quoted in USDC.
    pump_trade = P.PUMP_TRADE_EVENT + struct.pack(
        "<32sQQ?32sqQQQQ",
        base58.b58decode(TOKEN),
        900,
        5000,
        True,
        base58.b58decode(USER),
        0,
        1,
        2,
        0,
        0,
    )
    pump_ix = Ix(P.PUMP_PROGRAM, [key(11)], P.PUMP_IX_BUY + b"\x00" * 16)
    tx = _route(
        [_hop(WHIRLPOOL, USDC, 150, WSOL, 900), _hop(P.PUMP_PROGRAM, WSOL, 900, TOKEN, 5000)],
        extra_inner=[(pump_ix, 2)],
        logs_inner=[
            f"Program {P.PUMP_PROGRAM} invoke [2]",
            data_line(pump_trade),
            f"Program {P.PUMP_PROGRAM} success",
        ],
    )
    (event,) = decode_transaction(tx)
    assert (event.venue, event.side, event.mint) == ("jupiter", "buy", TOKEN)
    assert (event.quote_mint, event.quote_amount, event.sol_lamports) == (USDC, 150, 0)
    assert event.token_amount == 5000


def test_direct_decoded_hop_is_kept() -> None:
    pump_trade = P.PUMP_TRADE_EVENT + struct.pack(
        "<32sQQ?32sqQQQQ",
        base58.b58decode(TOKEN),
        900,
        5000,
        True,
        base58.b58decode(USER),
        0,
        1,
        2,
        0,
        0,
    )
    pump_ix = Ix(P.PUMP_PROGRAM, [key(11)], P.PUMP_IX_BUY + b"\x00" * 16)
    tx = _route(
        [_hop(P.PUMP_PROGRAM, WSOL, 900, TOKEN, 5000)],
        extra_inner=[(pump_ix, 2)],
        logs_inner=[
            f"Program {P.PUMP_PROGRAM} invoke [2]",
            data_line(pump_trade),
            f"Program {P.PUMP_PROGRAM} success",
        ],
    )
    (event,) = decode_transaction(tx)
    assert (event.venue, event.kind, event.virtual_sol_reserves) == ("pumpfun", "trade", 1)
