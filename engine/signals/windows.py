"""Sliding windows per mint, updated incrementally and driven by the events' own ``ts``.

Semantics (the property test recomputes exactly this by brute force):

- Events are deduplicated by ``(signature, index)``: the first arrival wins.
- Each mint has its own clock ``now`` = the largest ``ts`` seen for it (or a later time given to
  :meth:`MintWindows.advance`). Wall-clock time is never read, so live and replay agree.
- Events are ordered by ``ts``, ties by arrival (a stable sort of the arrival sequence).
- A span ``S`` holds the events with ``now - S < ts <= now``.
- An event older than ``now - horizon`` (default twice the longest span) is dropped on arrival: it
  cannot fall in any window, and past that point its key may be forgotten, so it could not be told
  apart from a duplicate.

Out-of-order events (backfill) are inserted at their place in the ordered list, scanning back
from the newest: O(distance), which is fine because they are rare and usually only slightly late.
Aggregates are sums and counter dicts with one read pointer per span into a single ordered list,
so an in-order event costs O(spans) amortized: it is added once and expired once per span.

Prices are kept as exact ``(lamports, raw tokens)`` pairs; floats appear only in returns,
acceleration and display values.

- pump.fun trades carry the curve's virtual reserves *after* the trade: price = vsol / vtoken and
  they are the pool reserves.
- PumpSwap / Raydium swaps carry reserves *before* the swap: the pool after the swap is
  ``(sol ± sol_lamports, token ∓ token_amount)`` and the price is the trade's own sol / token.
- A pump.fun ``create`` starts at the curve's initial virtual reserves (30 SOL / 1.073e15).
- ``pool_create`` carries the pool's reserves after the deposit.
- Trades quoted in another mint (USDC) have no SOL price and ``sol_lamports`` 0: they count as
  trades and buyers, add no SOL volume and do not move the SOL price.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from engine.chain.programs import (
    PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
    PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
    PUMP_TOKEN_TOTAL_SUPPLY,
)
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

MINUTE_MS: Final = 60_000
DEFAULT_SPANS_MS: Final = (1 * MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS)
DEFAULT_ACCEL_SPANS_MS: Final = (1 * MINUTE_MS, 5 * MINUTE_MS)
TRADE_KINDS: Final = frozenset({"trade", "swap"})
# Far below any real ts (>= 0): "nothing seen yet" without an Optional in the hot path.
_NEVER: Final = -(1 << 62)
_NEVER_ORD: Final = (_NEVER, 0, "", 0)
# Events sharing a block second are ordered by (slot, signature, index), never by arrival:
# the same events in any order, live or replayed, leave the same windows.
Order = tuple[int, int, str, int]
# Trim the consumed prefix of the event list only when it is both long and most of the list.
_TRIM_AT: Final = 512


class _Ev:
    """One retained event, reduced to what the aggregates need."""

    __slots__ = ("buy", "flow", "lamports", "ord", "pden", "pnum", "smart", "trader", "ts")

    def __init__(
        self,
        ts: int,
        trader: str | None,
        flow: bool,
        buy: bool,
        lamports: int,
        smart: bool,
        pnum: int,
        pden: int,
    ) -> None:
        self.ts = ts
        self.ord: Order = (ts, 0, "", 0)
        self.trader = trader
        self.flow = flow
        self.buy = buy
        self.lamports = lamports
        self.smart = smart
        self.pnum = pnum  # 0 when the event has no SOL price
        self.pden = pden


class SpanAgg:
    """Running aggregates of one span of one mint (read-only outside this module)."""

    __slots__ = (
        "buy_lamports",
        "buyers",
        "buys",
        "ms",
        "open_den",
        "open_num",
        "open_ord",
        "open_ts",
        "ptr",
        "sell_lamports",
        "sells",
        "smart",
        "smart_lamports",
    )

    def __init__(self, ms: int) -> None:
        self.ms = ms
        self.ptr = 0
        self.buys = 0
        self.sells = 0
        self.buy_lamports = 0
        self.sell_lamports = 0
        self.smart_lamports = 0
        self.buyers: dict[str, int] = {}
        """Buys per buyer address inside the span (entries leave at zero)."""
        self.smart: dict[str, list[int]] = {}
        """Tracked buyer address -> [buys, lamports] inside the span."""
        # Price standing at the window's start: the last priced event that left the span.
        self.open_ts = _NEVER
        self.open_ord: Order = _NEVER_ORD
        self.open_num = 0
        self.open_den = 0

    @property
    def volume_lamports(self) -> int:
        """SOL traded either way inside the span."""
        return self.buy_lamports + self.sell_lamports

    @property
    def net_flow_lamports(self) -> int:
        """SOL bought minus SOL sold inside the span."""
        return self.buy_lamports - self.sell_lamports

    @property
    def unique_buyers(self) -> int:
        """Distinct buyer addresses inside the span."""
        return len(self.buyers)

    @property
    def smart_buyers(self) -> int:
        """Distinct tracked wallets that bought inside the span."""
        return len(self.smart)

    def smart_wallets(self) -> list[tuple[str, int]]:
        """Tracked buyers and their SOL bought, largest first (ties by address)."""
        return sorted(((a, v[1]) for a, v in self.smart.items()), key=lambda x: (-x[1], x[0]))


@dataclass(frozen=True, slots=True)
class SpanStats:
    """An immutable copy of one span's aggregates."""

    span_ms: int
    buys: int
    sells: int
    buy_lamports: int
    sell_lamports: int
    volume_lamports: int
    net_flow_lamports: int
    smart_buy_lamports: int
    smart_buyers: int
    unique_buyers: int
    open_price: tuple[int, int] | None
    price_return: float | None


