"""Run the risk checks for a token, cache the verdict with a TTL, and store it.

The engine is called from the ``risk_check`` job (arq in production). A verdict is cached in
memory and in ``risk_reports``; it is refreshed when its TTL passes or when the chain shows a
change (the caller invalidates: a migration, a dev sell, a new top holder).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain.accounts import AccountLayoutError
from engine.chain.rpc import RpcClient
from engine.clock import Clock
from engine.risk.checks import CHECKS, NotReadable, RiskCheck, RiskSubject
from engine.risk.model import RiskVerdict, RiskView
from engine.risk.verdict import RiskThresholds, judge
from engine.storage.models import Pool, Tick, Token
from engine.storage.repos import signals as signal_repo

log = logging.getLogger(__name__)

_VIEW_FIELDS = frozenset(f.name for f in fields(RiskView)) - {"mint", "checked_ts", "known"}


class RiskEngine:
    """Assess tokens through the registered checks."""

    def __init__(
        self,
        rpc: RpcClient,
        clock: Clock,
        *,
        checks: Sequence[type[RiskCheck]] = CHECKS,
        ttl_ms: int = 60_000,
        thresholds: RiskThresholds | None = None,
    ) -> None:
        self._rpc = rpc
        self._clock = clock
        self._checks = [c() for c in checks]
        self._ttl = ttl_ms
        self._limits = thresholds or RiskThresholds()
        self._cache: dict[str, tuple[int, RiskVerdict]] = {}

    def cached(self, mint: str) -> RiskVerdict | None:
        """The in-memory verdict when it is still fresh."""
        hit = self._cache.get(mint)
        if hit is None or hit[0] <= self._clock.now_ms():
            return None
        return hit[1]

    def invalidate(self, mint: str) -> None:
        """Forget a verdict: the chain showed a change that may alter it."""
        self._cache.pop(mint, None)

    async def assess(self, subject: RiskSubject, *, fail_closed: bool = False) -> RiskVerdict:
        """Run every check; ``NotReadable`` propagates unless ``fail_closed`` (last try)."""
        facts: dict[str, Any] = {}
        known: set[str] = set()
        for check in self._checks:
            try:
                facts.update(await check.run(self._rpc, subject, facts))
            except NotReadable:
                if not fail_closed:
                    raise
                log.warning("risk %s: %s not readable; failing closed", subject.mint, check.name)
                continue
            except AccountLayoutError as exc:
                # A malformed account is a finding, not a crash: the check stays unknown.
                log.warning("risk %s: %s: %s", subject.mint, check.name, exc)
                facts.setdefault("errors", []).append(f"{check.name}: {exc}")
                continue
            known.add(check.name)
        view = RiskView(
            mint=subject.mint,
            checked_ts=self._clock.now_ms(),
            known=frozenset(known),
            **{k: v for k, v in facts.items() if k in _VIEW_FIELDS},
        )
        verdict = judge(view, self._limits)
        self._cache[subject.mint] = (self._clock.now_ms() + self._ttl, verdict)
        return verdict

    async def store(self, session: AsyncSession, verdict: RiskVerdict) -> None:
        """Persist a verdict in ``risk_reports``."""
        await signal_repo.put_risk_report(
            session,
            mint=verdict.view.mint,
            level=verdict.level,
            badges=list(verdict.badges),
            data={"view": verdict.view.to_dict(), "penalties": verdict.penalties},
            checked_ts=verdict.view.checked_ts,
            ttl_ms=self._ttl,
        )


def verdict_from_report(
    data: dict[str, Any], thresholds: RiskThresholds | None = None
) -> RiskVerdict:
    """Rebuild a verdict from a stored report (the facts are kept; the rules are re-applied)."""
    raw = dict(data["view"])
    raw["known"] = frozenset(raw.get("known", ()))
    return judge(RiskView(**raw), thresholds)


async def risk_subject(session: AsyncSession, *, mint: str) -> RiskSubject:
    """What the database knows about a token: creator, pool, and the creator's trading."""
    token = await session.get(Token, mint)
    creator = token.creator if token is not None else None
    pool = (await session.scalars(select(Pool.address).where(Pool.mint == mint).limit(1))).first()
    dev_bought = dev_sold = None
    if creator is not None:
        rows = await session.execute(
            select(Tick.side, func.sum(Tick.token_amount))
            .where(Tick.mint == mint, Tick.trader == creator)
            .group_by(Tick.side)
        )
        totals = {side: int(total or 0) for side, total in rows.all()}
        dev_bought, dev_sold = totals.get("buy", 0), totals.get("sell", 0)
    return RiskSubject(
        mint=mint, creator=creator, pool=pool, dev_bought=dev_bought, dev_sold=dev_sold
    )
