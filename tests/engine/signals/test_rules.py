"""Rules: thresholds on window and risk facts, parameter validation, layering from the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.risk.model import RiskVerdict, RiskView
from engine.signals.rules import (
    RULE_KINDS,
    LiquidityDepth,
    LpBurnt,
    NoFreeze,
    NoMint,
    PushTime,
    RuleConfigError,
    RuleContext,
    RuleSet,
    Slippage,
    SmartBuyBurst,
    Top10,
    load_rule_set,
)
from engine.signals.windows import MintWindows, Windows
from engine.storage.repos import trading, users
from tests.conftest import Db
from tests.engine.signals.factory import SOL, T0, Curve, addr

MINT = addr("Mint")
WHALES = {addr(f"W{i}"): f"whale{i}" for i in range(4)}


def ctx_for(mw: MintWindows, verdict: RiskVerdict | None = None) -> RuleContext:
    return RuleContext(mw.mint, mw.now, mw, verdict, WHALES)


def windows_with(
    buys: list[tuple[int, str, int]], sells: list[tuple[int, str, int]] | None = None
) -> MintWindows:
    c = Curve(MINT)
    w = Windows(smart=WHALES)
    w.add(c.create(T0))
    for ts, who, lamports in sorted(buys):
        w.add(c.buy(ts, who, lamports))
    for ts, who, tokens in sorted(sells or []):
        w.add(c.sell(ts, who, tokens))
    mw = w.get(MINT)
    assert mw is not None
    return mw


def verdict(**facts: Any) -> RiskVerdict:
    known = frozenset(facts.pop("known", ("mint", "holders")))
    view = RiskView(mint=MINT, checked_ts=T0, known=known, **facts)
    return RiskVerdict(level="low", badges=(), penalties={}, view=view)


# -- validation ----------------------------------------------------------------------------------


def test_defaults_cover_every_kind_and_are_valid() -> None:
    rs = RuleSet.defaults()
    assert {r.kind for r in rs.rules} == set(RULE_KINDS)
    assert {r.kind for r in rs.triggers} == {"push_time", "smart_buy_burst", "momentum"}
    assert not rs.blockers  # filters flag by default, they do not hide


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("smart_buy_burst", {"min_wallets": 0}, "smart_buy_burst.min_wallets must be >= 1 (got 0)"),
        ("push_time", {"window_minutes": 16}, "push_time.window_minutes must be <= 15 (got 16)"),
        ("push_time", {"min_buy_share": 1.5}, "push_time.min_buy_share must be <= 1"),
        ("slippage", {"max_slippage_bps": "lots"}, "slippage.max_slippage_bps must be an integer"),
        ("top10", {"max_pct": 30}, "top10.max_pct is not a parameter (known: block, enabled"),
        ("smart_buy_burst", {"min_total_lamports": 1.5}, "must be a whole number"),
    ],
)
def test_validation_errors_name_the_field(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleConfigError) as info:
        RULE_KINDS[kind].parse(params)
    assert message in str(info.value)


@dataclass
class Row:
    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    user_id: int | None = None


def test_rows_layer_defaults_global_then_user() -> None:
    rows = [
        Row("smart_buy_burst", "smart_buy_burst", {"min_wallets": 4, "window_minutes": 10}),
        Row("smart_buy_burst", "smart_buy_burst", {"min_wallets": 2}, user_id=7),
        Row("smart_buy_burst", "smart_buy_burst", {"min_wallets": 9}, user_id=8),
        Row("no_freeze", "no_freeze", {"block": True}, user_id=7),
        Row("momentum", "momentum", enabled=False),
        Row("whales_only", "smart_buy_burst", {"min_lamports_per_wallet": 2 * SOL}, user_id=7),
    ]
    mine = RuleSet.from_rows(rows, user_id=7)
    burst = mine.get("smart_buy_burst")
    assert burst is not None
    # The user's row sets one field; the global row's other field stays.
    assert (burst.params.min_wallets, burst.params.window_minutes) == (2, 10)
    assert [r.name for r in mine.blockers] == ["no_freeze"]
    assert "momentum" not in {r.name for r in mine.active}
    assert mine.get("whales_only") is not None
    assert mine.spans_ms() == {300_000, 600_000}
    glob = RuleSet.from_rows(rows)
    g_burst = glob.get("smart_buy_burst")
    assert g_burst is not None and g_burst.params.min_wallets == 4
    assert glob.get("whales_only") is None and not glob.blockers


def test_all_bad_rows_are_reported_together() -> None:
    rows = [
        Row("a", "no_such_kind"),
        Row("push_time", "push_time", {"min_trades": 0}),
        Row("whales", "smart_buy_burst", {"min_wallets": -1}),
    ]
    with pytest.raises(RuleConfigError) as info:
        RuleSet.from_rows(rows)
    errors = info.value.errors
    assert len(errors) == 3
    assert "unknown kind 'no_such_kind'" in errors[0]
    assert errors[1].startswith("push_time.min_trades must be >= 1")
    assert errors[2].startswith("whales (smart_buy_burst).min_wallets must be >= 1")


def test_override_returns_a_new_validated_set() -> None:
    rs = RuleSet.defaults().override("smart_buy_burst", {"min_wallets": 2})
    burst = rs.get("smart_buy_burst")
    assert burst is not None and burst.params.min_wallets == 2
    with pytest.raises(RuleConfigError, match="min_wallets must be >= 1"):
        rs.override("smart_buy_burst", {"min_wallets": 0})
    extra = rs.override("fast_push", {"kind": "push_time", "window_minutes": 1})
    assert extra.spans_ms() >= {60_000}


async def test_rule_set_loads_from_the_rules_table(db: Db) -> None:
    async with db.sessions.begin() as s:
        user = await users.get_or_create_telegram_user(s, telegram_id=42, now_ms=T0)
        await trading.save_rule(
            s, name="smart_buy_burst", kind="smart_buy_burst", params={"min_wallets": 5}, now_ms=T0
        )
        await trading.save_rule(
            s,
            name="smart_buy_burst",
            kind="smart_buy_burst",
            params={"min_total_lamports": 2 * SOL},
            now_ms=T0 + 1,
            user_id=user.id,
        )
        await trading.save_rule(
            s, name="top10", kind="top10", params={}, now_ms=T0 + 2, user_id=user.id, enabled=False
        )
        uid = user.id
    async with db.sessions.begin() as s:
        rs = await load_rule_set(s, user_id=uid)
        glob = await load_rule_set(s, user_id=None)
    burst = rs.get("smart_buy_burst")
    assert burst is not None
    assert (burst.params.min_wallets, burst.params.min_total_lamports) == (5, 2 * SOL)
    assert "top10" not in {r.name for r in rs.active}
    g = glob.get("smart_buy_burst")
    assert g is not None and g.params.min_total_lamports == 5 * SOL


# -- triggers ------------------------------------------------------------------------------------


def test_smart_buy_burst_counts_tracked_wallets_and_their_sol() -> None:
    w = list(WHALES)
    mw = windows_with(
        [
            (T0 + 10_000, w[0], 3 * SOL),
            (T0 + 20_000, w[1], 2 * SOL),
            (T0 + 30_000, addr("X"), 50 * SOL),
        ]
    )
    rule = SmartBuyBurst.parse({"min_wallets": 2, "min_total_lamports": 5 * SOL})
    res = rule.evaluate(ctx_for(mw))
    assert res.passed and rule.passes(ctx_for(mw))
    assert "2 tracked wallets bought 5 SOL in 5m (whale0 3 SOL, whale1 2 SOL)" in res.summary
    assert res.detail["wallets"][0] == {"address": w[0], "alias": "whale0", "lamports": 3 * SOL}
    strict = SmartBuyBurst.parse({"min_wallets": 2, "min_lamports_per_wallet": 5 * SOL // 2})
    res = strict.evaluate(ctx_for(mw))
    assert not res.passed and not strict.passes(ctx_for(mw))
    assert res.checks[0].actual == 1 and res.checks[0].shortfall == 1
    # Outside the window it no longer counts.
    mw.advance(T0 + 10_000 + 300_000)
    assert rule.evaluate(ctx_for(mw)).checks[0].actual == 1


def test_push_time_net_flow_per_minute() -> None:
    buys = [(T0 + i * 10_000, addr(f"B{i}"), SOL) for i in range(1, 7)]  # 6 SOL bought
    mw = windows_with(buys, sells=[(T0 + 65_000, addr("S"), 10**13)])
    need = 3 * SOL // 2
    rule = PushTime.parse({"window_minutes": 5, "min_net_lamports_per_min": need, "min_trades": 7})
    res = rule.evaluate(ctx_for(mw))
    net = 6 * SOL - mw.span(300_000).sell_lamports  # the sell arrived late: still counted
    assert res.checks[0].actual == net // 5
    assert not res.passed and res.checks[0].shortfall == need - net // 5  # 1.12 < 1.5 SOL/min
    assert res.checks[2].passed  # 7 trades
    assert "net 5.602 SOL in 5m (1.12 SOL/min), 94% of volume bought, 7 trades" in res.summary
    loose = {"window_minutes": 5, "min_trades": 7, "min_net_lamports_per_min": SOL}
    assert PushTime.parse(loose).evaluate(ctx_for(mw)).passed


# -- filters -------------------------------------------------------------------------------------


def test_no_freeze_fails_on_authority_and_closed_when_unknown() -> None:
    mw = windows_with([(T0 + 1_000, addr("B"), SOL)])
    rule = NoFreeze.parse({})
    held = rule.evaluate(ctx_for(mw, verdict(freeze_authority=addr("Auth"))))
    assert not held.passed and "freeze authority held by Auth" in held.summary
    unknown = rule.evaluate(ctx_for(mw, None))
    assert not unknown.passed and "risk not checked yet" in unknown.summary
    assert "failed closed" in unknown.summary and unknown.checks[0].actual is None
    unchecked = rule.evaluate(ctx_for(mw, verdict(known=())))
    assert not unchecked.passed and "not checked" in unchecked.summary
    assert rule.evaluate(ctx_for(mw, verdict())).passed  # renounced, and the check ran
    blocking = NoFreeze.parse({"block": True}).evaluate(ctx_for(mw, None))
    assert blocking.blocking and not held.blocking
    assert NoMint.parse({}).evaluate(ctx_for(mw, verdict(mint_authority="M" * 44))).passed is False


def test_top10_lp_liquidity_and_slippage() -> None:
    mw = windows_with([(T0 + 1_000, addr("B"), SOL)])  # 31 SOL virtual on the curve
    assert Top10.parse({}).evaluate(ctx_for(mw, verdict(top10_pct=25.0))).passed
    t = Top10.parse({}).evaluate(ctx_for(mw, verdict(top10_pct=42.5)))
    assert not t.passed and t.checks[0].shortfall == pytest.approx(12.5)
    assert not Top10.parse({}).evaluate(ctx_for(mw, None)).passed  # unknown: fail closed
    lp = LpBurnt.parse({}).evaluate(ctx_for(mw, None))
    assert lp.passed and "bonding curve" in lp.summary
    assert not LpBurnt.parse({}).evaluate(ctx_for(mw, verdict(lp_burnt_pct=50.0))).passed
    mw.venue = "pumpswap"  # migrated: an AMM pool whose LP state is not known yet
    assert not LpBurnt.parse({}).evaluate(ctx_for(mw, verdict())).passed
    assert LpBurnt.parse({}).evaluate(ctx_for(mw, verdict(known=("mint", "lp")))).passed
    assert LpBurnt.parse({}).evaluate(ctx_for(mw, verdict(lp_burnt_pct=99.0))).passed
    mw.venue = "pumpfun"
    depth = LiquidityDepth.parse({"min_liquidity_lamports": 40 * SOL}).evaluate(ctx_for(mw))
    assert not depth.passed and depth.checks[0].shortfall == 9 * SOL
    slip = Slippage.parse({"max_slippage_bps": 300}).evaluate(ctx_for(mw))
    # 1 SOL into 31 SOL: 1/32 of the tokens short = 313 bps (rounded up).
    assert slip.checks[0].actual == 313 and not slip.passed
    assert Slippage.parse({"max_slippage_bps": 313}).evaluate(ctx_for(mw)).passed


def test_passes_agrees_with_evaluate_on_a_replayed_workload() -> None:
    from workers.bench.replay import generate

    events, smart, verdicts = generate(3_000, seed=11, mints=20)
    rules = RuleSet.defaults().override("smart_buy_burst", {"min_lamports_per_wallet": SOL // 10})
    rules = rules.override("fast", {"kind": "push_time", "window_minutes": 1, "min_trades": 3})
    w = Windows(rules.spans_ms() | {60_000, 300_000, 900_000}, smart=smart)
    seen = {True: 0, False: 0}
    for ev in events:
        mw = w.add(ev)
        if mw is None:
            continue
        ctx = RuleContext(mw.mint, mw.now, mw, verdicts.get(mw.mint), smart)
        for rule in rules.active:
            ok = rule.passes(ctx)
            assert ok == rule.evaluate(ctx).passed, rule.name
            seen[ok] += 1
    assert seen[True] > 100 and seen[False] > 100