@dataclass(frozen=True, slots=True)
class WindowSnapshot:
    """An immutable copy of a mint's windows at its ``now``."""

    mint: str
    now: int
    spans: dict[int, SpanStats]
    price: tuple[int, int] | None
    """Last price as (lamports, raw tokens)."""
    price_float: float | None
    market_cap_lamports: int | None
    liquidity_lamports: int | None
    token_reserves: int | None
    volume_accel: float


def ratio_return(num: int, den: int, open_num: int, open_den: int) -> float:
    """Return of price num/den over open_num/open_den, computed from the exact integers."""
    return (num * open_den) / (den * open_num) - 1.0


class MintWindows:
    """All spans of one mint, plus its last price and pool reserves."""

    __slots__ = (
        "_accel",
        "_by_ms",
        "_events",
        "_horizon",
        "_key_q",
        "_keys",
        "_price_ord",
        "_price_ts",
        "_res_ord",
        "_res_ts",
        "_trade_ord",
        "accepted",
        "last_trade_ts",
        "mint",
        "now",
        "price_den",
        "price_num",
        "sol_reserves",
        "spans",
        "token_reserves",
        "venue",
    )

    def __init__(
        self, mint: str, spans_ms: tuple[int, ...], accel: tuple[int, int], horizon_ms: int
    ) -> None:
        self.mint = mint
        self.spans = tuple(SpanAgg(ms) for ms in spans_ms)  # ascending: the last is the longest
        self._by_ms = {s.ms: s for s in self.spans}
        self._accel = (self._by_ms[accel[0]], self._by_ms[accel[1]])
        self._horizon = horizon_ms
        self._events: list[_Ev] = []
        self._keys: dict[tuple[str, int], int] = {}
        self._key_q: deque[tuple[int, tuple[str, int]]] = deque()
        self.now = _NEVER
        self.accepted = 0
        self.price_num = 0
        self.price_den = 0
        self._price_ts = _NEVER
        self._price_ord: Order = _NEVER_ORD
        self.sol_reserves = 0
        self.token_reserves = 0
        self._res_ts = _NEVER
        self._res_ord: Order = _NEVER_ORD
        self.venue: str | None = None
        """Venue of the latest trade (pumpfun while on the bonding curve)."""
        self.last_trade_ts = _NEVER
        self._trade_ord: Order = _NEVER_ORD

    # -- reading ------------------------------------------------------------------------------

    def span(self, ms: int) -> SpanAgg:
        """The aggregates of span ``ms`` (KeyError when that span is not tracked)."""
        return self._by_ms[ms]

    @property
    def has_price(self) -> bool:
        """True once some event gave a SOL price."""
        return self.price_den > 0

    @property
    def has_reserves(self) -> bool:
        """True once some event gave the pool's reserves."""
        return self.sol_reserves > 0 and self.token_reserves > 0

    def price_return(self, ms: int) -> float | None:
        """Last price against the price standing when span ``ms`` began; None without prices.

        When no priced event left the span yet (a young token), the first price inside the span
        is the reference.
        """
        if not self.price_den:
            return None
        sp = self._by_ms[ms]
        if sp.open_den:
            return ratio_return(self.price_num, self.price_den, sp.open_num, sp.open_den)
        events = self._events
        for i in range(sp.ptr, len(events)):
            ev = events[i]
            if ev.pden:
                return ratio_return(self.price_num, self.price_den, ev.pnum, ev.pden)
        return None  # pragma: no cover - a price exists, so a priced event is retained or left

    def open_price(self, ms: int) -> tuple[int, int] | None:
        """The reference price of span ``ms`` used by :meth:`price_return`."""
        sp = self._by_ms[ms]
        if sp.open_den:
            return (sp.open_num, sp.open_den)
        for ev in self._events[sp.ptr :]:
            if ev.pden:
                return (ev.pnum, ev.pden)
        return None

    def volume_accel(self) -> float:
        """Short-span volume per minute over long-span volume per minute (0.0 without volume)."""
        short, long = self._accel
        vl = long.buy_lamports + long.sell_lamports
        if vl <= 0:
            return 0.0
        vs = short.buy_lamports + short.sell_lamports
        return (vs * long.ms) / (vl * short.ms)

    def market_cap_lamports(self, supply: int = PUMP_TOKEN_TOTAL_SUPPLY) -> int | None:
        """Last price times ``supply`` raw tokens, in lamports (pump.fun supply by default)."""
        if not self.price_den:
            return None
        return self.price_num * supply // self.price_den

    def snapshot(self, supply: int = PUMP_TOKEN_TOTAL_SUPPLY) -> WindowSnapshot:
        """An immutable copy of every aggregate, for explanations, APIs and tests."""
        spans = {}
        for sp in self.spans:
            spans[sp.ms] = SpanStats(
                span_ms=sp.ms,
                buys=sp.buys,
                sells=sp.sells,
                buy_lamports=sp.buy_lamports,
                sell_lamports=sp.sell_lamports,
                volume_lamports=sp.volume_lamports,
                net_flow_lamports=sp.net_flow_lamports,
                smart_buy_lamports=sp.smart_lamports,
                smart_buyers=sp.smart_buyers,
                unique_buyers=sp.unique_buyers,
                open_price=self.open_price(sp.ms),
                price_return=self.price_return(sp.ms),
            )
        price = (self.price_num, self.price_den) if self.price_den else None
        return WindowSnapshot(
            mint=self.mint,
            now=self.now,
            spans=spans,
            price=price,
            price_float=self.price_num / self.price_den if self.price_den else None,
            market_cap_lamports=self.market_cap_lamports(supply),
            liquidity_lamports=self.sol_reserves if self.has_reserves else None,
            token_reserves=self.token_reserves if self.has_reserves else None,
            volume_accel=self.volume_accel(),
        )

    # -- writing ------------------------------------------------------------------------------

    def add(self, ev: ChainEvent, smart: frozenset[str] | set[str]) -> bool:
        """Fold one event in; False when it is a duplicate or too old to matter."""
        key = (ev.signature, ev.index)
        if key in self._keys:
            return False
        ts = ev.ts
        now = self.now
        if ts <= now - self._horizon:
            return False
        self.accepted += 1
        self._keys[key] = ts
        self._key_q.append((ts, key))

        side = ev.side
        flow = ev.kind in TRADE_KINDS and side is not None
        buy = side == "buy"
        quoted = ev.quote_mint is not None
        lamports = 0 if quoted else (ev.sol_lamports or 0)
        trader = ev.trader
        is_smart = flow and buy and trader is not None and trader in smart

        vs = ev.virtual_sol_reserves
        if quoted:
            pnum = pden = rsol = rtok = 0
        elif ev.kind == "trade" and vs and ev.virtual_token_reserves:
            pnum = rsol = vs  # the common case, pump.fun reserves after the trade, inlined
            pden = rtok = ev.virtual_token_reserves
        else:
            pnum, pden, rsol, rtok = _price_and_reserves(ev, buy)

        if ts > now:
            self.now = ts
            self._expire(ts)
            now = ts
        okey: Order = (ts, ev.slot, ev.signature, ev.index)
        if flow or pden:
            rec = _Ev(ts, trader, flow, buy, lamports, is_smart, pnum, pden)
            rec.ord = okey
            if ts == now and (not self._events or okey >= self._events[-1].ord):
                self._events.append(rec)
                # _fold inlined for every span: this is the hot path.
                if not flow:
                    pass
                elif buy:
                    for sp in self.spans:
                        sp.buys += 1
                        sp.buy_lamports += lamports
                        if trader is not None:
                            b = sp.buyers
                            b[trader] = b.get(trader, 0) + 1
                            if is_smart:
                                _fold_smart(sp, rec)
                else:
                    for sp in self.spans:
                        sp.sells += 1
                        sp.sell_lamports += lamports
            else:
                self._insert_late(rec, now)

        # "Latest" state: the greatest order key wins, whatever the arrival order.
        if pden and okey >= self._price_ord:
            self._price_ord = okey
            self._price_ts, self.price_num, self.price_den = ts, pnum, pden
        if rsol and okey >= self._res_ord:
            self._res_ord = okey
            self._res_ts, self.sol_reserves, self.token_reserves = ts, rsol, rtok
        if flow and okey >= self._trade_ord:
            self._trade_ord = okey
            self.last_trade_ts, self.venue = ts, ev.venue
        return True

    def advance(self, now_ms: int) -> None:
        """Move this mint's clock forward without an event (expires what fell out)."""
        if now_ms > self.now:
            self.now = now_ms
            self._expire(now_ms)

    def recompute_smart(self, smart: frozenset[str] | set[str]) -> None:
        """Re-derive the tracked-wallet aggregates after the smart set changed."""
        for rec in self._events:
            rec.smart = rec.flow and rec.buy and rec.trader is not None and rec.trader in smart
        events = self._events
        for sp in self.spans:
            sp.smart_lamports = 0
            sp.smart = {}
            for i in range(sp.ptr, len(events)):
                rec = events[i]
                if rec.smart:
                    _fold_smart(sp, rec)

    def _insert_late(self, rec: _Ev, now: int) -> None:
        # Correctness over speed: late events are rare, so a linear scan back is fine.
        ts = rec.ts
        longest = self.spans[-1]
        if ts <= now - longest.ms:
            # Out of every window: it only matters as a span's opening price.
            if rec.pden:
                for sp in self.spans:
                    _maybe_open(sp, rec)
            return
        events = self._events
        pos = len(events)
        order = rec.ord
        while pos > 0 and events[pos - 1].ord > order:
            pos -= 1
        events.insert(pos, rec)
        for sp in self.spans:
            if ts > now - sp.ms:
                if rec.flow:  # inside this span: pos >= sp.ptr by the ordering
                    _fold(sp, rec)
            else:  # already expired for this span: it sits before the pointer
                sp.ptr += 1
                if rec.pden:
                    _maybe_open(sp, rec)

    def _expire(self, now: int) -> None:
        events = self._events
        n = len(events)
        for sp in self.spans:
            cutoff = now - sp.ms
            p = sp.ptr
            while p < n:
                rec = events[p]
                if rec.ts > cutoff:
                    break
                if not rec.flow:
                    pass
                elif rec.buy:  # _unfold inlined: runs once per event and span
                    lam = rec.lamports
                    sp.buys -= 1
                    sp.buy_lamports -= lam
                    t = rec.trader
                    if t is not None:
                        bs = sp.buyers
                        c = bs[t] - 1
                        if c:
                            bs[t] = c
                        else:
                            del bs[t]
                        if rec.smart:
                            _unfold_smart(sp, t, lam)
                else:
                    sp.sells -= 1
                    sp.sell_lamports -= rec.lamports
                if rec.pden:
                    # Leaving in order, so this is the latest price before the window.
                    sp.open_ts, sp.open_num, sp.open_den = rec.ts, rec.pnum, rec.pden
                    sp.open_ord = rec.ord
                p += 1
            sp.ptr = p
        gone = self.spans[-1].ptr
        if gone >= _TRIM_AT and gone * 2 >= n:
            del events[:gone]
            for sp in self.spans:
                sp.ptr -= gone
        q = self._key_q
        old = now - self._horizon
        keys = self._keys
        while q and q[0][0] <= old:
            keys.pop(q.popleft()[1], None)


