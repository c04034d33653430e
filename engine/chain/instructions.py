"""pump.fun bonding-curve buy and sell instructions, with the account list of the 2026-05 IDL.

Used to simulate a holder's sell (the risk engine's sellability check) and by the local
Jupiter-compatible server to build swaps over the simulator's curves. Amounts are raw integers.
"""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from engine.chain import pda
from engine.chain import programs as P


def _meta(address: str, *, signer: bool = False, writable: bool = False) -> AccountMeta:
    return AccountMeta(Pubkey.from_string(address), is_signer=signer, is_writable=writable)


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
    curve = pda.bonding_curve(mint)
    accounts = [
        _meta(P.PUMP_GLOBAL),
        _meta(fee_recipient, writable=True),
        _meta(mint),
        _meta(curve, writable=True),
        _meta(pda.ata(curve, mint, token_program), writable=True),
        _meta(pda.ata(user, mint, token_program), writable=True),
        _meta(user, signer=True, writable=True),
        _meta(P.SYSTEM_PROGRAM),
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
    curve = pda.bonding_curve(mint)
    accounts = [
        _meta(P.PUMP_GLOBAL),
        _meta(fee_recipient, writable=True),
        _meta(mint),
        _meta(curve, writable=True),
        _meta(pda.ata(curve, mint, token_program), writable=True),
        _meta(pda.ata(user, mint, token_program), writable=True),
        _meta(user, signer=True, writable=True),
        _meta(P.SYSTEM_PROGRAM),
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


def _check_amounts(*amounts: int) -> None:
    for a in amounts:
        if type(a) is not int or not 0 <= a < 1 << 64:
            raise ValueError(f"amount must be an unsigned 64-bit integer of raw units, got {a!r}")
