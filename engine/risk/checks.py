"""Risk checks: one class per check, listed in ``CHECKS``; each reads the chain and adds facts.

A check raises :class:`NotReadable` when the chain cannot answer yet (the mint of a brand-new
token not yet visible to the node): the job retries a bounded number of times, then the verdict
fails closed. Any other RPC error propagates and is retried by the job as transient.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from solders.hash import Hash
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from engine.chain import pda
from engine.chain import programs as P
from engine.chain.accounts import (
    AccountLayoutError,
    BondingCurveAccount,
    parse_bonding_curve,
    parse_mint,
    parse_pool,
    parse_token_account,
)
from engine.chain.instructions import pump_sell
from engine.chain.rpc import RpcClient

log = logging.getLogger(__name__)

# Token-2022 extension types (spl-token-2022 ``ExtensionType``) that decide risk.
EXT_DEFAULT_ACCOUNT_STATE = 6
EXT_PERMANENT_DELEGATE = 12
EXT_TRANSFER_HOOK = 14
_TLV_START = 166  # 165-byte account base + 1 account-type byte
_SELL_PROBES = 3


class NotReadable(Exception):
    """The chain cannot answer for this token yet; try again shortly."""


@dataclass(frozen=True, slots=True)
class RiskSubject:
    """What the engine knows about a token before looking at the chain."""

    mint: str
    creator: str | None = None
    pool: str | None = None
    """PumpSwap pool, once the curve has migrated."""
    dev_bought: int | None = None
    dev_sold: int | None = None
    """Raw tokens the creator bought and sold, from the ticks."""


Facts = dict[str, Any]


class RiskCheck:
    """Base class: a name (recorded in ``RiskView.known`` when the check completes) and ``run``."""

    name: ClassVar[str]

    async def run(self, rpc: RpcClient, subject: RiskSubject, facts: Facts) -> Facts:
        """Read the chain and return the facts found (merged into ``facts`` by the engine)."""
        raise NotImplementedError


class MintCheck(RiskCheck):
    """Mint and freeze authority, supply, decimals, Token-2022 transfer fee and traps."""

    name = "mint"

    async def run(self, rpc: RpcClient, subject: RiskSubject, facts: Facts) -> Facts:
        """Decode the mint account (SPL Token or Token-2022)."""
        account = await rpc.get_account_info(subject.mint)
        if account is None:
            raise NotReadable(f"mint {subject.mint} is not visible to the node yet")
        if account.owner not in (P.TOKEN_PROGRAM, P.TOKEN_2022_PROGRAM):
            raise AccountLayoutError(f"{subject.mint} is owned by {account.owner}, not a mint")
        info = parse_mint(account.data)
        out: Facts = {
            "mint_authority": info.mint_authority,
            "freeze_authority": info.freeze_authority,
            "supply": info.supply,
            "decimals": info.decimals,
            "token_program": account.owner,
        }
        fee = info.transfer_fee_config
        if fee is not None:
            out["transfer_fee_bps"] = max(fee.older.basis_points, fee.newer.basis_points)
        elif account.owner == P.TOKEN_PROGRAM:
            out["transfer_fee_bps"] = 0
        if account.owner == P.TOKEN_2022_PROGRAM:
            out.update(token_2022_traps(account.data))
        return out


def token_2022_traps(data: bytes) -> Facts:
    """Permanent delegate, transfer hook and default-frozen state from a mint's TLV area."""
    out: Facts = {"permanent_delegate": None, "transfer_hook": None, "default_frozen": False}
    offset = _TLV_START
    while offset + 4 <= len(data):
        ext_type, length = struct.unpack_from("<HH", data, offset)
        value = data[offset + 4 : offset + 4 + length]
        if ext_type == 0 or len(value) < length:
            break
        if ext_type == EXT_PERMANENT_DELEGATE and length >= 32:
            out["permanent_delegate"] = _nonzero_key(value[:32])
        elif ext_type == EXT_TRANSFER_HOOK and length >= 64:
            out["transfer_hook"] = _nonzero_key(value[32:64])
        elif ext_type == EXT_DEFAULT_ACCOUNT_STATE and length >= 1:
            out["default_frozen"] = value[0] == 2
        offset += 4 + length
    return out


def _nonzero_key(raw: bytes) -> str | None:
    return None if raw == bytes(32) else str(Pubkey.from_bytes(raw))


class HoldersCheck(RiskCheck):
    """Top holder and top-10 shares of supply, the curve's and the pool's accounts excluded."""

    name = "holders"

    async def run(self, rpc: RpcClient, subject: RiskSubject, facts: Facts) -> Facts:
        """Owners of the largest accounts, then shares of the supply."""
        supply = facts.get("supply")
        if not supply:
            return {}
        largest = await rpc.get_token_largest_accounts(subject.mint)
        infos = await rpc.get_multiple_accounts([h.address for h in largest])
        excluded = {pda.bonding_curve(subject.mint)}
        if subject.pool:
            excluded.add(subject.pool)
        holders: list[tuple[str, int, bool]] = []
        for balance, info in zip(largest, infos, strict=True):
            if info is None or balance.amount == 0:
                continue
            try:
                acct = parse_token_account(info.data)
            except AccountLayoutError:
                continue
            if acct.owner in excluded:
                continue
            holders.append((acct.owner, balance.amount, acct.is_frozen))
        holders.sort(key=lambda h: -h[1])
        top = holders[0][1] if holders else 0
        return {
            "top_holder_pct": 100.0 * top / supply,
            "top10_pct": 100.0 * sum(h[1] for h in holders[:10]) / supply,
            "holders_sample": holders[:10],
        }


