"""Rules as data: one class per rule kind, pydantic parameters, a registry, and rule sets.

Two roles:

- **triggers** say why a token is interesting now: Push Time, Smart Buy Burst, Momentum. A signal
  needs at least one to fire.
- **filters** are pass/fail checks: Top10, No Mint, No Freeze, LP Burnt (from the risk engine's
  :class:`RiskView`), Liquidity depth and Slippage (from the pool reserves). Unknown facts fail
  closed and the result says so. A failed filter is reported with the signal; it suppresses the
  signal only when its ``block`` parameter is true (global default false: a freezable token is
  still flagged to the user rather than hidden, so "why no alert?" never hides a rug).

Every rule reports :class:`Check`\\ s (threshold, actual value, pass/fail): the same data explains
a signal and a near miss. Parameters are stored in the ``rules`` table (``kind`` + ``params``
JSON, per user or global); :meth:`RuleSet.from_rows` layers defaults, global rows and a user's
rows by rule name, and validation errors name the field (``smart_buy_burst.min_wallets must be
>= 1``). Money thresholds are integer lamports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, Literal, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain.programs import LAMPORTS_PER_SOL as SOL
from engine.risk.model import RiskVerdict
from engine.signals.explain import fmt_pct, fmt_sol, rounded, wallet_name
from engine.signals.impact import price_impact_bps
from engine.signals.windows import MINUTE_MS, MintWindows
from engine.storage.repos.trading import list_rules

logger = logging.getLogger(__name__)

Role = Literal["trigger", "filter"]
Op = Literal[">=", "<=", "=="]
Scalar = int | float | bool | str


class RuleConfigError(ValueError):
    """Rule parameters are invalid; ``errors`` lists one message per problem, naming the field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# -- parameters --------------------------------------------------------------------------------


class RuleParams(BaseModel):
    """Parameters every rule has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class FilterParams(RuleParams):
    """Parameters every filter has."""

    block: bool = False
    """When true, failing this filter suppresses the signal instead of only flagging it."""


class PushTimeParams(RuleParams):
    """Net-buy intensity over a 1-15 min window."""

    window_minutes: int = Field(5, ge=1, le=15)
    min_net_lamports_per_min: int = Field(2 * SOL, ge=0)
    min_buy_share: float = Field(0.6, ge=0.0, le=1.0)
    """Share of the window's SOL volume that was buying."""
    min_trades: int = Field(20, ge=1)


class SmartBuyBurstParams(RuleParams):
    """N tracked wallets buy at least M SOL within T minutes."""

    window_minutes: int = Field(5, ge=1, le=15)
    min_wallets: int = Field(3, ge=1)
    min_total_lamports: int = Field(5 * SOL, ge=0)
    min_lamports_per_wallet: int = Field(0, ge=0)
    """A tracked wallet counts only when it bought at least this much in the window."""


class MomentumParams(RuleParams):
    """Price up over the window while volume accelerates."""

    window_minutes: int = Field(5, ge=1, le=15)
    min_return_pct: float = Field(25.0, ge=-100.0)
    min_volume_accel: float = Field(1.5, ge=0.0)
    min_trades: int = Field(10, ge=0)
    """Trades in the window: two buys on a fresh curve are a big return but not momentum."""


class Top10Params(FilterParams):
    """The ten largest holders own at most this share of supply."""

    max_top10_pct: float = Field(30.0, ge=0.0, le=100.0)


class NoMintParams(FilterParams):
    """The mint authority is renounced."""


class NoFreezeParams(FilterParams):
    """The freeze authority is renounced."""


class LpBurntParams(FilterParams):
    """At least this share of the AMM pool's LP tokens is burnt or locked."""

    min_burnt_pct: float = Field(95.0, ge=0.0, le=100.0)


class LiquidityDepthParams(FilterParams):
    """The pool holds at least this much SOL."""

    min_liquidity_lamports: int = Field(20 * SOL, ge=0)


class SlippageParams(FilterParams):
    """A buy of ``size_lamports`` moves the price by at most ``max_slippage_bps``."""

    size_lamports: int = Field(SOL, ge=1)
    max_slippage_bps: int = Field(300, ge=0, le=10_000)


