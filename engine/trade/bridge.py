"""Prepare, submit and confirm a user's swap without ever holding their key.

``prepare_trade``: the risk verdict and the user's policy first (each refusal with its reason),
then a fresh Jupiter quote and the unsigned transaction for the user's linked wallet; the exact
message is stored with the order so nothing else can be submitted against it.

``submit_trade``: the signed transaction must be that message, signed by that wallet. The trade
row is written once per ``Idempotency-Key`` in the same database transaction that claims the
prepared order, and only the request that wrote it sends; a retry with the same key sends
nothing and returns the same trade. ``sendTransaction`` runs with preflight (the node simulates
first); a definite refusal fails the trade with the node's reason, an unknown outcome (timeout)
leaves it to the confirm job.

``confirm_trade`` (the ``trade_confirm`` job): polls ``getSignatureStatuses``, rebroadcasts the
same signed bytes while the blockhash is valid (never a re-signed copy, so one intent executes at
most once), and ends the trade confirmed (with the out amount read from the landed transaction),
failed, or expired once the block height passes ``lastValidBlockHeight``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
from solders.message import MessageV0, to_bytes_versioned
from solders.transaction import VersionedTransaction
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain import programs as P
from engine.chain.rpc import RpcError, RpcPreflightFailed, RpcResponseError
from engine.chain.txjson import parse_transaction
from engine.deps import Deps
from engine.jobs.base import Transient
from engine.services.errors import InvalidInput, NotFound, ServiceError
from engine.services.signals import RiskInfo, risk_info
from engine.services.trade import MIN_BUY_LAMPORTS
from engine.smartmoney.registry import valid_address
from engine.storage.models import Order, Trade, User
from engine.storage.repos import audit
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import trading as trading_repo
from engine.trade.jupiter import JupiterClient, JupiterMalformed, Quote

logger = logging.getLogger(__name__)

Side = Literal["buy", "sell"]
TRADES_STREAM: Final = "trades"
CONFIRM_JOB: Final = "trade_confirm"
DAY_MS: Final = 86_400_000
MAX_IDEMPOTENCY_KEY: Final = 100
_ORDER_PREFIX: Final = "prep:"


class TradeRefused(ServiceError):
    """The trade is not allowed (risk, policy, state); ``code`` says why, the message explains."""

    status = 422


class TradeConflict(ServiceError):
    """The request collides with what already happened (submitted, idempotency key reused)."""

    status = 409


class TradeExpired(ServiceError):
    """The prepared transaction can no longer be submitted: prepare again."""

    status = 410


@dataclass(frozen=True, slots=True)
class QuoteView:
    """A quote as the Mini App shows it."""

    mint: str
    side: Side
    quote: Quote
    min_out: int
    slippage_bps: int
    risk: RiskInfo


@dataclass(frozen=True, slots=True)
class PreparedTrade:
    """An unsigned swap waiting for the user's signature."""

    prepared_id: str
    mint: str
    side: Side
    wallet: str
    transaction_b64: str
    last_valid_block_height: int
    in_amount: int
    out_amount: int
    min_out: int
    slippage_bps: int
    price_impact_pct: float
    priority_fee_lamports: int
    expires_ts: int
    risk: RiskInfo


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade as the API shows it."""

    id: int
    user_id: int
    mint: str
    side: Side
    status: str
    in_amount: int
    out_amount: int | None
    min_out_amount: int | None
    signature: str | None
    error: str | None
    created_ts: int
    updated_ts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the bus payload of the ``trades`` stream)."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "mint": self.mint,
            "side": self.side,
            "status": self.status,
            "in_amount": self.in_amount,
            "out_amount": self.out_amount,
            "min_out_amount": self.min_out_amount,
            "signature": self.signature,
            "error": self.error,
            "created_ts": self.created_ts,
            "updated_ts": self.updated_ts,
        }


def trade_view(trade: Trade) -> TradeView:
    """A stored trade as the API shows it."""
    return TradeView(
        id=trade.id,
        user_id=trade.user_id,
        mint=trade.mint,
        side="buy" if trade.side == "buy" else "sell",
        status=trade.status,
        in_amount=trade.in_amount,
        out_amount=trade.out_amount,
        min_out_amount=trade.min_out_amount,
        signature=trade.signature,
        error=trade.error,
        created_ts=trade.created_ts,
        updated_ts=trade.updated_ts,
    )


# -- checks ------------------------------------------------------------------------------------


def _mints(side: Side, mint: str) -> tuple[str, str]:
    return (P.WSOL_MINT, mint) if side == "buy" else (mint, P.WSOL_MINT)


def _check_mint(mint: str) -> str:
    if not valid_address(mint) or mint == P.WSOL_MINT:
        raise InvalidInput("not_mint", f"not a token mint: {mint[:60]!r}", field="mint")
    return mint


def linked_wallet(user: User) -> str:
    """The user's linked wallet address, or TradeRefused telling them to link one."""
    wallet = (user.settings or {}).get("wallet")
    if not isinstance(wallet, str) or not valid_address(wallet):
        raise TradeRefused(
            "no_wallet", "link a wallet first (POST /me/wallet with a signed challenge)"
        )
    return wallet


