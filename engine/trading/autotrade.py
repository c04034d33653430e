"""Auto-trade rules: "if Strength >= S and smart buyers >= N then buy Q SOL, with TP/SL …".

A rule is data (:class:`AutoTradeSpec`, stored in ``auto_trade_rules``) and is **off** until the
user enables it. For each fired signal every enabled rule it matches is one *run*:

1. a fresh quote of the buy (its price impact feeds the policy);
2. under a lock on the user's row (so two signals cannot both fit under the daily limit): the
   run's order is looked up by its idempotency key ``auto:<rule id>:<signal id>``; if it exists,
   the run is a replay and stops (a signal buys once, never twice);
3. the policy decides (per-trade and daily limits, confirmation threshold, blocklist, circuit
   breakers on price impact, freeze/mint authority, unknown risk, error bursts, stale signal);
4. the order is stored with the decision (``rejected`` when blocked, else ``triggered`` for the
   exit pipeline) and the run is written to the audit log, all in that one transaction;
5. ``confirm`` (and ``execute`` without an unlocked, opted-in server signer): the exit pipeline
   prices it from a fresh quote and pushes a one-tap link; ``execute`` with the signer: the
   swap is built, signed under the policy's approval, and submitted.

The exit plan of the rule rides on the order and is attached when the buy confirms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.clock import Clock
from engine.risk.engine import verdict_from_report
from engine.storage.models import AuditLog, AutoTradeRule, Order, Signal, Token, User
from engine.storage.repos import audit
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import trading as trading_repo
from engine.trading import store
from engine.trading.errors import OrderParamsError, QuoteUnavailable
from engine.trading.exits import AUTO_BUY, ExitService
from engine.trading.orders import TRIGGERED
from engine.trading.params import ExitPlan, parse_params
from engine.trading.policy import PolicyDecision, PolicyInput, TradingPolicy, decide
from engine.trading.ports import Notifier, OrderNotice, Quote, Quoter, SwapExecutor
from engine.trading.prefs import TradingPrefs, load_prefs
from engine.trading.price import min_out
from engine.trading.signer import SignerLocked, SignerVault, SigningRefused

logger = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
REJECTED: Final = "rejected"
ERROR_ACTION: Final = "auto_trade.error"


class AutoTradeSpec(BaseModel):
    """One rule's condition and action; ``buy_lamports`` is integer lamports."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    min_strength: float = Field(ge=0.0, le=3.0)
    min_smart_buyers: int = Field(default=0, ge=0, le=1000)
    buy_lamports: int = Field(gt=0)
    exits: ExitPlan | None = None


@dataclass(frozen=True, slots=True)
class SignalFacts:
    """What a rule reads from a signal."""

    signal_id: int
    mint: str
    ts: int
    strength: float
    smart_buyers: int

    @classmethod
    def from_row(cls, row: Signal) -> SignalFacts:
        """From a stored signal (smart buyers from its smart-burst inputs)."""
        burst = (row.inputs or {}).get("smart_burst") or {}
        return cls(row.id, row.mint, row.ts, row.strength, int(burst.get("smart_buyers") or 0))


def matches(spec: AutoTradeSpec, facts: SignalFacts) -> bool:
    """Whether a signal meets the rule's condition."""
    return facts.strength >= spec.min_strength and facts.smart_buyers >= spec.min_smart_buyers


@dataclass(frozen=True, slots=True)
class RunResult:
    """How one rule's run on one signal ended."""

    rule_id: int
    user_id: int
    signal_id: int
    outcome: str
    """``executed``, ``confirm`` (link pushed), ``blocked``, ``duplicate``, ``error``."""
    reasons: tuple[str, ...] = ()
    order_id: int | None = None


# -- rules as data --------------------------------------------------------------------------


