"""Borsh writers for the events and instructions the simulator emits, field for field as the
2026-05 IDLs lay them out (``idl/pump_6EF8_official_2026-05.json``,
``idl/pump_amm_pAMMBay_official_2026-05.json``), and the data of the system, token, ATA and
compute-budget instructions that surround them.

Every writer returns the bytes *including* the 8-byte Anchor discriminator; ``emit_cpi`` data is
``EMIT_CPI_TAG + event``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from engine.chain import pda
from engine.chain.programs import (
    PUMP_COMPLETE_AMM_MIGRATION_EVENT,
    PUMP_COMPLETE_EVENT,
    PUMP_CREATE_EVENT,
    PUMP_IX_BUY,
    PUMP_IX_BUY_EXACT_SOL_IN,
    PUMP_IX_CREATE,
    PUMP_IX_CREATE_V2,
    PUMP_IX_MIGRATE,
    PUMP_IX_SELL,
    PUMP_TRADE_EVENT,
    PUMPSWAP_BUY_EVENT,
    PUMPSWAP_CREATE_POOL_EVENT,
    PUMPSWAP_IX_BUY,
    PUMPSWAP_IX_CREATE_POOL,
    PUMPSWAP_IX_SELL,
    PUMPSWAP_SELL_EVENT,
)

_U64: Final = struct.Struct("<Q")
_I64: Final = struct.Struct("<q")
_U32: Final = struct.Struct("<I")


key = pda.key_bytes
"""32 raw bytes of a base58 public key."""


def string(s: str) -> bytes:
    """Borsh string: u32 length then UTF-8 bytes."""
    raw = s.encode()
    return _U32.pack(len(raw)) + raw


def u64(v: int) -> bytes:
    """Borsh u64."""
    return _U64.pack(v)


# --- pump.fun events ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """pump.fun ``TradeEvent`` (2026-05: 32 fields, 371 bytes for a SOL-quoted coin)."""

    mint: str
    sol_amount: int
    token_amount: int
    is_buy: bool
    user: str
    timestamp: int
    virtual_sol_reserves: int
    virtual_token_reserves: int
    real_sol_reserves: int
    real_token_reserves: int
    fee_recipient: str
    fee_basis_points: int
    fee: int
    creator: str
    creator_fee_basis_points: int
    creator_fee: int
    track_volume: bool
    total_unclaimed_tokens: int
    total_claimed_tokens: int
    current_sol_volume: int
    last_update_timestamp: int
    ix_name: str
    mayhem_mode: bool
    cashback_fee_basis_points: int
    cashback: int
    buyback_fee_basis_points: int
    buyback_fee: int
    shareholders: tuple[tuple[str, int], ...]
    quote_mint: str
    quote_amount: int
    virtual_quote_reserves: int
    real_quote_reserves: int


_TRADE_A: Final = struct.Struct("<QQ?")
_TRADE_B: Final = struct.Struct("<qQQQQ")
_TRADE_C: Final = struct.Struct("<QQ")
_TRADE_D: Final = struct.Struct("<?QQQq")
_TRADE_E: Final = struct.Struct("<?QQQQ")
_TRADE_F: Final = struct.Struct("<QQQ")


def trade_event(e: TradeEvent) -> bytes:
    """Serialize a pump.fun TradeEvent."""
    return b"".join(
        (
            PUMP_TRADE_EVENT,
            key(e.mint),
            _TRADE_A.pack(e.sol_amount, e.token_amount, e.is_buy),
            key(e.user),
            _TRADE_B.pack(
                e.timestamp,
                e.virtual_sol_reserves,
                e.virtual_token_reserves,
                e.real_sol_reserves,
                e.real_token_reserves,
            ),
            key(e.fee_recipient),
            _TRADE_C.pack(e.fee_basis_points, e.fee),
            key(e.creator),
            _TRADE_C.pack(e.creator_fee_basis_points, e.creator_fee),
            _TRADE_D.pack(
                e.track_volume,
                e.total_unclaimed_tokens,
                e.total_claimed_tokens,
                e.current_sol_volume,
                e.last_update_timestamp,
            ),
            string(e.ix_name),
            _TRADE_E.pack(
                e.mayhem_mode,
                e.cashback_fee_basis_points,
                e.cashback,
                e.buyback_fee_basis_points,
                e.buyback_fee,
            ),
            _U32.pack(len(e.shareholders)),
            b"".join(key(a) + struct.pack("<H", bps) for a, bps in e.shareholders),
            key(e.quote_mint),
            _TRADE_F.pack(e.quote_amount, e.virtual_quote_reserves, e.real_quote_reserves),
        )
    )


@dataclass(frozen=True, slots=True)
class CreateEvent:
    """pump.fun ``CreateEvent`` as ``create_v2`` emits it (2026-05 layout)."""

    name: str
    symbol: str
    uri: str
    mint: str
    bonding_curve: str
    user: str
    creator: str
    timestamp: int
    virtual_token_reserves: int
    virtual_sol_reserves: int
    real_token_reserves: int
    token_total_supply: int
    token_program: str
    is_mayhem_mode: bool
    is_cashback_enabled: bool
    quote_mint: str
    virtual_quote_reserves: int


def create_event(e: CreateEvent) -> bytes:
    """Serialize a pump.fun CreateEvent."""
    return b"".join(
        (
            PUMP_CREATE_EVENT,
            string(e.name),
            string(e.symbol),
            string(e.uri),
            key(e.mint),
            key(e.bonding_curve),
            key(e.user),
            key(e.creator),
            struct.pack(
                "<qQQQQ",
                e.timestamp,
                e.virtual_token_reserves,
                e.virtual_sol_reserves,
                e.real_token_reserves,
                e.token_total_supply,
            ),
            key(e.token_program),
            struct.pack("<??", e.is_mayhem_mode, e.is_cashback_enabled),
            key(e.quote_mint),
            u64(e.virtual_quote_reserves),
        )
    )


def complete_event(
    *, user: str, mint: str, bonding_curve: str, timestamp: int, quote_mint: str
) -> bytes:
    """Serialize a pump.fun CompleteEvent (the curve sold out)."""
    return (
        PUMP_COMPLETE_EVENT
        + key(user)
        + key(mint)
        + key(bonding_curve)
        + _I64.pack(timestamp)
        + key(quote_mint)
    )


def complete_amm_migration_event(
    *,
    user: str,
    mint: str,
    mint_amount: int,
    sol_amount: int,
    pool_migration_fee: int,
    bonding_curve: str,
    timestamp: int,
    pool: str,
    quote_mint: str,
) -> bytes:
    """Serialize a pump.fun CompletePumpAmmMigrationEvent."""
    return (
        PUMP_COMPLETE_AMM_MIGRATION_EVENT
        + key(user)
        + key(mint)
        + struct.pack("<QQQ", mint_amount, sol_amount, pool_migration_fee)
        + key(bonding_curve)
        + _I64.pack(timestamp)
        + key(pool)
        + key(quote_mint)
    )


# --- PumpSwap events ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SwapFees:
    """The fee split of one PumpSwap trade."""

    lp_fee_basis_points: int
    lp_fee: int
    protocol_fee_basis_points: int
    protocol_fee: int
    coin_creator_fee_basis_points: int
    coin_creator_fee: int


@dataclass(frozen=True, slots=True)
class SwapAccounts:
    """The accounts every PumpSwap Buy/SellEvent names."""

    pool: str
    user: str
    user_base_token_account: str
    user_quote_token_account: str
    protocol_fee_recipient: str
    protocol_fee_recipient_token_account: str
    coin_creator: str


def pumpswap_buy_event(
    *,
    timestamp: int,
    base_amount_out: int,
    max_quote_amount_in: int,
    user_base_token_reserves: int,
    user_quote_token_reserves: int,
    pool_base_token_reserves: int,
    pool_quote_token_reserves: int,
    quote_amount_in: int,
    fees: SwapFees,
    quote_amount_in_with_lp_fee: int,
    user_quote_amount_in: int,
    accounts: SwapAccounts,
    min_base_amount_out: int,
    ix_name: str = "buy",
) -> bytes:
    """Serialize a PumpSwap BuyEvent (2026-05 layout); reserves are taken before the swap."""
    a = accounts
    return b"".join(
        (
            PUMPSWAP_BUY_EVENT,
            struct.pack(
                "<qQQQQQQQQQQQQQ",
                timestamp,
                base_amount_out,
                max_quote_amount_in,
                user_base_token_reserves,
                user_quote_token_reserves,
                pool_base_token_reserves,
                pool_quote_token_reserves,
                quote_amount_in,
                fees.lp_fee_basis_points,
                fees.lp_fee,
                fees.protocol_fee_basis_points,
                fees.protocol_fee,
                quote_amount_in_with_lp_fee,
                user_quote_amount_in,
            ),
            key(a.pool),
            key(a.user),
            key(a.user_base_token_account),
            key(a.user_quote_token_account),
            key(a.protocol_fee_recipient),
            key(a.protocol_fee_recipient_token_account),
            key(a.coin_creator),
            struct.pack(
                "<QQ?QQQqQ",
                fees.coin_creator_fee_basis_points,
                fees.coin_creator_fee,
                False,  # track_volume
                0,
                0,
                0,
                0,
                min_base_amount_out,
            ),
            string(ix_name),
            struct.pack("<QQQQ", 0, 0, 0, 0),  # cashback and buyback: off for these coins
        )
    )


def pumpswap_sell_event(
    *,
    timestamp: int,
    base_amount_in: int,
    min_quote_amount_out: int,
    user_base_token_reserves: int,
    user_quote_token_reserves: int,
    pool_base_token_reserves: int,
    pool_quote_token_reserves: int,
    quote_amount_out: int,
    fees: SwapFees,
    quote_amount_out_without_lp_fee: int,
    user_quote_amount_out: int,
    accounts: SwapAccounts,
) -> bytes:
    """Serialize a PumpSwap SellEvent (2026-05 layout); reserves are taken before the swap."""
    a = accounts
    return b"".join(
        (
            PUMPSWAP_SELL_EVENT,
            struct.pack(
                "<qQQQQQQQQQQQQQ",
                timestamp,
                base_amount_in,
                min_quote_amount_out,
                user_base_token_reserves,
                user_quote_token_reserves,
                pool_base_token_reserves,
                pool_quote_token_reserves,
                quote_amount_out,
                fees.lp_fee_basis_points,
                fees.lp_fee,
                fees.protocol_fee_basis_points,
                fees.protocol_fee,
                quote_amount_out_without_lp_fee,
                user_quote_amount_out,
            ),
            key(a.pool),
            key(a.user),
            key(a.user_base_token_account),
            key(a.user_quote_token_account),
            key(a.protocol_fee_recipient),
            key(a.protocol_fee_recipient_token_account),
            key(a.coin_creator),
            struct.pack(
                "<QQQQQQ",
                fees.coin_creator_fee_basis_points,
                fees.coin_creator_fee,
                0,
                0,
                0,
                0,
            ),
        )
    )


def create_pool_event(
    *,
    timestamp: int,
    index: int,
    creator: str,
    base_mint: str,
    quote_mint: str,
    base_mint_decimals: int,
    quote_mint_decimals: int,
    base_amount_in: int,
    quote_amount_in: int,
    pool_base_amount: int,
    pool_quote_amount: int,
    minimum_liquidity: int,
    initial_liquidity: int,
    lp_token_amount_out: int,
    pool_bump: int,
    pool: str,
    lp_mint: str,
    user_base_token_account: str,
    user_quote_token_account: str,
    coin_creator: str,
    is_mayhem_mode: bool = False,
) -> bytes:
    """Serialize a PumpSwap CreatePoolEvent."""
    return b"".join(
        (
            PUMPSWAP_CREATE_POOL_EVENT,
            struct.pack("<qH", timestamp, index),
            key(creator),
            key(base_mint),
            key(quote_mint),
            struct.pack(
                "<BBQQQQQQQB",
                base_mint_decimals,
                quote_mint_decimals,
                base_amount_in,
                quote_amount_in,
                pool_base_amount,
                pool_quote_amount,
                minimum_liquidity,
                initial_liquidity,
                lp_token_amount_out,
                pool_bump,
            ),
            key(pool),
            key(lp_mint),
            key(user_base_token_account),
            key(user_quote_token_account),
            key(coin_creator),
            bytes([is_mayhem_mode]),
        )
    )


# --- instruction data ---------------------------------------------------------------------


def ix_pump_buy(amount: int, max_sol_cost: int, track_volume: bool = False) -> bytes:
    """pump ``buy(amount, max_sol_cost, track_volume: OptionBool)``."""
    return PUMP_IX_BUY + struct.pack("<QQ?", amount, max_sol_cost, track_volume)


def ix_pump_buy_exact_sol_in(
    spendable_sol_in: int, min_tokens_out: int, track_volume: bool = False
) -> bytes:
    """pump ``buy_exact_sol_in(spendable_sol_in, min_tokens_out, track_volume)``."""
    return PUMP_IX_BUY_EXACT_SOL_IN + struct.pack(
        "<QQ?", spendable_sol_in, min_tokens_out, track_volume
    )


def ix_pump_sell(amount: int, min_sol_output: int) -> bytes:
    """pump ``sell(amount, min_sol_output)``."""
    return PUMP_IX_SELL + struct.pack("<QQ", amount, min_sol_output)


def ix_pump_create_v2(
    name: str, symbol: str, uri: str, creator: str, *, mayhem: bool = False, cashback: bool = False
) -> bytes:
    """pump ``create_v2(name, symbol, uri, creator, is_mayhem_mode, is_cashback_enabled)``."""
    return (
        PUMP_IX_CREATE_V2
        + string(name)
        + string(symbol)
        + string(uri)
        + key(creator)
        + struct.pack("<??", mayhem, cashback)
    )


def ix_pump_create(name: str, symbol: str, uri: str, creator: str) -> bytes:
    """pump ``create(name, symbol, uri, creator)`` (SPL Token + Metaplex metadata)."""
    return PUMP_IX_CREATE + string(name) + string(symbol) + string(uri) + key(creator)


def ix_pump_migrate() -> bytes:
    """pump ``migrate()``."""
    return PUMP_IX_MIGRATE


def ix_pumpswap_buy(
    base_amount_out: int, max_quote_amount_in: int, track_volume: bool = False
) -> bytes:
    """PumpSwap ``buy(base_amount_out, max_quote_amount_in, track_volume)``."""
    return PUMPSWAP_IX_BUY + struct.pack("<QQ?", base_amount_out, max_quote_amount_in, track_volume)


def ix_pumpswap_sell(base_amount_in: int, min_quote_amount_out: int) -> bytes:
    """PumpSwap ``sell(base_amount_in, min_quote_amount_out)``."""
    return PUMPSWAP_IX_SELL + struct.pack("<QQ", base_amount_in, min_quote_amount_out)


def ix_pumpswap_create_pool(
    index: int,
    base_amount_in: int,
    quote_amount_in: int,
    coin_creator: str,
    *,
    cashback: bool = False,
) -> bytes:
    """PumpSwap ``create_pool(index, base_in, quote_in, coin_creator, is_mayhem, is_cashback)``."""
    return (
        PUMPSWAP_IX_CREATE_POOL
        + struct.pack("<HQQ", index, base_amount_in, quote_amount_in)
        + key(coin_creator)
        + struct.pack("<??", False, cashback)
    )


def ix_system_transfer(lamports: int) -> bytes:
    """System ``Transfer`` (u32 index 2, u64 lamports)."""
    return struct.pack("<IQ", 2, lamports)


def ix_system_create_account(lamports: int, space: int, owner: str) -> bytes:
    """System ``CreateAccount`` (index 0)."""
    return struct.pack("<IQQ", 0, lamports, space) + key(owner)


def ix_token_transfer_checked(amount: int, decimals: int) -> bytes:
    """SPL Token ``TransferChecked`` (12)."""
    return struct.pack("<BQB", 12, amount, decimals)


def ix_token_transfer(amount: int) -> bytes:
    """SPL Token ``Transfer`` (3)."""
    return struct.pack("<BQ", 3, amount)


def ix_token_mint_to(amount: int) -> bytes:
    """SPL Token ``MintTo`` (7)."""
    return struct.pack("<BQ", 7, amount)


def ix_token_freeze_account() -> bytes:
    """SPL Token ``FreezeAccount`` (10)."""
    return b"\x0a"


def ix_token_close_account() -> bytes:
    """SPL Token ``CloseAccount`` (9)."""
    return b"\x09"


def ix_token_sync_native() -> bytes:
    """SPL Token ``SyncNative`` (17)."""
    return b"\x11"


def ix_token_initialize_account3(owner: str) -> bytes:
    """SPL Token ``InitializeAccount3`` (18)."""
    return b"\x12" + key(owner)


def ix_token_initialize_immutable_owner() -> bytes:
    """SPL Token ``InitializeImmutableOwner`` (22)."""
    return b"\x16"


def ix_token_get_account_data_size() -> bytes:
    """SPL Token ``GetAccountDataSize`` (21) for an ATA (ImmutableOwner requested)."""
    return b"\x15\x07\x00"


def ix_token_set_authority_revoke_mint() -> bytes:
    """SPL Token ``SetAuthority`` (6) revoking the mint authority (type 0, None)."""
    return b"\x06\x00\x00"


def ix_token_initialize_mint2(
    decimals: int, mint_authority: str, freeze_authority: str | None
) -> bytes:
    """SPL Token ``InitializeMint2`` (20)."""
    tail = b"\x01" + key(freeze_authority) if freeze_authority else b"\x00"
    return bytes([20, decimals]) + key(mint_authority) + tail


def ix_ata_create() -> bytes:
    """Associated Token Account ``Create`` (empty data)."""
    return b""


def ix_ata_create_idempotent() -> bytes:
    """Associated Token Account ``CreateIdempotent`` (1)."""
    return b"\x01"


def ix_compute_unit_limit(units: int) -> bytes:
    """Compute Budget ``SetComputeUnitLimit`` (2)."""
    return struct.pack("<BI", 2, units)


def ix_compute_unit_price(micro_lamports: int) -> bytes:
    """Compute Budget ``SetComputeUnitPrice`` (3)."""
    return struct.pack("<BQ", 3, micro_lamports)


def ix_fee_get_fees() -> bytes:
    """The fee program's ``get_fees`` call as pump makes it (sha256("global:get_fees")[:8])."""
    return _GET_FEES


_GET_FEES: Final = bytes.fromhex("e7257e55cf5b3f34")
