"""Swap instructions with the account lists of the 2026-05 IDLs: pump.fun bonding-curve buy and
sell, PumpSwap buy and sell, and the plumbing a swap transaction needs (compute budget, associated
token accounts, wrapped SOL).

Used to simulate a holder's sell (the risk engine's sellability check) and by the local
Jupiter-compatible server to build swaps over the simulator's curves and pools. Amounts are raw
integers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from engine.chain import pda
from engine.chain import programs as P


def _meta(address: str, *, signer: bool = False, writable: bool = False) -> AccountMeta:
    return AccountMeta(Pubkey.from_string(address), is_signer=signer, is_writable=writable)


def _curve_head(user: str, mint: str, token_program: str, fee_recipient: str) -> list[AccountMeta]:
    """The first eight accounts of pump.fun's ``buy`` and ``sell`` (the same in both IDLs)."""
    curve = pda.bonding_curve(mint)
    return [
        _meta(P.PUMP_GLOBAL),
        _meta(fee_recipient, writable=True),
        _meta(mint),
        _meta(curve, writable=True),
        _meta(pda.ata(curve, mint, token_program), writable=True),
        _meta(pda.ata(user, mint, token_program), writable=True),
        _meta(user, signer=True, writable=True),
        _meta(P.SYSTEM_PROGRAM),
    ]


def pump_sell(
    *,
    user: str,
    mint: str,
    creator: str,
    tokens: int,
    min_sol_output: int,
    token_program: str = P.TOKEN_PROGRAM,
    fee_recipient: str = P.PUMP_FEE_RECIPIENTS[0],
) -> Instruction:
    """``sell(amount, min_sol_output)``: ``tokens`` raw units for at least ``min_sol_output``."""
    _check_amounts(tokens, min_sol_output)
    accounts = [
        *_curve_head(user, mint, token_program, fee_recipient),
        _meta(pda.creator_vault(creator), writable=True),
        _meta(token_program),
        _meta(P.PUMP_EVENT_AUTHORITY),
        _meta(P.PUMP_PROGRAM),
        _meta(P.PUMP_FEE_CONFIG),
        _meta(P.PUMP_FEE_PROGRAM),
    ]
    data = P.PUMP_IX_SELL + struct.pack("<QQ", tokens, min_sol_output)
    return Instruction(Pubkey.from_string(P.PUMP_PROGRAM), data, accounts)


def pump_buy(
    *,
    user: str,
    mint: str,
    creator: str,
    tokens: int,
    max_sol_cost: int,
    token_program: str = P.TOKEN_PROGRAM,
    fee_recipient: str = P.PUMP_FEE_RECIPIENTS[0],
) -> Instruction:
    """``buy(amount, max_sol_cost, track_volume)``: exactly ``tokens`` for at most the cost."""
    _check_amounts(tokens, max_sol_cost)
    accounts = [
        *_curve_head(user, mint, token_program, fee_recipient),
        _meta(token_program),
        _meta(pda.creator_vault(creator), writable=True),
        _meta(P.PUMP_EVENT_AUTHORITY),
        _meta(P.PUMP_PROGRAM),
        _meta(P.PUMP_GLOBAL_VOLUME_ACCUMULATOR),
        _meta(pda.user_volume_accumulator(user), writable=True),
        _meta(P.PUMP_FEE_CONFIG),
        _meta(P.PUMP_FEE_PROGRAM),
    ]
    # OptionBool track_volume = Some(false): one tag byte, one value byte.
    data = P.PUMP_IX_BUY + struct.pack("<QQBB", tokens, max_sol_cost, 1, 0)
    return Instruction(Pubkey.from_string(P.PUMP_PROGRAM), data, accounts)


def pump_buy_exact_sol_in(
    *,
    user: str,
    mint: str,
    creator: str,
    spendable_sol_in: int,
    min_tokens_out: int,
    token_program: str = P.TOKEN_PROGRAM,
    fee_recipient: str = P.PUMP_FEE_RECIPIENTS[0],
) -> Instruction:
    """``buy_exact_sol_in``: spend ``spendable_sol_in`` (fees included) for >= ``min_tokens_out``.

    The exact-in form is what a quote for "0.1 SOL of this token" means; the accounts are the
    same as ``buy``'s.
    """
    _check_amounts(spendable_sol_in, min_tokens_out)
    ix = pump_buy(
        user=user,
        mint=mint,
        creator=creator,
        tokens=0,
        max_sol_cost=0,
        token_program=token_program,
        fee_recipient=fee_recipient,
    )
    data = P.PUMP_IX_BUY_EXACT_SOL_IN + struct.pack("<QQBB", spendable_sol_in, min_tokens_out, 1, 0)
    return Instruction(ix.program_id, data, ix.accounts)