class DevCheck(RiskCheck):
    """How much of what the creator bought has been sold (from the ticks)."""

    name = "dev"

    async def run(self, rpc: RpcClient, subject: RiskSubject, facts: Facts) -> Facts:
        """Share of the dev's bought tokens sold."""
        if subject.dev_bought is None or subject.dev_sold is None:
            return {}
        if subject.dev_bought <= 0:
            return {"dev_sold_pct": 100.0 if subject.dev_sold > 0 else 0.0}
        return {"dev_sold_pct": min(100.0, 100.0 * subject.dev_sold / subject.dev_bought)}


class LpCheck(RiskCheck):
    """For a PumpSwap pool: the share of its LP tokens burnt."""

    name = "lp"

    async def run(self, rpc: RpcClient, subject: RiskSubject, facts: Facts) -> Facts:
        """Compare the LP mint's supply today with the pool's original LP supply."""
        if not subject.pool:
            return {}
        account = await rpc.get_account_info(subject.pool)
        if account is None:
            raise NotReadable(f"pool {subject.pool} is not visible to the node yet")
        pool = parse_pool(account.data)
        if pool.lp_supply <= 0:
            return {}
        current = (await rpc.get_token_supply(pool.lp_mint)).amount
        return {"lp_burnt_pct": max(0.0, 100.0 * (1 - current / pool.lp_supply))}


class SellabilityCheck(RiskCheck):
    """Simulate real holders selling on the bonding curve: a failure marks it untradeable."""

    name = "sellability"

    async def run(self, rpc: RpcClient, subject: RiskSubject, facts: Facts) -> Facts:
        """Simulated sells from up to three holders (not the creator); frozen accounts fail it."""
        holders: list[tuple[str, int, bool]] = facts.get("holders_sample") or []
        others = [h for h in holders if h[0] != subject.creator]
        if any(frozen for _, _, frozen in others):
            return {"sellable": False, "sell_failure": "a holder's token account is frozen"}
        curve_info = await rpc.get_account_info(pda.bonding_curve(subject.mint))
        if curve_info is None:
            return {}  # not a pump.fun curve token: nothing to simulate against
        curve = parse_bonding_curve(curve_info.data)
        if curve.complete:
            return {}  # migrated: sells go through the pool (quoted by the trade bridge)
        probes = others[:_SELL_PROBES]
        if not probes:
            return {}  # nobody but the dev holds it yet: cannot show it sells
        token_program = facts.get("token_program", P.TOKEN_PROGRAM)
        blockhash = (await rpc.get_latest_blockhash()).blockhash
        for owner, amount, _ in probes:
            ix = pump_sell(
                user=owner,
                mint=subject.mint,
                creator=curve.creator,
                tokens=max(1, amount // 100),
                min_sol_output=0,
                token_program=token_program,
            )
            msg = MessageV0.try_compile(
                Pubkey.from_string(owner), [ix], [], Hash.from_string(blockhash)
            )
            tx = VersionedTransaction.populate(msg, [_NO_SIG] * msg.header.num_required_signatures)
            result = await rpc.simulate_transaction(
                tx, sig_verify=False, replace_recent_blockhash=True
            )
            if result.err is not None:
                reason = next((line for line in reversed(result.logs) if "Error" in line), "")
                return {
                    "sellable": False,
                    "sell_failure": (reason or str(result.err))[:200],
                }
        return {"sellable": True, "round_trip_loss_pct": curve_round_trip_loss_pct(curve)}


_NO_SIG = Signature.default()


def curve_round_trip_loss_pct(
    curve: BondingCurveAccount, probe_lamports: int = 100_000_000
) -> float:
    """Buy ``probe_lamports`` of tokens then sell them back on the curve: the loss in percent."""
    fee_bps = P.PUMP_FEE_BASIS_POINTS + P.PUMP_CREATOR_FEE_BASIS_POINTS
    vs, vt = curve.virtual_quote_reserves, curve.virtual_token_reserves
    spend = probe_lamports * 10_000 // (10_000 + fee_bps)
    tokens = vt - (vs * vt) // (vs + spend)
    vs2, vt2 = vs + spend, vt - tokens
    back = vs2 - (vs2 * vt2) // (vt2 + tokens)
    back -= back * fee_bps // 10_000
    return max(0.0, 100.0 * (1 - back / probe_lamports))


CHECKS: tuple[type[RiskCheck], ...] = (
    MintCheck,
    HoldersCheck,
    DevCheck,
    LpCheck,
    SellabilityCheck,
)
"""Run in this order: later checks read the facts of earlier ones."""