async def _risk_gate(session: AsyncSession, *, mint: str, side: Side, now_ms: int) -> RiskInfo:
    signal = await signal_repo.latest_signal(session, mint=mint)
    risk = await risk_info(session, mint=mint, now_ms=now_ms, signal=signal)
    if side == "sell":
        return risk  # a holder may always get out, whatever the verdict
    if not risk.known:
        raise TradeRefused(
            "risk_unknown",
            "this token has not been risk-checked yet; buying is blocked until it is",
        )
    if risk.blocks_buy:
        flags = ", ".join(risk.badges) or risk.level
        raise TradeRefused(
            "risk_blocked", f"buying is blocked: risk is {risk.level} ({flags})", badges=flags
        )
    return risk


def _pref(prefs: dict[str, Any], key: str, default: int) -> int:
    # A user's own limit only ever lowers the deployment's; a malformed one is ignored.
    value = prefs.get(key)
    return min(default, value) if type(value) is int and value >= 0 else default


async def _policy_gate(
    deps: Deps,
    session: AsyncSession,
    *,
    user: User,
    mint: str,
    side: Side,
    amount: int,
    slippage_bps: int,
    confirm: bool,
    now_ms: int,
) -> None:
    s = deps.settings
    prefs = user.settings or {}
    max_slippage = _pref(prefs, "max_slippage_bps", s.trade_max_slippage_bps)
    if slippage_bps > max_slippage:
        raise TradeRefused(
            "slippage_too_high",
            f"slippage {slippage_bps / 100:g}% is above your maximum of {max_slippage / 100:g}%",
        )
    if side == "sell":
        return
    blocklist = prefs.get("blocklist") or []
    if isinstance(blocklist, list) and mint in blocklist:
        raise TradeRefused("token_blocked", "this token is on your blocklist")
    if amount < MIN_BUY_LAMPORTS:
        raise TradeRefused("amount_too_small", "a buy must be at least 0.001 SOL")
    per_trade = _pref(prefs, "max_trade_lamports", s.trade_max_lamports)
    if amount > per_trade:
        raise TradeRefused(
            "over_trade_max",
            f"{amount / 1e9:g} SOL is above your per-trade maximum of {per_trade / 1e9:g} SOL",
        )
    day_start = now_ms - now_ms % DAY_MS
    spent = (
        await session.execute(
            select(func.coalesce(func.sum(Trade.in_amount), 0)).where(
                Trade.user_id == user.id,
                Trade.side == "buy",
                Trade.created_ts >= day_start,
                Trade.status.in_(("prepared", "submitted", "confirmed")),
            )
        )
    ).scalar_one()
    daily = _pref(prefs, "daily_max_lamports", s.trade_daily_max_lamports)
    if int(spent) + amount > daily:
        raise TradeRefused(
            "over_daily_max",
            f"this buy would bring today's total to {(int(spent) + amount) / 1e9:g} SOL, "
            f"above your daily maximum of {daily / 1e9:g} SOL",
        )
    if amount > s.trade_confirm_above_lamports and not confirm:
        raise TradeRefused(
            "confirmation_required",
            f"buys above {s.trade_confirm_above_lamports / 1e9:g} SOL need a confirmation: "
            "ask the user, then prepare again with confirm=true",
        )


# -- quote and prepare -------------------------------------------------------------------------