async def save_rule(
    session: AsyncSession,
    *,
    user_id: int,
    name: str,
    params: AutoTradeSpec | dict[str, Any],
    now_ms: int,
) -> AutoTradeRule:
    """Create or replace a rule; a new rule is off, and editing a rule turns it off again."""
    spec = parse_params(AutoTradeSpec, params, name=f"auto_trade.{name}")
    if not 1 <= len(name) <= 64:
        raise OrderParamsError(["name: must be 1-64 characters"])
    stmt = select(AutoTradeRule).where(AutoTradeRule.user_id == user_id, AutoTradeRule.name == name)
    row = (await session.scalars(stmt)).one_or_none()
    data = spec.model_dump(mode="json")
    if row is None:
        row = AutoTradeRule(
            user_id=user_id,
            name=name,
            params=data,
            enabled=False,
            created_ts=now_ms,
            updated_ts=now_ms,
        )
        session.add(row)
    else:
        # Changed money rules are re-confirmed by the user before they run again.
        row.params, row.enabled, row.updated_ts = data, False, now_ms
    await session.flush()
    return row


async def set_rule_enabled(
    session: AsyncSession, *, user_id: int, rule_id: int, enabled: bool, now_ms: int
) -> AutoTradeRule:
    """Turn one of the user's rules on or off (audited)."""
    row = await session.get(AutoTradeRule, rule_id)
    if row is None or row.user_id != user_id:
        raise LookupError(f"no auto-trade rule {rule_id} for this user")
    row.enabled, row.updated_ts = enabled, now_ms
    await audit.append(
        session,
        ts=now_ms,
        actor=f"user:{user_id}",
        action="auto_trade.enable" if enabled else "auto_trade.disable",
        subject=f"user:{user_id}",
        data={"rule_id": rule_id, "name": row.name},
    )
    return row


async def list_rules(session: AsyncSession, *, user_id: int) -> list[AutoTradeRule]:
    """A user's auto-trade rules, oldest first."""
    stmt = (
        select(AutoTradeRule)
        .where(AutoTradeRule.user_id == user_id)
        .order_by(AutoTradeRule.created_ts, AutoTradeRule.id)
    )
    return list((await session.scalars(stmt)).all())


# -- running --------------------------------------------------------------------------------


async def spent_today(session: AsyncSession, *, user_id: int, now_ms: int) -> int:
    """Lamports the user's rules committed since UTC midnight (pending confirmations count)."""
    day_start = now_ms - now_ms % DAY_MS
    stmt = select(func.coalesce(func.sum(Order.amount_in), 0)).where(
        Order.user_id == user_id,
        Order.kind == AUTO_BUY,
        Order.status.in_([TRIGGERED, "filled"]),
        Order.created_ts >= day_start,
    )
    return int((await session.execute(stmt)).scalar_one())


async def recent_errors(session: AsyncSession, *, user_id: int, since_ms: int) -> int:
    """Automation failures of the user since ``since_ms`` (the error-burst breaker's count)."""
    stmt = select(func.count()).where(
        AuditLog.subject == f"user:{user_id}",
        AuditLog.action == ERROR_ACTION,
        AuditLog.ts >= since_ms,
    )
    return int((await session.execute(stmt)).scalar_one())


