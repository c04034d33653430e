"""The jobs this deployment runs: the domain's job functions, listed once for both runners."""

from __future__ import annotations

from typing import Any

from bot import fanout
from engine.chain.rpc import RpcError
from engine.deps import Deps
from engine.jobs.base import JobContext, JobRegistry, Transient
from engine.risk.checks import NotReadable
from engine.risk.engine import RiskEngine, risk_subject
from engine.storage.repos import audit
from engine.trade.bridge import CONFIRM_JOB, confirm_trade
from engine.trading.jobs import trading_jobs


async def audit_append(
    ctx: JobContext,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Write an audit entry off the request path; returns its id."""
    deps: Deps = ctx.deps
    async with deps.sessions.begin() as session:
        entry = await audit.append(
            session,
            ts=deps.clock.now_ms(),
            actor=actor,
            action=action,
            subject=subject,
            data=data,
        )
        await session.flush()
        return entry.id


RISK_MAX_TRIES = 4


async def risk_check(ctx: JobContext, *, mint: str) -> dict[str, Any]:
    """Assess and store a token's risk; an unreadable mint is retried, then fails closed."""
    deps: Deps = ctx.deps
    async with deps.sessions() as session:
        subject = await risk_subject(session, mint=mint)
    engine = RiskEngine(deps.rpc, deps.clock)
    last_try = ctx.job_try >= RISK_MAX_TRIES
    try:
        verdict = await engine.assess(subject, fail_closed=last_try)
    except NotReadable as exc:
        raise Transient(str(exc), defer_s=0.5 * ctx.job_try) from exc
    except RpcError as exc:
        if last_try:
            raise
        raise Transient(f"rpc: {exc}", defer_s=0.5 * ctx.job_try) from exc
    async with deps.sessions.begin() as session:
        await engine.store(session, verdict)
    return {"mint": mint, "level": verdict.level, "badges": list(verdict.badges)}


async def narrate_signal(ctx: JobContext, *, signal_id: int, ts: int) -> int:
    """Write (and store) the guarded narrative of a fired signal; returns its length."""
    deps: Deps = ctx.deps
    text: str = await deps.agent.narrate(signal_id=signal_id, ts=ts)
    return len(text)


# Polls every SOLAI_TRADE_CONFIRM_POLL_S (2 s): 60 tries outlast a blockhash's ~150 blocks.
TRADE_CONFIRM_MAX_TRIES = 60


async def trade_confirm(ctx: JobContext, *, trade_id: int) -> dict[str, Any]:
    """Follow a submitted trade until it is confirmed, failed or expired."""
    deps: Deps = ctx.deps
    try:
        return await confirm_trade(
            deps, trade_id=trade_id, last_try=ctx.job_try >= TRADE_CONFIRM_MAX_TRIES
        )
    except RpcError as exc:
        if exc.transient and ctx.job_try < TRADE_CONFIRM_MAX_TRIES:
            raise Transient(f"rpc: {exc}", defer_s=deps.settings.trade_confirm_poll_s) from exc
        raise


def default_registry() -> JobRegistry:
    """Every job of the product, with its timeout and try budget."""
    registry = JobRegistry()
    registry.job("audit_append", timeout_s=10, max_tries=3)(audit_append)
    registry.job("risk_check", timeout_s=30, max_tries=RISK_MAX_TRIES)(risk_check)
    for spec in trading_jobs():  # check_orders, prepare_exit, reprice_exit, auto_trade
        registry.add(spec)
    registry.job(CONFIRM_JOB, timeout_s=20, max_tries=TRADE_CONFIRM_MAX_TRIES)(trade_confirm)
    registry.job("narrate_signal", timeout_s=60, max_tries=2)(narrate_signal)
    for name, (timeout_s, tries) in fanout.JOBS.items():  # alerts to Telegram/Discord/console
        registry.job(name, timeout_s=timeout_s, max_tries=tries)(getattr(fanout, name))
    return registry
