"""From the services' dataclasses to the API's public schemas."""

from __future__ import annotations

from engine.services.market import SignalItem, TokenDetail
from engine.services.signals import RiskInfo, SignalView
from engine.trade.bridge import TradeView
from webapp.schemas import (
    RiskPublic,
    RuleFiredPublic,
    SignalPublic,
    SmartBuyPublic,
    TokenPublic,
    TradePublic,
)


def risk_public(risk: RiskInfo) -> RiskPublic:
    """A risk verdict as the API shows it."""
    return RiskPublic(
        known=risk.known,
        level=risk.level,
        badges=list(risk.badges),
        blocks_buy=risk.blocks_buy,
        checked_ts=risk.checked_ts,
    )


def signal_public(item: SignalItem) -> SignalPublic:
    """A signal page item as the API shows it."""
    return SignalPublic(
        id=item.id,
        ts=item.ts,
        mint=item.mint,
        symbol=item.symbol,
        name=item.name,
        strength=min(3.0, max(0.0, item.strength)),
        components=item.components,
        rules=[
            RuleFiredPublic(
                name=h.name,
                kind=h.kind,
                title=h.title,
                role=h.role,
                passed=h.passed,
                summary=h.summary,
            )
            for h in item.rules
        ],
        risk=risk_public(item.risk),
        narrative=item.narrative,
        explanation=item.explanation,
        status="retracted" if item.status == "retracted" else "live",
    )


def _card_signal(view: SignalView, detail: TokenDetail) -> SignalPublic:
    token = detail.card.token
    return SignalPublic(
        id=view.id,
        ts=view.ts,
        mint=view.mint,
        symbol=token.symbol,
        name=token.name,
        strength=min(3.0, max(0.0, view.strength)),
        components=view.components,
        rules=[
            RuleFiredPublic(name=t, kind="", title=t, role="trigger", passed=True, summary=t)
            for t in view.triggers
        ],
        risk=risk_public(detail.card.risk),
        narrative=view.narrative,
        explanation=view.explanation,
        status="retracted" if view.status == "retracted" else "live",
    )


def token_public(detail: TokenDetail) -> TokenPublic:
    """A token's detail as the API shows it."""
    card = detail.card
    t = card.token
    return TokenPublic(
        mint=t.mint,
        name=t.name,
        symbol=t.symbol,
        venue=t.venue,
        complete=t.complete,
        created_ts=t.created_ts,
        decimals=detail.decimals,
        supply=str(detail.supply) if detail.supply is not None else None,
        price_lamports_per_token=detail.price_lamports_per_token,
        market_cap_lamports=detail.market_cap_lamports,
        liquidity_lamports=card.liquidity_lamports,
        volume_24h_lamports=card.volume_24h_lamports,
        risk=risk_public(card.risk),
        signal=_card_signal(card.signal, detail) if card.signal is not None else None,
        smart_buys=[
            SmartBuyPublic(wallet=b.wallet, alias=b.alias, lamports=b.lamports, ts=b.ts)
            for b in card.smart_buys
        ],
        near_miss=card.near_miss,
    )


def trade_public(view: TradeView) -> TradePublic:
    """A trade as the API shows it."""
    return TradePublic(
        id=view.id,
        mint=view.mint,
        side=view.side,
        status=view.status,
        in_amount=view.in_amount,
        out_amount=view.out_amount,
        min_out_amount=view.min_out_amount,
        signature=view.signature,
        error=view.error,
        created_ts=view.created_ts,
        updated_ts=view.updated_ts,
    )
