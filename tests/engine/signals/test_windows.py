"""Windows: every aggregate equals a brute-force recomputation, whatever the arrival order."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.chain.programs import PUMP_TOKEN_TOTAL_SUPPLY
from engine.events import ChainEvent
from engine.signals.windows import MintWindows, SpanStats, Windows, WindowSnapshot
from tests.engine.signals.factory import SOL, T0, Curve, addr

MINT = addr("Mint")
SPANS = (60_000, 300_000, 900_000)
TRADERS = [addr(f"T{i}") for i in range(6)]


# -- the brute force: the documented semantics, recomputed from scratch ------------------------


def _price(ev: ChainEvent) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """(price, reserves after the event), written independently of windows.py."""
    if ev.quote_mint is not None:
        return None, None
    sol, tok = ev.sol_lamports or 0, ev.token_amount or 0
    vs, vt = ev.virtual_sol_reserves or 0, ev.virtual_token_reserves or 0
    if ev.kind == "swap":
        price = (sol, tok) if sol > 0 and tok > 0 else None
        res = None
        if vs > 0 and vt > 0 and ev.side is not None:
            after = (vs + sol, vt - tok) if ev.side == "buy" else (vs - sol, vt + tok)
            res = after if after[0] > 0 and after[1] > 0 else None
        return price, res
    if vs > 0 and vt > 0:
        return (vs, vt), (vs, vt)
    if ev.kind == "trade" and sol > 0 and tok > 0:
        return (sol, tok), None
    if ev.kind == "create" and ev.venue == "pumpfun":
        return (30_000_000_000, 1_073_000_000_000_000), (30_000_000_000, 1_073_000_000_000_000)
    return None, None


def brute(
    arrivals: list[ChainEvent],
    smart: set[str],
    *,
    spans: tuple[int, ...] = SPANS,
    horizon: int = 2 * SPANS[-1],
    advance: int | None = None,
    mint: str = MINT,
) -> WindowSnapshot | None:
    seen: set[tuple[str, int]] = set()
    accepted: list[ChainEvent] = []
    now: int | None = None
    for ev in arrivals:
        if ev.mint != mint or ev.key in seen:
            continue
        if now is not None and ev.ts <= now - horizon:
            continue
        seen.add(ev.key)
        accepted.append(ev)
        now = ev.ts if now is None else max(now, ev.ts)
    if now is None:
        return None
    if advance is not None:
        now = max(now, advance)
    ordered = sorted(accepted, key=lambda e: e.ts)  # stable: ties keep arrival order
    priced = [(e, *_price(e)) for e in ordered]
    last = next((p for _, p, _ in reversed(priced) if p is not None), None)
    res = next((r for _, _, r in reversed(priced) if r is not None), None)
    stats = {}
    for span in spans:
        cutoff = now - span
        inside = [e for e in ordered if e.ts > cutoff]
        trades = [e for e in inside if e.kind in ("trade", "swap") and e.side is not None]

        def lam(e: ChainEvent) -> int:
            return 0 if e.quote_mint is not None else (e.sol_lamports or 0)

        buys = [e for e in trades if e.side == "buy"]
        sells = [e for e in trades if e.side == "sell"]
        smart_buys = [e for e in buys if e.trader in smart]
        before = [p for e, p, _ in priced if p is not None and e.ts <= cutoff]
        within = [p for e, p, _ in priced if p is not None and e.ts > cutoff]
        open_ = before[-1] if before else (within[0] if within else None)
        ret = None
        if last is not None and open_ is not None:
            ret = (last[0] * open_[1]) / (last[1] * open_[0]) - 1.0
        bl, sl = sum(map(lam, buys)), sum(map(lam, sells))
        stats[span] = SpanStats(
            span_ms=span,
            buys=len(buys),
            sells=len(sells),
            buy_lamports=bl,
            sell_lamports=sl,
            volume_lamports=bl + sl,
            net_flow_lamports=bl - sl,
            smart_buy_lamports=sum(map(lam, smart_buys)),
            smart_buyers=len({e.trader for e in smart_buys}),
            unique_buyers=len({e.trader for e in buys if e.trader is not None}),
            open_price=open_,
            price_return=ret,
        )
    v1, v5 = stats[60_000].volume_lamports, stats[300_000].volume_lamports
    return WindowSnapshot(
        mint=mint,
        now=now,
        spans=stats,
        price=last,
        price_float=None if last is None else last[0] / last[1],
        market_cap_lamports=None if last is None else last[0] * PUMP_TOKEN_TOTAL_SUPPLY // last[1],
        liquidity_lamports=None if res is None else res[0],
        token_reserves=None if res is None else res[1],
        volume_accel=0.0 if v5 <= 0 else (v1 * 300_000) / (v5 * 60_000),
    )


# -- generated streams -----------------------------------------------------------------------


@dataclass
class Step:
    dt: int
    late: int
    kind: str
    side: str
    trader: int
    lamports: int
    dup: int
    quoted: bool


steps = st.builds(
    Step,
    # A coarse grid of times makes equal timestamps (ties broken by arrival) frequent.
    dt=st.one_of(
        st.sampled_from([0, 0, 1_000, 30_000, 59_999, 60_000, 60_001, 240_000]),
        st.integers(0, 90_000),
    ),
    late=st.sampled_from(
        [0, 0, 0, 0, 1_000, 30_000, 60_000, 60_001, 299_999, 300_000, 900_000, 2_000_000]
    ),
    kind=st.sampled_from(["trade", "trade", "trade", "swap", "create", "complete", "pool_create"]),
    side=st.sampled_from(["buy", "buy", "sell"]),
    trader=st.integers(-1, len(TRADERS) - 1),
    lamports=st.integers(0, 5 * SOL),
    dup=st.integers(-1, 30),
    quoted=st.booleans(),
)


def build(seq: list[Step]) -> list[ChainEvent]:
    """Arrival-ordered events for MINT (and a little noise on another mint)."""
    out: list[ChainEvent] = []
    ts = T0
    vsol, vtok = 40 * SOL, 800_000_000_000_000
    for i, s in enumerate(seq):
        if s.dup >= 0 and out:
            out.append(out[max(0, len(out) - 1 - s.dup)])
            continue
        ts += s.dt
        ev_ts = max(0, ts - s.late)
        tok = vtok * s.lamports // (vsol + s.lamports) if s.lamports else 0
        side = s.side if s.kind in ("trade", "swap") else None
        pre = (vsol, vtok)
        if s.kind == "trade" and side == "buy":
            vsol, vtok = vsol + s.lamports, vtok - tok
        elif s.kind == "trade":
            vsol, vtok = max(SOL, vsol - s.lamports), vtok + tok
        reserves = pre if s.kind in ("swap", "pool_create") else (vsol, vtok)
        has_reserves = s.kind != "create" and i % 5 != 4  # some trades lack reserves
        out.append(
            ChainEvent(
                kind=s.kind,
                venue="pumpfun" if s.kind in ("trade", "create", "complete") else "pumpswap",
                signature=f"s{i // 2}",
                index=i % 2,  # two events share a signature: the index tells them apart
                slot=i,
                ts=ev_ts,
                mint=addr("Other") if i % 11 == 10 else MINT,
                trader=None if s.trader < 0 else TRADERS[s.trader],
                side=side,
                sol_lamports=0 if s.quoted else s.lamports,
                token_amount=tok,
                virtual_sol_reserves=reserves[0] if has_reserves else None,
                virtual_token_reserves=reserves[1] if has_reserves else None,
                quote_mint=addr("Usdc") if s.quoted and s.kind in ("trade", "swap") else None,
                quote_amount=s.lamports if s.quoted else None,
            )
        )
    return out


def snap(w: Windows, mint: str = MINT) -> WindowSnapshot | None:
    mw = w.get(mint)
    return None if mw is None else mw.snapshot()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seq=st.lists(steps, min_size=1, max_size=60),
    smart_idx=st.sets(st.integers(0, len(TRADERS) - 1)),
    advance=st.one_of(st.none(), st.integers(0, 1_000_000)),
)
def test_every_aggregate_equals_brute_force(
    seq: list[Step], smart_idx: set[int], advance: int | None
) -> None:
    events = build(seq)
    smart = {TRADERS[i] for i in smart_idx}
    w = Windows(smart=smart)
    for n, ev in enumerate(events, start=1):
        w.add(ev)
        assert snap(w) == brute(events[:n], smart)
    mw = w.get(MINT)
    if mw is not None and advance is not None:
        mw.advance(mw.now + advance)
        assert mw.snapshot() == brute(events, smart, advance=mw.now)


@settings(max_examples=100, deadline=None)
@given(seq=st.lists(steps, min_size=1, max_size=40), switch=st.integers(0, 40))
def test_changing_the_smart_set_rederives_the_smart_aggregates(
    seq: list[Step], switch: int
) -> None:
    events = build(seq)
    w = Windows(smart={TRADERS[0]})
    for n, ev in enumerate(events, start=1):
        if n == switch:
            w.set_smart({TRADERS[1], TRADERS[2]})
        w.add(ev)
    smart = {TRADERS[1], TRADERS[2]} if switch <= len(events) and switch >= 1 else {TRADERS[0]}
    assert snap(w) == brute(events, smart)


def test_long_stream_with_trimming_still_matches() -> None:
    # Long enough to trim the consumed prefix (512+ events) and forget old dedupe keys.
    rng = random.Random(3)
    seq = [
        Step(
            dt=rng.choice([0, 50, 400, 2_000, 9_000]),
            late=rng.choice([0] * 40 + [5_000, 70_000, 500_000, 2_000_000]),
            kind=rng.choice(["trade"] * 8 + ["swap", "create"]),
            side=rng.choice(["buy", "buy", "sell"]),
            trader=rng.randrange(-1, len(TRADERS)),
            lamports=rng.randrange(0, 3 * SOL),
            dup=rng.choice([-1] * 30 + [0, 3, 200]),
            quoted=rng.random() < 0.05,
        )
        for _ in range(6_000)
    ]
    events = build(seq)
    smart = {TRADERS[1], TRADERS[4]}
    w = Windows(smart=smart)
    for n, ev in enumerate(events, start=1):
        w.add(ev)
        if n % 500 == 0:
            assert snap(w) == brute(events[:n], smart)
    assert snap(w) == brute(events, smart)


def test_equal_timestamps_order_by_arrival_even_when_late() -> None:
    def ev(sig: str, ts: int, vsol: int) -> ChainEvent:
        return ChainEvent(
            kind="trade", venue="pumpfun", signature=sig, slot=1, ts=ts, mint=MINT,
            trader=TRADERS[0], side="buy", sol_lamports=SOL, token_amount=10**12,
            virtual_sol_reserves=vsol * SOL, virtual_token_reserves=10**15,
        )  # fmt: skip

    w = Windows()
    w.add(ev("a", T0, 30))
    w.add(ev("b", T0 + 120_000, 40))
    w.add(ev("c", T0, 31))  # late, same ts as "a": after it in the order, before the window
    mw = w.get(MINT)
    assert mw is not None
    assert mw.open_price(60_000) == (31 * SOL, 10**15)
    w.add(ev("d", T0 + 120_000, 41))
    w.add(ev("e", T0 + 30_000, 35))  # late, inside 5m: first priced in the 5m window? no, "a"
    assert mw.open_price(300_000) == (30 * SOL, 10**15)
    assert (mw.price_num, mw.price_den) == (41 * SOL, 10**15)
    events = [ev("a", T0, 30), ev("b", T0 + 120_000, 40), ev("c", T0, 31)]
    events += [ev("d", T0 + 120_000, 41), ev("e", T0 + 30_000, 35)]
    assert mw.snapshot() == brute(events, set())


def test_duplicates_are_ignored_and_late_events_land_in_place() -> None:
    c = Curve(MINT)
    buy1 = c.buy(T0, TRADERS[0], SOL)
    buy2 = c.buy(T0 + 90_000, TRADERS[1], 2 * SOL)
    w = Windows()
    mw = w.add(buy1)
    assert isinstance(mw, MintWindows)
    assert w.add(buy2) is mw
    assert w.add(buy1) is None  # duplicate (signature, index)
    s1 = mw.span(60_000)
    assert (s1.buys, s1.buy_lamports) == (1, 2 * SOL)  # buy1 left the 1m window
    late = ChainEvent(
        kind="trade", venue="pumpfun", signature="late", slot=1, ts=T0 + 45_000, mint=MINT,
        trader=TRADERS[2], side="sell", sol_lamports=SOL // 2, token_amount=10**12,
    )  # fmt: skip
    assert w.add(late) is mw
    assert (s1.sells, s1.sell_lamports) == (1, SOL // 2)  # 45 s before now: inside 1m
    s5 = mw.span(300_000)
    assert (s5.buys, s5.sells, s5.net_flow_lamports) == (2, 1, 3 * SOL - SOL // 2)
    assert (mw.price_num, mw.price_den) == (c.vsol, c.vtok)  # a late event is not the last price
    ancient = ChainEvent(
        kind="trade", venue="pumpfun", signature="old", slot=1, ts=T0 + 90_000 - 1_800_000,
        mint=MINT, trader=TRADERS[2], side="buy", sol_lamports=SOL, token_amount=10**12,
    )  # fmt: skip
    assert w.add(ancient) is None  # beyond the horizon (twice the longest span)


def test_price_market_cap_and_liquidity_from_reserves() -> None:
    c = Curve(MINT)
    w = Windows()
    mw = w.add(c.create(T0))
    assert mw is not None
    # Initial curve: 30 SOL / 1.073e15 raw tokens; mcap = price * 1e15 raw supply.
    assert mw.market_cap_lamports() == 30 * SOL * 10**15 // 1_073_000_000_000_000 == 27_958_993_476
    assert mw.sol_reserves == 30 * SOL
    w.add(c.buy(T0 + 1_000, TRADERS[0], 10 * SOL))
    assert (mw.sol_reserves, mw.token_reserves) == (40 * SOL, 804_750_000_000_000)
    assert mw.price_return(60_000) == (40 * SOL * 1_073 * 10**12) / (804_750 * 10**9 * 30 * SOL) - 1


def test_amm_swaps_carry_reserves_before_the_swap() -> None:
    pre_sol, pre_tok = 80 * SOL, 200_000_000_000_000
    out = pre_tok * SOL // (pre_sol + SOL)
    swap = ChainEvent(
        kind="swap", venue="pumpswap", signature="x", slot=1, ts=T0, mint=MINT,
        trader=TRADERS[0], side="buy", sol_lamports=SOL, token_amount=out,
        virtual_sol_reserves=pre_sol, virtual_token_reserves=pre_tok,
    )  # fmt: skip
    mw = Windows().add(swap)
    assert mw is not None
    assert (mw.sol_reserves, mw.token_reserves) == (pre_sol + SOL, pre_tok - out)
    assert (mw.price_num, mw.price_den) == (SOL, out)  # the trade's own price
    usdc = ChainEvent(
        kind="swap", venue="raydium_cpmm", signature="y", slot=2, ts=T0 + 1, mint=MINT,
        trader=TRADERS[1], side="buy", sol_lamports=0, token_amount=10**12,
        quote_mint=addr("Usdc"), quote_amount=5_000_000,
    )  # fmt: skip
    mw.add(usdc, frozenset())
    assert (mw.price_num, mw.price_den) == (SOL, out)  # USDC-quoted: no SOL price
    assert mw.span(60_000).buys == 2 and mw.span(60_000).buy_lamports == SOL


def test_volume_acceleration_and_unique_buyers() -> None:
    c = Curve(MINT)
    w = Windows(smart={TRADERS[0]})
    for i in range(4):  # one buy a minute for four minutes, then three in the last minute
        w.add(c.buy(T0 + i * 60_000, TRADERS[i % 2], SOL))
    for i in range(3):
        w.add(c.buy(T0 + 4 * 60_000 + 1_000 * (i + 1), TRADERS[0], SOL))
    mw = w.get(MINT)
    assert mw is not None
    # 1m volume 3 SOL; 5m volume 7 SOL -> 3 / (7 / 5) = 2.142857...
    assert mw.volume_accel() == (3 * 300_000) / (7 * 60_000)
    five = mw.span(300_000)
    assert (five.unique_buyers, five.smart_buyers, five.smart_lamports) == (2, 1, 5 * SOL)
    assert five.smart_wallets() == [(TRADERS[0], 5 * SOL)]


def test_idle_mints_are_evicted() -> None:
    w = Windows()
    w.add(Curve(addr("A")).buy(T0, TRADERS[0], SOL))
    w.add(Curve(addr("B")).buy(T0 + 3_600_000, TRADERS[0], SOL))
    assert w.evict_idle(T0 + 3_600_000, 1_800_000) == [addr("A")]
    assert len(w) == 1 and w.get(addr("A")) is None