_MESSAGES: Final = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "missing": "is required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def _describe(prefix: str, exc: ValidationError, known: Iterable[str]) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        kind = err["type"]
        if kind == "extra_forbidden":
            text = f"is not a parameter (known: {', '.join(sorted(known))})"
        elif kind in _MESSAGES:
            text = _MESSAGES[kind].format(**err.get("ctx", {}))
            if kind != "missing":
                text += f" (got {err['input']!r:.40})"
        else:
            text = err["msg"][0].lower() + err["msg"][1:]
        out.append(f"{prefix}.{where} {text}")
    return out


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold test: the parameter, its threshold, the value seen, and the outcome."""

    field: str
    label: str
    op: Op
    threshold: Scalar
    actual: Scalar | None
    """None when the fact is unknown (which fails: fail closed)."""
    passed: bool
    unit: str = ""
    """``lamports`` (shown as SOL), ``%``, ``bps``, ``x`` or empty."""

    @property
    def shortfall(self) -> float | int | None:
        """How far the value is from passing: 0 when it passes, None when unknown or not numeric."""
        if self.passed:
            return 0
        a, t = self.actual, self.threshold
        if a is None or isinstance(a, bool | str) or isinstance(t, bool | str):
            return None
        return t - a if self.op == ">=" else a - t

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "field": self.field,
            "label": self.label,
            "op": self.op,
            "threshold": self.threshold,
            "actual": self.actual,
            "passed": self.passed,
            "unit": self.unit,
            "shortfall": self.shortfall,
        }


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule concluded about one mint at one time."""

    name: str
    kind: str
    title: str
    role: Role
    passed: bool
    blocking: bool
    """A failed filter whose ``block`` is set: the signal is suppressed."""
    checks: tuple[Check, ...]
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, floats rounded to 4 places."""
        out = {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "role": self.role,
            "passed": self.passed,
            "summary": self.summary,
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.detail:
            out["detail"] = self.detail
        result = rounded(out)
        assert isinstance(result, dict)
        return result


@dataclass(slots=True)
class RuleContext:
    """What a rule may look at: the mint's windows, its risk verdict, and wallet aliases."""

    mint: str
    now: int
    windows: MintWindows
    verdict: RiskVerdict | None
    aliases: Mapping[str, str]


# -- rules -------------------------------------------------------------------------------------

P = TypeVar("P", bound=RuleParams)
Actual = int | float | bool | None


@dataclass(frozen=True, slots=True)
class Spec:
    """One threshold of a rule: the parameter holding it, how to compare, how to show it."""

    field: str
    label: str
    """May use the params as format fields: ``price return over {window_minutes}m``."""
    op: Op
    unit: str = ""
    const: Scalar | None = None
    """A fixed threshold, for checks with no parameter (``renounced == True``)."""


def compare(op: str, actual: Actual, threshold: Scalar) -> bool:
    """The one comparison every check uses; an unknown value fails (fail closed)."""
    if actual is None:
        return False
    if op == ">=":
        return actual >= threshold  # type: ignore[operator]
    if op == "<=":
        return actual <= threshold  # type: ignore[operator]
    return actual == threshold


