"""The venue registry: add a venue by writing one :class:`Venue` subclass and listing it here."""

from __future__ import annotations

import functools
import logging

from engine.chain.jupiter import Jupiter
from engine.chain.pumpfun import PumpFun
from engine.chain.pumpswap import PumpSwap
from engine.chain.raydium import RaydiumAmmV4, RaydiumCpmm
from engine.chain.venue import Venue

logger = logging.getLogger(__name__)

VENUES: tuple[type[Venue], ...] = (PumpFun, PumpSwap, RaydiumAmmV4, RaydiumCpmm, Jupiter)
"""Every venue the decoders know, in no particular order (each owns distinct programs)."""


@functools.cache
def venues_by_program() -> dict[str, Venue]:
    """Program id -> the venue instance that reads that program's payloads."""
    out: dict[str, Venue] = {}
    for cls in VENUES:
        venue = cls()
        for program in cls.programs:
            if program in out:
                raise RuntimeError(f"program {program} is claimed by two venues")
            out[program] = venue
    return out
