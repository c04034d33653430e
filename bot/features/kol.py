"""KOL channels: /kol (link, record), /publish, /follow, /unfollow, and the call buttons."""

from __future__ import annotations

import logging
from typing import Any, Final

from bot.callbacks import from_b36
from bot.context import Ctx
from bot.errors import UserError
from bot.features.signals import card_reply
from bot.i18n import N_
from bot.reply import Reply
from engine.services import kol as kol_service

logger = logging.getLogger(__name__)

ACTIONS: Final = ("mine", "link", "record")


async def _enqueue_call(ctx: Ctx, call_id: int) -> bool:
    try:
        queued = await ctx.deps.jobs.enqueue(
            "fanout_kol_call", job_id=f"fanout_kol_call:{call_id}", call_id=call_id
        )
    except Exception:
        logger.exception("could not queue delivery of KOL call %s", call_id)
        return False
    return queued is not None


async def publish(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/publish <mint> [note]: record the call and deliver it to the channel and followers."""
    async with ctx.tx() as session:
        channels = await kol_service.channels_of(session, user_id=ctx.user_id)
        if not channels:
            raise UserError(N_("link your channel first: /kol link @channel"))
        calls = [
            await kol_service.publish_call(
                session,
                channel=channel,
                user_id=ctx.user_id,
                mint=str(args["mint"]),
                note=args.get("note"),
                now_ms=ctx.now_ms,
            )
            for channel in channels
        ]
    queued = [await _enqueue_call(ctx, c.id) for c in calls]
    return Reply(
        ctx.render("kol_published.html", channels=channels, mint=calls[0].mint, queued=all(queued))
    )


async def _mine(ctx: Ctx) -> Reply:
    async with ctx.deps.sessions() as session:
        own = await kol_service.channels_of(session, user_id=ctx.user_id)
        followed = await kol_service.following(session, user_id=ctx.user_id)
    return Reply(
        ctx.render("kol_mine.html", own=own, followed=followed), title=ctx._("KOL channels")
    )


async def kol(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/kol [mine|link|record] [channel]."""
    action = str(args.get("action") or "mine")
    ref = str(args.get("channel") or "")
    if action == "mine":
        return await _mine(ctx)
    if not ref:
        raise UserError(N_("missing %(name)s"), name="<channel>")
    if action == "link":
        found = await ctx.ops.resolve_channel(ref, require_admin=True)
        async with ctx.tx() as session:
            channel = await kol_service.link_channel(
                session,
                user_id=ctx.user_id,
                platform=ctx.caller.platform,
                external_id=found.external_id,
                title=found.title,
                now_ms=ctx.now_ms,
            )
        return Reply(ctx.render("kol_linked.html", channel=channel))
    found = await ctx.ops.resolve_channel(ref, require_admin=False)
    async with ctx.deps.sessions() as session:
        channel = await kol_service.kol_channel(
            session, platform=ctx.caller.platform, external_id=found.external_id
        )
        record = await kol_service.kol_record(session, channel=channel, now_ms=ctx.now_ms)
    return Reply(
        ctx.render("kol_record.html", record=record),
        title=ctx._("KOL record"),
    )


async def _set_following(ctx: Ctx, ref: str, follow: bool) -> Reply:
    found = await ctx.ops.resolve_channel(ref, require_admin=False)
    async with ctx.tx() as session:
        channel = await kol_service.kol_channel(
            session, platform=ctx.caller.platform, external_id=found.external_id
        )
        changed = await kol_service.set_following(
            session, user_id=ctx.user_id, channel=channel, follow=follow, now_ms=ctx.now_ms
        )
    return Reply(ctx.render("kol_follow.html", channel=channel, follow=follow, changed=changed))


async def follow(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/follow <channel>."""
    return await _set_following(ctx, str(args["channel"]), True)


async def unfollow(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/unfollow <channel>."""
    return await _set_following(ctx, str(args["channel"]), False)


async def press_call(ctx: Ctx, arg: str) -> Reply:
    """Details under a KOL call: the token's current card."""
    try:
        call_id = from_b36(arg)
    except ValueError:
        raise UserError(N_("This button is no longer valid.")) from None
    async with ctx.deps.sessions() as session:
        call = await kol_service.get_call(session, call_id=call_id)
    return await card_reply(ctx, call.mint)
