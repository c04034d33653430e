"""The order state machines: pure, integer money, driven only by prices and timestamps.

A **bracket** is an exit plan attached to a position: take-profit legs at several levels, a
stop-loss and a trailing stop, all selling from the same position. The legs are OCO: a fill that
closes the position cancels every open sibling; a take-profit that sells part of it leaves the
siblings open on what remains (otherwise "TP1 then TP2" could never happen). The stop-loss and
the trailing stop always sell the whole remainder.

A **DCA** splits a buy or a sell into slices, one per interval, each held back while the price
guard fails (it waits; it is not skipped) and cancelled after the deadline.

``observe`` says which legs fire at a price; it never marks them fired. The caller makes the
decision durable (``engine.trading.store.trigger``: a compare-and-set in the database) and only
then ``apply``-s the outcome, so two monitors looking at the same price fire a leg once.

Statuses: a leg is ``open`` → ``triggered`` (its exit is being signed) → ``filled``; or
``cancelled`` (a sibling closed the position, or the user cancelled) or ``expired`` (its exit was
never signed). A group (the parent row) is ``open`` while any leg is, then ``done``; the user may
``cancelled`` it, a DCA past its deadline is ``expired``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from engine.trading.params import DcaPlan, ExitPlan
from engine.trading.price import BPS, Price

OPEN: Final = "open"
TRIGGERED: Final = "triggered"
FILLED: Final = "filled"
CANCELLED: Final = "cancelled"
EXPIRED: Final = "expired"
DONE: Final = "done"
RESERVING: Final = frozenset({TRIGGERED, FILLED})
"""Leg statuses whose amount is committed to an exit."""

TAKE_PROFIT: Final = "take_profit"
STOP_LOSS: Final = "stop_loss"
TRAILING_STOP: Final = "trailing_stop"
DCA_SLICE: Final = "dca_slice"
BRACKET: Final = "bracket"
DCA_BUY: Final = "dca_buy"
DCA_SELL: Final = "dca_sell"
GROUP_KINDS: Final = frozenset({BRACKET, DCA_BUY, DCA_SELL})
LEG_KINDS: Final = frozenset({TAKE_PROFIT, STOP_LOSS, TRAILING_STOP, DCA_SLICE})

LegKind = Literal["take_profit", "stop_loss", "trailing_stop"]


@dataclass(frozen=True, slots=True)
class Fire:
    """A leg whose condition holds at ``price``: what ``observe`` proposes to trigger."""

    order_id: int
    kind: str
    amount: int
    price: Price | None
    ts: int
    closes: bool
    reason: str


@dataclass(frozen=True, slots=True)
class TriggerOutcome:
    """A trigger made durable: the order is ``triggered`` for ``amount``; siblings cancelled."""

    order_id: int
    parent_id: int
    user_id: int
    mint: str
    kind: str
    side: str
    amount: int
    ts: int
    reason: str
    price: Price | None = None
    cancelled: tuple[int, ...] = ()
    group_closed: bool = False


class Machine(Protocol):
    """What the monitor holds per group: observe a price, apply durable outcomes."""

    parent_id: int
    user_id: int
    mint: str

    def observe(self, price: Price | None, ts: int) -> list[Fire]:
        """Legs that fire at ``price`` and time ``ts`` (nothing is marked fired)."""
        ...

    def apply(self, outcome: TriggerOutcome) -> None:
        """Record a trigger that the database accepted."""
        ...

    @property
    def closed(self) -> bool:
        """True when no leg is open any more."""
        ...


# -- brackets -------------------------------------------------------------------------------


@dataclass(slots=True)
class Leg:
    """One exit of a bracket; ``amount`` 0 means "whatever remains" (stop-loss, trailing)."""

    order_id: int
    kind: LegKind
    level: int
    amount: int
    threshold: Price | None = None
    trail_bps: int = 0
    arm: Price | None = None
    status: str = OPEN
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class LegSpec:
    """A leg to create: its kind, fixed amount (0 for the remainder) and stored parameters."""

    kind: LegKind
    level: int
    amount: int
    params: dict[str, object]

    @property
    def suffix(self) -> str:
        """The leg's part of its idempotency key."""
        return {TAKE_PROFIT: f"tp{self.level}", STOP_LOSS: "sl", TRAILING_STOP: "trail"}[self.kind]