def _price_and_reserves(ev: ChainEvent, buy: bool) -> tuple[int, int, int, int]:
    """(price num, price den, SOL reserves, token reserves) after ``ev``; zeros when unknown."""
    sol = ev.sol_lamports or 0
    tok = ev.token_amount or 0
    vs = ev.virtual_sol_reserves or 0
    vt = ev.virtual_token_reserves or 0
    kind = ev.kind
    if kind == "swap":
        # AMM events report the pool before the swap: move it past the trade.
        pnum, pden = (sol, tok) if sol > 0 and tok > 0 else (0, 0)
        if vs > 0 and vt > 0 and ev.side is not None:
            rs, rt = (vs + sol, vt - tok) if buy else (vs - sol, vt + tok)
            if rs > 0 and rt > 0:
                return pnum, pden, rs, rt
        return pnum, pden, 0, 0
    if vs > 0 and vt > 0:
        return vs, vt, vs, vt
    if kind == "trade" and sol > 0 and tok > 0:
        return sol, tok, 0, 0  # instruction fallback: no reserves, the trade's own price
    if kind == "create" and ev.venue == "pumpfun":
        v0s, v0t = PUMP_INITIAL_VIRTUAL_SOL_RESERVES, PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES
        return v0s, v0t, v0s, v0t
    return 0, 0, 0, 0


