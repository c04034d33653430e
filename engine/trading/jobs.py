"""Trading jobs: ``check_orders`` (the safety net, arq-cron compatible), ``prepare_exit``,
``reprice_exit`` and ``auto_trade``.

All are idempotent: triggering is a database compare-and-set, exits and buys are keyed by
order and attempt, a rule's buy by rule and signal. The jobs get their ports from a
:class:`TradingRuntime` built from the process's ``Deps`` by a factory (the default one talks to
Jupiter at ``settings.jupiter_url`` and links into the Mini App at ``settings.public_url``);
tests and other processes pass their own factory to :func:`trading_jobs`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from engine.deps import Deps
from engine.jobs.base import JobContext, JobSpec, Transient
from engine.trade.bridge import resume_stuck_trades
from engine.trade.jupiter import JupiterClient
from engine.trading.adapters import BusNotifier, JupiterQuoter, MiniAppLinks
from engine.trading.attach import attach_confirmed_buys
from engine.trading.autotrade import AutoTrader
from engine.trading.exits import REPRICE_JOB, ExitService
from engine.trading.monitor import AfterTrigger, PriceMonitor
from engine.trading.orders import TriggerOutcome
from engine.trading.ports import Notifier, Quoter
from engine.trading.signer import SignerVault

logger = logging.getLogger(__name__)

CHECK_ORDERS: Final = "check_orders"
PREPARE_EXIT: Final = "prepare_exit"
AUTO_TRADE: Final = "auto_trade"


@dataclass
class TradingRuntime:
    """The trading services of one process."""

    deps: Any
    quoter: Quoter
    notifier: Notifier
    exits: ExitService
    auto: AutoTrader

    def monitor(self, *, after_trigger: AfterTrigger | None = None) -> PriceMonitor:
        """A price monitor whose triggers go straight to the exit service (or ``after_trigger``)."""
        return PriceMonitor(
            self.deps.sessions,
            self.deps.clock,
            after_trigger=after_trigger or self._prepare,
        )

    async def _prepare(self, outcome: TriggerOutcome) -> None:
        await self.exits.advance(outcome.order_id)


RuntimeFactory = Callable[[Any], TradingRuntime]


def build_runtime(
    deps: Any,
    *,
    quoter: Quoter,
    preparer: Any = None,
    notifier: Notifier | None = None,
    vault: SignerVault | None = None,
    executor: Any = None,
) -> TradingRuntime:
    """Wire the trading services over ``deps`` with the given ports."""
    notifier = notifier or BusNotifier(deps.bus)
    preparer = preparer or MiniAppLinks(deps.settings.public_url)
    exits = ExitService(
        deps.sessions,
        deps.clock,
        quoter=quoter,
        preparer=preparer,
        notifier=notifier,
        jobs=deps.jobs,
    )
    auto = AutoTrader(
        deps.sessions,
        deps.clock,
        quoter=quoter,
        exits=exits,
        notifier=notifier,
        executor=executor,
        vault=vault,
    )
    return TradingRuntime(deps, quoter, notifier, exits, auto)


class DefaultRuntime:
    """Builds the process's runtime once: Jupiter from the settings, Mini App links, the bus."""

    def __init__(self) -> None:
        self._built: dict[int, TradingRuntime] = {}
        self._clients: list[JupiterClient] = []

    async def aclose(self) -> None:
        """Close the Jupiter clients it opened (process shutdown)."""
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        self._built.clear()

    def __call__(self, deps: Deps) -> TradingRuntime:
        """The runtime for ``deps`` (one per process)."""
        runtime = self._built.get(id(deps))
        if runtime is None:
            s = deps.settings
            key = s.jupiter_api_key.get_secret_value() if s.jupiter_api_key else None
            client = JupiterClient(s.jupiter_url, api_key=key)
            self._clients.append(client)
            runtime = build_runtime(deps, quoter=JupiterQuoter(client))
            self._built[id(deps)] = runtime
        return runtime


def trading_jobs(factory: RuntimeFactory | None = None) -> list[JobSpec]:
    """The trading jobs with their limits, over runtimes from ``factory``."""
    runtime_for: RuntimeFactory = factory or DefaultRuntime()

    async def check_orders(ctx: JobContext) -> dict[str, Any]:
        """The safety net: fire what the stored prices justify, advance every exit."""
        rt = runtime_for(ctx.deps)
        monitor = rt.monitor()
        outcomes = await monitor.reconcile()
        deps = rt.deps
        now = deps.clock.now_ms()
        async with deps.sessions.begin() as session:
            attached = await attach_confirmed_buys(session, now_ms=now)
        states = await rt.exits.sweep()
        resumed = await resume_stuck_trades(deps, now_ms=now)
        return {
            "triggered": [o.order_id for o in outcomes],
            "attached": [a.parent_id for a in attached],
            "exits": dict(Counter(s.state for s in states)),
            "resumed_trades": resumed,
        }

    async def prepare_exit(ctx: JobContext, *, order_id: int) -> dict[str, Any]:
        """Price and publish the exit of a triggered order (after a monitor's trigger)."""
        state = await runtime_for(ctx.deps).exits.advance(order_id)
        if state.state == "no_quote":
            raise Transient(f"no quote for order {order_id}", defer_s=2.0 * ctx.job_try)
        return {"order_id": order_id, "state": state.state, "attempt": state.attempt}

    async def reprice_exit(ctx: JobContext, *, order_id: int) -> dict[str, Any]:
        """At a link's expiry: re-price it from a fresh quote if still unsigned."""
        state = await runtime_for(ctx.deps).exits.advance(order_id)
        if state.state == "no_quote":
            raise Transient(f"no quote for order {order_id}", defer_s=2.0 * ctx.job_try)
        return {"order_id": order_id, "state": state.state, "attempt": state.attempt}

    async def auto_trade(
        ctx: JobContext, *, signal_id: int, ts: int | None = None
    ) -> dict[str, Any]:
        """Run the enabled auto-trade rules on a fired signal (once per rule and signal)."""
        results = await runtime_for(ctx.deps).auto.on_signal(signal_id)
        return {"signal_id": signal_id, "runs": {str(r.rule_id): r.outcome for r in results}}

    return [
        JobSpec(CHECK_ORDERS, check_orders, timeout_s=120, max_tries=1),
        JobSpec(PREPARE_EXIT, prepare_exit, timeout_s=30, max_tries=5),
        JobSpec(REPRICE_JOB, reprice_exit, timeout_s=30, max_tries=3),
        JobSpec(AUTO_TRADE, auto_trade, timeout_s=60, max_tries=3),
    ]


def enqueue_exit(jobs: Any) -> AfterTrigger:
    """An ``after_trigger`` for a monitor in a busy process: hand the exit to a job."""

    async def after(outcome: TriggerOutcome) -> None:
        """Enqueue the exit of one trigger (once per order)."""
        await jobs.enqueue(
            PREPARE_EXIT, job_id=f"{PREPARE_EXIT}:{outcome.order_id}", order_id=outcome.order_id
        )

    return after
