"""Push alerts as replies: new signals, fills of watched wallets, KOL calls, order events.

An alert renders its body once per language and its buttons per chat: the Buy button opens the
Mini App prefilled, Details and Explain are callbacks signed for that chat. ``key`` is the
exactly-once key of ``alert_deliveries``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Final

from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import Binding, Signer, b36
from bot.features.signals import token_label
from bot.i18n import N_, gettext_for
from bot.render import ALIAS_LIMIT, render
from bot.reply import Button, Reply, rows
from bot.text import clean
from engine.chain.programs import LAMPORTS_PER_SOL
from engine.services import kol as kol_service
from engine.services import signals as signal_service
from engine.services.signals import RiskInfo, SignalView, TokenInfo
from engine.services.trade import buy_intent
from engine.signals.explain import short_address
from engine.storage.models import Chat, Order, SmartTrade

logger = logging.getLogger(__name__)

ALERT_BUY_LAMPORTS: Final = LAMPORTS_PER_SOL // 10
"""The Buy button's prefilled amount; the user changes it in the Mini App."""
ORDER_ALERT_TTL_S: Final = 86_400
"""News of the user's own order stays worth sending for a day (market alerts: minutes)."""


@dataclass(slots=True)
class Alert:
    """One alert for many chats: body per language, buttons per chat."""

    key: str
    template: str
    context: dict[str, Any]
    title: str
    signer: Signer
    mint: str | None = None
    buy: bool = False
    details: tuple[str, str] | None = None
    """(callback action, arg) of the Details button."""
    explain: tuple[str, str] | None = None
    digest_line: str = ""
    """One neutral-markup line for a group digest."""
    foldable: bool = True
    """May be folded into a digest when a group is at its limit (signals, calls)."""
    ttl_s: int | None = None
    """Past this age undelivered it is not sent (None: ``SOLAI_ALERT_TTL_S``, market alerts)."""
    _bodies: dict[str, str] = field(default_factory=dict)

    def body(self, lang: str) -> str:
        """The rendered body, cached per language."""
        if lang not in self._bodies:
            self._bodies[lang] = render(lang, self.template, **self.context)
        return self._bodies[lang]

    def reply(self, chat: Chat) -> Reply:
        """The alert as sent to one chat, buttons signed for anyone in that chat."""
        lang = chat.language
        bind = Binding("c", chat.external_id)
        buttons: list[Button] = []
        if self.buy and self.mint:
            intent = buy_intent(mint=self.mint, lamports=ALERT_BUY_LAMPORTS)
            buttons.append(Button(gettext_for(lang, N_("Buy")), "trade", intent=intent))
        if self.details:
            data = self.signer.pack(self.details[0], self.details[1], bind)
            buttons.append(Button(gettext_for(lang, N_("Details")), "callback", data))
        if self.explain:
            data = self.signer.pack(self.explain[0], self.explain[1], bind)
            buttons.append(Button(gettext_for(lang, N_("Explain")), "callback", data))
        return Reply(self.body(lang), title=self.title, buttons=rows(*buttons), tone="alert")


def _label(token: TokenInfo) -> str:
    return token_label(token.name, token.symbol, token.mint)


async def signal_alert(
    session: AsyncSession, *, signal_id: int, signer: Signer, now_ms: int
) -> Alert | None:
    """The alert of a stored signal; None when it is gone."""
    stored = await signal_service.get_signal(session, signal_id=signal_id)
    if stored is None:
        return None
    view: SignalView = signal_service.signal_view(stored)
    token = await signal_service.token_info(session, mint=stored.mint)
    risk: RiskInfo = await signal_service.risk_info(
        session, mint=stored.mint, now_ms=now_ms, signal=stored
    )
    liq = (stored.inputs or {}).get("liquidity") or {}
    label = _label(token)
    sid = b36(stored.id)
    return Alert(
        key=f"signal:{stored.id}",
        template="alert_signal.html",
        context={"s": view, "risk": risk, "liquidity": liq.get("sol_reserves"), "token": label},
        title=label,
        signer=signer,
        mint=stored.mint,
        buy=not risk.blocks_buy,
        details=("d", sid),
        explain=("x", sid),
        digest_line=_digest_line(label, view.strength),
    )


def _digest_line(label: str, strength: float | None = None) -> str:
    text = label if strength is None else f"{label} · {strength:.2f}/3"
    return str(escape(text))


async def fill_alert(
    session: AsyncSession, *, fill: SmartTrade, alias: str | None, signer: Signer
) -> Alert:
    """A watched wallet's buy or sell (``alias`` is the recipient's name for the wallet)."""
    token = await signal_service.token_info(session, mint=fill.mint)
    label = _label(token)
    latest = await signal_service.latest_signal_view(session, mint=fill.mint)
    risk = await signal_service.risk_info(session, mint=fill.mint, now_ms=fill.ts)
    wallet = clean(alias, ALIAS_LIMIT) if alias else short_address(fill.wallet)
    return Alert(
        key=f"fill:{fill.signature}:{fill.idx}",
        template="alert_fill.html",
        context={
            "side": fill.side,
            "wallet": wallet,
            "token": label,
            "lamports": fill.sol_lamports,
            "mint": fill.mint,
        },
        title=label,
        signer=signer,
        mint=fill.mint,
        buy=fill.side == "buy" and not risk.blocks_buy,
        details=("d", b36(latest.id)) if latest is not None else None,
        explain=("x", b36(latest.id)) if latest is not None else None,
        foldable=False,
    )


async def kol_call_alert(session: AsyncSession, *, call_id: int, signer: Signer) -> Alert:
    """A KOL's published call."""
    call = await kol_service.get_call(session, call_id=call_id)
    channel = await session.get(Chat, call.channel_id)
    token = await signal_service.token_info(session, mint=call.mint)
    risk = await signal_service.risk_info(session, mint=call.mint, now_ms=call.ts)
    label = _label(token)
    title = clean(channel.title if channel is not None else None, 40) or "KOL"
    return Alert(
        key=f"kol_call:{call.id}",
        template="alert_kol_call.html",
        context={"channel": title, "token": label, "note": call.note, "mint": call.mint},
        title=label,
        signer=signer,
        mint=call.mint,
        buy=not risk.blocks_buy,
        details=("k", b36(call.id)),
        digest_line=_digest_line(label),
    )


async def order_alert(
    session: AsyncSession, *, order: Order, event: str, ts: int, signer: Signer
) -> Alert:
    """An event of the user's own order (TP/SL reached, filled, failed)."""
    token = await signal_service.token_info(session, mint=order.mint)
    label = _label(token)
    return Alert(
        key=f"order:{order.id}:{event}:{ts}",
        template="alert_order.html",
        context={
            "order_id": order.id,
            "event": event,
            "side": order.side,
            "token": label,
            "mint": order.mint,
        },
        title=label,
        signer=signer,
        mint=order.mint,
        foldable=False,
        ttl_s=ORDER_ALERT_TTL_S,
    )