def _fold(sp: SpanAgg, rec: _Ev) -> None:
    lam = rec.lamports
    if rec.buy:
        sp.buys += 1
        sp.buy_lamports += lam
        t = rec.trader
        if t is not None:
            b = sp.buyers
            b[t] = b.get(t, 0) + 1
            if rec.smart:
                _fold_smart(sp, rec)
    else:
        sp.sells += 1
        sp.sell_lamports += lam


def _fold_smart(sp: SpanAgg, rec: _Ev) -> None:
    sp.smart_lamports += rec.lamports
    t = rec.trader
    assert t is not None
    entry = sp.smart.get(t)
    if entry is None:
        sp.smart[t] = [1, rec.lamports]
    else:
        entry[0] += 1
        entry[1] += rec.lamports


def _unfold_smart(sp: SpanAgg, trader: str, lamports: int) -> None:
    sp.smart_lamports -= lamports
    entry = sp.smart[trader]
    entry[0] -= 1
    entry[1] -= lamports
    if not entry[0]:
        del sp.smart[trader]


def _maybe_open(sp: SpanAgg, rec: _Ev) -> None:
    # A late event before the window start is the opening price if it is the latest such.
    if rec.ord >= sp.open_ord:
        sp.open_ts, sp.open_num, sp.open_den = rec.ts, rec.pnum, rec.pden
        sp.open_ord = rec.ord


