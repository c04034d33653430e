"""/buy and /sell: the order opens prefilled in the Mini App, where the user signs it.

The bot never executes a trade. A buy is refused for a token whose risk verdict blocks buying
or is not known yet (fail closed); the risk check is then requested so a retry can succeed.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.context import Ctx
from bot.features.signals import token_label
from bot.reply import Button, Reply, rows
from engine.services import signals as signal_service
from engine.services.trade import buy_intent, sell_intent
from engine.storage.models import Token
from engine.trading.adapters import FixedSolUsd, TickPrices
from engine.trading.positions import portfolio

logger = logging.getLogger(__name__)


async def _request_risk_check(ctx: Ctx, mint: str) -> None:
    # One check per mint per minute; a missing job (e.g. a bot-only process) is not an error.
    try:
        await ctx.deps.jobs.enqueue(
            "risk_check", job_id=f"risk_check:{mint}:{ctx.now_ms // 60_000}", mint=mint
        )
    except Exception as exc:
        logger.info("risk check for %s not requested: %s", mint, exc)


async def buy(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/buy <mint|$SYMBOL> <SOL>."""
    lamports = int(args["sol"])
    async with ctx.deps.sessions() as session:
        # A symbol is resolved like /signal does (the one that signalled last wins a tie).
        mint, _ = await signal_service.resolve_token(session, query=str(args["mint"]))
        token = await signal_service.token_info(session, mint=mint)
        risk = await signal_service.risk_info(session, mint=mint, now_ms=ctx.now_ms)
    intent = buy_intent(mint=mint, lamports=lamports)
    label = token_label(token.name, token.symbol, mint)
    if risk.blocks_buy:
        if not risk.known:
            await _request_risk_check(ctx, mint)
        body = ctx.render("trade.html", side="buy", intent=intent, risk=risk, blocked=True)
        return Reply(body, title=ctx._("Buy %(token)s", token=label), tone="warning")
    body = ctx.render("trade.html", side="buy", intent=intent, risk=risk, blocked=False)
    button = Button(ctx._("Review and sign"), "trade", intent=intent)
    return Reply(body, title=ctx._("Buy %(token)s", token=label), buttons=rows(button))


async def sell(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/sell <mint|$SYMBOL> <percent>."""
    bps = int(args["percent"])
    async with ctx.deps.sessions() as session:
        mint, _ = await signal_service.resolve_token(session, query=str(args["mint"]))
        token = await signal_service.token_info(session, mint=mint)
        risk = await signal_service.risk_info(session, mint=mint, now_ms=ctx.now_ms)
    intent = sell_intent(mint=mint, bps=bps)
    label = token_label(token.name, token.symbol, mint)
    # Selling is always offered: a risky token is a reason to get out, not to be stuck.
    body = ctx.render("trade.html", side="sell", intent=intent, risk=risk, blocked=False)
    button = Button(ctx._("Review and sign"), "trade", intent=intent)
    return Reply(body, title=ctx._("Sell %(token)s", token=label), buttons=rows(button))


async def positions(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/positions: open positions from confirmed trades, valued at the newest price."""
    async with ctx.deps.sessions() as session:
        book = await portfolio(
            session,
            user_id=ctx.user_id,
            prices=TickPrices(ctx.deps.sessions),
            sol_usd=FixedSolUsd(None),
        )
        rows_ = []
        for p in book.positions:
            token = await signal_service.token_info(session, mint=p.mint)
            row = await session.get(Token, p.mint)
            decimals = row.decimals if row is not None and row.decimals is not None else 6
            rows_.append(
                {
                    "mint": p.mint,
                    "label": token_label(token.name, token.symbol, p.mint),
                    # Raw units to whole tokens for display only; PnL stays in integers.
                    "tokens": p.qty / 10**decimals,
                    "cost": p.cost_lamports,
                    "value": p.value_lamports,
                    "pnl": p.unrealized_lamports,
                }
            )
    return Reply(ctx.render("positions.html", positions=rows_), title=ctx._("Your positions"))
