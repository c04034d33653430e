"""Balance-delta fallback for swaps no venue decodes."""

from __future__ import annotations

from engine.chain import programs as P
from engine.chain.decode import decode_transaction

from .conftest import Ix, build_tx, deep, key, load_fixture, result_of

JUP_FIXTURE = "jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json"


def test_jupiter_route_without_events_falls_back_to_balances() -> None:
    doc = deep(load_fixture(JUP_FIXTURE))
    meta = result_of(doc)["meta"]
    meta["logMessages"] = [ln for ln in meta["logMessages"] if "ray_log" not in ln]
    for group in meta["innerInstructions"]:  # drop Jupiter's SwapEvent (emit_cpi)
        group["instructions"] = [
            ix
            for ix in group["instructions"]
            if not (ix["programIdIndex"] == 5 and ix["accounts"] == [9])
        ]
    (event,) = decode_transaction(doc)
    assert (event.venue, event.kind, event.side) == ("jupiter", "swap", "buy")
    assert event.mint == "3p7eCgdQx1RiJUfr4t7Z8w6DpVbP7CMa9Z6Ff69tpump"
    assert event.trader == "3huskHPRJXT5pL6RW57HaA8pXRFojx6gfNVGL9cJ2vtB"
    # Fee added back, rent of the new token account added back, wrapped SOL netted out.
    assert (event.sol_lamports, event.token_amount) == (400000000, 3861519639304)


def test_sell_from_balances() -> None:
    wallet, ata, token, dex = key(1), key(2), key(3), key(4)
    tx = build_tx(
        signers=[wallet],
        instructions=[Ix(dex, [wallet, ata])],
        logs=[f"Program {dex} invoke [1]", f"Program {dex} success"],
        balances={wallet: (1_000_000_000, 1_249_995_000)},
        token_balances=[(ata, token, wallet, 700, 200)],
        fee=5000,
    )
    (event,) = decode_transaction(tx)
    assert (event.venue, event.side, event.mint) == ("unknown", "sell", token)
    assert (event.sol_lamports, event.token_amount) == (250_000_000, 500)


def test_plumbing_only_transactions_are_not_swaps() -> None:
    wallet, ata, token = key(1), key(2), key(3)
    tx = build_tx(
        signers=[wallet],
        instructions=[Ix(P.TOKEN_PROGRAM, [ata, wallet]), Ix(P.SYSTEM_PROGRAM, [wallet, key(5)])],
        logs=[
            f"Program {P.TOKEN_PROGRAM} invoke [1]",
            f"Program {P.TOKEN_PROGRAM} success",
            f"Program {P.SYSTEM_PROGRAM} invoke [1]",
            f"Program {P.SYSTEM_PROGRAM} success",
        ],
        balances={wallet: (1_000_000_000, 900_000_000)},
        token_balances=[(ata, token, wallet, 0, 500)],
    )
    assert decode_transaction(tx) == []


def test_tokens_without_sol_moving_the_other_way_are_not_swaps() -> None:
    wallet, ata, token, program = key(1), key(2), key(3), key(4)
    tx = build_tx(
        signers=[wallet],
        instructions=[Ix(program, [wallet, ata])],
        logs=[f"Program {program} invoke [1]", f"Program {program} success"],
        balances={wallet: (1_000_000_000, 1_000_000_000 - 5000)},  # only the fee
        token_balances=[(ata, token, wallet, 0, 500)],  # an airdrop claim, not a buy
    )
    assert decode_transaction(tx) == []
