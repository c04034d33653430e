"""Hand-built pump.fun events with realistic constant-product reserves, for the signal tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from engine.chain.programs import (
    PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
    PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
)
from engine.events import ChainEvent

SOL = 1_000_000_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_sig = itertools.count(1)


_NOT_BASE58 = str.maketrans({"0": "z", "O": "Q", "I": "J", "l": "L"})


def addr(tag: str) -> str:
    """A valid-looking base58 44-char address that starts with ``tag`` (0OIl replaced)."""
    return (tag.translate(_NOT_BASE58) + "1" * 44)[:44]


@dataclass
class Curve:
    """One pump.fun bonding curve: virtual reserves move by x*y=k on every trade."""

    mint: str
    vsol: int = PUMP_INITIAL_VIRTUAL_SOL_RESERVES
    vtok: int = PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES
    slot: int = 300_000_000
    events: list[ChainEvent] = field(default_factory=list)

    def create(self, ts: int, creator: str = addr("Dev")) -> ChainEvent:
        ev = ChainEvent(
            kind="create", venue="pumpfun", signature=f"sig{next(_sig)}", slot=self.slot,
            ts=ts, mint=self.mint, trader=creator, creator=creator, name="Coin", symbol="C",
        )  # fmt: skip
        self.events.append(ev)
        return ev

    def buy(self, ts: int, trader: str, lamports: int) -> ChainEvent:
        tokens = self.vtok * lamports // (self.vsol + lamports)
        self.vsol += lamports
        self.vtok -= tokens
        return self._trade(ts, trader, "buy", lamports, tokens)

    def sell(self, ts: int, trader: str, tokens: int) -> ChainEvent:
        lamports = self.vsol * tokens // (self.vtok + tokens)
        self.vsol -= lamports
        self.vtok += tokens
        return self._trade(ts, trader, "sell", lamports, tokens)

    def _trade(self, ts: int, trader: str, side: str, lamports: int, tokens: int) -> ChainEvent:
        self.slot += 1
        ev = ChainEvent(
            kind="trade", venue="pumpfun", signature=f"sig{next(_sig)}", slot=self.slot, ts=ts,
            mint=self.mint, trader=trader, side=side, sol_lamports=lamports, token_amount=tokens,
            virtual_sol_reserves=self.vsol, virtual_token_reserves=self.vtok,
        )  # fmt: skip
        self.events.append(ev)
        return ev
