"""A local Jupiter-compatible swap server over the simulator's bonding curves and PumpSwap pools.

It answers ``GET /swap/v1/quote`` and ``POST /swap/v1/swap`` with the JSON shapes of Jupiter's
Swap API v1 (see ``../shared/fixtures/jupiter_api/``): amounts as decimal strings,
``priceImpactPct`` as a fraction string, ``routePlan`` with one hop, ``contextSlot``; and for
``/swap`` an unsigned v0 transaction (base64) with the ``lastValidBlockHeight`` of its recent
blockhash and ``prioritizationFeeLamports``. Errors are ``{"error", "errorCode"}`` with HTTP 400
(401 without the configured ``x-api-key``), as the real API answers.

The transaction holds the real instructions: ComputeBudget limit and price, the associated token
accounts (idempotent creates), wrapping and unwrapping SOL for PumpSwap, and pump.fun
``buy_exact_sol_in`` / ``sell`` or PumpSwap ``buy_exact_quote_in`` / ``sell`` with the 2026-05
IDL account lists. Signed by the user and sent to the simulator, it executes and lands.

Quotes read the simulator's chain state in-process (the same integer math the programs use, from
``engine.sim.curve``); the blockhash comes from the simulated node. Start it next to a running
:class:`~engine.sim.server.SimServer`::

    async with LocalJupiter(sim) as jup:
        client = JupiterClient(jup.url)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.chain import instructions as ix
from engine.chain import pda
from engine.chain import programs as P
from engine.net.loopback import LoopbackServer
from engine.sim.curve import (
    curve_buy_exact_sol_in,
    curve_sell,
    fee,
    pool_base_out_for_quote,
    pool_sell,
)
from engine.trade.jupiter import JupiterError, parse_quote

if TYPE_CHECKING:
    from engine.sim.chain import CurveState, PoolState
from engine.sim.server import SimServer

logger = logging.getLogger(__name__)

PREFIX: Final = "/swap/v1"
DEFAULT_COMPUTE_UNITS: Final = 1_400_000
# What each swap uses on mainnet, roughly, plus a margin (the "dynamic" compute unit limit).
ESTIMATED_UNITS: Final = {
    ("curve", "buy"): 150_000,
    ("curve", "sell"): 120_000,
    ("pool", "buy"): 250_000,
    ("pool", "sell"): 220_000,
}
# Total priority fee for Jupiter's named levels (``priorityLevelWithMaxLamports``), capped.
PRIORITY_LEVELS: Final = {"medium": 10_000, "high": 50_000, "veryHigh": 200_000}
LABELS: Final = {"curve": "Pump.fun", "pool": "Pump.fun Amm"}
CASHBACK_BPS: Final = 30


class _Refusal(Exception):
    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


@dataclass(frozen=True, slots=True)
class _Priced:
    kind: str
    side: str
    mint: str
    amm_key: str
    in_amount: int
    out_amount: int
    fee_amount: int
    price_impact: Decimal


def _pubkey(value: str | None, name: str) -> str:
    if not value:
        raise _Refusal(f"Query parameter {name} is required", "INVALID_REQUEST")
    try:
        return str(Pubkey.from_string(value))
    except ValueError:
        raise _Refusal(
            f"Query parameter {name} cannot be parsed: Invalid", "INVALID_REQUEST"
        ) from None


def _uint(value: str | None, name: str, *, default: int | None = None, limit: int) -> int:
    if value is None or value == "":
        if default is None:
            raise _Refusal(f"Query parameter {name} is required", "INVALID_REQUEST")
        return default
    if not (value.isascii() and value.isdigit()) or int(value) > limit:
        raise _Refusal(
            f"Query parameter {name} cannot be parsed: ParseIntError {{ kind: InvalidDigit }}",
            "INVALID_REQUEST",
        )
    return int(value)


def _impact(ideal: Decimal, actual: int) -> Decimal:
    if ideal <= 0:
        return Decimal(0)
    return max(Decimal(0), (ideal - actual) / ideal).quantize(Decimal("0.000001"))


class LocalJupiter:
    """Jupiter's ``/quote`` and ``/swap`` over a :class:`SimServer`'s chain, on HTTP."""

    def __init__(
        self,
        sim: SimServer,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
    ) -> None:
        self.sim = sim
        self.host = host
        self._want_port = port
        self.port = 0
        self.api_key = api_key
        self.stats: dict[str, int] = {"quote": 0, "swap": 0}
        self._failures: deque[int] = deque()
        self._malformed: deque[str] = deque()
        self.delay_s = 0.0
        """Seconds every answer waits first (for timeout tests)."""
        self.app = Starlette(
            routes=[
                Route(f"{PREFIX}/quote", self._quote, methods=["GET"]),
                Route(f"{PREFIX}/swap", self._swap, methods=["POST"]),
                Route(f"{PREFIX}/program-id-to-label", self._labels, methods=["GET"]),
            ]
        )
        self._stopping = asyncio.Event()
        self._http = LoopbackServer(self.app, host=host, port=port, name="local Jupiter API")

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give a Jupiter client (``…/swap/v1``)."""
        return f"http://{self.host}:{self.port}{PREFIX}"

    async def __aenter__(self) -> LocalJupiter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind the port and serve."""
        self._stopping.clear()
        self.port = await self._http.start()
        logger.info("local Jupiter API up at %s", self.url)

    async def stop(self) -> None:
        """Stop serving and release the port."""
        self._stopping.set()  # wakes answers held back by ``delay_s``
        await self._http.stop()

    # -- faults ---------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (e.g. 503)."""
        self._failures.extend([status] * count)

    def malformed_next(self, kind: str = "not_json", count: int = 1) -> None:
        """Answer the next ``count`` requests with a broken 200: ``not_json``, ``no_field``
        (a required field missing) or ``bad_amount`` (an amount that is not a number)."""
        if kind not in ("not_json", "no_field", "bad_amount"):
            raise ValueError(f"unknown malformed kind {kind!r}")
        self._malformed.extend([kind] * count)

    # -- markets --------------------------------------------------------------------------

    def _curve(self, mint: str) -> CurveState | None:
        curve = self.sim.chain.curves.get(mint)
        return curve if curve is not None and not curve.complete else None

    def _pool(self, mint: str) -> PoolState | None:
        return self.sim.chain.pools.get(mint)

    def _price(self, input_mint: str, output_mint: str, amount: int) -> _Priced:
        if input_mint == P.WSOL_MINT and output_mint != P.WSOL_MINT:
            side, mint = "buy", output_mint
        elif output_mint == P.WSOL_MINT and input_mint != P.WSOL_MINT:
            side, mint = "sell", input_mint
        else:
            raise _Refusal("No routes found for the input and output mints", "NO_ROUTES_FOUND")
        curve = self._curve(mint)
        if curve is not None:
            return self._price_curve(curve, side, amount)
        pool = self._pool(mint)
        if pool is not None:
            return self._price_pool(pool, side, amount)
        raise _Refusal("The token is not tradable (no bonding curve or pool)", "TOKEN_NOT_TRADABLE")

    def _price_curve(self, curve: CurveState, side: str, amount: int) -> _Priced:
        protocol_bps = P.PUMP_FEE_BASIS_POINTS
        creator_bps = 0 if curve.cashback else P.PUMP_CREATOR_FEE_BASIS_POINTS
        cashback_bps = CASHBACK_BPS if curve.cashback else 0
        vs, vt = curve.virtual_sol, curve.virtual_tokens
        if side == "buy":
            q = curve_buy_exact_sol_in(
                vs, vt, curve.real_tokens, amount, protocol_bps, creator_bps + cashback_bps
            )
            out, fees = q.tokens, amount - q.sol
            ideal = Decimal(q.sol) * vt / vs
        else:
            q = curve_sell(vs, vt, amount, protocol_bps, creator_bps)
            cashback = fee(q.sol, cashback_bps)
            fees = q.protocol_fee + q.creator_fee + cashback
            out = q.sol - fees
            ideal = Decimal(amount) * vs / vt
            return _Priced(
                "curve", side, curve.mint, curve.address, amount, out, fees, _impact(ideal, q.sol)
            )
        if out <= 0:
            raise _Refusal("Amount is too small to trade", "CANNOT_COMPUTE_OTHER_AMOUNT_THRESHOLD")
        return _Priced(
            "curve", side, curve.mint, curve.address, amount, out, fees, _impact(ideal, out)
        )

    def _price_pool(self, pool: PoolState, side: str, amount: int) -> _Priced:
        tokens = self.sim.chain.tokens
        base, quote = tokens[pool.base_vault].amount, tokens[pool.quote_vault].amount
        lp, pr, cr = (
            P.PUMPSWAP_LP_FEE_BASIS_POINTS,
            P.PUMPSWAP_PROTOCOL_FEE_BASIS_POINTS,
            P.PUMPSWAP_COIN_CREATOR_FEE_BASIS_POINTS,
        )
        if side == "buy":
            out = pool_base_out_for_quote(base, quote, amount, lp, pr, cr)
            net = amount * 10_000 // (10_000 + lp + pr + cr)
            ideal = Decimal(net) * base / quote if quote else Decimal(0)
            fees = amount - net
            if out <= 0 or out >= base:
                raise _Refusal(
                    "Amount is out of range for the pool", "CANNOT_COMPUTE_OTHER_AMOUNT_THRESHOLD"
                )
            return _Priced(
                "pool", side, pool.base_mint, pool.address, amount, out, fees, _impact(ideal, out)
            )
        q = pool_sell(base, quote, amount, lp, pr, cr)
        ideal = Decimal(amount) * quote / base if base else Decimal(0)
        out = q.user_quote_out
        if out <= 0:
            raise _Refusal("Amount is too small to trade", "CANNOT_COMPUTE_OTHER_AMOUNT_THRESHOLD")
        return _Priced(
            "pool",
            side,
            pool.base_mint,
            pool.address,
            amount,
            out,
            q.quote - out,
            _impact(ideal, q.quote),
        )

    # -- handlers -------------------------------------------------------------------------

    async def _gate(self, request: Request) -> Response | None:
        if self.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.delay_s)
        if self._failures:
            status = self._failures.popleft()
            return JSONResponse({"error": "simulated failure"}, status_code=status)
        if self._malformed:
            kind = self._malformed.popleft()
            if kind == "not_json":
                return Response(b"<html>502 Bad Gateway</html>", media_type="text/html")
            if kind == "no_field":
                return JSONResponse({"inputMint": P.WSOL_MINT, "routePlan": []})
            return JSONResponse(
                {
                    "inputMint": P.WSOL_MINT,
                    "inAmount": "1e9",
                    "outputMint": P.WSOL_MINT,
                    "outAmount": "-5",
                    "otherAmountThreshold": "0",
                    "swapMode": "ExactIn",
                    "slippageBps": 50,
                    "priceImpactPct": "0",
                    "routePlan": [],
                    "swapTransaction": "%%%",
                    "lastValidBlockHeight": 1,
                }
            )
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            return JSONResponse(
                {"error": "Unauthorized: missing or invalid x-api-key"}, status_code=401
            )
        return None

    async def _quote(self, request: Request) -> Response:
        self.stats["quote"] += 1
        gated = await self._gate(request)
        if gated is not None:
            return gated
        started = time.perf_counter()
        q = request.query_params
        try:
            input_mint = _pubkey(q.get("inputMint"), "inputMint")
            output_mint = _pubkey(q.get("outputMint"), "outputMint")
            amount = _uint(q.get("amount"), "amount", limit=(1 << 64) - 1)
            slippage = _uint(q.get("slippageBps"), "slippageBps", default=50, limit=10_000)
            mode = q.get("swapMode") or "ExactIn"
            if mode != "ExactIn":
                raise _Refusal("ExactOut is not supported by these AMMs", "EXACT_OUT_NOT_SUPPORTED")
            if amount == 0:
                raise _Refusal("amount must be greater than 0", "INVALID_REQUEST")
            priced = self._price(input_mint, output_mint, amount)
        except _Refusal as exc:
            return JSONResponse({"error": exc.message, "errorCode": exc.code}, exc.status)
        fee_mint = P.WSOL_MINT
        body = {
            "inputMint": input_mint,
            "inAmount": str(priced.in_amount),
            "outputMint": output_mint,
            "outAmount": str(priced.out_amount),
            "otherAmountThreshold": str(priced.out_amount * (10_000 - slippage) // 10_000),
            "swapMode": "ExactIn",
            "slippageBps": slippage,
            "priceImpactPct": format(priced.price_impact.normalize(), "f"),
            "routePlan": [
                {
                    "swapInfo": {
                        "ammKey": priced.amm_key,
                        "label": LABELS[priced.kind],
                        "inputMint": input_mint,
                        "outputMint": output_mint,
                        "inAmount": str(priced.in_amount),
                        "outAmount": str(priced.out_amount),
                        "feeAmount": str(priced.fee_amount),
                        "feeMint": fee_mint,
                    },
                    "percent": 100,
                    "bps": 10_000,
                }
            ],
            "contextSlot": self.sim.current_slot,
            "timeTaken": round(time.perf_counter() - started, 6),
        }
        return JSONResponse(body)

    async def _labels(self, request: Request) -> JSONResponse:
        return JSONResponse({P.PUMP_PROGRAM: "Pump.fun", P.PUMPSWAP_PROGRAM: "Pump.fun Amm"})

    async def _swap(self, request: Request) -> Response:
        self.stats["swap"] += 1
        gated = await self._gate(request)
        if gated is not None:
            return gated
        try:
            try:
                body = await request.json()
            except ValueError:
                raise _Refusal("Failed to deserialize the JSON body", "INVALID_REQUEST") from None
            if not isinstance(body, dict):
                raise _Refusal("The body must be a JSON object", "INVALID_REQUEST")
            result = self._build(body)
        except _Refusal as exc:
            return JSONResponse({"error": exc.message, "errorCode": exc.code}, exc.status)
        return JSONResponse(result)

    def _build(self, body: dict[str, Any]) -> dict[str, Any]:
        user = _pubkey(body.get("userPublicKey"), "userPublicKey")
        if body.get("asLegacyTransaction"):
            raise _Refusal("Legacy transactions are not supported here", "INVALID_REQUEST")
        try:
            quote = parse_quote(body.get("quoteResponse"))
        except JupiterError as exc:
            raise _Refusal(f"Invalid quoteResponse: {exc}", "INVALID_REQUEST") from None
        if len(quote.route) != 1:
            raise _Refusal("Invalid quoteResponse: unknown route", "INVALID_REQUEST")
        # Re-price now: a quote whose market has moved to another venue is refused, not rebuilt.
        priced = self._price(quote.input_mint, quote.output_mint, quote.in_amount)
        if priced.amm_key != quote.route[0].amm_key:
            raise _Refusal("The quoted route is no longer available; quote again", "ROUTE_CHANGED")
        min_out = quote.min_out()
        dynamic = bool(body.get("dynamicComputeUnitLimit", False))
        units = ESTIMATED_UNITS[(priced.kind, priced.side)] if dynamic else DEFAULT_COMPUTE_UNITS
        micro = self._micro_lamports(body, units)
        instructions = [ix.set_compute_unit_limit(units)]
        if micro:
            instructions.append(ix.set_compute_unit_price(micro))
        instructions += self._swap_instructions(priced, user, quote.in_amount, min_out)
        blockhash = self.sim.methods.get_latest_blockhash([])["value"]
        message = MessageV0.try_compile(
            Pubkey.from_string(user),
            instructions,
            [],
            Hash.from_string(blockhash["blockhash"]),
        )
        tx = VersionedTransaction.populate(message, [Signature.default()])
        return {
            "swapTransaction": base64.b64encode(bytes(tx)).decode(),
            "lastValidBlockHeight": blockhash["lastValidBlockHeight"],
            "prioritizationFeeLamports": micro * units // 1_000_000,
            "computeUnitLimit": units,
            "prioritizationType": {"computeBudget": {"microLamports": micro}},
            "dynamicSlippageReport": None,
            "simulationError": None,
        }

    @staticmethod
    def _micro_lamports(body: dict[str, Any], units: int) -> int:
        price = body.get("computeUnitPriceMicroLamports")
        if price is not None:
            if type(price) is not int or price < 0:
                raise _Refusal(
                    "computeUnitPriceMicroLamports must be an integer", "INVALID_REQUEST"
                )
            return price
        fee_spec = body.get("prioritizationFeeLamports")
        if fee_spec is None:
            return 0
        if type(fee_spec) is int and fee_spec >= 0:
            total = fee_spec
        elif fee_spec == "auto":
            total = PRIORITY_LEVELS["medium"]
        elif isinstance(fee_spec, dict) and isinstance(
            fee_spec.get("priorityLevelWithMaxLamports"), dict
        ):
            spec = fee_spec["priorityLevelWithMaxLamports"]
            level = PRIORITY_LEVELS.get(str(spec.get("priorityLevel")))
            cap = spec.get("maxLamports")
            if level is None or type(cap) is not int or cap < 0:
                raise _Refusal("Invalid priorityLevelWithMaxLamports", "INVALID_REQUEST")
            total = min(level, cap)
        else:
            raise _Refusal("Invalid prioritizationFeeLamports", "INVALID_REQUEST")
        return total * 1_000_000 // units

    def _swap_instructions(
        self, priced: _Priced, user: str, amount: int, min_out: int
    ) -> list[Instruction]:
        chain = self.sim.chain
        mint = priced.mint
        if priced.kind == "curve":
            curve = chain.curves[mint]
            program = curve.token_program
            if priced.side == "buy":
                return [
                    ix.create_ata_idempotent(
                        payer=user, owner=user, mint=mint, token_program=program
                    ),
                    ix.pump_buy_exact_sol_in(
                        user=user,
                        mint=mint,
                        creator=curve.creator,
                        spendable_sol_in=amount,
                        min_tokens_out=min_out,
                        token_program=program,
                    ),
                ]
            return [
                ix.pump_sell(
                    user=user,
                    mint=mint,
                    creator=curve.creator,
                    tokens=amount,
                    min_sol_output=min_out,
                    token_program=program,
                )
            ]
        pool = chain.pools[mint]
        keys = ix.PumpSwapPool(
            address=pool.address,
            base_mint=pool.base_mint,
            quote_mint=pool.quote_mint,
            base_vault=pool.base_vault,
            quote_vault=pool.quote_vault,
            coin_creator=pool.coin_creator,
            base_token_program=pool.base_program,
        )
        wsol = pda.ata(user, P.WSOL_MINT, P.TOKEN_PROGRAM)
        wrap = [ix.create_ata_idempotent(payer=user, owner=user, mint=P.WSOL_MINT)]
        unwrap = ix.close_account(account=wsol, destination=user, owner=user)
        if priced.side == "buy":
            return [
                *wrap,
                ix.system_transfer(source=user, destination=wsol, lamports=amount),
                ix.sync_native(wsol),
                ix.create_ata_idempotent(
                    payer=user, owner=user, mint=mint, token_program=pool.base_program
                ),
                ix.pumpswap_buy_exact_quote_in(
                    user=user, pool=keys, spendable_quote_in=amount, min_base_amount_out=min_out
                ),
                unwrap,
            ]
        return [
            *wrap,
            ix.pumpswap_sell(
                user=user, pool=keys, base_amount_in=amount, min_quote_amount_out=min_out
            ),
            unwrap,
        ]
