"""Validated order parameters: exit plans (TP levels, stop-loss, trailing stop) and DCA plans.

Everything is basis points and integers: ``gain_bps=5000`` is "+50% over entry", ``sell_bps=5000``
sells half of the position held when the plan was attached. Invalid input raises
:class:`~engine.trading.errors.OrderParamsError` with one message per field, naming it
(``exit_plan.take_profits[1].gain_bps: ...``).
"""

from __future__ import annotations

from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.trading.errors import OrderParamsError

MAX_TAKE_PROFITS = 8
MINUTE_MS = 60_000


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TakeProfit(_Params):
    """Sell ``sell_bps`` of the position once the price is ``gain_bps`` above entry."""

    gain_bps: int = Field(gt=0, le=10_000_000)
    sell_bps: int = Field(gt=0, le=10_000)


class StopLoss(_Params):
    """Sell what remains once the price is ``loss_bps`` below entry."""

    loss_bps: int = Field(gt=0, lt=10_000)


class TrailingStop(_Params):
    """Sell what remains once the price falls ``trail_bps`` from its high since entry.

    With ``activation_gain_bps`` the stop only arms once the price has been that far above entry
    (so "the remainder trails out" after the take-profits).
    """

    trail_bps: int = Field(gt=0, lt=10_000)
    activation_gain_bps: int | None = Field(default=None, ge=0, le=10_000_000)


class ExitPlan(_Params):
    """Take-profit levels, a stop-loss and a trailing stop sharing one position (OCO)."""

    take_profits: list[TakeProfit] = Field(default_factory=list, max_length=MAX_TAKE_PROFITS)
    stop_loss: StopLoss | None = None
    trailing: TrailingStop | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.take_profits and self.stop_loss is None and self.trailing is None:
            raise ValueError("give at least one of take_profits, stop_loss or trailing")
        gains = [tp.gain_bps for tp in self.take_profits]
        if gains != sorted(set(gains)):
            raise ValueError("take_profits must have strictly increasing gain_bps")
        total = sum(tp.sell_bps for tp in self.take_profits)
        if total > 10_000:
            raise ValueError(f"take_profits sell {total} bps in total, more than the position")
        return self


class DcaPlan(_Params):
    """Buy (or sell) ``total`` in ``slices`` equal parts, one every ``interval_minutes``.

    ``total`` is lamports for a buy and raw token units for a sell. The price guard holds a slice
    back while the price is more than ``guard_bps`` above (buy) or below (sell) the price when
    the plan started; a held-back slice waits, it is not skipped. ``deadline_minutes`` cancels
    the slices still open after that long.
    """

    side: Literal["buy", "sell"]
    total: int = Field(gt=0)
    slices: int = Field(ge=2, le=100)
    interval_minutes: int = Field(ge=1, le=7 * 24 * 60)
    guard_bps: int | None = Field(default=None, ge=0, le=1_000_000)
    deadline_minutes: int | None = Field(default=None, ge=1, le=90 * 24 * 60)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.total < self.slices:
            raise ValueError(f"total {self.total} cannot be split into {self.slices} slices")
        if self.side == "sell" and self.guard_bps is not None and self.guard_bps >= 10_000:
            raise ValueError("guard_bps of a sell must be below 10000 (a -100% floor)")
        if self.deadline_minutes is not None:
            needed = (self.slices - 1) * self.interval_minutes
            if self.deadline_minutes < needed:
                raise ValueError(
                    f"deadline_minutes {self.deadline_minutes} is shorter than the {needed} "
                    "minutes the slices need"
                )
        return self

    @property
    def interval_ms(self) -> int:
        """The interval between slices in milliseconds."""
        return self.interval_minutes * MINUTE_MS

    def slice_amounts(self) -> list[int]:
        """The amount of each slice; the last takes the remainder so they add up to ``total``."""
        base = self.total // self.slices
        return [base] * (self.slices - 1) + [self.total - base * (self.slices - 1)]


M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as ``a.b[1].c``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_messages(exc: ValidationError, prefix: str) -> list[str]:
    """One ``prefix.field: message`` line per pydantic error."""
    messages = []
    for err in exc.errors():
        path = field_path(tuple(err["loc"]))
        where = f"{prefix}.{path}" if path else prefix
        msg = str(err["msg"]).removeprefix("Value error, ")
        messages.append(f"{where}: {msg}")
    return messages


def parse_params(model: type[M], data: Any, *, name: str) -> M:
    """Validate ``data`` as ``model``; errors name each field under ``name``."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise OrderParamsError(validation_messages(exc, name)) from None
