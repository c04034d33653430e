"""A Jupiter Swap API client (``/quote`` then ``/swap``) on ``httpx``.

Speaks the JSON of the Swap API v1 (``https://api.jup.ag/swap/v1`` with an ``x-api-key``,
``https://lite-api.jup.ag/swap/v1`` without) and of the local Jupiter-compatible server
(``engine.sim.jupiter``): amounts travel as decimal strings, ``priceImpactPct`` is a fraction as a
string (``"0.012"`` is 1.2%), the swap comes back as an unsigned base64 versioned transaction with
the ``lastValidBlockHeight`` of its blockhash.

Errors form one tree under :class:`JupiterError`, each with a stable ``code`` the API shows the
user; nothing is retried here: a quote is only worth anything now, so the caller decides.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import httpx

from engine.trading.price import min_out

logger = logging.getLogger(__name__)

SwapMode = Literal["ExactIn", "ExactOut"]
MAX_U64: Final = (1 << 64) - 1


class JupiterError(Exception):
    """Base of every Jupiter failure; ``code`` is stable, the message is for people."""

    code = "jupiter_error"
    status = 502


class JupiterTimeout(JupiterError):
    """Jupiter did not answer within the timeout."""

    code = "jupiter_timeout"
    status = 504


class JupiterUnavailable(JupiterError):
    """Jupiter could not be reached, or answered 5xx / 429."""

    code = "jupiter_unavailable"
    status = 502


class JupiterRejected(JupiterError):
    """Jupiter refused the request (4xx): no route, bad amount, bad key; see ``error_code``."""

    code = "jupiter_rejected"
    status = 422

    def __init__(self, message: str, *, error_code: str | None = None, http_status: int = 400):
        super().__init__(message)
        self.error_code = error_code
        self.http_status = http_status


class JupiterMalformed(JupiterError):
    """The reply is not the JSON the API documents; the message names the field."""

    code = "jupiter_malformed"
    status = 502


@dataclass(frozen=True, slots=True)
class RouteStep:
    """One hop of a route."""

    amm_key: str
    label: str
    input_mint: str
    output_mint: str
    in_amount: int
    out_amount: int


@dataclass(frozen=True, slots=True)
class Quote:
    """A ``/quote`` answer; ``raw`` is passed back verbatim to ``/swap`` as Jupiter requires."""

    input_mint: str
    output_mint: str
    in_amount: int
    out_amount: int
    other_amount_threshold: int
    swap_mode: SwapMode
    slippage_bps: int
    price_impact: Decimal
    """A fraction: 0.012 is 1.2%."""
    route: tuple[RouteStep, ...]
    context_slot: int | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def price_impact_pct(self) -> float:
        """Price impact in percent, for display and limits."""
        return float(self.price_impact * 100)

    def min_out(self, slippage_bps: int | None = None) -> int:
        """The least output accepted: ``out_amount`` less the slippage (rounded down).

        One rule for every path (bridge, exits, auto-trade): ``engine.trading.price.min_out``,
        which refuses a slippage outside 0..9999 bps instead of returning 0 or a negative floor.
        """
        bps = self.slippage_bps if slippage_bps is None else slippage_bps
        return min_out(self.out_amount, bps)


@dataclass(frozen=True, slots=True)
class SwapTransaction:
    """A ``/swap`` answer: the unsigned transaction and how long its blockhash is valid."""

    transaction: bytes = field(repr=False)
    last_valid_block_height: int
    prioritization_fee_lamports: int
    compute_unit_limit: int | None

    @property
    def base64(self) -> str:
        """The transaction as Jupiter sent it."""
        return base64.b64encode(self.transaction).decode()


class _Reply:
    """Field access on a reply that names what is wrong when a field is missing or malformed."""

    def __init__(self, what: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise JupiterMalformed(f"{what}: reply is not a JSON object")
        self.what = what
        self.data: dict[str, Any] = data

    def _fail(self, name: str, expected: str) -> JupiterMalformed:
        shown = repr(self.data.get(name))[:60]
        return JupiterMalformed(f"{self.what}: field {name} should be {expected}, got {shown}")

    def str_(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or not value:
            raise self._fail(name, "a non-empty string")
        return value

    def amount(self, name: str) -> int:
        value = self.data.get(name)
        # The API sends u64 amounts as decimal strings; accept an integer too.
        if isinstance(value, bool):
            raise self._fail(name, "a decimal integer string")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
        else:
            raise self._fail(name, "a decimal integer string")
        if not 0 <= number <= MAX_U64:
            raise self._fail(name, "an unsigned 64-bit amount")
        return number

    def int_(self, name: str, *, optional: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None and optional:
            return None
        if type(value) is not int or value < 0:
            raise self._fail(name, "a non-negative integer")
        return value

    def decimal(self, name: str) -> Decimal:
        value = self.data.get(name)
        try:
            number = Decimal(str(value)) if isinstance(value, str | int | float) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise self._fail(name, "a decimal number")
        return number


def _route(raw: Any) -> tuple[RouteStep, ...]:
    if not isinstance(raw, list):
        raise JupiterMalformed("quote: field routePlan should be an array")
    steps = []
    for i, step in enumerate(raw):
        outer = _Reply(f"quote: routePlan[{i}]", step)
        info = _Reply(f"quote: routePlan[{i}].swapInfo", outer.data.get("swapInfo"))
        steps.append(
            RouteStep(
                amm_key=info.str_("ammKey"),
                label=str(info.data.get("label") or "?"),
                input_mint=info.str_("inputMint"),
                output_mint=info.str_("outputMint"),
                in_amount=info.amount("inAmount"),
                out_amount=info.amount("outAmount"),
            )
        )
    return tuple(steps)


def parse_quote(data: Any) -> Quote:
    """A ``/quote`` JSON reply as a :class:`Quote`; :class:`JupiterMalformed` names a bad field."""
    r = _Reply("quote", data)
    mode = r.str_("swapMode")
    if mode not in ("ExactIn", "ExactOut"):
        raise JupiterMalformed(f"quote: field swapMode should be ExactIn or ExactOut, got {mode!r}")
    slippage = r.int_("slippageBps")
    assert slippage is not None
    return Quote(
        input_mint=r.str_("inputMint"),
        output_mint=r.str_("outputMint"),
        in_amount=r.amount("inAmount"),
        out_amount=r.amount("outAmount"),
        other_amount_threshold=r.amount("otherAmountThreshold"),
        swap_mode="ExactIn" if mode == "ExactIn" else "ExactOut",
        slippage_bps=slippage,
        price_impact=r.decimal("priceImpactPct"),
        route=_route(r.data.get("routePlan")),
        context_slot=r.int_("contextSlot", optional=True),
        raw=r.data,
    )


def parse_swap(data: Any) -> SwapTransaction:
    """A ``/swap`` JSON reply as a :class:`SwapTransaction`."""
    r = _Reply("swap", data)
    text = r.str_("swapTransaction")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise JupiterMalformed("swap: field swapTransaction is not base64") from None
    height = r.int_("lastValidBlockHeight")
    assert height is not None
    fee = r.data.get("prioritizationFeeLamports")
    limit = r.data.get("computeUnitLimit")
    return SwapTransaction(
        transaction=raw,
        last_valid_block_height=height,
        prioritization_fee_lamports=fee if type(fee) is int and fee >= 0 else 0,
        compute_unit_limit=limit if type(limit) is int and limit > 0 else None,
    )


def _error_text(response: httpx.Response) -> tuple[str, str | None]:
    """Jupiter's own error message and code, from ``{"error": ..., "errorCode": ...}``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase, None
    if isinstance(body, dict):
        message = body.get("error") or body.get("message") or body.get("errorMessage")
        code = body.get("errorCode")
        return str(message or response.reason_phrase)[:300], str(code) if code else None
    return str(body)[:200], None


