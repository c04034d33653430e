"""Non-custodial trading: quote, prepare an unsigned swap, submit the signed one, follow it; and
the Phantom deeplink round trips for signing inside Telegram."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query

from engine.services.errors import InvalidInput
from engine.trade import bridge, phantom
from webapp.api.convert import risk_public, trade_public
from webapp.api.deps import DepsDep, JupiterDep, PrincipalDep, UserDep
from webapp.errors import errors
from webapp.schemas import (
    PhantomConnectCreate,
    PhantomConnectedCreate,
    PhantomConnectPublic,
    PhantomSessionPublic,
    PhantomSignCreate,
    PhantomSignedCreate,
    PhantomSignedPublic,
    PhantomSignPublic,
    PreparedTradePublic,
    PrepareRequest,
    QuotePublic,
    QuoteRequest,
    RouteStepPublic,
    SubmitRequest,
    TradePublic,
)

router = APIRouter(tags=["trade"], responses=errors(401, 422, 429))
UPSTREAM = errors(502, 504)


@router.post("/trade/quote", response_model=QuotePublic, responses=UPSTREAM)
async def quote(
    body: QuoteRequest, deps: DepsDep, jupiter: JupiterDep, user: UserDep
) -> QuotePublic:
    """A current quote (buy: ``amount`` lamports; sell: raw token units) with the risk verdict."""
    view = await bridge.quote_trade(
        deps,
        jupiter,
        mint=body.mint,
        side=body.side,
        amount=body.amount,
        slippage_bps=body.slippage_bps,
    )
    q = view.quote
    return QuotePublic(
        mint=view.mint,
        side=view.side,
        input_mint=q.input_mint,
        output_mint=q.output_mint,
        in_amount=q.in_amount,
        out_amount=q.out_amount,
        min_out_amount=view.min_out,
        slippage_bps=view.slippage_bps,
        price_impact_pct=q.price_impact_pct,
        route=[
            RouteStepPublic(
                label=s.label, amm_key=s.amm_key, in_amount=s.in_amount, out_amount=s.out_amount
            )
            for s in q.route
        ],
        context_slot=q.context_slot,
        risk=risk_public(view.risk),
    )


@router.post(
    "/trade/prepare",
    response_model=PreparedTradePublic,
    status_code=201,
    responses={**UPSTREAM, **errors(409)},
)
async def prepare(
    body: PrepareRequest, deps: DepsDep, jupiter: JupiterDep, user: UserDep
) -> PreparedTradePublic:
    """Check risk and policy, then build the unsigned swap for the caller's linked wallet."""
    p = await bridge.prepare_trade(
        deps,
        jupiter,
        user=user,
        mint=body.mint,
        side=body.side,
        amount=body.amount,
        slippage_bps=body.slippage_bps,
        priority_fee_lamports=body.priority_fee_lamports,
        dynamic_compute_unit_limit=body.dynamic_compute_unit_limit,
        confirm=body.confirm,
    )
    return PreparedTradePublic(
        prepared_id=p.prepared_id,
        mint=p.mint,
        side=p.side,
        wallet=p.wallet,
        transaction=p.transaction_b64,
        last_valid_block_height=p.last_valid_block_height,
        in_amount=p.in_amount,
        out_amount=p.out_amount,
        min_out_amount=p.min_out,
        slippage_bps=p.slippage_bps,
        price_impact_pct=p.price_impact_pct,
        priority_fee_lamports=p.priority_fee_lamports,
        expires_ts=p.expires_ts,
        risk=risk_public(p.risk),
    )


@router.post("/trade/submit", response_model=TradePublic, responses={**errors(400, 404, 409, 410)})
async def submit(
    body: SubmitRequest,
    deps: DepsDep,
    user: UserDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="Required; one per submit intent. A retry with it sends nothing again.",
        ),
    ] = None,
) -> TradePublic:
    """Send the signed transaction once per Idempotency-Key; the trade then confirms."""
    view = await bridge.submit_trade(
        deps,
        user=user,
        prepared_id=body.prepared_id,
        signed_transaction=body.signed_transaction,
        idempotency_key=idempotency_key,
    )
    return trade_public(view)


@router.get("/trade/{trade_id}", response_model=TradePublic, responses=errors(404))
async def get_trade(
    trade_id: Annotated[int, Path(ge=1, lt=1 << 62)],
    deps: DepsDep,
    principal: PrincipalDep,
    user: UserDep,
) -> TradePublic:
    """One of the caller's trades (admins: any trade)."""
    owner = None if principal.at_least("admin") else user.id
    return trade_public(await bridge.get_trade(deps, trade_id=trade_id, user_id=owner))


