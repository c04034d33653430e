"""Program ids, Anchor discriminators and well-known accounts, from the programs' published IDLs.

Sources: pump-fun/pump-public-docs ``idl/pump.json`` and ``idl/pump_amm.json`` (2026-05),
raydium-io/raydium-amm ``program/src/log.rs``, Jupiter v6 IDL. Discriminators are the first
8 bytes of sha256("event:<Name>") / sha256("global:<ix_name>"), as Anchor derives them.
"""

from __future__ import annotations

from typing import Final

PUMP_PROGRAM: Final = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
PUMPSWAP_PROGRAM: Final = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA"
RAYDIUM_AMM_V4_PROGRAM: Final = "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"
RAYDIUM_CPMM_PROGRAM: Final = "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C"
RAYDIUM_CLMM_PROGRAM: Final = "CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK"
# Was "…5QUvGbbn6a" (33 bytes, not a valid key); the real id is in every Jupiter v6 transaction.
JUPITER_V6_PROGRAM: Final = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"

SYSTEM_PROGRAM: Final = "11111111111111111111111111111111"
TOKEN_PROGRAM: Final = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM: Final = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
ASSOCIATED_TOKEN_PROGRAM: Final = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
COMPUTE_BUDGET_PROGRAM: Final = "ComputeBudget111111111111111111111111111111"
METAPLEX_METADATA_PROGRAM: Final = "metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s"

WSOL_MINT: Final = "So11111111111111111111111111111111111111112"
# Was "…M23hvJBrMgbj6" (35 bytes, not a valid key).
USDC_MINT: Final = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT_MINT: Final = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
DEFAULT_PUBKEY: Final = SYSTEM_PROGRAM  # 32 zero bytes: Anchor's "no key" in optional fields

# Anchor's emit_cpi! wraps an event as inner-instruction data: this tag, then the event.
EMIT_CPI_TAG: Final = bytes.fromhex("e445a52e51cb9a1d")

# pump.fun bonding curve: events
PUMP_CREATE_EVENT: Final = bytes.fromhex("1b72a94ddeeb6376")
PUMP_TRADE_EVENT: Final = bytes.fromhex("bddb7fd34ee661ee")
PUMP_COMPLETE_EVENT: Final = bytes.fromhex("5f72619cd42e9808")
PUMP_COMPLETE_AMM_MIGRATION_EVENT: Final = bytes.fromhex("bde95db95c94ea94")
# pump.fun bonding curve: instructions
PUMP_IX_CREATE: Final = bytes.fromhex("181ec828051c0777")
PUMP_IX_CREATE_V2: Final = bytes.fromhex("d6904cec5f8b31b4")
PUMP_IX_BUY: Final = bytes.fromhex("66063d1201daebea")
PUMP_IX_BUY_EXACT_SOL_IN: Final = bytes.fromhex("38fc74089edfcd5f")
PUMP_IX_SELL: Final = bytes.fromhex("33e685a4017f83ad")
PUMP_IX_MIGRATE: Final = bytes.fromhex("9beae792ec9ea21e")
# 2026: bonding curves quoted in another mint (USDC) trade through the *_v2 instructions.
PUMP_IX_BUY_V2: Final = bytes.fromhex("b817ee6167c5d33d")
PUMP_IX_SELL_V2: Final = bytes.fromhex("5df6823ce7e940b2")
PUMP_IX_BUY_EXACT_QUOTE_IN_V2: Final = bytes.fromhex("c2ab1c46684d5b2f")

# PumpSwap AMM: events
PUMPSWAP_BUY_EVENT: Final = bytes.fromhex("67f4521f2cf57777")
PUMPSWAP_SELL_EVENT: Final = bytes.fromhex("3e2f370aa503dc2a")
PUMPSWAP_CREATE_POOL_EVENT: Final = bytes.fromhex("b1310cd2a076a774")
# PumpSwap AMM: instructions
PUMPSWAP_IX_BUY: Final = bytes.fromhex("66063d1201daebea")
PUMPSWAP_IX_SELL: Final = bytes.fromhex("33e685a4017f83ad")
PUMPSWAP_IX_BUY_EXACT_QUOTE_IN: Final = bytes.fromhex("c62e1552b4d9e870")
PUMPSWAP_IX_CREATE_POOL: Final = bytes.fromhex("e992d18ecf6840bc")

