"""The simulator's encoders reproduce mainnet bytes: events re-encoded from the values of recorded
transactions must equal the recorded payloads byte for byte, and the curve math must reproduce
the recorded amounts."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
from solders.pubkey import Pubkey

from engine.chain import programs as P
from engine.sim import encode as enc
from engine.sim import keys as K
from engine.sim.curve import curve_buy_exact_sol_in, fee, pool_buy_base_out
from tests.conftest import fixtures_dir

CREATE_V2 = ("solana", "pumpfun", "pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json")
PUMPSWAP_BUY = ("solana", "pumpswap", "pumpswap_buy_via_router_6m2C__enc-json.json")


class Reader:
    """Just enough borsh to pull the recorded values back out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 8

    def take(self, fmt: str) -> Any:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value

    def key(self) -> str:
        value = str(Pubkey.from_bytes(self.data[self.pos : self.pos + 32]))
        self.pos += 32
        return value

    def string(self) -> str:
        n = self.take("I")
        value = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return value


def _payloads(*parts: str) -> dict[bytes, bytes]:
    doc = json.loads(fixtures_dir(*parts).read_text())
    result = doc.get("result", doc)
    out = {}
    for line in result["meta"]["logMessages"]:
        if line.startswith("Program data: "):
            raw = base64.b64decode(line.removeprefix("Program data: "))
            out[raw[:8]] = raw
    return out


def test_trade_event_matches_a_2026_mainnet_payload_byte_for_byte() -> None:
    raw = _payloads(*CREATE_V2)[P.PUMP_TRADE_EVENT]
    r = Reader(raw)
    event = enc.TradeEvent(
        mint=r.key(),
        sol_amount=r.take("Q"),
        token_amount=r.take("Q"),
        is_buy=r.take("?"),
        user=r.key(),
        timestamp=r.take("q"),
        virtual_sol_reserves=r.take("Q"),
        virtual_token_reserves=r.take("Q"),
        real_sol_reserves=r.take("Q"),
        real_token_reserves=r.take("Q"),
        fee_recipient=r.key(),
        fee_basis_points=r.take("Q"),
        fee=r.take("Q"),
        creator=r.key(),
        creator_fee_basis_points=r.take("Q"),
        creator_fee=r.take("Q"),
        track_volume=r.take("?"),
        total_unclaimed_tokens=r.take("Q"),
        total_claimed_tokens=r.take("Q"),
        current_sol_volume=r.take("Q"),
        last_update_timestamp=r.take("q"),
        ix_name=r.string(),
        mayhem_mode=r.take("?"),
        cashback_fee_basis_points=r.take("Q"),
        cashback=r.take("Q"),
        buyback_fee_basis_points=r.take("Q"),
        buyback_fee=r.take("Q"),
        shareholders=tuple((r.key(), r.take("H")) for _ in range(r.take("I"))),
        quote_mint=r.key(),
        quote_amount=r.take("Q"),
        virtual_quote_reserves=r.take("Q"),
        real_quote_reserves=r.take("Q"),
    )
    assert r.pos == len(raw) == 371
    assert enc.trade_event(event) == raw


def test_create_event_matches_a_2026_mainnet_payload_byte_for_byte() -> None:
    raw = _payloads(*CREATE_V2)[P.PUMP_CREATE_EVENT]
    r = Reader(raw)
    event = enc.CreateEvent(
        name=r.string(),
        symbol=r.string(),
        uri=r.string(),
        mint=r.key(),
        bonding_curve=r.key(),
        user=r.key(),
        creator=r.key(),
        timestamp=r.take("q"),
        virtual_token_reserves=r.take("Q"),
        virtual_sol_reserves=r.take("Q"),
        real_token_reserves=r.take("Q"),
        token_total_supply=r.take("Q"),
        token_program=r.key(),
        is_mayhem_mode=r.take("?"),
        is_cashback_enabled=r.take("?"),
        quote_mint=r.key(),
        virtual_quote_reserves=r.take("Q"),
    )
    assert r.pos == len(raw)
    assert enc.create_event(event) == raw


