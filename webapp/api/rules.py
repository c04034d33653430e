"""The caller's signal rules: the effective list, create or replace, enable/disable, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from engine.services import market
from engine.services import rules as rule_service
from webapp.api.deps import DepsDep, UserDep
from webapp.errors import errors
from webapp.schemas import RuleCreate, RulePublic, RuleUpdate

router = APIRouter(prefix="/rules", tags=["rules"], responses=errors(401, 422, 429))
NamePath = Annotated[str, Path(min_length=1, max_length=48)]


def _public(r: rule_service.RuleView) -> RulePublic:
    return RulePublic(
        name=r.name,
        kind=r.kind,
        title=r.title,
        role=r.role,
        enabled=r.enabled,
        params=r.params,
        origin=r.origin,
    )


@router.get("", response_model=list[RulePublic])
async def list_rules(deps: DepsDep, user: UserDep) -> list[RulePublic]:
    """The caller's effective rules: defaults, global ones and their own, in order."""
    async with deps.sessions() as session:
        return [_public(r) for r in await rule_service.list_rules(session, user_id=user.id)]


@router.get("/kinds", response_model=list[str])
async def rule_kinds(user: UserDep) -> list[str]:
    """The rule kinds a user may add."""
    return rule_service.rule_kinds()


@router.post("", response_model=RulePublic, status_code=201, responses=errors(400))
async def create_rule(body: RuleCreate, deps: DepsDep, user: UserDep) -> RulePublic:
    """Create or replace a rule; parameters are validated for the kind (errors name the field)."""
    async with deps.sessions.begin() as session:
        view = await rule_service.add_rule(
            session,
            user_id=user.id,
            name=body.name,
            kind=body.kind,
            params=body.params,
            now_ms=deps.clock.now_ms(),
        )
    return _public(view)


@router.patch("/{name}", response_model=RulePublic, responses=errors(400, 404))
async def update_rule(name: NamePath, body: RuleUpdate, deps: DepsDep, user: UserDep) -> RulePublic:
    """Enable or disable a rule (a default or global one is overridden for the caller only)."""
    async with deps.sessions.begin() as session:
        view = await rule_service.set_rule_enabled(
            session, user_id=user.id, name=name, enabled=body.enabled, now_ms=deps.clock.now_ms()
        )
    return _public(view)


@router.delete("/{name}", status_code=204, responses=errors(400, 404, 409))
async def delete_rule(name: NamePath, deps: DepsDep, user: UserDep) -> Response:
    """Delete one of the caller's own rules (defaults can only be disabled)."""
    async with deps.sessions.begin() as session:
        await market.delete_rule(session, user_id=user.id, name=name)
    return Response(status_code=204)