# -- PumpSwap (pump_amm, pAMMBay…) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PumpSwapPool:
    """The accounts of a PumpSwap pool a swap needs (from its ``Pool`` account)."""

    address: str
    base_mint: str
    quote_mint: str
    base_vault: str
    """``pool_base_token_account``."""
    quote_vault: str
    """``pool_quote_token_account``."""
    coin_creator: str
    base_token_program: str = P.TOKEN_PROGRAM
    quote_token_program: str = P.TOKEN_PROGRAM


pumpswap_coin_creator_vault_authority = pda.coin_creator_vault_authority


def _pumpswap_accounts(
    pool: PumpSwapPool,
    user: str,
    protocol_fee_recipient: str,
    *,
    buy: bool,
) -> list[AccountMeta]:
    # Positions follow the IDL; the simulator reads user at 1 and base_mint at 3.
    vault_authority = pumpswap_coin_creator_vault_authority(pool.coin_creator)
    accounts = [
        _meta(pool.address, writable=True),
        _meta(user, signer=True, writable=True),
        _meta(P.PUMPSWAP_GLOBAL_CONFIG),
        _meta(pool.base_mint),
        _meta(pool.quote_mint),
        _meta(pda.ata(user, pool.base_mint, pool.base_token_program), writable=True),
        _meta(pda.ata(user, pool.quote_mint, pool.quote_token_program), writable=True),
        _meta(pool.base_vault, writable=True),
        _meta(pool.quote_vault, writable=True),
        _meta(protocol_fee_recipient),
        _meta(
            pda.ata(protocol_fee_recipient, pool.quote_mint, pool.quote_token_program),
            writable=True,
        ),
        _meta(pool.base_token_program),
        _meta(pool.quote_token_program),
        _meta(P.SYSTEM_PROGRAM),
        _meta(P.ASSOCIATED_TOKEN_PROGRAM),
        _meta(P.PUMPSWAP_EVENT_AUTHORITY),
        _meta(P.PUMPSWAP_PROGRAM),
        _meta(pda.ata(vault_authority, pool.quote_mint, pool.quote_token_program), writable=True),
        _meta(vault_authority),
    ]
    if buy:
        accounts += [
            _meta(P.PUMPSWAP_GLOBAL_VOLUME_ACCUMULATOR),
            _meta(pda.user_volume_accumulator(user, P.PUMPSWAP_PROGRAM), writable=True),
        ]
    accounts += [_meta(P.PUMPSWAP_FEE_CONFIG), _meta(P.PUMP_FEE_PROGRAM)]
    return accounts


def pumpswap_buy(
    *,
    user: str,
    pool: PumpSwapPool,
    base_amount_out: int,
    max_quote_amount_in: int,
    protocol_fee_recipient: str = P.PUMP_FEE_RECIPIENTS[0],
) -> Instruction:
    """PumpSwap ``buy``: exactly ``base_amount_out`` tokens for at most ``max_quote_amount_in``."""
    _check_amounts(base_amount_out, max_quote_amount_in)
    accounts = _pumpswap_accounts(pool, user, protocol_fee_recipient, buy=True)
    data = P.PUMPSWAP_IX_BUY + struct.pack("<QQBB", base_amount_out, max_quote_amount_in, 1, 0)
    return Instruction(Pubkey.from_string(P.PUMPSWAP_PROGRAM), data, accounts)