async def quote_trade(
    deps: Deps,
    jupiter: JupiterClient,
    *,
    mint: str,
    side: Side,
    amount: int,
    slippage_bps: int | None = None,
) -> QuoteView:
    """A current quote with the risk verdict (no policy: quoting commits to nothing)."""
    mint = _check_mint(mint)
    bps = deps.settings.trade_slippage_bps if slippage_bps is None else slippage_bps
    async with deps.sessions() as session:
        signal = await signal_repo.latest_signal(session, mint=mint)
        risk = await risk_info(session, mint=mint, now_ms=deps.clock.now_ms(), signal=signal)
    input_mint, output_mint = _mints(side, mint)
    quote = await jupiter.quote(
        input_mint=input_mint, output_mint=output_mint, amount=amount, slippage_bps=bps
    )
    return QuoteView(mint, side, quote, quote.min_out(bps), bps, risk)


def _check_unsigned(raw: bytes, wallet: str) -> VersionedTransaction:
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except ValueError:
        raise JupiterMalformed("swap: swapTransaction is not a versioned transaction") from None
    msg = tx.message
    if not isinstance(msg, MessageV0):
        raise JupiterMalformed("swap: expected a v0 transaction")
    header = msg.header
    # The user's wallet must be the only signer and the fee payer: nothing else can sign here.
    if str(msg.account_keys[0]) != wallet or header.num_required_signatures != 1:
        raise JupiterMalformed("swap: the transaction is not paid and signed by the user alone")
    return tx


async def prepare_trade(
    deps: Deps,
    jupiter: JupiterClient,
    *,
    user: User,
    mint: str,
    side: Side,
    amount: int,
    slippage_bps: int | None = None,
    priority_fee_lamports: int | None = None,
    dynamic_compute_unit_limit: bool = True,
    confirm: bool = False,
) -> PreparedTrade:
    """Gate, quote and build an unsigned swap for the user's wallet; stores it as an order."""
    mint = _check_mint(mint)
    wallet = linked_wallet(user)
    bps = deps.settings.trade_slippage_bps if slippage_bps is None else slippage_bps
    now = deps.clock.now_ms()
    async with deps.sessions() as session:
        risk = await _risk_gate(session, mint=mint, side=side, now_ms=now)
        await _policy_gate(
            deps,
            session,
            user=user,
            mint=mint,
            side=side,
            amount=amount,
            slippage_bps=bps,
            confirm=confirm,
            now_ms=now,
        )
    input_mint, output_mint = _mints(side, mint)
    # Min out comes from this quote, taken now: never from a number the client sends.
    quote = await jupiter.quote(
        input_mint=input_mint, output_mint=output_mint, amount=amount, slippage_bps=bps
    )
    max_impact = deps.settings.trade_max_price_impact_pct
    if side == "buy" and quote.price_impact_pct > max_impact:
        raise TradeRefused(
            "price_impact_too_high",
            f"price impact {quote.price_impact_pct:.2f}% is above the maximum of {max_impact:g}%",
        )
    swap = await jupiter.swap(
        quote=quote,
        user_public_key=wallet,
        priority_fee_lamports=priority_fee_lamports,
        dynamic_compute_unit_limit=dynamic_compute_unit_limit,
    )
    tx = _check_unsigned(swap.transaction, wallet)
    prepared_id = uuid.uuid4().hex
    expires = deps.clock.now_ms() + deps.settings.trade_prepare_ttl_s * 1000
    min_out = quote.min_out(bps)
    params = {
        "prepared_id": prepared_id,
        "wallet": wallet,
        "message": base64.b64encode(to_bytes_versioned(tx.message)).decode(),
        "last_valid_block_height": swap.last_valid_block_height,
        "expires_ts": expires,
        "input_mint": input_mint,
        "output_mint": output_mint,
        "out_amount": quote.out_amount,
        "min_out": min_out,
        "slippage_bps": bps,
        "price_impact_pct": quote.price_impact_pct,
        "priority_fee_lamports": swap.prioritization_fee_lamports,
        "route": [s.label for s in quote.route],
    }
    async with deps.sessions.begin() as session:
        await trading_repo.create_order(
            session,
            idempotency_key=_ORDER_PREFIX + prepared_id,
            user_id=user.id,
            mint=mint,
            side=side,
            kind="swap",
            amount_in=amount,
            now_ms=now,
            params=params,
        )
    logger.info("prepared %s of %s for user %d (%s)", side, mint, user.id, prepared_id)
    return PreparedTrade(
        prepared_id=prepared_id,
        mint=mint,
        side=side,
        wallet=wallet,
        transaction_b64=swap.base64,
        last_valid_block_height=swap.last_valid_block_height,
        in_amount=amount,
        out_amount=quote.out_amount,
        min_out=min_out,
        slippage_bps=bps,
        price_impact_pct=quote.price_impact_pct,
        priority_fee_lamports=swap.prioritization_fee_lamports,
        expires_ts=expires,
        risk=risk,
    )


