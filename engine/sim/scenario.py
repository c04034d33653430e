"""Scenario files: who trades what, when. JSON, validated into frozen dataclasses; a mistake is
reported as :class:`ScenarioError` naming the path of the bad field (``tokens[2].dev``).

Format (amounts are integers: lamports and raw token units; times are seconds from the start)::

    {
      "name": "demo",
      "start": {"slot": 380000000, "unix_ms": 1777636800000},
      "migrate_delay_ms": 1200,
      "wallets": [
        {"id": "whale", "role": "smart_money", "count": 3, "lamports": [3000000000, 9000000000]},
        {"id": "dev_moon", "role": "dev", "lamports": 20000000000}
      ],
      "tokens": [
        {"id": "MOON", "name": "Moon Cat", "symbol": "MCAT", "uri": "https://…", "dev": "dev_moon",
         "launch_s": 5, "venue": "pumpfun", "token_program": "token-2022",
         "dev_buy_lamports": 1500000000},
        {"id": "TRAP", "venue": "pumpswap", "freeze_authority": true, "freeze_buyers": true,
         "pool_lamports": 20000000000, "pool_tokens_pct": 80, "transfer_fee_bps": null, …}
      ],
      "behaviours": [
        {"kind": "snipe", "token": "MOON", "wallets": "sniper", "within_s": 2,
         "lamports": [500000000, 3000000000]},
        {"kind": "smart_money_burst", "token": "MOON", "wallets": "whale", "at_s": 40,
         "within_s": 15, "lamports": [5000000000, 12000000000]},
        {"kind": "organic", "token": "MOON", "wallets": "retail", "from_s": 10, "to_s": 400,
         "rate_per_s": 2.5, "buy_ratio": 0.75, "lamports": [100000000, 3000000000],
         "sell_fraction": [0.2, 1.0]},
        {"kind": "dev_rug", "token": "RUG", "at_s": 120},
        {"kind": "dump", "token": "MOON", "wallets": "whale", "at_s": 300, "within_s": 10}
      ]
    }

``wallets`` entries with ``count`` > 1 form a group addressed by their ``id``; ``"wallets"`` in a
behaviour is a group id, a wallet id, or a list of either.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

logger = logging.getLogger(__name__)

ROLES: Final = frozenset({"smart_money", "retail", "dev", "sniper", "bot"})
BEHAVIOURS: Final = frozenset({"snipe", "smart_money_burst", "organic", "dev_rug", "dump"})
SCENARIO_DIR: Final = Path(__file__).parent / "scenarios"
TOKEN_2022: Final = "token-2022"  # noqa: S105 - a program name, not a secret

Venue = Literal["pumpfun", "pumpswap"]


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the field."""


@dataclass(frozen=True, slots=True)
class WalletSpec:
    """One wallet, or a group of ``count`` wallets sharing an id and a role."""

    id: str
    role: str
    count: int
    lamports: tuple[int, int]


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A token the scenario launches."""

    id: str
    name: str
    symbol: str
    uri: str
    dev: str
    launch_s: float
    venue: Venue
    token_program: str
    dev_buy_lamports: int
    freeze_authority: bool
    freeze_buyers: bool
    freeze_delay_ms: int
    transfer_fee_bps: int | None
    transfer_fee_max: int
    pool_lamports: int
    pool_tokens_pct: int
    cashback: bool


@dataclass(frozen=True, slots=True)
class BehaviourSpec:
    """A pattern of trades on one token."""

    kind: str
    token: str
    wallets: tuple[str, ...]
    at_s: float
    within_s: float
    from_s: float
    to_s: float
    rate_per_s: float
    buy_ratio: float
    lamports: tuple[int, int]
    sell_fraction: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario."""

    name: str
    description: str
    start_slot: int
    start_unix_ms: int
    migrate_delay_ms: int
    wallets: tuple[WalletSpec, ...]
    tokens: tuple[TokenSpec, ...]
    behaviours: tuple[BehaviourSpec, ...]

    @property
    def duration_s(self) -> float:
        """When the last behaviour ends."""
        ends = [t.launch_s for t in self.tokens]
        for b in self.behaviours:
            ends.append(max(b.to_s, b.at_s + b.within_s))
        return max(ends, default=0.0)