class JupiterClient:
    """``GET {base}/quote`` and ``POST {base}/swap`` with an optional ``x-api-key``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"accept": "application/json"}
        if api_key:
            self._headers["x-api-key"] = api_key
        self._timeout = httpx.Timeout(timeout_s)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=self._timeout)

    async def aclose(self) -> None:
        """Close the HTTP client when this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def _request(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = await self._http.request(
                method, url, headers=self._headers, timeout=self._timeout, **kwargs
            )
        except httpx.TimeoutException:
            raise JupiterTimeout(
                f"Jupiter {what} timed out after {self._timeout.read}s; try again"
            ) from None
        except httpx.HTTPError as exc:
            raise JupiterUnavailable(
                f"Jupiter {what} unreachable ({type(exc).__name__}); try again"
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            message, _ = _error_text(response)
            logger.warning("jupiter %s answered %d: %s", what, response.status_code, message)
            raise JupiterUnavailable(
                f"Jupiter {what} is unavailable (HTTP {response.status_code}); try again"
            )
        if response.status_code >= 400:
            message, code = _error_text(response)
            raise JupiterRejected(
                f"Jupiter refused the {what}: {message}",
                error_code=code,
                http_status=response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise JupiterMalformed(f"{what}: reply is not JSON") from None

    async def quote(
        self,
        *,
        input_mint: str,
        output_mint: str,
        amount: int,
        slippage_bps: int,
        swap_mode: SwapMode = "ExactIn",
        only_direct_routes: bool = False,
        restrict_intermediate_tokens: bool = True,
    ) -> Quote:
        """The best route for ``amount`` raw units of ``input_mint`` now."""
        if type(amount) is not int or not 0 < amount <= MAX_U64:
            raise ValueError(f"amount must be a positive u64 of raw units, got {amount!r}")
        if not 0 <= slippage_bps <= 10_000:
            raise ValueError(f"slippage_bps must be 0..10000, got {slippage_bps}")
        params = {
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(amount),
            "slippageBps": str(slippage_bps),
            "swapMode": swap_mode,
            "onlyDirectRoutes": "true" if only_direct_routes else "false",
            "restrictIntermediateTokens": "true" if restrict_intermediate_tokens else "false",
        }
        quote = parse_quote(await self._request("quote", "GET", "/quote", params=params))
        if quote.input_mint != input_mint or quote.output_mint != output_mint:
            raise JupiterMalformed("quote: the reply is for other mints than asked")
        if quote.swap_mode == "ExactIn" and quote.in_amount != amount:
            raise JupiterMalformed("quote: inAmount differs from the amount asked")
        return quote

    async def swap(
        self,
        *,
        quote: Quote,
        user_public_key: str,
        priority_fee_lamports: int | None = None,
        dynamic_compute_unit_limit: bool = True,
        compute_unit_price_micro_lamports: int | None = None,
        wrap_and_unwrap_sol: bool = True,
    ) -> SwapTransaction:
        """The unsigned versioned transaction for ``quote``, paid and signed by the user.

        ``priority_fee_lamports`` is the total priority fee (Jupiter's integer form of
        ``prioritizationFeeLamports``); ``dynamic_compute_unit_limit`` asks Jupiter to simulate
        and set the compute unit limit instead of the 1.4M default.
        """
        body: dict[str, Any] = {
            "userPublicKey": user_public_key,
            "quoteResponse": quote.raw,
            "wrapAndUnwrapSol": wrap_and_unwrap_sol,
            "dynamicComputeUnitLimit": dynamic_compute_unit_limit,
            "asLegacyTransaction": False,
        }
        if priority_fee_lamports is not None:
            body["prioritizationFeeLamports"] = priority_fee_lamports
        if compute_unit_price_micro_lamports is not None:
            body["computeUnitPriceMicroLamports"] = compute_unit_price_micro_lamports
        return parse_swap(await self._request("swap", "POST", "/swap", json=body))