class AutoTrader:
    """Runs the enabled auto-trade rules on fired signals."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        quoter: Quoter,
        exits: ExitService,
        notifier: Notifier,
        executor: SwapExecutor | None = None,
        vault: SignerVault | None = None,
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._clock = clock
        self._quoter = quoter
        self._exits = exits
        self._executor = executor
        self._vault = vault

    async def on_signal(self, signal_id: int) -> list[RunResult]:
        """Run every enabled rule that matches the stored signal ``signal_id``."""
        async with self._sessions() as session:
            row = (await session.scalars(select(Signal).where(Signal.id == signal_id))).first()
            if row is None:
                logger.warning("auto-trade: no signal %s", signal_id)
                return []
            facts = SignalFacts.from_row(row)
            rules = list(
                (
                    await session.scalars(
                        select(AutoTradeRule)
                        .where(AutoTradeRule.enabled.is_(True))
                        .order_by(AutoTradeRule.id)
                    )
                ).all()
            )
        results = []
        for rule in rules:
            try:
                spec = parse_params(AutoTradeSpec, rule.params, name=f"auto_trade.{rule.name}")
            except OrderParamsError as exc:
                results.append(await self._error(rule, facts, f"invalid rule: {exc}"))
                continue
            if matches(spec, facts):
                results.append(await self.run(rule, spec, facts))
        return results

    async def run(self, rule: AutoTradeRule, spec: AutoTradeSpec, facts: SignalFacts) -> RunResult:
        """One rule on one signal: at most one buy, whatever happens to be replayed."""
        key = f"auto:{rule.id}:{facts.signal_id}"
        async with self._sessions() as session:
            if await _order_by_key(session, key) is not None:
                return await self._duplicate(rule, facts, key)
        quote: Quote | None
        try:
            quote = await self._quoter.quote(facts.mint, "buy", spec.buy_lamports)
        except QuoteUnavailable as exc:
            logger.warning("auto-trade rule %s: %s", rule.id, exc)
            quote = None
        now = self._clock.now_ms()
        async with self._sessions.begin() as session:
            # The user's row lock serializes runs of one user: the daily limit holds under races.
            await session.execute(
                update(User)
                .where(User.id == rule.user_id)
                .values(created_ts=User.created_ts)
                .execution_options(synchronize_session=False)
            )
            recorded = None
            if await _order_by_key(session, key) is None:
                prefs = await load_prefs(session, user_id=rule.user_id)
                decision = await self._decide(session, rule, spec, facts, prefs, quote, now)
                order = await self._record(session, rule, spec, facts, key, decision, quote, now)
                recorded = (prefs, decision, order)
        if recorded is None:
            return await self._duplicate(rule, facts, key)
        prefs, decision, order = recorded
        if decision.action == "block":
            await self._notifier.notify(_blocked_notice(order, decision))
            return RunResult(
                rule.id, rule.user_id, facts.signal_id, "blocked", decision.reasons, order.id
            )
        signer = self._vault.get(rule.user_id) if self._vault is not None else None
        if (
            decision.action == "execute"
            and prefs.server_signer
            and signer is not None
            and self._executor is not None
            and quote is not None
        ):
            return await self._execute(rule, facts, order, decision, quote, prefs)
        state = await self._exits.advance(order.id)
        logger.info(
            "auto-trade rule %s on signal %s: confirmation %s",
            rule.id,
            facts.signal_id,
            state.state,
        )
        reasons = decision.reasons or ("signer: no unlocked server signer; asking the user",)
        return RunResult(rule.id, rule.user_id, facts.signal_id, "confirm", reasons, order.id)

    async def _decide(
        self,
        session: AsyncSession,
        rule: AutoTradeRule,
        spec: AutoTradeSpec,
        facts: SignalFacts,
        prefs: TradingPrefs,
        quote: Quote | None,
        now: int,
    ) -> PolicyDecision:
        # An expired report is as good as none: the policy then fails closed (risk_unknown).
        report = await signal_repo.get_risk_report(session, mint=facts.mint, now_ms=now)
        verdict = verdict_from_report(report.data) if report is not None else None
        token = await session.get(Token, facts.mint)
        user = await session.get(User, rule.user_id)
        policy = effective_policy(prefs.policy, user.settings if user is not None else None)
        window = policy.error_burst_window_s * 1000
        return decide(
            policy,
            PolicyInput(
                user_id=rule.user_id,
                mint=facts.mint,
                amount_lamports=spec.buy_lamports,
                spent_today_lamports=await spent_today(session, user_id=rule.user_id, now_ms=now),
                price_impact_bps=quote.price_impact_bps if quote is not None else None,
                verdict=verdict,
                recent_errors=await recent_errors(
                    session, user_id=rule.user_id, since_ms=now - window
                ),
                signal_age_ms=max(0, now - facts.ts),
                creator=token.creator if token is not None else None,
            ),
        )

    async def _record(
        self,
        session: AsyncSession,
        rule: AutoTradeRule,
        spec: AutoTradeSpec,
        facts: SignalFacts,
        key: str,
        decision: PolicyDecision,
        quote: Quote | None,
        now: int,
    ) -> Order:
        params: dict[str, Any] = {
            "rule_id": rule.id,
            "signal_id": facts.signal_id,
            "decision": decision.action,
            "reasons": list(decision.reasons),
            "trigger": {
                "ts": now,
                "price": None,
                "amount": spec.buy_lamports,
                "reason": f"rule {rule.name}: Strength {facts.strength:.2f}, "
                f"{facts.smart_buyers} smart buyers",
            },
        }
        if spec.exits is not None:
            params["exits"] = spec.exits.model_dump(mode="json")
        order, _ = await trading_repo.create_order(
            session,
            idempotency_key=key,
            user_id=rule.user_id,
            mint=facts.mint,
            side="buy",
            kind=AUTO_BUY,
            amount_in=spec.buy_lamports,
            params=params,
            now_ms=now,
        )
        status = REJECTED if decision.action == "block" else TRIGGERED
        await session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(status=status, updated_ts=now)
            .execution_options(synchronize_session=False)
        )
        await audit.append(
            session,
            ts=now,
            actor=f"rule:{rule.id}",
            action=f"auto_trade.{decision.action}",
            subject=f"user:{rule.user_id}",
            data={
                "signal_id": facts.signal_id,
                "mint": facts.mint,
                "order_id": order.id,
                "amount_lamports": spec.buy_lamports,
                "price_impact_bps": quote.price_impact_bps if quote is not None else None,
                "reasons": list(decision.reasons),
            },
        )
        return order

    async def _execute(
        self,
        rule: AutoTradeRule,
        facts: SignalFacts,
        order: Order,
        decision: PolicyDecision,
        quote: Quote,
        prefs: TradingPrefs,
    ) -> RunResult:
        """The unattended path: build, sign under the approval, submit."""
        assert self._executor is not None and self._vault is not None
        now = self._clock.now_ms()
        amount = order.amount_in
        floor = min_out(quote.out_amount, prefs.slippage_bps)
        trade_key = f"exit:{order.id}:1"
        async with self._sessions.begin() as session:
            trade, _ = await trading_repo.record_trade(
                session,
                idempotency_key=trade_key,
                user_id=rule.user_id,
                mint=facts.mint,
                side="buy",
                in_amount=amount,
                min_out_amount=floor,
                order_id=order.id,
                now_ms=now,
            )
            await store.set_exit(
                session,
                order_id=order.id,
                exit_info={
                    "attempt": 1,
                    "trade_id": trade.id,
                    "quoted_out": quote.out_amount,
                    "min_out": floor,
                    "price_impact_bps": quote.price_impact_bps,
                    "slippage_bps": prefs.slippage_bps,
                    "quote_ts": now,
                    "signing_since": now,
                    "expires_ts": now + prefs.exit_link_ttl_ms,
                    "idempotency_key": trade_key,
                    "link": "server-signed",
                    "notified": True,
                },
                now_ms=now,
                new_attempt=True,
            )
        try:
            signer = self._vault.get(rule.user_id)
            if signer is None:
                raise SignerLocked("the signer locked before signing")
            approval = decision.approve(
                user_id=rule.user_id,
                mint=facts.mint,
                amount_in=amount,
                idempotency_key=trade_key,
                now_ms=now,
            )
            tx = await self._executor.build(
                owner=signer.pubkey, mint=facts.mint, side="buy", amount_in=amount, min_out=floor
            )
            signed = signer.sign(tx, approval)
            signature = await self._executor.submit(signed, idempotency_key=trade_key)
        except (SignerLocked, SigningRefused, PermissionError) as exc:
            return await self._failed(rule, facts, order, trade.id, f"signing refused: {exc}")
        except Exception as exc:
            logger.exception("auto-trade rule %s: execution failed", rule.id)
            return await self._failed(rule, facts, order, trade.id, f"{type(exc).__name__}: {exc}")
        async with self._sessions.begin() as session:
            await trading_repo.update_trade(
                session, trade_id=trade.id, status="submitted", signature=signature, now_ms=now
            )
            await audit.append(
                session,
                ts=self._clock.now_ms(),
                actor=f"rule:{rule.id}",
                action="auto_trade.submitted",
                subject=f"user:{rule.user_id}",
                data={"order_id": order.id, "trade_id": trade.id, "signature": signature},
            )
        await self._notifier.notify(auto_buy_notice(order, trade.id, signature))
        return RunResult(rule.id, rule.user_id, facts.signal_id, "executed", (), order.id)

    async def _failed(
        self, rule: AutoTradeRule, facts: SignalFacts, order: Order, trade_id: int, error: str
    ) -> RunResult:
        now = self._clock.now_ms()
        async with self._sessions.begin() as session:
            await trading_repo.update_trade(
                session, trade_id=trade_id, status="failed", error=error[:500], now_ms=now
            )
            await store.finish(session, order_id=order.id, status="expired", now_ms=now)
            await audit.append(
                session,
                ts=now,
                actor=f"rule:{rule.id}",
                action=ERROR_ACTION,
                subject=f"user:{rule.user_id}",
                data={"signal_id": facts.signal_id, "order_id": order.id, "error": error[:500]},
            )
        return RunResult(rule.id, rule.user_id, facts.signal_id, "error", (error,), order.id)

    async def _duplicate(self, rule: AutoTradeRule, facts: SignalFacts, key: str) -> RunResult:
        now = self._clock.now_ms()
        async with self._sessions.begin() as session:
            await audit.append(
                session,
                ts=now,
                actor=f"rule:{rule.id}",
                action="auto_trade.duplicate",
                subject=f"user:{rule.user_id}",
                data={"signal_id": facts.signal_id, "key": key},
            )
        return RunResult(rule.id, rule.user_id, facts.signal_id, "duplicate", ("duplicate",))

    async def _error(self, rule: AutoTradeRule, facts: SignalFacts, error: str) -> RunResult:
        async with self._sessions.begin() as session:
            await audit.append(
                session,
                ts=self._clock.now_ms(),
                actor=f"rule:{rule.id}",
                action=ERROR_ACTION,
                subject=f"user:{rule.user_id}",
                data={"signal_id": facts.signal_id, "error": error[:500]},
            )
        return RunResult(rule.id, rule.user_id, facts.signal_id, "error", (error,))


def effective_policy(policy: TradingPolicy, settings: dict[str, Any] | None) -> TradingPolicy:
    """The automation policy tightened by the user's manual-trading limits (the bridge's).

    The blocklist is the union; the per-trade cap the smaller of the two.
    """
    s = settings or {}
    blocklist = s.get("blocklist")
    extra = [b for b in blocklist if isinstance(b, str)] if isinstance(blocklist, list) else []
    cap = s.get("max_trade_lamports")
    per_trade = policy.max_trade_lamports
    if type(cap) is int and cap >= 0:
        per_trade = min(per_trade, cap)
    if not extra and per_trade == policy.max_trade_lamports:
        return policy
    return policy.model_copy(
        update={
            "blocklist": sorted(set(policy.blocklist) | set(extra)),
            "max_trade_lamports": per_trade,
        }
    )


async def _order_by_key(session: AsyncSession, key: str) -> Order | None:
    stmt = select(Order).where(Order.idempotency_key == key)
    return (await session.scalars(stmt)).one_or_none()


def _blocked_notice(order: Order, decision: PolicyDecision) -> OrderNotice:
    return OrderNotice.about(
        order,
        "auto_blocked",
        f"auto_blocked:{order.id}",
        side="buy",
        amount_in=order.amount_in,
        reason="; ".join(decision.reasons),
    )


def auto_buy_notice(order: Order, trade_id: int, signature: str) -> OrderNotice:
    """The notice for a buy the server signer executed."""
    return OrderNotice.about(
        order,
        "auto_buy",
        f"auto_buy:{order.id}",
        side="buy",
        amount_in=order.amount_in,
        reason=f"submitted {signature}",
    )
