"""Deterministic keys for the simulator: wallets, vanity ``…pump`` mints, signatures, blockhashes,
and the program-derived addresses (PDAs) the real programs use, derived with solders.

Every stream is a ``random.Random`` seeded with a string built from the scenario seed and a
purpose (string seeds hash with SHA-512, so they are stable across runs and Python versions),
so adding a wallet does not change every signature that follows.
"""

from __future__ import annotations

import hashlib
import logging
import random

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from engine.chain import pda as chain_pda
from engine.chain.programs import (
    PUMP_PROGRAM,
    PUMPSWAP_PROGRAM,
    WSOL_MINT,
)

logger = logging.getLogger(__name__)

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class KeyStream:
    """A seeded source of keys and signatures for one purpose."""

    def __init__(self, seed: int, purpose: str) -> None:
        self._rng = random.Random(f"solai-sim:{seed}:{purpose}")  # noqa: S311 - simulation only

    def keypair(self) -> Keypair:
        """A real ed25519 keypair from 32 seeded bytes."""
        return Keypair.from_seed(self._rng.randbytes(32))

    def pubkey(self) -> str:
        """The public key of a fresh deterministic keypair, base58."""
        return str(self.keypair().pubkey())

    def vanity_mint(self, suffix: str = "pump") -> str:
        """An on-curve key whose base58 form ends with ``suffix``, like pump.fun's ground mints.

        Grinding a keypair for a 4-character suffix takes ~10^7 tries; the simulator never signs
        as the mint, so it rewrites the tail of a random key's base58 form and keeps the result
        when it is still a 32-byte point on the curve (about half of them are).
        """
        if any(c not in _BASE58_ALPHABET for c in suffix):
            raise ValueError(f"suffix {suffix!r} is not base58")
        while True:
            text = str(Pubkey.from_bytes(self._rng.randbytes(32)))
            if len(text) < 43:
                continue  # leading zero bytes: rewriting the tail could change the length
            candidate = text[: -len(suffix)] + suffix
            try:
                key = Pubkey.from_string(candidate)
            except ValueError:
                continue  # overflowed 32 bytes
            if str(key) == candidate and key.is_on_curve():
                return candidate

    def signature(self) -> str:
        """64 seeded bytes as a base58 transaction signature."""
        return str(Signature.from_bytes(self._rng.randbytes(64)))

    def randbytes(self, n: int) -> bytes:
        """Raw seeded bytes."""
        return self._rng.randbytes(n)

    @property
    def rng(self) -> random.Random:
        """The underlying generator, for choices that are not keys."""
        return self._rng


def blockhash_for_slot(seed: int, slot: int) -> str:
    """The (deterministic) blockhash of ``slot``: 32 bytes of SHA-256 as base58."""
    return str(Pubkey.from_bytes(hashlib.sha256(f"solai-sim:{seed}:slot:{slot}".encode()).digest()))


# The derivations live with the chain layer (the risk engine and the swap builder use them too).
pda = chain_pda.pda
ata = chain_pda.ata
_b = chain_pda.key_bytes


bonding_curve = chain_pda.bonding_curve


creator_vault = chain_pda.creator_vault


user_volume_accumulator = chain_pda.user_volume_accumulator


def pool_authority(mint: str) -> str:
    """pump.fun's PDA that creates the PumpSwap pool on migration (the pool's ``creator``)."""
    return pda((b"pool-authority", _b(mint)), PUMP_PROGRAM)[0]


def pumpswap_pool(
    index: int, creator: str, base_mint: str, quote_mint: str = WSOL_MINT
) -> tuple[str, int]:
    """PumpSwap pool PDA (address, bump)."""
    return pda(
        (b"pool", index.to_bytes(2, "little"), _b(creator), _b(base_mint), _b(quote_mint)),
        PUMPSWAP_PROGRAM,
    )


def lp_mint(pool: str) -> str:
    """PumpSwap LP mint PDA of ``pool``."""
    return pda((b"pool_lp_mint", _b(pool)), PUMPSWAP_PROGRAM)[0]


coin_creator_vault_authority = chain_pda.coin_creator_vault_authority