# -- submit ------------------------------------------------------------------------------------


def check_idempotency_key(key: str | None) -> str:
    """A usable ``Idempotency-Key`` (1-100 visible ASCII characters)."""
    if key is None or not key.strip():
        raise InvalidInput(
            "idempotency_key_required",
            "the Idempotency-Key header is required: a unique value per submit intent",
            field="Idempotency-Key",
        )
    key = key.strip()
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            "bad_idempotency_key",
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters",
            field="Idempotency-Key",
        )
    return key


def verify_signed(signed_b64: str, *, message: bytes, wallet: str) -> VersionedTransaction:
    """The signed transaction, if it is exactly ``message`` with a valid signature by ``wallet``."""
    try:
        raw = base64.b64decode(signed_b64, validate=True)
        tx = VersionedTransaction.from_bytes(raw)
    except (ValueError, binascii.Error):
        raise InvalidInput(
            "bad_transaction",
            "signed_transaction is not a base64 versioned transaction",
            field="signed_transaction",
        ) from None
    if to_bytes_versioned(tx.message) != message:
        raise InvalidInput(
            "transaction_mismatch",
            "the signed transaction is not the one prepared: sign it unchanged",
            field="signed_transaction",
        )
    if len(tx.signatures) != 1 or str(tx.message.account_keys[0]) != wallet:
        raise InvalidInput(
            "not_signed_by_wallet",
            "the transaction must be signed by your linked wallet only",
            field="signed_transaction",
        )
    if not all(tx.verify_with_results()):
        raise InvalidInput(
            "bad_signature",
            f"the signature does not verify for wallet {wallet}",
            field="signed_transaction",
        )
    return tx


async def _publish(deps: Deps, view: TradeView) -> None:
    try:
        await deps.bus.publish(TRADES_STREAM, str(view.user_id), orjson.dumps(view.to_dict()))
    except Exception as exc:
        # The stream is a notification; the trade itself is recorded either way.
        logger.warning("could not publish trade %d: %s", view.id, exc)


async def get_trade(deps: Deps, *, trade_id: int, user_id: int | None) -> TradeView:
    """One trade; NotFound when it does not exist or belongs to someone else (unless admin)."""
    async with deps.sessions() as session:
        trade = await session.get(Trade, trade_id)
    if trade is None or (user_id is not None and trade.user_id != user_id):
        raise NotFound("no_trade", f"no trade {trade_id}")
    return trade_view(trade)


async def list_trades(
    deps: Deps, *, user_id: int, before_id: int | None = None, limit: int = 20
) -> list[TradeView]:
    """The user's trades, newest first."""
    stmt = select(Trade).where(Trade.user_id == user_id)
    if before_id is not None:
        stmt = stmt.where(Trade.id < before_id)
    async with deps.sessions() as session:
        rows = await session.scalars(stmt.order_by(Trade.id.desc()).limit(limit))
        return [trade_view(t) for t in rows]


def _reason(exc: RpcResponseError) -> str:
    if isinstance(exc, RpcPreflightFailed):
        logs = [line for line in exc.logs if "Error" in line or "failed" in line]
        detail = logs[-1] if logs else exc.rpc_message
        return f"simulation failed: {detail}"[:500]
    return f"node refused the transaction: {exc.rpc_message}"[:500]


