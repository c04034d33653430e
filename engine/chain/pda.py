"""Program-derived addresses of the programs we trade on (seeds from their IDLs), cached."""

from __future__ import annotations

import functools

from solders.pubkey import Pubkey

from engine.chain import programs as P


@functools.lru_cache(maxsize=1 << 16)
def pda(seeds: tuple[bytes, ...], program: str) -> tuple[str, int]:
    """``find_program_address``: (address, bump). Cached: a derivation costs ~12 µs."""
    key, bump = Pubkey.find_program_address(list(seeds), Pubkey.from_string(program))
    return str(key), bump


def key_bytes(address: str) -> bytes:
    """The 32 raw bytes of a base58 address."""
    return bytes(Pubkey.from_string(address))


@functools.lru_cache(maxsize=1 << 16)
def ata(owner: str, mint: str, token_program: str = P.TOKEN_PROGRAM) -> str:
    """The associated token account of ``owner`` for ``mint``."""
    seeds = (key_bytes(owner), key_bytes(token_program), key_bytes(mint))
    return pda(seeds, P.ASSOCIATED_TOKEN_PROGRAM)[0]


def bonding_curve(mint: str) -> str:
    """pump.fun bonding-curve PDA of a mint."""
    return pda((b"bonding-curve", key_bytes(mint)), P.PUMP_PROGRAM)[0]


def creator_vault(creator: str) -> str:
    """pump.fun creator-fee vault PDA."""
    return pda((b"creator-vault", key_bytes(creator)), P.PUMP_PROGRAM)[0]


def coin_creator_vault_authority(coin_creator: str) -> str:
    """PumpSwap creator-fee vault authority PDA (``["creator_vault", coin_creator]``)."""
    return pda((b"creator_vault", key_bytes(coin_creator)), P.PUMPSWAP_PROGRAM)[0]


def user_volume_accumulator(user: str, program: str = P.PUMP_PROGRAM) -> str:
    """Per-user volume accumulator PDA (pump.fun or PumpSwap)."""
    return pda((b"user_volume_accumulator", key_bytes(user)), program)[0]