# Raydium AMM v4: the pool vaults are owned by this PDA (same for every pool).
RAYDIUM_AMM_V4_AUTHORITY: Final = "5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1"
RAYDIUM_RAY_LOG_PREFIX: Final = "Program log: ray_log: "
RAYDIUM_LOG_SWAP_BASE_IN: Final = 3
RAYDIUM_LOG_SWAP_BASE_OUT: Final = 4

# Raydium CPMM (raydium-cp-swap): instructions and the event emitted by both swaps.
RAYDIUM_CPMM_IX_SWAP_BASE_INPUT: Final = bytes.fromhex("8fbe5adac41e33de")
RAYDIUM_CPMM_IX_SWAP_BASE_OUTPUT: Final = bytes.fromhex("37d96256a34ab4ad")
# sha256("event:SwapEvent"): shared by every Anchor program with an event of that name
# (Jupiter, Raydium CPMM and CLMM, several routers), so it only means something together
# with the program that emitted it.
ANCHOR_SWAP_EVENT: Final = bytes.fromhex("40c6cde8260871e2")
JUPITER_SWAP_EVENT: Final = ANCHOR_SWAP_EVENT
JUPITER_FEE_EVENT: Final = bytes.fromhex("494f4e7fb8d50ddc")
RAYDIUM_CPMM_SWAP_EVENT: Final = ANCHOR_SWAP_EVENT

# Programs that only move lamports/tokens or set budgets: a transaction that invokes nothing
# else is not a swap, so the balance-delta fallback leaves it alone.
PLUMBING_PROGRAMS: Final = frozenset(
    {
        SYSTEM_PROGRAM,
        TOKEN_PROGRAM,
        TOKEN_2022_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        METAPLEX_METADATA_PROGRAM,
        "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
        "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo",
        "AddressLookupTab1e1111111111111111111111111",
        "Vote111111111111111111111111111111111111111",
        "Stake11111111111111111111111111111111111111",
        "SysvarRent111111111111111111111111111111111",
        "Ed25519SigVerify111111111111111111111111111",
        "KeccakSecp256k11111111111111111111111111111",
    }
)

# pump.fun bonding-curve constants (Global account defaults on mainnet).
PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES: Final = 1_073_000_000_000_000
PUMP_INITIAL_VIRTUAL_SOL_RESERVES: Final = 30_000_000_000
PUMP_INITIAL_REAL_TOKEN_RESERVES: Final = 793_100_000_000_000
LAMPORTS_PER_SOL: Final = 1_000_000_000
"""Lamports in one SOL: the one definition (amounts stay integer lamports everywhere)."""

PUMP_TOKEN_TOTAL_SUPPLY: Final = 1_000_000_000_000_000
PUMP_TOKEN_DECIMALS: Final = 6
PUMP_FEE_BASIS_POINTS: Final = 95
PUMP_CREATOR_FEE_BASIS_POINTS: Final = 5

# Fee program consulted by pump and PumpSwap for dynamic fee tiers (2025+).
PUMP_FEE_PROGRAM: Final = "pfeeUxB6jkeY1Hxd7CsFCAjcbHA9rWtchMGdZ6VojVZ"
MAYHEM_PROGRAM: Final = "MAyhSmzXzV1pTf7LsNkrNwkWKTo4ougAJ1PPg47MD4e"
RENT_SYSVAR: Final = "SysvarRent111111111111111111111111111111111"