@router.get("/trades", response_model=list[TradePublic])
async def list_trades(
    deps: DepsDep,
    user: UserDep,
    before: Annotated[
        int | None, Query(ge=1, lt=1 << 62, description="Trade id to page from.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[TradePublic]:
    """The caller's trades, newest first."""
    views = await bridge.list_trades(deps, user_id=user.id, before_id=before, limit=limit)
    return [trade_public(v) for v in views]


# -- Phantom deeplinks -------------------------------------------------------------------------


def _secret(deps: DepsDep) -> str:
    return deps.settings.secret_key.get_secret_value()


def _phantom_error(exc: phantom.PhantomError) -> InvalidInput:
    code = "phantom_rejected" if isinstance(exc, phantom.PhantomRejected) else "phantom_error"
    return InvalidInput(code, str(exc), field="phantom")


@router.post("/trade/phantom/connect", response_model=PhantomConnectPublic, responses=errors(400))
async def phantom_connect(
    body: PhantomConnectCreate, deps: DepsDep, user: UserDep
) -> PhantomConnectPublic:
    """A Phantom ``connect`` link with a fresh session key, sealed into ``state``."""
    secret = phantom.new_dapp_keypair()
    url = phantom.connect_url(
        app_url=deps.settings.public_url,
        dapp_public_key=phantom.public_key_b58(secret),
        redirect_link=body.redirect_link,
        cluster=body.cluster,
    )
    return PhantomConnectPublic(url=url, state=phantom.seal_state(_secret(deps), secret=secret))


@router.post("/trade/phantom/connected", response_model=PhantomSessionPublic, responses=errors(400))
async def phantom_connected(
    body: PhantomConnectedCreate, deps: DepsDep, user: UserDep
) -> PhantomSessionPublic:
    """Decrypt Phantom's ``connect`` answer: the wallet address and the session."""
    try:
        secret, _ = phantom.open_state(_secret(deps), body.state)
        connected = phantom.read_connect_callback(
            secret,
            {
                "phantom_encryption_public_key": body.phantom_encryption_public_key,
                "nonce": body.nonce,
                "data": body.data,
            },
        )
    except phantom.PhantomError as exc:
        raise _phantom_error(exc) from None
    state = phantom.seal_state(
        _secret(deps), secret=secret, phantom_public_key=connected.phantom_encryption_public_key
    )
    return PhantomSessionPublic(
        public_key=connected.public_key, session=connected.session, state=state
    )


@router.post("/trade/phantom/sign", response_model=PhantomSignPublic, responses=errors(400))
async def phantom_sign(body: PhantomSignCreate, deps: DepsDep, user: UserDep) -> PhantomSignPublic:
    """A Phantom ``signTransaction`` link carrying the prepared transaction, encrypted."""
    try:
        secret, phantom_key = phantom.open_state(_secret(deps), body.state)
        if phantom_key is None:
            raise phantom.PhantomError("state has no Phantom key yet: connect first")
        tx = base64.b64decode(body.transaction, validate=True)
        box = phantom.shared_box(secret, phantom_key)
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, phantom.PhantomError):
            raise _phantom_error(exc) from None
        raise InvalidInput(
            "bad_transaction", "transaction is not base64", field="transaction"
        ) from None
    url = phantom.sign_transaction_url(
        box,
        dapp_public_key=phantom.public_key_b58(secret),
        session=body.session,
        transaction=tx,
        redirect_link=body.redirect_link,
    )
    return PhantomSignPublic(url=url)


@router.post("/trade/phantom/signed", response_model=PhantomSignedPublic, responses=errors(400))
async def phantom_signed(
    body: PhantomSignedCreate, deps: DepsDep, user: UserDep
) -> PhantomSignedPublic:
    """Decrypt Phantom's ``signTransaction`` answer into the signed transaction (base64)."""
    try:
        secret, phantom_key = phantom.open_state(_secret(deps), body.state)
        if phantom_key is None:
            raise phantom.PhantomError("state has no Phantom key yet: connect first")
        raw = phantom.read_sign_callback(
            phantom.shared_box(secret, phantom_key), {"nonce": body.nonce, "data": body.data}
        )
    except phantom.PhantomError as exc:
        raise _phantom_error(exc) from None
    return PhantomSignedPublic(signed_transaction=base64.b64encode(raw).decode())