async def submit_trade(
    deps: Deps,
    *,
    user: User,
    prepared_id: str,
    signed_transaction: str,
    idempotency_key: str | None,
) -> TradeView:
    """Check, record once per key, send, and hand over to the confirm job; returns the trade."""
    key = check_idempotency_key(idempotency_key)
    trade_key = f"{user.id}:{key}"
    async with deps.sessions() as session:
        order = (
            await session.scalars(
                select(Order).where(
                    Order.idempotency_key == _ORDER_PREFIX + prepared_id,
                    Order.user_id == user.id,
                )
            )
        ).one_or_none()
        existing = (
            await session.scalars(select(Trade).where(Trade.idempotency_key == trade_key))
        ).one_or_none()
    if order is None:
        raise NotFound("no_prepared_trade", f"no prepared trade {prepared_id[:64]!r}")
    if existing is not None:
        if existing.order_id != order.id:
            raise TradeConflict(
                "idempotency_key_reused",
                "this Idempotency-Key was used for another trade; use a new key per intent",
            )
        return trade_view(existing)  # a retry: nothing is sent again
    if order.status != "open":
        raise TradeConflict(
            "already_submitted", "this prepared trade was already submitted (with another key)"
        )
    params = dict(order.params or {})
    if deps.clock.now_ms() > int(params.get("expires_ts", 0)):
        raise TradeExpired("prepared_expired", "the prepared trade expired: prepare it again")
    wallet = str(params["wallet"])
    tx = verify_signed(
        signed_transaction, message=base64.b64decode(params["message"]), wallet=wallet
    )
    signature = str(tx.signatures[0])
    raw = bytes(tx)
    now = deps.clock.now_ms()
    async with deps.sessions.begin() as session:
        trade, created = await trading_repo.record_trade(
            session,
            idempotency_key=trade_key,
            user_id=user.id,
            mint=order.mint,
            side=order.side,
            in_amount=order.amount_in,
            min_out_amount=int(params["min_out"]),
            order_id=order.id,
            now_ms=now,
        )
        if not created:
            return trade_view(trade)  # a concurrent retry won the insert and sends
        claimed = await session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == "open")
            .values(
                status="submitted",
                updated_ts=now,
                params={
                    **params,
                    "signed_tx": base64.b64encode(raw).decode(),
                    "signature": signature,
                },
            )
        )
        if not getattr(claimed, "rowcount", 0):
            # Another key claimed this intent first: undo our trade row with the transaction.
            raise TradeConflict(
                "already_submitted", "this prepared trade was already submitted (with another key)"
            )
        trade.signature = signature
        await audit.append(
            session,
            ts=now,
            actor=f"user:{user.id}",
            action="trade.submit",
            subject=f"trade:{trade.id}",
            data={"mint": order.mint, "side": order.side, "signature": signature},
        )
        trade_id = trade.id
    status, error = "submitted", None
    try:
        await deps.rpc.send_transaction(raw, skip_preflight=False)
    except RpcResponseError as exc:
        if exc.transient:
            logger.warning("send of trade %d uncertain: %s", trade_id, exc)
        else:
            status, error = "failed", _reason(exc)
    except RpcError as exc:
        # Timeout or transport failure: it may have reached the node. The confirm job polls and
        # rebroadcasts the same bytes until the blockhash expires, so nothing runs twice.
        logger.warning("send of trade %d uncertain: %s", trade_id, exc)
    async with deps.sessions.begin() as session:
        now = deps.clock.now_ms()
        trade = await trading_repo.update_trade(
            session, trade_id=trade_id, status=status, now_ms=now, error=error
        )
        if status == "failed":
            await session.execute(
                update(Order).where(Order.id == order.id).values(status="failed", updated_ts=now)
            )
        view = trade_view(trade)
    if status == "submitted":
        await deps.jobs.enqueue(
            CONFIRM_JOB,
            job_id=f"{CONFIRM_JOB}:{trade_id}",
            defer_s=deps.settings.trade_confirm_poll_s / 4,
            trade_id=trade_id,
        )
    await _publish(deps, view)
    logger.info("trade %d of user %d: %s", trade_id, user.id, status)
    return view


# -- confirm -----------------------------------------------------------------------------------


def out_amount_of(tx_json: Any, *, wallet: str, side: str, mint: str) -> int | None:
    """What the wallet received: tokens of ``mint`` (buy) or SOL, fee added back (sell)."""
    tx = parse_transaction(tx_json)

    def token_delta(want: str) -> int:
        total = 0
        pre = {b.account_index: b for b in tx.pre_token_balances}
        post = {b.account_index: b for b in tx.post_token_balances}
        for idx in pre.keys() | post.keys():
            ref = post.get(idx) or pre.get(idx)
            if ref is None or ref.owner != wallet or ref.mint != want:
                continue
            total += (post[idx].amount if idx in post else 0) - (
                pre[idx].amount if idx in pre else 0
            )
        return total

    if side == "buy":
        out = token_delta(mint)
    else:
        out = tx.lamport_delta(wallet) + token_delta(P.WSOL_MINT)
        if tx.fee_payer == wallet:
            out += tx.fee
    return out if out > 0 else None


