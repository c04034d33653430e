"""The caller: who they are, their linked wallet (proved by a signature), their API key."""

from __future__ import annotations

from fastapi import APIRouter, Response

from engine.services.accounts import update_user_settings
from engine.storage.models import User
from engine.storage.repos import audit
from engine.trade.wallet_link import new_challenge, verify_link
from webapp.api.deps import DepsDep, PrincipalDep, UserDep
from webapp.auth import hash_api_key, new_api_key
from webapp.errors import errors
from webapp.schemas import ApiKeyPublic, MePublic, WalletChallengePublic, WalletLinkCreate

router = APIRouter(prefix="/me", tags=["me"], responses=errors(401, 422, 429))


def me_public(user: User, role: str) -> MePublic:
    """The caller as the API shows them."""
    wallet = (user.settings or {}).get("wallet")
    return MePublic(
        id=user.id,
        telegram_id=user.telegram_id,
        username=user.username,
        language=user.language,
        role="admin" if role == "admin" else "user",
        wallet=wallet if isinstance(wallet, str) else None,
        created_ts=user.created_ts,
    )


@router.get("", response_model=MePublic)
async def get_me(principal: PrincipalDep, user: UserDep) -> MePublic:
    """The authenticated user (created on first Mini App visit)."""
    return me_public(user, principal.role)


@router.post("/wallet/challenge", response_model=WalletChallengePublic)
async def wallet_challenge(deps: DepsDep, user: UserDep) -> WalletChallengePublic:
    """A message for the wallet to sign (``signMessage``), valid 10 minutes."""
    c = new_challenge(
        deps.settings.secret_key.get_secret_value(), user_id=user.id, now_ms=deps.clock.now_ms()
    )
    return WalletChallengePublic(nonce=c.nonce, message=c.message, expires_ts=c.expires_ts)


@router.post("/wallet", response_model=MePublic, responses=errors(400))
async def link_wallet(
    body: WalletLinkCreate, deps: DepsDep, principal: PrincipalDep, user: UserDep
) -> MePublic:
    """Link the wallet that signed the challenge; trades are then built for it."""
    now = deps.clock.now_ms()
    address = verify_link(
        deps.settings.secret_key.get_secret_value(),
        user_id=user.id,
        now_ms=now,
        address=body.address,
        nonce=body.nonce,
        signature=body.signature,
    )
    async with deps.sessions.begin() as session:
        await update_user_settings(
            session, user_id=user.id, values={"wallet": address, "wallet_linked_ts": now}
        )
        await audit.append(
            session,
            ts=now,
            actor=f"user:{user.id}",
            action="wallet.link",
            subject=f"user:{user.id}",
            data={"wallet": address},
        )
        fresh = await session.get(User, user.id)
        assert fresh is not None
        return me_public(fresh, principal.role)


@router.delete("/wallet", status_code=204)
async def unlink_wallet(deps: DepsDep, user: UserDep) -> Response:
    """Forget the linked wallet."""
    async with deps.sessions.begin() as session:
        await update_user_settings(session, user_id=user.id, remove=("wallet", "wallet_linked_ts"))
    return Response(status_code=204)


@router.post("/api-key", response_model=ApiKeyPublic, status_code=201)
async def create_api_key(deps: DepsDep, user: UserDep) -> ApiKeyPublic:
    """A new API key for programmatic access (replaces the previous one); shown only once."""
    key = new_api_key()
    now = deps.clock.now_ms()
    async with deps.sessions.begin() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.api_key_hash = hash_api_key(key)
        await audit.append(
            session,
            ts=now,
            actor=f"user:{user.id}",
            action="api_key.create",
            subject=f"user:{user.id}",
        )
    return ApiKeyPublic(key=key, created_ts=now)