class _Reader:
    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{path or 'scenario'} must be an object")
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def _p(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: Any = ...) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                raise ScenarioError(f"{self._p(name)} is required")
            return default
        return self.data[name]

    def str_(self, name: str, default: Any = ...) -> str:
        v = self.get(name, default)
        if not isinstance(v, str) or not v:
            raise ScenarioError(f"{self._p(name)} must be a non-empty string, got {v!r}")
        return v

    def int_(self, name: str, default: Any = ..., *, minimum: int = 0) -> int:
        v = self.get(name, default)
        if type(v) is not int or v < minimum:
            raise ScenarioError(f"{self._p(name)} must be an integer >= {minimum}, got {v!r}")
        return v

    def num(self, name: str, default: Any = ..., *, minimum: float = 0.0) -> float:
        v = self.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum:
            raise ScenarioError(f"{self._p(name)} must be a number >= {minimum}, got {v!r}")
        return float(v)

    def bool_(self, name: str, default: Any = ...) -> bool:
        v = self.get(name, default)
        if not isinstance(v, bool):
            raise ScenarioError(f"{self._p(name)} must be true or false, got {v!r}")
        return v

    def int_range(self, name: str, default: Any = ...) -> tuple[int, int]:
        v = self.get(name, default)
        if type(v) is int and v > 0:
            return (v, v)
        if (
            isinstance(v, list)
            and len(v) == 2
            and all(type(x) is int and x > 0 for x in v)
            and v[0] <= v[1]
        ):
            return (v[0], v[1])
        raise ScenarioError(
            f"{self._p(name)} must be a positive integer or [low, high] integers, got {v!r}"
        )

    def frac_range(self, name: str, default: Any = ...) -> tuple[float, float]:
        v = self.get(name, default)
        if (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(x, int | float) and 0 < x <= 1 for x in v)
            and v[0] <= v[1]
        ):
            return (float(v[0]), float(v[1]))
        raise ScenarioError(f"{self._p(name)} must be [low, high] within (0, 1], got {v!r}")

    def done(self) -> None:
        unknown = set(self.data) - self.used
        if unknown:
            raise ScenarioError(f"{self.path or 'scenario'}: unknown field(s) {sorted(unknown)}")


