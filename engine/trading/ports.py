"""What the trading engine needs from outside: quotes, signing links, notices, swaps, prices.

The trade bridge (``engine.trade``), the Mini App and the chat fan-out implement these; the
adapters over our own pieces live in ``engine.trading.adapters``. Amounts are raw integers:
a buy spends ``amount_in`` lamports for tokens, a sell spends ``amount_in`` raw tokens for
lamports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from engine.trading.price import Price

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class Quote:
    """A fresh quote: what ``amount_in`` would get now, and the route's price impact."""

    out_amount: int
    price_impact_bps: int


class Quoter(Protocol):
    """Quotes a swap of a mint against SOL at the current market."""

    async def quote(self, mint: str, side: str, amount_in: int) -> Quote:
        """What ``amount_in`` (lamports to buy, raw tokens to sell) gets now."""
        ...


@dataclass(frozen=True, slots=True)
class ExitRequest:
    """A prepared swap awaiting the user's signature (an exit, a DCA slice or a rule's buy)."""

    user_id: int
    order_id: int
    mint: str
    side: str
    amount_in: int
    quoted_out: int
    min_out: int
    slippage_bps: int
    price_impact_bps: int
    attempt: int
    expires_ts: int
    idempotency_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class PreparedExit:
    """Where the user signs the prepared swap in one tap, and until when the link is good."""

    link: str
    expires_ts: int


class ExitPreparer(Protocol):
    """Turns a priced request into a one-tap signing link (idempotent per key)."""

    async def prepare(self, request: ExitRequest) -> PreparedExit:
        """The link for ``request``; the same request gives the same link."""
        ...


class OrderFields(Protocol):
    """What a notice reads of an order (``engine.storage.models.Order``)."""

    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def mint(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OrderNotice:
    """A message on the bus ``orders`` topic for the chat fan-out to render.

    ``event``: ``exit_ready`` (a trigger's first link), ``exit_repriced`` (a new link after the
    old one expired or failed), ``exit_expired`` (given up), ``order_filled``, ``auto_buy``
    (a rule bought), ``confirm_buy`` (a rule asks the user to confirm) and ``auto_blocked``.
    ``dedupe_key`` is the same for redeliveries of one notice.
    """

    event: str
    user_id: int
    order_id: int
    kind: str
    mint: str
    link: str | None
    expires_ts: int | None
    dedupe_key: str
    side: str | None = None
    amount_in: int | None = None
    quoted_out: int | None = None
    min_out: int | None = None
    price_impact_bps: int | None = None
    attempt: int | None = None
    reason: str | None = None

    @classmethod
    def about(
        cls,
        order: OrderFields,
        event: str,
        dedupe_key: str,
        *,
        link: str | None = None,
        expires_ts: int | None = None,
        **details: Any,
    ) -> OrderNotice:
        """A notice about ``order``: its user, id, kind and mint, and the event's details."""
        return cls(
            event=event,
            user_id=order.user_id,
            order_id=order.id,
            kind=order.kind,
            mint=order.mint,
            link=link,
            expires_ts=expires_ts,
            dedupe_key=dedupe_key,
            **details,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the bus payload)."""
        return asdict(self)


class Notifier(Protocol):
    """Delivers order notices (at least once; receivers dedupe by ``dedupe_key``)."""

    async def notify(self, notice: OrderNotice) -> None:
        """Publish one notice."""
        ...


class SwapExecutor(Protocol):
    """The server-signed path: build an unsigned swap for a wallet, submit a signed one."""

    async def build(self, *, owner: str, mint: str, side: str, amount_in: int, min_out: int) -> Any:
        """An unsigned ``solders`` VersionedTransaction paid and signed by ``owner``."""
        ...

    async def submit(self, tx: Any, *, idempotency_key: str) -> str:
        """Send a signed transaction once per key; returns its signature."""
        ...


class PriceSource(Protocol):
    """The latest known price of a mint."""

    async def price(self, mint: str) -> Price | None:
        """Lamports per raw token now, or None when unknown."""
        ...


class SolUsd(Protocol):
    """The SOL/USD rate, as integer micro-dollars per SOL."""

    async def sol_usd_micros(self) -> int | None:
        """Micro-USD per 1 SOL, or None when unknown."""
        ...
