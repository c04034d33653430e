"""The normalized chain event: the contract between decoders, the bus and the scorer.

One JSON object per event (also the NDJSON line printed by ``solai decode``). Money is integers in
raw units; ``ts`` is integer milliseconds UTC. Optional fields are omitted from JSON when absent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final, Literal

import orjson

EventKind = Literal["create", "trade", "swap", "migrate", "pool_create", "complete"]
Side = Literal["buy", "sell"]

KINDS: Final = frozenset({"create", "trade", "swap", "migrate", "pool_create", "complete"})
SIDES: Final = frozenset({"buy", "sell"})
VENUES: Final = frozenset(
    {"pumpfun", "pumpswap", "raydium_amm_v4", "raydium_cpmm", "jupiter", "unknown"}
)


class EventFormatError(ValueError):
    """A serialized event is not a valid normalized event; the message names the field."""


@dataclass(slots=True, frozen=True)
class ChainEvent:
    """One thing that happened on chain, in the product's own terms."""

    kind: str
    venue: str
    signature: str
    slot: int
    ts: int
    mint: str
    index: int = 0
    """Position of this event inside its transaction: (signature, index) is unique."""
    trader: str | None = None
    side: str | None = None
    sol_lamports: int | None = None
    token_amount: int | None = None
    virtual_sol_reserves: int | None = None
    virtual_token_reserves: int | None = None
    pool: str | None = None
    name: str | None = None
    symbol: str | None = None
    uri: str | None = None
    creator: str | None = None
    quote_mint: str | None = None
    quote_amount: int | None = None
    token_program: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        """The event's identity: its transaction signature and its position in it."""
        return (self.signature, self.index)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with absent optional fields left out."""
        out: dict[str, Any] = {}
        for f in _FIELDS:
            value = getattr(self, f)
            if value is not None:
                out[f] = value
        return out

    def to_json(self) -> bytes:
        """Serialize to one compact JSON object (UTF-8 bytes)."""
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> ChainEvent:
        """Validate and build an event from a decoded JSON object."""
        if not isinstance(data, dict):
            raise EventFormatError(f"event must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - _FIELD_SET
        if unknown:
            raise EventFormatError(f"unknown event field(s): {', '.join(sorted(unknown))}")
        for name in _REQUIRED:
            if name not in data:
                raise EventFormatError(f"event field {name!r} is missing")
        for name, value in data.items():
            expected = _INT_FIELDS if name in _INT_FIELDS else None
            if expected is not None:
                if value is not None and (type(value) is not int):
                    raise EventFormatError(
                        f"event field {name!r} must be an integer, got {value!r:.60}"
                    )
            elif value is not None and not isinstance(value, str):
                raise EventFormatError(f"event field {name!r} must be a string, got {value!r:.60}")
        if data["kind"] not in KINDS:
            raise EventFormatError(f"event field 'kind' has unknown value {data['kind']!r:.40}")
        side = data.get("side")
        if side is not None and side not in SIDES:
            raise EventFormatError(f"event field 'side' must be buy or sell, got {side!r:.40}")
        for name in ("sol_lamports", "token_amount", "slot", "ts"):
            v = data.get(name)
            if v is not None and v < 0:
                raise EventFormatError(f"event field {name!r} must not be negative, got {v}")
        return cls(**data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> ChainEvent:
        """Parse one JSON object into an event, with a clear error when it is not one."""
        return cls.from_dict(_loads(raw))


@dataclass(slots=True, frozen=True)
class Retraction:
    """A transaction whose events were published at ``processed`` and that the cluster never
    confirmed: the scorer deletes what it stored of it and retracts the signals it fired.

    It travels on the same ``events`` stream, keyed by the mint (so it reaches the consumer that
    owns the mint, after the events it retracts), as ``{"type": "retract", ...}``: a shape no
    :class:`ChainEvent` has (its JSON never carries ``type``), so the event contract is unchanged.
    """

    signature: str
    mint: str
    slot: int

    def to_json(self) -> bytes:
        """Serialize to one compact JSON object (UTF-8 bytes)."""
        return orjson.dumps(
            {"type": "retract", "signature": self.signature, "mint": self.mint, "slot": self.slot}
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Retraction:
        """Validate and build a retraction from a decoded JSON object."""
        unknown = set(data) - {"type", "signature", "mint", "slot"}
        if unknown:
            raise EventFormatError(f"unknown retraction field(s): {', '.join(sorted(unknown))}")
        signature, mint, slot = data.get("signature"), data.get("mint"), data.get("slot")
        if not isinstance(signature, str) or not isinstance(mint, str):
            raise EventFormatError("retraction needs string 'signature' and 'mint'")
        if type(slot) is not int or slot < 0:
            raise EventFormatError(
                f"retraction field 'slot' must be a non-negative integer, got {slot!r:.40}"
            )
        return cls(signature, mint, slot)


def parse_bus_event(raw: bytes | str) -> ChainEvent | Retraction:
    """One message of the ``events`` stream: a :class:`ChainEvent` or a :class:`Retraction`."""
    data = _loads(raw)
    if isinstance(data, dict) and data.get("type") == "retract":
        return Retraction.from_dict(data)
    return ChainEvent.from_dict(data)


def _loads(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventFormatError(f"not valid JSON: {exc}") from exc


_FIELDS: Final = tuple(f.name for f in fields(ChainEvent))
_FIELD_SET: Final = frozenset(_FIELDS)
_REQUIRED: Final = ("kind", "venue", "signature", "slot", "ts", "mint")
_INT_FIELDS: Final = frozenset(
    {
        "slot",
        "ts",
        "index",
        "sol_lamports",
        "token_amount",
        "virtual_sol_reserves",
        "virtual_token_reserves",
        "quote_amount",
    }
)
