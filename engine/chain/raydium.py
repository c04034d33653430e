"""Raydium AMM v4 (``ray_log``) and Raydium CPMM (``SwapEvent``).

AMM v4 writes ``Program log: ray_log: <base64>``, bincode of a fixed struct (layout in
raydium-amm ``program/src/log.rs``): SwapBaseIn (type 3) and SwapBaseOut (type 4), 57 bytes:
``log_type u8`` then seven ``u64``. ``direction`` 1 = PC to coin (input is the pc vault's mint),
2 = coin to PC. ``pool_coin``/``pool_pc`` are the vault totals *before* the swap. The log names
no user and no mint: the swap instruction's accounts do (amm id, coin and pc vaults at
``len-13``/``len-12`` whether or not the optional target-orders account is present, user
owner last) and the vaults' token balances give the mints. When the instruction cannot be
matched, the vaults are found among the token accounts owned by the AMM authority whose pre
balances equal ``pool_coin``/``pool_pc``. Other Raydium programs (CLMM) are not this venue.

CPMM (raydium-cp-swap) emits an Anchor ``SwapEvent``: pool_id, input/output vault balances
before the swap, input/output amounts (transfer fees excluded), transfer fees, base_input, and
since 2025 the input/output mints. Older events take the mints from the swap instruction
(accounts 10 and 11). ``SwapEvent``'s discriminator is shared with Jupiter and routers: it is
only read when the CPMM program wrote it.

Both need accounts, so from a logsSubscribe notification alone they yield nothing.
"""

from __future__ import annotations

import binascii
import logging
import struct
from typing import ClassVar, Final

from engine.chain import programs as P
from engine.chain.borsh import pubkey_str
from engine.chain.errors import DecodeError
from engine.chain.venue import EventMeta, Site, Venue, account, interpret_swap, swap_event
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

_RAY_LOG: Final = struct.Struct("<B7Q")
_RAY_PREFIX: Final = "ray_log: "
_DIRECTION_PC_TO_COIN: Final = 1
_DIRECTION_COIN_TO_PC: Final = 2
_AMM_V4_MIN_SWAP_ACCOUNTS: Final = 17

# pool_id, input_vault_before, output_vault_before, input_amount, output_amount,
# input_transfer_fee, output_transfer_fee, base_input
_CPMM_SWAP: Final = struct.Struct("<32sQQQQQQ?")
_CPMM_SWAP_MIN: Final = 8 + _CPMM_SWAP.size
_CPMM_SWAP_INSTRUCTIONS: Final = frozenset(
    {P.RAYDIUM_CPMM_IX_SWAP_BASE_INPUT, P.RAYDIUM_CPMM_IX_SWAP_BASE_OUTPUT}
)