class Windows:
    """Windows of every mint seen, with one shared set of tracked ("smart") wallets."""

    def __init__(
        self,
        spans_ms: Iterable[int] = DEFAULT_SPANS_MS,
        *,
        accel_spans_ms: tuple[int, int] = DEFAULT_ACCEL_SPANS_MS,
        horizon_ms: int | None = None,
        smart: Iterable[str] = (),
    ) -> None:
        spans = tuple(sorted(set(spans_ms)))
        if not spans or any(type(s) is not int or s <= 0 for s in spans):
            raise ValueError(f"window spans must be positive integer milliseconds, got {spans}")
        short, long = accel_spans_ms
        if short not in spans or long not in spans or not short < long:
            raise ValueError(
                f"acceleration spans {accel_spans_ms} must be two tracked spans, shorter first"
            )
        horizon = 2 * spans[-1] if horizon_ms is None else horizon_ms
        if horizon < spans[-1]:
            raise ValueError(f"horizon_ms {horizon} must cover the longest span {spans[-1]}")
        self.spans_ms = spans
        self.accel_spans_ms = (short, long)
        self.horizon_ms = horizon
        self._smart: frozenset[str] = frozenset(smart)
        self._mints: dict[str, MintWindows] = {}

    @property
    def smart(self) -> frozenset[str]:
        """The tracked wallet addresses."""
        return self._smart

    def set_smart(self, addresses: Iterable[str]) -> None:
        """Replace the tracked set; every mint's smart aggregates are re-derived (rare, O(n))."""
        new = frozenset(addresses)
        if new == self._smart:
            return
        self._smart = new
        for mw in self._mints.values():
            mw.recompute_smart(new)

    def add(self, ev: ChainEvent) -> MintWindows | None:
        """Fold an event into its mint's windows; None when ignored (duplicate or too old)."""
        mw = self._mints.get(ev.mint)
        if mw is None:
            mw = MintWindows(ev.mint, self.spans_ms, self.accel_spans_ms, self.horizon_ms)
            self._mints[ev.mint] = mw
        return mw if mw.add(ev, self._smart) else None

    def get(self, mint: str) -> MintWindows | None:
        """The windows of ``mint``, if it was seen."""
        return self._mints.get(mint)

    def __len__(self) -> int:
        return len(self._mints)

    def __iter__(self) -> Iterator[MintWindows]:
        return iter(self._mints.values())

    def evict_idle(self, now_ms: int, idle_ms: int) -> list[str]:
        """Forget mints with no event for ``idle_ms`` before ``now_ms``; returns them."""
        stale = [m for m, mw in self._mints.items() if mw.now <= now_ms - idle_ms]
        for m in stale:
            del self._mints[m]
        if stale:
            logger.debug("evicted %d idle mints", len(stale))
        return stale