STUCK_AFTER_MS: Final = 120_000
"""A trade still ``submitted`` this long after its last change has lost its confirm job."""


async def resume_stuck_trades(deps: Deps, *, now_ms: int, limit: int = 500) -> list[int]:
    """Give trades stuck in ``submitted`` a fresh confirm job; returns their ids.

    A confirm job can run out of tries (a node that kept failing) or vanish with a queue that lost
    its data; the trade would then say ``submitted`` for ever while the chain knows better. The
    per-minute safety net calls this: one new job id per trade and minute, and the job settles
    the trade as confirmed, failed on chain, or expired with its blockhash.
    """
    async with deps.sessions() as session:
        ids = list(
            (
                await session.scalars(
                    select(Trade.id)
                    .where(Trade.status == "submitted", Trade.updated_ts < now_ms - STUCK_AFTER_MS)
                    .order_by(Trade.id)
                    .limit(limit)
                )
            ).all()
        )
    minute = now_ms // 60_000
    for trade_id in ids:
        await deps.jobs.enqueue(
            CONFIRM_JOB, job_id=f"{CONFIRM_JOB}:{trade_id}:resume:{minute}", trade_id=trade_id
        )
    if ids:
        logger.warning("resumed %d trade(s) stuck in submitted: %s", len(ids), ids[:20])
    return ids


async def confirm_trade(deps: Deps, *, trade_id: int, last_try: bool = False) -> dict[str, Any]:
    """One poll of a submitted trade; raises Transient while it is neither final nor expired."""
    async with deps.sessions() as session:
        trade = await session.get(Trade, trade_id)
        order = await session.get(Order, trade.order_id) if trade and trade.order_id else None
    if trade is None or order is None or trade.signature is None:
        raise LookupError(f"trade {trade_id} has no submitted transaction")
    if trade.status in ("confirmed", "failed", "expired"):
        return {"trade_id": trade_id, "status": trade.status}
    params = order.params or {}
    rpc = deps.rpc
    status = (await rpc.get_signature_statuses([trade.signature]))[0]
    final: str | None = None
    out: int | None = None
    error: str | None = None
    if status is not None and status.err is not None:
        final, error = "failed", f"transaction failed on chain: {status.err}"[:500]
    elif status is not None and status.confirmation_status in ("confirmed", "finalized"):
        final = "confirmed"
        landed = await rpc.get_transaction(trade.signature)
        if landed is not None:
            out = out_amount_of(
                landed, wallet=str(params.get("wallet")), side=trade.side, mint=trade.mint
            )
    else:
        height = int(await rpc.call("getBlockHeight", [{"commitment": "confirmed"}]))
        if height > int(params.get("last_valid_block_height", 0)):
            final, error = "expired", "the blockhash expired before the transaction landed"
        else:
            signed = params.get("signed_tx")
            if isinstance(signed, str):
                try:
                    # The same bytes again: a landed copy is a no-op, a lost one gets another go.
                    await rpc.send_transaction(signed, skip_preflight=True, max_retries=0)
                except RpcError as exc:
                    logger.debug("rebroadcast of trade %d: %s", trade_id, exc)
            if not last_try:
                raise Transient(
                    f"trade {trade_id} not confirmed yet",
                    defer_s=deps.settings.trade_confirm_poll_s,
                )
            return {"trade_id": trade_id, "status": trade.status}
    async with deps.sessions.begin() as session:
        now = deps.clock.now_ms()
        current = await session.get(Trade, trade_id)
        assert current is not None
        if current.status == "prepared":
            await trading_repo.update_trade(
                session, trade_id=trade_id, status="submitted", now_ms=now
            )
        trade = await trading_repo.update_trade(
            session, trade_id=trade_id, status=final, now_ms=now, out_amount=out, error=error
        )
        await session.execute(
            update(Order).where(Order.id == order.id).values(status=final, updated_ts=now)
        )
        view = trade_view(trade)
    await _publish(deps, view)
    logger.info("trade %d %s", trade_id, final)
    return {"trade_id": trade_id, "status": final, "out_amount": out}