class RaydiumAmmV4(Venue):
    """Swaps of Raydium's AMM v4 (``675kPX…1Mp8``), read from ``ray_log`` lines."""

    name: ClassVar[str] = "raydium_amm_v4"
    programs: ClassVar[frozenset[str]] = frozenset({P.RAYDIUM_AMM_V4_PROGRAM})
    wants_logs: ClassVar[bool] = True

    def decode_log(
        self, text: str, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """Decode a SwapBaseIn/SwapBaseOut ``ray_log``; other log types are ignored."""
        if site is None or not text.startswith(_RAY_PREFIX):
            return None
        try:
            raw = binascii.a2b_base64(text[len(_RAY_PREFIX) :])
        except ValueError as exc:
            raise DecodeError(f"ray_log is not base64: {exc}") from exc
        if not raw or raw[0] not in (P.RAYDIUM_LOG_SWAP_BASE_IN, P.RAYDIUM_LOG_SWAP_BASE_OUT):
            return None  # init / deposit / withdraw
        if len(raw) < _RAY_LOG.size:
            raise DecodeError(f"ray_log swap is {len(raw)} bytes, need {_RAY_LOG.size}")
        log_type, a, b, direction, _user_source, pool_coin, pool_pc, c = _RAY_LOG.unpack_from(raw)
        if log_type == P.RAYDIUM_LOG_SWAP_BASE_IN:
            amount_in, amount_out = a, c  # amount_in, out_amount
        else:
            amount_in, amount_out = c, b  # deduct_in, amount_out
        vaults = _v4_vaults(site, pool_coin, pool_pc)
        if vaults is None:
            raise DecodeError("ray_log swap: pool vaults not found in accounts or balances")
        coin_mint, pc_mint = vaults
        if direction == _DIRECTION_PC_TO_COIN:
            in_mint, out_mint = pc_mint, coin_mint
        elif direction == _DIRECTION_COIN_TO_PC:
            in_mint, out_mint = coin_mint, pc_mint
        else:
            raise DecodeError(f"ray_log swap direction must be 1 or 2, got {direction}")
        view = interpret_swap(
            in_mint, amount_in, out_mint, amount_out, {coin_mint: pool_coin, pc_mint: pool_pc}
        )
        if view is None:
            return None
        ix = site.ix if _is_v4_swap(site) else None
        trader = account(ix, -1) or site.tx.fee_payer
        return swap_event(
            view,
            venue="raydium_amm_v4",
            meta=meta,
            index=index,
            trader=trader,
            pool=account(ix, 1),
        )


def _is_v4_swap(site: Site) -> bool:
    ix = site.ix
    return (
        ix is not None
        and ix.program == P.RAYDIUM_AMM_V4_PROGRAM
        and len(ix.accounts) >= _AMM_V4_MIN_SWAP_ACCOUNTS
    )


def _v4_vaults(site: Site, pool_coin: int, pool_pc: int) -> tuple[str, str] | None:
    """(coin_mint, pc_mint) of the swapped pool."""
    tx = site.tx
    if _is_v4_swap(site):
        assert site.ix is not None
        coin = tx.token_mint(site.ix.accounts[-13])
        pc = tx.token_mint(site.ix.accounts[-12])
        if coin is not None and pc is not None:
            return coin, pc
    coin = pc = None
    for tb in tx.pre_token_balances:
        if tb.owner != P.RAYDIUM_AMM_V4_AUTHORITY:
            continue
        if tb.amount == pool_coin and coin is None:
            coin = tb.mint
        elif tb.amount == pool_pc and pc is None:
            pc = tb.mint
    if coin is not None and pc is not None and coin != pc:
        return coin, pc
    return None


class RaydiumCpmm(Venue):
    """Swaps of Raydium's constant-product AMM (``CPMMoo…P1C``), from its ``SwapEvent``."""

    name: ClassVar[str] = "raydium_cpmm"
    programs: ClassVar[frozenset[str]] = frozenset({P.RAYDIUM_CPMM_PROGRAM})

    def decode_event(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """Decode a CPMM ``SwapEvent`` (transactions only: the payer is an account)."""
        if payload[:8] != P.RAYDIUM_CPMM_SWAP_EVENT or site is None:
            return None
        if len(payload) < _CPMM_SWAP_MIN:
            raise DecodeError(f"CPMM SwapEvent is {len(payload)} bytes, need {_CPMM_SWAP_MIN}")
        (pool_raw, in_before, out_before, amount_in, amount_out, _fi, _fo, _base_input) = (
            _CPMM_SWAP.unpack_from(payload, 8)
        )
        ix = site.ix
        is_swap = (
            ix is not None
            and ix.program == P.RAYDIUM_CPMM_PROGRAM
            and len(ix.accounts) >= 12
            and ix.data()[:8] in _CPMM_SWAP_INSTRUCTIONS
        )
        if len(payload) >= _CPMM_SWAP_MIN + 64:
            in_mint = pubkey_str(payload[_CPMM_SWAP_MIN : _CPMM_SWAP_MIN + 32])
            out_mint = pubkey_str(payload[_CPMM_SWAP_MIN + 32 : _CPMM_SWAP_MIN + 64])
        elif is_swap:
            assert ix is not None
            in_mint, out_mint = ix.accounts[10], ix.accounts[11]
        else:
            raise DecodeError("CPMM SwapEvent without mints and no swap instruction to name them")
        view = interpret_swap(
            in_mint, amount_in, out_mint, amount_out, {in_mint: in_before, out_mint: out_before}
        )
        if view is None:
            return None
        trader = account(ix, 0) if is_swap else site.tx.fee_payer
        return swap_event(
            view,
            venue="raydium_cpmm",
            meta=meta,
            index=index,
            trader=trader,
            pool=pubkey_str(pool_raw),
        )