# Well-known PDAs (derivations checked in tests with find_program_address).
PUMP_GLOBAL: Final = "4wTV1YmiEkRvAtNtsSGPtUrqRYQMe5SKy2uB4Jjaxnjf"  # ["global"]
PUMP_EVENT_AUTHORITY: Final = (
    "Ce6TQqeHC9p8KetsN6JsjHK7UTZk7nasjjnr7XxXp9F1"  # ["__event_authority"]
)
PUMP_MINT_AUTHORITY: Final = "TSLvdd1pWpHVjahSpsvCXUbgwsL3JAcvokwaKt1eokM"  # ["mint-authority"]
PUMP_GLOBAL_VOLUME_ACCUMULATOR: Final = "Hq2wp8uJ9jCPsYgNHex8RtqdvMPfVGoYwjvF1ATiwn2Y"
PUMP_FEE_CONFIG: Final = (
    "8Wf5TiAheLUqBrKXeYg2JtAFFMWtKdG2BSFgqUcPVwTt"  # fee program ["fee_config", pump]
)
PUMPSWAP_EVENT_AUTHORITY: Final = "GS4CU59F31iL7aR2Q8zVS8DRrcRnXX1yjQ66TqNVQnaR"
PUMPSWAP_GLOBAL_CONFIG: Final = "ADyA8hdefvWN2dbGGWFotbzWxrAvLW83WG6QCVXvJKqw"
PUMPSWAP_GLOBAL_VOLUME_ACCUMULATOR: Final = "C2aFPdENg4A2HQsmrd5rTw5TaYBX5Ku887cWjbFKtZpw"
PUMPSWAP_FEE_CONFIG: Final = "5PHirr8joyTMp9JMm6nW7hNDVyEYdkzDqazxPD7RaTjx"
# The account pump's migration crank signs with (Global.withdraw_authority on mainnet).
PUMP_MIGRATION_AUTHORITY: Final = "39azUYFWPz3VHgKCf3VChUwbpURdCHRxjWVowf5jUJjg"
# Protocol fee recipients seen in mainnet TradeEvents (Global.fee_recipients rotates over them).
PUMP_FEE_RECIPIENTS: Final = (
    "62qc2CNXwrYqQScmEdiZFFAnJR262PxWEuNQtxfafNgV",
    "CebN5WGQ4jvEPvsVU4EoHEpgzq1VV7AbicfhtW4xC9iM",
)

# Anchor account discriminators (sha256("account:<Name>")[:8]) from the 2026-05 IDLs.
PUMP_BONDING_CURVE_ACCOUNT: Final = bytes.fromhex("17b7f83760d8ac60")
PUMPSWAP_POOL_ACCOUNT: Final = bytes.fromhex("f19a6d0411b16dbc")
# More events and instructions used by the simulator.
PUMP_EXTEND_ACCOUNT_EVENT: Final = bytes.fromhex("6161d7905d92167c")
PUMP_IX_EXTEND_ACCOUNT: Final = bytes.fromhex("ea66c2cb96483ee5")

# A bonding curve account is 151 bytes on mainnet after ExtendAccount.
PUMP_BONDING_CURVE_ACCOUNT_LEN: Final = 151
# SOL taken from the curve when it migrates to PumpSwap (Global.pool_migration_fee).
PUMP_POOL_MIGRATION_FEE: Final = 15_000_000
# PumpSwap fees at the base tier (the fee program returns lp/protocol/creator bps per trade).
PUMPSWAP_LP_FEE_BASIS_POINTS: Final = 20
PUMPSWAP_PROTOCOL_FEE_BASIS_POINTS: Final = 5
PUMPSWAP_COIN_CREATOR_FEE_BASIS_POINTS: Final = 5
# Locked forever in a new PumpSwap pool, as in Uniswap v2.
PUMPSWAP_MINIMUM_LIQUIDITY: Final = 100

# SPL Token account sizes: the rent-exempt minimum is (len + 128) * 6960 lamports.
MINT_ACCOUNT_LEN: Final = 82
TOKEN_ACCOUNT_LEN: Final = 165
TOKEN_2022_ACCOUNT_LEN: Final = 170  # with the ImmutableOwner extension, as ATAs are created
WSOL_DECIMALS: Final = 9


def rent_exempt_lamports(data_len: int) -> int:
    """Minimum balance for an account of ``data_len`` bytes to be rent-exempt (mainnet rates)."""
    return (data_len + 128) * 6960