def bracket_legs(plan: ExitPlan, *, entry: Price, position: int) -> list[LegSpec]:
    """The legs of ``plan`` for ``position`` raw tokens bought at ``entry``."""
    legs: list[LegSpec] = []
    for i, tp in enumerate(plan.take_profits, start=1):
        # Rounded down: the last level may leave dust, which the stop or the trailing sells.
        amount = max(1, position * tp.sell_bps // BPS)
        threshold = entry.scaled_bps(tp.gain_bps)
        legs.append(LegSpec(TAKE_PROFIT, i, amount, {"threshold": threshold.to_json()}))
    if plan.stop_loss is not None:
        threshold = entry.scaled_bps(-plan.stop_loss.loss_bps)
        legs.append(LegSpec(STOP_LOSS, 1, 0, {"threshold": threshold.to_json()}))
    if plan.trailing is not None:
        t = plan.trailing
        arm = None if t.activation_gain_bps is None else entry.scaled_bps(t.activation_gain_bps)
        params: dict[str, object] = {
            "trail_bps": t.trail_bps,
            "arm": arm.to_json() if arm is not None else None,
        }
        legs.append(LegSpec(TRAILING_STOP, 1, 0, params))
    return legs


@dataclass(slots=True)
class Bracket:
    """Exit legs sharing one position, bought at ``entry``; ``high`` is the high since entry."""

    parent_id: int
    user_id: int
    mint: str
    entry: Price
    position: int
    legs: list[Leg]
    high: Price
    high_ts: int = 0
    high_dirty: bool = False

    def remaining(self) -> int:
        """Raw tokens not yet committed to an exit."""
        return self.position - sum(leg.reserved for leg in self.legs if leg.status in RESERVING)

    @property
    def closed(self) -> bool:
        """True when no leg is open any more."""
        return not any(leg.status == OPEN for leg in self.legs)

    def _open(self, kind: str) -> list[Leg]:
        return [leg for leg in self.legs if leg.kind == kind and leg.status == OPEN]

    def observe(self, price: Price | None, ts: int) -> list[Fire]:
        """Legs that fire at ``price``: take-profits low to high, then the stop, then trailing."""
        if price is None:
            return []
        if price > self.high:
            self.high, self.high_ts, self.high_dirty = price, ts, True
        rem = self.remaining()
        if rem <= 0:
            return []
        fires: list[Fire] = []
        tps = sorted(self._open(TAKE_PROFIT), key=lambda leg: leg.level)
        for leg in tps:
            assert leg.threshold is not None
            if price >= leg.threshold:
                amount = min(leg.amount, rem)
                rem -= amount
                closes = rem == 0
                reason = f"take-profit {leg.level}"
                fires.append(Fire(leg.order_id, leg.kind, amount, price, ts, closes, reason))
                if closes:
                    return fires
        for leg in self._open(STOP_LOSS):
            assert leg.threshold is not None
            if price <= leg.threshold:
                fires.append(Fire(leg.order_id, leg.kind, rem, price, ts, True, "stop-loss"))
                return fires
        for leg in self._open(TRAILING_STOP):
            armed = leg.arm is None or self.high >= leg.arm
            # price <= high * (1 - trail), in integers.
            floor = Price(self.high.num * (BPS - leg.trail_bps), self.high.den * BPS)
            if armed and price <= floor:
                reason = f"trailing stop {leg.trail_bps / 100:g}% below the high"
                fires.append(Fire(leg.order_id, leg.kind, rem, price, ts, True, reason))
                return fires
        return fires

    def apply(self, outcome: TriggerOutcome) -> None:
        """Record a trigger the database accepted, and the siblings it cancelled."""
        for leg in self.legs:
            if leg.order_id == outcome.order_id:
                leg.status, leg.reserved = TRIGGERED, outcome.amount
            elif leg.order_id in outcome.cancelled:
                leg.status = CANCELLED


def exit_amount(kind: str, fixed: int, remaining: int) -> int:
    """What a leg sells when it triggers: its fixed slice (at most the rest) or the rest."""
    if kind == TAKE_PROFIT:
        return min(fixed, remaining)
    return remaining


# -- DCA ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Slice:
    """One DCA slice: buy ``amount`` lamports or sell ``amount`` raw tokens."""

    order_id: int
    index: int
    amount: int
    status: str = OPEN
    fired_ts: int | None = None


@dataclass(slots=True)
class Dca:
    """A schedule of slices; ``reference`` is the price the guard is measured from."""

    parent_id: int
    user_id: int
    mint: str
    side: Literal["buy", "sell"]
    start_ts: int
    interval_ms: int
    slices: list[Slice]
    reference: Price | None = None
    guard_bps: int | None = None
    deadline_ts: int | None = None
    held_back: int = field(default=0)
    """How many times a due slice waited on the guard (for the UI and tests)."""

    @property
    def closed(self) -> bool:
        """True when no slice is open any more."""
        return not any(s.status == OPEN for s in self.slices)

    def past_deadline(self, now: int) -> bool:
        """True when the deadline passed with slices still open."""
        return self.deadline_ts is not None and now > self.deadline_ts and not self.closed

    def guard_passes(self, price: Price | None) -> bool:
        """Whether a slice may go at ``price`` (always, without a guard)."""
        if self.guard_bps is None:
            return True
        if price is None or self.reference is None:
            return False  # a guard that cannot be checked holds the slice back
        if self.side == "buy":
            return price <= self.reference.scaled_bps(self.guard_bps)
        return price >= self.reference.scaled_bps(-self.guard_bps)

    def observe(self, price: Price | None, ts: int) -> list[Fire]:
        """The next slice when it is due, spaced from the last one and the guard passes."""
        pending = [s for s in self.slices if s.status == OPEN]
        if not pending or self.past_deadline(ts):
            return []
        nxt = min(pending, key=lambda s: s.index)
        due = self.start_ts + nxt.index * self.interval_ms
        fired = [s.fired_ts for s in self.slices if s.fired_ts is not None]
        if ts < due or (fired and ts < max(fired) + self.interval_ms):
            return []
        if not self.guard_passes(price):
            self.held_back += 1
            return []
        n = len(self.slices)
        closes = len(pending) == 1
        reason = f"DCA slice {nxt.index + 1}/{n}"
        return [Fire(nxt.order_id, DCA_SLICE, nxt.amount, price, ts, closes, reason)]

    def apply(self, outcome: TriggerOutcome) -> None:
        """Record a slice the database accepted."""
        for s in self.slices:
            if s.order_id == outcome.order_id:
                s.status, s.fired_ts = TRIGGERED, outcome.ts
            elif s.order_id in outcome.cancelled:
                s.status = CANCELLED


def dca_slices(plan: DcaPlan) -> list[tuple[int, int]]:
    """``(index, amount)`` of each slice of ``plan``."""
    return list(enumerate(plan.slice_amounts()))
