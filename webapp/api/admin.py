"""Admin-only: the audit log and user roles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from engine.services.errors import NotFound
from engine.storage.models import User
from engine.storage.repos import audit
from webapp.api.deps import AdminDep, DepsDep
from webapp.errors import errors

router = APIRouter(prefix="/admin", tags=["admin"], responses=errors(401, 403, 422, 429))


class AuditEntryPublic(BaseModel):
    """One audit log entry."""

    id: int
    ts: int
    actor: str
    action: str
    subject: str | None
    data: dict[str, Any]


class RoleUpdate(BaseModel):
    """A user's new role."""

    role: Literal["user", "admin"]


@router.get("/audit", response_model=list[AuditEntryPublic])
async def audit_log(
    deps: DepsDep,
    admin: AdminDep,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntryPublic]:
    """Audit entries, newest first."""
    async with deps.sessions() as session:
        rows = await audit.entries(session, subject=subject, limit=limit)
    return [
        AuditEntryPublic(
            id=r.id, ts=r.ts, actor=r.actor, action=r.action, subject=r.subject, data=r.data
        )
        for r in rows
    ]


@router.put("/users/{user_id}/role", responses=errors(404))
async def set_role(
    user_id: Annotated[int, Path(ge=1, lt=1 << 62)],
    body: RoleUpdate,
    deps: DepsDep,
    admin: AdminDep,
) -> dict[str, Any]:
    """Make a user an admin, or a plain user again."""
    now = deps.clock.now_ms()
    async with deps.sessions.begin() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("no_user", f"no user {user_id}")
        user.role = body.role
        await audit.append(
            session,
            ts=now,
            actor=f"user:{admin.id}",
            action="user.role",
            subject=f"user:{user_id}",
            data={"role": body.role},
        )
    return {"id": user_id, "role": body.role}