class Rule(Generic[P]):
    """Base class: a rule kind's defaults.

    A subclass lists its thresholds in ``specs`` and implements :meth:`measure` (the actual
    value for each spec, None when unknown) and :meth:`describe` (the one-line summary).
    :meth:`passes` (the scorer's cheap path) and :meth:`evaluate` (the explanation) compare the
    same measured values with the same function, so they cannot disagree.
    """

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    role: ClassVar[Role] = "trigger"
    params_type: ClassVar[type[RuleParams]] = RuleParams
    specs: ClassVar[tuple[Spec, ...]] = ()

    def __init__(self, params: P, name: str | None = None) -> None:
        self.params = params
        self.name = name or self.kind
        self._limits = tuple(
            (s.op, s.const if s.const is not None else getattr(params, s.field)) for s in self.specs
        )

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, name: str | None = None) -> Self:
        """Validate parameters (missing ones take defaults); errors name the field."""
        prefix = cls.kind if name in (None, cls.kind) else f"{name} ({cls.kind})"
        try:
            params: Any = cls.params_type.model_validate(dict(data))
        except ValidationError as exc:
            raise RuleConfigError(_describe(prefix, exc, cls.params_type.model_fields)) from None
        return cls(params, name)

    @property
    def enabled(self) -> bool:
        """Whether the rule is evaluated at all."""
        return self.params.enabled

    @property
    def block(self) -> bool:
        """Whether failing suppresses the signal (filters with ``block`` set)."""
        return isinstance(self.params, FilterParams) and self.params.block

    def spans_ms(self) -> tuple[int, ...]:
        """The window spans this rule reads; the scorer makes sure they are tracked."""
        return ()

    def params_dict(self) -> dict[str, Any]:
        """The parameters as stored in the ``rules`` table."""
        return self.params.model_dump()

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """The actual value behind each spec, in order (None when unknown)."""
        return ()

    def waived(self, ctx: RuleContext) -> str | None:
        """A reason the rule does not apply here (it then passes), or None."""
        return None

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """The one-line human summary of the measured values."""
        return self.title

    def detail(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> dict[str, Any]:
        """Extra structured data for the explanation (wallets, amounts)."""
        return {}

    def passes(self, ctx: RuleContext) -> bool:
        """Whether the rule passes now (no explanation built)."""
        if self.waived(ctx) is not None:
            return True
        for (op, limit), value in zip(self._limits, self.measure(ctx), strict=True):
            if not compare(op, value, limit):
                return False
        return True

    def evaluate(self, ctx: RuleContext) -> RuleResult:
        """The full result: every check with threshold and actual value, and a summary."""
        actual = self.measure(ctx)
        waived = self.waived(ctx)
        params = self.params.model_dump()
        checks = tuple(
            Check(
                s.field,
                s.label.format(**params),
                s.op,
                limit,
                value,
                waived is not None or compare(s.op, value, limit),
                s.unit,
            )
            for s, (_, limit), value in zip(self.specs, self._limits, actual, strict=True)
        )
        ok = all(c.passed for c in checks)
        return RuleResult(
            name=self.name,
            kind=self.kind,
            title=self.title,
            role=self.role,
            passed=ok,
            blocking=not ok and self.block,
            checks=checks,
            summary=waived if waived is not None else self.describe(ctx, actual),
            detail=self.detail(ctx, actual),
        )


RULE_KINDS: dict[str, type[Rule[Any]]] = {}
"""Every rule kind by name; a new rule is one class here plus ``@register``."""


def register(cls: type[Rule[P]]) -> type[Rule[P]]:
    """Class decorator: list a rule kind in :data:`RULE_KINDS`."""
    if not cls.kind or cls.kind in RULE_KINDS:
        raise ValueError(f"rule kind {cls.kind!r} is empty or already registered")
    RULE_KINDS[cls.kind] = cls
    return cls


def _unknown(title: str, why: str) -> str:
    return f"{title}: unknown ({why}), failed closed"


@register
class PushTime(Rule[PushTimeParams]):
    """Net buying pressure over the window: SOL in per minute, buy share and activity."""

    kind = "push_time"
    title = "Push Time"
    params_type = PushTimeParams
    specs = (
        Spec("min_net_lamports_per_min", "net buy SOL per minute", ">=", "lamports"),
        Spec("min_buy_share", "buy share of volume", ">="),
        Spec("min_trades", "trades", ">="),
    )

    def spans_ms(self) -> tuple[int, ...]:
        """The rule's window."""
        return (self.params.window_minutes * MINUTE_MS,)

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(net lamports per minute, buy share of volume, trades)."""
        sp = ctx.windows.span(self.params.window_minutes * MINUTE_MS)
        buy, sell = sp.buy_lamports, sp.sell_lamports
        volume = buy + sell
        # Floor division: per_min >= t holds exactly when net >= t * minutes.
        per_min = (buy - sell) // self.params.window_minutes
        return per_min, (buy / volume if volume else 0.0), sp.buys + sp.sells

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """Net SOL, per minute, buy share, trades."""
        per_min, share, trades = actual
        m = self.params.window_minutes
        net = ctx.windows.span(m * MINUTE_MS).net_flow_lamports
        return (
            f"Push Time: net {fmt_sol(net)} in {m}m ({fmt_sol(int(per_min or 0))}/min), "
            f"{float(share or 0) * 100:.0f}% of volume bought, {trades} trades"
        )


@register
class SmartBuyBurst(Rule[SmartBuyBurstParams]):
    """Several tracked wallets buying within a short window."""

    kind = "smart_buy_burst"
    title = "Smart Buy Burst"
    params_type = SmartBuyBurstParams
    specs = (
        Spec("min_wallets", "tracked wallets buying", ">="),
        Spec("min_total_lamports", "SOL bought by tracked wallets", ">=", "lamports"),
    )

    def spans_ms(self) -> tuple[int, ...]:
        """The rule's window."""
        return (self.params.window_minutes * MINUTE_MS,)

    def _wallets(self, ctx: RuleContext) -> list[tuple[str, int]]:
        sp = ctx.windows.span(self.params.window_minutes * MINUTE_MS)
        floor = self.params.min_lamports_per_wallet
        return [(a, v) for a, v in sp.smart_wallets() if v >= floor]

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(tracked wallets counted, their SOL bought)."""
        if self.params.min_lamports_per_wallet <= 0:
            sp = ctx.windows.span(self.params.window_minutes * MINUTE_MS)
            return len(sp.smart), sp.smart_lamports  # every wallet counts: no sorting needed
        wallets = self._wallets(ctx)
        return len(wallets), sum(v for _, v in wallets)

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """How many wallets, how much SOL, and each wallet by name with its SOL."""
        wallets = self._wallets(ctx)
        n = len(wallets)
        named = ", ".join(f"{wallet_name(a, ctx.aliases)} {fmt_sol(v)}" for a, v in wallets)
        return (
            f"Smart Buy Burst: {n} tracked wallet{'s' if n != 1 else ''} bought "
            f"{fmt_sol(sum(v for _, v in wallets))} in {self.params.window_minutes}m"
            + (f" ({named})" if named else "")
        )

    def detail(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> dict[str, Any]:
        """The wallets (address, alias, lamports) and their total."""
        wallets = self._wallets(ctx)
        return {
            "total_lamports": sum(v for _, v in wallets),
            "wallets": [
                {"address": a, "alias": ctx.aliases.get(a) or None, "lamports": v}
                for a, v in wallets
            ],
        }


@register
class Momentum(Rule[MomentumParams]):
    """Price return over the window with accelerating volume."""

    kind = "momentum"
    title = "Momentum"
    params_type = MomentumParams
    specs = (
        Spec("min_return_pct", "price return over {window_minutes}m", ">=", "%"),
        Spec("min_volume_accel", "volume acceleration", ">=", "x"),
        Spec("min_trades", "trades in the window", ">="),
    )

    def spans_ms(self) -> tuple[int, ...]:
        """The rule's window."""
        return (self.params.window_minutes * MINUTE_MS,)

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(return over the window in %, volume acceleration, trades in the window)."""
        ms = self.params.window_minutes * MINUTE_MS
        r = ctx.windows.price_return(ms)
        sp = ctx.windows.span(ms)
        return (None if r is None else r * 100.0), ctx.windows.volume_accel(), sp.buys + sp.sells

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """Return, acceleration and trades."""
        pct, accel, trades = actual
        ret = "unknown (no price yet)" if pct is None else fmt_pct(float(pct) / 100.0)
        return (
            f"Momentum: price {ret} over {self.params.window_minutes}m, volume x{accel:.2f}, "
            f"{trades} trades"
        )


# -- filters -----------------------------------------------------------------------------------

# Check names the risk engine may list in ``RiskView.known`` for the authority facts: the field
# name itself or the mint-account check that reads both.
_AUTHORITY_CHECKS: Final = frozenset({"mint", "mint_account", "authorities"})


class _AuthorityFilter(Rule[P]):
    attr: ClassVar[str] = ""
    what: ClassVar[str] = ""

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(renounced: True / False / None when not known)."""
        v = ctx.verdict
        if v is None:
            return (None,)
        view = v.view
        holder = getattr(view, self.attr)
        if holder is not None:
            return (False,)
        known = self.attr in view.known or bool(view.known & _AUTHORITY_CHECKS)
        return (True,) if known else (None,)

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """Renounced, held by whom, or unknown (failed closed)."""
        if actual[0] is None:
            why = "risk not checked yet" if ctx.verdict is None else f"{self.what} not checked"
            return _unknown(self.title, why)
        if actual[0]:
            return f"{self.title}: {self.what} renounced"
        assert ctx.verdict is not None
        return f"{self.title}: {self.what} held by {getattr(ctx.verdict.view, self.attr)}"


@register
class NoMint(_AuthorityFilter[NoMintParams]):
    """Nobody can mint more supply."""

    kind = "no_mint"
    title = "No Mint"
    role = "filter"
    params_type = NoMintParams
    specs = (Spec("mint_authority", "mint authority renounced", "==", const=True),)
    attr = "mint_authority"
    what = "mint authority"


@register
class NoFreeze(_AuthorityFilter[NoFreezeParams]):
    """Nobody can freeze holders' token accounts (a honeypot lever)."""

    kind = "no_freeze"
    title = "No Freeze"
    role = "filter"
    params_type = NoFreezeParams
    specs = (Spec("freeze_authority", "freeze authority renounced", "==", const=True),)
    attr = "freeze_authority"
    what = "freeze authority"


@register
class Top10(Rule[Top10Params]):
    """Holder concentration of the ten largest holders (curve and pool excluded)."""

    kind = "top10"
    title = "Top10"
    role = "filter"
    params_type = Top10Params
    specs = (Spec("max_top10_pct", "top 10 holders' share", "<=", "%"),)

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(top-10 share in %, None when unknown)."""
        return (None if ctx.verdict is None else ctx.verdict.view.top10_pct,)

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """The share, or unknown (failed closed)."""
        if actual[0] is None:
            why = "risk not checked yet" if ctx.verdict is None else "holders not checked"
            return _unknown(self.title, why)
        return f"Top10: top 10 holders own {float(actual[0]):.1f}%"


@register
class LpBurnt(Rule[LpBurntParams]):
    """LP tokens burnt or locked, so the pool cannot be pulled; a bonding curve has no LP."""

    kind = "lp_burnt"
    title = "LP Burnt"
    role = "filter"
    params_type = LpBurntParams
    specs = (Spec("min_burnt_pct", "LP burnt or locked", ">=", "%"),)

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(burnt share in %, None when unknown or not applicable)."""
        return (None if ctx.verdict is None else ctx.verdict.view.lp_burnt_pct,)

    def waived(self, ctx: RuleContext) -> str | None:
        """On the pump.fun bonding curve (or when the risk engine found no pool) there is no LP."""
        v = ctx.verdict
        if v is not None and v.view.lp_burnt_pct is not None:
            return None
        if ctx.windows.venue == "pumpfun":
            return "LP Burnt: bonding curve, no LP to pull"
        if v is not None and "lp" in v.view.known:  # the LP check ran and found no AMM pool
            return "LP Burnt: no AMM pool, no LP to pull"
        return None

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """The burnt share, or unknown (failed closed)."""
        if actual[0] is None:
            why = "risk not checked yet" if ctx.verdict is None else "LP not checked"
            return _unknown(self.title, why)
        return f"LP Burnt: {float(actual[0]):.1f}% of LP burnt or locked"


@register
class LiquidityDepth(Rule[LiquidityDepthParams]):
    """Enough SOL in the pool (the curve's virtual SOL on pump.fun)."""

    kind = "liquidity_depth"
    title = "Liquidity"
    role = "filter"
    params_type = LiquidityDepthParams
    specs = (Spec("min_liquidity_lamports", "pool SOL", ">=", "lamports"),)

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(SOL side of the reserves, None when no reserves were seen)."""
        w = ctx.windows
        return (w.sol_reserves if w.has_reserves else None,)

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """The pool's SOL, or unknown (failed closed)."""
        if actual[0] is None:
            return _unknown(self.title, "no pool reserves seen")
        return f"Liquidity: {fmt_sol(int(actual[0]))} in the pool"


@register
class Slippage(Rule[SlippageParams]):
    """Estimated price impact of a standard buy on the current reserves (constant product)."""

    kind = "slippage"
    title = "Slippage"
    role = "filter"
    params_type = SlippageParams
    specs = (Spec("max_slippage_bps", "price impact of the buy size", "<=", "bps"),)

    def measure(self, ctx: RuleContext) -> tuple[Actual, ...]:
        """(impact in bps of ``size_lamports``, None when no reserves were seen)."""
        w = ctx.windows
        if not w.has_reserves:
            return (None,)
        return (price_impact_bps(w.sol_reserves, w.token_reserves, self.params.size_lamports),)

    def describe(self, ctx: RuleContext, actual: tuple[Actual, ...]) -> str:
        """The impact of the buy size, or unknown (failed closed)."""
        size = fmt_sol(self.params.size_lamports)
        if actual[0] is None:
            return _unknown(self.title, "no pool reserves seen")
        return f"Slippage: a {size} buy moves the price {int(actual[0]) / 100:.2f}%"


# -- rule sets ---------------------------------------------------------------------------------


class RuleRow(Protocol):
    """A row of the ``rules`` table (or anything shaped like one)."""

    @property
    def name(self) -> str:
        """The rule's name, unique per user (a default rule is named after its kind)."""

    @property
    def kind(self) -> str:
        """A key of :data:`RULE_KINDS`."""

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters as JSON; missing ones keep their current value."""

    @property
    def enabled(self) -> bool:
        """False disables the rule."""

    @property
    def user_id(self) -> int | None:
        """The owner, or None for a global row."""


class RuleSet:
    """The rules one audience uses, by name, in a stable order (defaults first)."""

    def __init__(self, rules: Iterable[Rule[Any]]) -> None:
        self.rules: tuple[Rule[Any], ...] = tuple(rules)
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise RuleConfigError([f"duplicate rule names: {sorted(names)}"])
        self.active = tuple(r for r in self.rules if r.enabled)
        self.triggers = tuple(r for r in self.active if r.role == "trigger")
        self.filters = tuple(r for r in self.active if r.role == "filter")
        self.blockers = tuple(r for r in self.filters if r.block)

    @classmethod
    def defaults(cls) -> RuleSet:
        """One rule of every kind with its default parameters."""
        return cls(k.parse({}) for k in RULE_KINDS.values())

    @classmethod
    def from_rows(cls, rows: Iterable[RuleRow], *, user_id: int | None = None) -> RuleSet:
        """Defaults, then global rows, then ``user_id``'s rows; a row overrides by rule name.

        A row's params are merged over the rule's current params, so a user row may set one
        field. A row whose name is new adds a rule of its kind. ``enabled`` false disables.
        All invalid rows are reported together.
        """
        rows = list(rows)  # read twice: global rows first, then the user's
        layered = [r for r in rows if r.user_id is None]
        if user_id is not None:
            layered += [r for r in rows if r.user_id == user_id]
        current: dict[str, tuple[str, dict[str, Any]]] = {k: (k, {}) for k in RULE_KINDS}
        errors: list[str] = []
        for row in layered:
            if row.kind not in RULE_KINDS:
                known = ", ".join(sorted(RULE_KINDS))
                errors.append(f"rule {row.name!r}: unknown kind {row.kind!r} (known: {known})")
                continue
            kind, params = current.get(row.name, (row.kind, {}))
            if kind != row.kind:
                errors.append(f"rule {row.name!r}: kind {row.kind!r} does not match {kind!r}")
                continue
            merged = {**params, **dict(row.params)}
            if not row.enabled:
                merged["enabled"] = False
            current[row.name] = (kind, merged)
        rules: list[Rule[Any]] = []
        for name, (kind, params) in current.items():
            try:
                rules.append(RULE_KINDS[kind].parse(params, name=name))
            except RuleConfigError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RuleConfigError(errors)
        return cls(rules)

    def override(self, name: str, params: Mapping[str, Any]) -> RuleSet:
        """A copy with ``name``'s params updated (a new name needs ``kind`` in ``params``)."""
        rules = list(self.rules)
        for i, r in enumerate(rules):
            if r.name == name:
                rules[i] = type(r).parse({**r.params_dict(), **params}, name=name)
                return RuleSet(rules)
        data = dict(params)
        kind = data.pop("kind", None)
        if kind not in RULE_KINDS:
            raise RuleConfigError([f"rule {name!r}: unknown kind {kind!r}"])
        return RuleSet([*rules, RULE_KINDS[kind].parse(data, name=name)])

    def get(self, name: str) -> Rule[Any] | None:
        """The rule called ``name``."""
        return next((r for r in self.rules if r.name == name), None)

    def spans_ms(self) -> set[int]:
        """Every window span the enabled rules read."""
        return {ms for r in self.active for ms in r.spans_ms()}

    def may_fire(self, ctx: RuleContext) -> bool:
        """Cheap check: some trigger passes and no blocking filter fails."""
        return any(r.passes(ctx) for r in self.triggers) and all(
            r.passes(ctx) for r in self.blockers
        )

    def evaluate(self, ctx: RuleContext) -> list[RuleResult]:
        """Every enabled rule's result, triggers first, in rule order."""
        return [r.evaluate(ctx) for r in self.triggers] + [r.evaluate(ctx) for r in self.filters]

    def to_rows(self) -> list[dict[str, Any]]:
        """``name``/``kind``/``params``/``enabled`` for :func:`save_rule`."""
        return [
            {"name": r.name, "kind": r.kind, "params": r.params_dict(), "enabled": r.enabled}
            for r in self.rules
        ]


async def load_rule_set(session: AsyncSession, *, user_id: int | None) -> RuleSet:
    """The rule set of ``user_id`` (or the global one) from the ``rules`` table."""
    rows = await list_rules(session, user_id=user_id)
    return RuleSet.from_rows(rows, user_id=user_id)
