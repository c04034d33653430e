"""/signal (the card) and /explain (the agent's "why did this fire, or not?")."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from bot.callbacks import b36, from_b36
from bot.context import Ctx
from bot.errors import UserError
from bot.i18n import N_
from bot.render import NAME_LIMIT, SYMBOL_LIMIT, format_sol
from bot.reply import Button, Reply, rows
from bot.text import clean
from engine.chain.programs import LAMPORTS_PER_SOL
from engine.services import signals as signal_service
from engine.services.signals import SignalCard
from engine.services.trade import buy_intent
from engine.signals.explain import short_address

logger = logging.getLogger(__name__)

QUICK_BUYS_LAMPORTS: Final = (LAMPORTS_PER_SOL // 10, LAMPORTS_PER_SOL // 2, LAMPORTS_PER_SOL)
EXPLAIN_TIMEOUT_S: Final = 25.0
EXPLAIN_LIMIT: Final = 3_000


def token_label(name: str | None, symbol: str | None, mint: str) -> str:
    """``$SYM (Name)`` from untrusted metadata, cleaned and clipped; the short mint if none."""
    sym = clean(symbol, SYMBOL_LIMIT)
    nm = clean(name, NAME_LIMIT)
    if sym and nm:
        return f"${sym} ({nm})"
    if sym or nm:
        return f"${sym}" if sym else nm
    return short_address(mint)


def buy_buttons(ctx: Ctx, mint: str) -> list[Button]:
    """One-tap buy amounts, each opening the Mini App prefilled."""
    out = []
    for lamports in QUICK_BUYS_LAMPORTS:
        label = ctx._("Buy %(amount)s", amount=format_sol(ctx.lang, lamports))
        out.append(Button(label, "trade", intent=buy_intent(mint=mint, lamports=lamports)))
    return out


def render_card(ctx: Ctx, card: SignalCard) -> Reply:
    """The card as a reply with buy, refresh and explain buttons."""
    label = token_label(card.token.name, card.token.symbol, card.token.mint)
    body = ctx.render("signal.html", card=card, label=label)
    buttons: list[Button] = []
    if not card.risk.blocks_buy:
        buttons += buy_buttons(ctx, card.token.mint)
    if card.signal is not None:
        sid = b36(card.signal.id)
        buttons += [
            ctx.button(ctx._("Refresh"), "d", sid),
            ctx.button(ctx._("Explain"), "x", sid),
        ]
    return Reply(body, title=label, buttons=rows(*buttons))


async def card_reply(ctx: Ctx, query: str) -> Reply:
    """The signal card of a mint or symbol."""
    async with ctx.deps.sessions() as session:
        card = await signal_service.signal_card(
            session, query=query, now_ms=ctx.now_ms, user_id=ctx.user_id
        )
    return render_card(ctx, card)


async def signal(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/signal <mint|symbol>."""
    return await card_reply(ctx, str(args["token"]))


async def explain_reply(ctx: Ctx, query: str) -> Reply:
    """The agent's explanation; the stored one or the near miss when the agent is unavailable."""
    async with ctx.deps.sessions() as session:
        mint, _ = await signal_service.resolve_token(session, query=query)
        token = await signal_service.token_info(session, mint=mint)
        stored = await signal_service.latest_signal_view(session, mint=mint)
    label = token_label(token.name, token.symbol, mint)
    text: str | None = None
    fallback = True
    if ctx.agent is not None:
        try:
            async with asyncio.timeout(EXPLAIN_TIMEOUT_S):
                answer = await ctx.agent.explain(user_id=ctx.user_id, mint=mint, language=ctx.lang)
        except Exception:
            # The agent is a convenience: its failure falls back to the stored explanation.
            logger.exception("agent explain failed for %s", mint)
        else:
            text, fallback = answer.text, answer.fallback
    if text is None:
        if stored is not None and stored.explanation:
            text = stored.explanation
        else:
            async with ctx.deps.sessions() as session:
                text = await signal_service.why_no_signal(
                    session, mint=mint, now_ms=ctx.now_ms, user_id=ctx.user_id
                )
    if not text:
        text = ctx._("No signal for this token yet, and no recent trades to explain.")
    # Agent text is plain prose: clipped here, escaped by the template like any other value.
    body = ctx.render("explain.html", text=clean(text, EXPLAIN_LIMIT), fallback=fallback)
    return Reply(body, title=ctx._("Why %(token)s", token=label))


async def explain(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/explain <mint|symbol>."""
    return await explain_reply(ctx, str(args["token"]))


async def _signal_mint(ctx: Ctx, arg: str) -> str:
    try:
        signal_id = from_b36(arg)
    except ValueError:
        raise UserError(N_("This button is no longer valid.")) from None
    async with ctx.deps.sessions() as session:
        sig = await signal_service.get_signal(session, signal_id=signal_id)
    if sig is None:
        raise UserError(N_("This button is no longer valid."))
    return sig.mint


async def press_details(ctx: Ctx, arg: str) -> Reply:
    """Details / Refresh: the current card of the signal's token."""
    return await card_reply(ctx, await _signal_mint(ctx, arg))


async def press_explain(ctx: Ctx, arg: str) -> Reply:
    """Explain: hand the signal's token over to the agent."""
    return await explain_reply(ctx, await _signal_mint(ctx, arg))