def pumpswap_buy_exact_quote_in(
    *,
    user: str,
    pool: PumpSwapPool,
    spendable_quote_in: int,
    min_base_amount_out: int,
    protocol_fee_recipient: str = P.PUMP_FEE_RECIPIENTS[0],
) -> Instruction:
    """PumpSwap ``buy_exact_quote_in``: spend ``spendable_quote_in`` (fees included) of the quote
    mint (WSOL) for at least ``min_base_amount_out`` tokens."""
    _check_amounts(spendable_quote_in, min_base_amount_out)
    accounts = _pumpswap_accounts(pool, user, protocol_fee_recipient, buy=True)
    data = P.PUMPSWAP_IX_BUY_EXACT_QUOTE_IN + struct.pack(
        "<QQBB", spendable_quote_in, min_base_amount_out, 1, 0
    )
    return Instruction(Pubkey.from_string(P.PUMPSWAP_PROGRAM), data, accounts)


def pumpswap_sell(
    *,
    user: str,
    pool: PumpSwapPool,
    base_amount_in: int,
    min_quote_amount_out: int,
    protocol_fee_recipient: str = P.PUMP_FEE_RECIPIENTS[0],
) -> Instruction:
    """PumpSwap ``sell``: ``base_amount_in`` tokens for at least ``min_quote_amount_out``."""
    _check_amounts(base_amount_in, min_quote_amount_out)
    accounts = _pumpswap_accounts(pool, user, protocol_fee_recipient, buy=False)
    data = P.PUMPSWAP_IX_SELL + struct.pack("<QQ", base_amount_in, min_quote_amount_out)
    return Instruction(Pubkey.from_string(P.PUMPSWAP_PROGRAM), data, accounts)


# -- plumbing ----------------------------------------------------------------------------------


def set_compute_unit_limit(units: int) -> Instruction:
    """ComputeBudget ``SetComputeUnitLimit`` (tag 2, u32)."""
    if type(units) is not int or not 0 < units <= 1_400_000:
        raise ValueError(f"compute unit limit must be 1..1400000, got {units!r}")
    return Instruction(
        Pubkey.from_string(P.COMPUTE_BUDGET_PROGRAM), bytes([2]) + struct.pack("<I", units), []
    )


def set_compute_unit_price(micro_lamports: int) -> Instruction:
    """ComputeBudget ``SetComputeUnitPrice`` (tag 3, u64 micro-lamports per unit)."""
    _check_amounts(micro_lamports)
    return Instruction(
        Pubkey.from_string(P.COMPUTE_BUDGET_PROGRAM),
        bytes([3]) + struct.pack("<Q", micro_lamports),
        [],
    )


def create_ata_idempotent(
    *, payer: str, owner: str, mint: str, token_program: str = P.TOKEN_PROGRAM
) -> Instruction:
    """Associated Token Account ``CreateIdempotent`` (tag 1): a no-op when it already exists."""
    accounts = [
        _meta(payer, signer=True, writable=True),
        _meta(pda.ata(owner, mint, token_program), writable=True),
        _meta(owner),
        _meta(mint),
        _meta(P.SYSTEM_PROGRAM),
        _meta(token_program),
    ]
    return Instruction(Pubkey.from_string(P.ASSOCIATED_TOKEN_PROGRAM), bytes([1]), accounts)


def system_transfer(*, source: str, destination: str, lamports: int) -> Instruction:
    """System program ``Transfer`` (index 2, u64 lamports)."""
    _check_amounts(lamports)
    accounts = [_meta(source, signer=True, writable=True), _meta(destination, writable=True)]
    return Instruction(
        Pubkey.from_string(P.SYSTEM_PROGRAM), struct.pack("<IQ", 2, lamports), accounts
    )


def sync_native(account: str) -> Instruction:
    """SPL Token ``SyncNative`` (tag 17): credit lamports sent to a WSOL account as tokens."""
    return Instruction(
        Pubkey.from_string(P.TOKEN_PROGRAM), bytes([17]), [_meta(account, writable=True)]
    )


def close_account(*, account: str, destination: str, owner: str) -> Instruction:
    """SPL Token ``CloseAccount`` (tag 9): unwraps WSOL back to SOL for its owner."""
    accounts = [
        _meta(account, writable=True),
        _meta(destination, writable=True),
        _meta(owner, signer=True),
    ]
    return Instruction(Pubkey.from_string(P.TOKEN_PROGRAM), bytes([9]), accounts)


def _check_amounts(*amounts: int) -> None:
    for a in amounts:
        if type(a) is not int or not 0 <= a < 1 << 64:
            raise ValueError(f"amount must be an unsigned 64-bit integer of raw units, got {a!r}")
