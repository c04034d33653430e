"""/watch, /unwatch and /list: the user's tracked wallets."""

from __future__ import annotations

from typing import Any

from bot.context import Ctx
from bot.reply import Reply, rows
from engine.services import alerts as alert_service
from engine.services import watchlist as watch_service


async def watch(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/watch <address> [alias] [tags]."""
    tags = str(args.get("tags") or "").replace(",", " ")
    async with ctx.tx() as session:
        wallet = await watch_service.watch_wallet(
            session,
            user_id=ctx.user_id,
            address=str(args["address"]),
            now_ms=ctx.now_ms,
            alias=args.get("alias"),
            tags=tags or None,
        )
        if ctx.private:
            # The first watched wallet turns fill alerts on here, unless the user chose before.
            await alert_service.ensure_fill_alerts(session, chat_id=ctx.chat_id, now_ms=ctx.now_ms)
    return Reply(
        ctx.render("watch.html", wallet=wallet),
        buttons=rows(ctx.button(ctx._("My wallets"), "q", "list")),
    )


async def unwatch(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/unwatch <address>."""
    async with ctx.tx() as session:
        address = await watch_service.unwatch_wallet(
            session, user_id=ctx.user_id, address=str(args["address"])
        )
    return Reply(ctx.render("unwatch.html", address=address))


async def list_(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/list: wallets with alias, tags, SOL balance and monitor count."""
    wallets = await watch_service.list_watched(ctx.deps, user_id=ctx.user_id)
    return Reply(ctx.render("list.html", wallets=wallets), title=ctx._("Your wallets"))