def parse_scenario(data: Any) -> Scenario:
    """Validate a decoded scenario document."""
    top = _Reader(data, "")
    name = top.str_("name")
    description = top.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("description must be a string")
    start = _Reader(top.get("start", {}), "start")
    start_slot = start.int_("slot", 380_000_000, minimum=1)
    start_ms = start.int_("unix_ms", 1_777_636_800_000, minimum=1)
    start.done()
    migrate_delay_ms = top.int_("migrate_delay_ms", 1200)

    wallets: list[WalletSpec] = []
    ids: dict[str, WalletSpec] = {}
    raw_wallets = top.get("wallets")
    if not isinstance(raw_wallets, list) or not raw_wallets:
        raise ScenarioError("wallets must be a non-empty array")
    for i, item in enumerate(raw_wallets):
        r = _Reader(item, f"wallets[{i}]")
        spec = WalletSpec(
            id=r.str_("id"),
            role=r.str_("role"),
            count=r.int_("count", 1, minimum=1),
            lamports=r.int_range("lamports", [1_000_000_000, 10_000_000_000]),
        )
        r.done()
        if spec.role not in ROLES:
            raise ScenarioError(f"wallets[{i}].role must be one of {sorted(ROLES)}")
        if spec.id in ids:
            raise ScenarioError(f"wallets[{i}].id {spec.id!r} is used twice")
        ids[spec.id] = spec
        wallets.append(spec)

    tokens: list[TokenSpec] = []
    token_ids: set[str] = set()
    raw_tokens = top.get("tokens")
    if not isinstance(raw_tokens, list):
        raise ScenarioError("tokens must be an array")
    for i, item in enumerate(raw_tokens):
        r = _Reader(item, f"tokens[{i}]")
        venue = r.str_("venue", "pumpfun")
        if venue not in ("pumpfun", "pumpswap"):
            raise ScenarioError(f"tokens[{i}].venue must be pumpfun or pumpswap")
        token_program = r.str_("token_program", "token-2022" if venue == "pumpfun" else "spl")
        if token_program not in ("token-2022", "spl"):
            raise ScenarioError(f"tokens[{i}].token_program must be token-2022 or spl")
        fee_bps = r.get("transfer_fee_bps", None)
        if fee_bps is not None and (type(fee_bps) is not int or not 0 <= fee_bps <= 10_000):
            raise ScenarioError(f"tokens[{i}].transfer_fee_bps must be null or 0..10000")
        tid = r.str_("id")
        spec_t = TokenSpec(
            id=tid,
            name=r.str_("name", tid),
            symbol=r.str_("symbol", tid[:10].upper()),
            uri=r.str_("uri", f"https://ipfs.io/ipfs/sim-{tid.lower()}"),
            dev=r.str_("dev"),
            launch_s=r.num("launch_s", 0.0),
            venue=venue,  # type: ignore[arg-type]
            token_program=token_program,
            dev_buy_lamports=r.int_("dev_buy_lamports", 0),
            freeze_authority=r.bool_("freeze_authority", False),
            freeze_buyers=r.bool_("freeze_buyers", False),
            freeze_delay_ms=r.int_("freeze_delay_ms", 800),
            transfer_fee_bps=fee_bps,
            transfer_fee_max=r.int_("transfer_fee_max", 0),
            pool_lamports=r.int_("pool_lamports", 10_000_000_000),
            pool_tokens_pct=r.int_("pool_tokens_pct", 80, minimum=1),
            cashback=r.bool_("cashback", False),
        )
        r.done()
        if spec_t.dev not in ids or ids[spec_t.dev].count != 1:
            raise ScenarioError(f"tokens[{i}].dev must name a single wallet, got {spec_t.dev!r}")
        if venue == "pumpfun" and (spec_t.freeze_authority or spec_t.transfer_fee_bps is not None):
            raise ScenarioError(
                f"tokens[{i}]: pump.fun mints have no freeze authority or transfer fee; "
                "use venue pumpswap for such a token"
            )
        if spec_t.transfer_fee_bps is not None and token_program != TOKEN_2022:
            raise ScenarioError(f"tokens[{i}]: a transfer fee needs token_program token-2022")
        if spec_t.freeze_buyers and not spec_t.freeze_authority:
            raise ScenarioError(f"tokens[{i}]: freeze_buyers needs freeze_authority")
        if spec_t.pool_tokens_pct > 100:
            raise ScenarioError(f"tokens[{i}].pool_tokens_pct must be 1..100")
        if tid in token_ids:
            raise ScenarioError(f"tokens[{i}].id {tid!r} is used twice")
        token_ids.add(tid)
        tokens.append(spec_t)

    behaviours: list[BehaviourSpec] = []
    raw_behaviours = top.get("behaviours", [])
    if not isinstance(raw_behaviours, list):
        raise ScenarioError("behaviours must be an array")
    for i, item in enumerate(raw_behaviours):
        r = _Reader(item, f"behaviours[{i}]")
        kind = r.str_("kind")
        if kind not in BEHAVIOURS:
            raise ScenarioError(f"behaviours[{i}].kind must be one of {sorted(BEHAVIOURS)}")
        token = r.str_("token")
        if token not in token_ids:
            raise ScenarioError(f"behaviours[{i}].token {token!r} is not a token id")
        raw_w = r.get("wallets", [])
        wl = [raw_w] if isinstance(raw_w, str) else raw_w
        if not isinstance(wl, list) or not all(isinstance(w, str) for w in wl):
            raise ScenarioError(f"behaviours[{i}].wallets must be a wallet id or a list of ids")
        for w in wl:
            if w not in ids:
                raise ScenarioError(f"behaviours[{i}].wallets: unknown wallet {w!r}")
        if kind != "dev_rug" and not wl:
            raise ScenarioError(f"behaviours[{i}].wallets is required for {kind}")
        spec_b = BehaviourSpec(
            kind=kind,
            token=token,
            wallets=tuple(wl),
            at_s=r.num("at_s", 0.0),
            within_s=r.num("within_s", 0.0),
            from_s=r.num("from_s", 0.0),
            to_s=r.num("to_s", 0.0),
            rate_per_s=r.num("rate_per_s", 0.0),
            buy_ratio=r.num("buy_ratio", 1.0),
            lamports=r.int_range("lamports", [100_000_000, 1_000_000_000]),
            sell_fraction=r.frac_range("sell_fraction", [0.3, 1.0]),
        )
        r.done()
        if kind == "organic" and (spec_b.rate_per_s <= 0 or spec_b.to_s <= spec_b.from_s):
            raise ScenarioError(f"behaviours[{i}]: organic needs rate_per_s > 0 and to_s > from_s")
        if spec_b.buy_ratio > 1:
            raise ScenarioError(f"behaviours[{i}].buy_ratio must be within 0..1")
        behaviours.append(spec_b)
    top.done()
    return Scenario(
        name=name,
        description=description,
        start_slot=start_slot,
        start_unix_ms=start_ms,
        migrate_delay_ms=migrate_delay_ms,
        wallets=tuple(wallets),
        tokens=tuple(tokens),
        behaviours=tuple(behaviours),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; a bare name like ``demo`` means a shipped scenario."""
    p = Path(path)
    if not p.exists() and not p.suffix and (SCENARIO_DIR / f"{p.name}.json").exists():
        p = SCENARIO_DIR / f"{p.name}.json"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {p}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{p}: {exc}") from exc