def test_pumpswap_buy_event_extends_the_recorded_2025_payload() -> None:
    raw = _payloads(*PUMPSWAP_BUY)[P.PUMPSWAP_BUY_EVENT]
    r = Reader(raw)
    head = [r.take("q")] + [r.take("Q") for _ in range(13)]
    accounts = enc.SwapAccounts(*(r.key() for _ in range(7)))
    creator_bps, creator_fee = r.take("Q"), r.take("Q")
    ours = enc.pumpswap_buy_event(
        timestamp=head[0],
        base_amount_out=head[1],
        max_quote_amount_in=head[2],
        user_base_token_reserves=head[3],
        user_quote_token_reserves=head[4],
        pool_base_token_reserves=head[5],
        pool_quote_token_reserves=head[6],
        quote_amount_in=head[7],
        fees=enc.SwapFees(head[8], head[9], head[10], head[11], creator_bps, creator_fee),
        quote_amount_in_with_lp_fee=head[12],
        user_quote_amount_in=head[13],
        accounts=accounts,
        min_base_amount_out=head[1],
    )
    # The 2026-05 layout appends cashback and buyback fields to what was on chain in 2025.
    assert ours[: len(raw)] == raw
    assert len(ours) == len(raw) + 32


def test_curve_math_reproduces_recorded_trades() -> None:
    # 2026 create_v2 + buy_exact_sol_in(3 SOL) on a cashback coin: 95 bps protocol, 30 cashback.
    q = curve_buy_exact_sol_in(
        P.PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
        P.PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
        P.PUMP_INITIAL_REAL_TOKEN_RESERVES,
        3_000_000_000,
        95,
        30,
    )
    assert (q.sol, q.tokens) == (2_962_962_962, 96_449_438_144_093)
    assert fee(q.sol, 95) == 28_148_149 and fee(q.sol, 30) == 8_888_889
    # The PumpSwap buy recorded in pumpswap_buy_via_router_6m2C (lp 20, protocol 5, creator 95).
    pq = pool_buy_base_out(147_932_989_042_582, 122_031_730_722, 4_374_143_343, 20, 5, 95)
    assert (pq.quote, pq.lp_fee, pq.protocol_fee, pq.creator_fee) == (3_608_391, 7217, 1805, 34280)
    assert pq.user_quote == 3_651_693


@pytest.mark.parametrize(
    ("constant", "seeds", "program"),
    [
        (P.PUMP_GLOBAL, (b"global",), P.PUMP_PROGRAM),
        (P.PUMP_EVENT_AUTHORITY, (b"__event_authority",), P.PUMP_PROGRAM),
        (P.PUMP_MINT_AUTHORITY, (b"mint-authority",), P.PUMP_PROGRAM),
        (P.PUMP_GLOBAL_VOLUME_ACCUMULATOR, (b"global_volume_accumulator",), P.PUMP_PROGRAM),
        (P.PUMPSWAP_EVENT_AUTHORITY, (b"__event_authority",), P.PUMPSWAP_PROGRAM),
        (P.PUMPSWAP_GLOBAL_CONFIG, (b"global_config",), P.PUMPSWAP_PROGRAM),
        (
            P.PUMP_FEE_CONFIG,
            (b"fee_config", bytes(Pubkey.from_string(P.PUMP_PROGRAM))),
            P.PUMP_FEE_PROGRAM,
        ),
    ],
)
def test_well_known_pdas_derive_from_their_seeds(
    constant: str, seeds: tuple[bytes, ...], program: str
) -> None:
    assert K.pda(seeds, program)[0] == constant


def test_pdas_match_recorded_mainnet_accounts() -> None:
    # Bonding curve, its vault, and the canonical PumpSwap pool of a migrated coin.
    mint = "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump"
    curve = K.bonding_curve(mint)
    assert curve == "6g4dVVZFSX4zti3E66qWhaAC8FKR1kFzdTFsnijgV7jC"
    assert K.ata(curve, mint, P.TOKEN_PROGRAM) == "9wNVwU95UHYoghDPBofnPPyCiJ1fcaXvV74wQeZXxVMq"
    migrated = "8k1DvnFBsbuWJw2t4JqTibR7cAgqadMveqiykMr1pump"
    pool, _ = K.pumpswap_pool(0, K.pool_authority(migrated), migrated)
    assert pool == "9S3zAF8zVffQvD6EfqaVAdRbnYjVW51kVQDH2vHjk4vq"


def test_vanity_mints_end_in_pump_and_are_on_curve() -> None:
    stream = K.KeyStream(1, "mints")
    mints = [stream.vanity_mint() for _ in range(20)]
    assert all(m.endswith("pump") and Pubkey.from_string(m).is_on_curve() for m in mints)
    again = K.KeyStream(1, "mints")
    assert mints == [again.vanity_mint() for _ in range(20)]
