"""The jobs this deployment runs: the domain's job functions, listed once for both runners."""

from __future__ import annotations

from typing import Any

from engine.deps import Deps
from engine.jobs.base import JobContext, JobRegistry
from engine.storage.repos import audit


async def audit_append(
    ctx: JobContext,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Write an audit entry off the request path; returns its id."""
    deps: Deps = ctx.deps
    async with deps.sessions.begin() as session:
        entry = await audit.append(
            session,
            ts=deps.clock.now_ms(),
            actor=actor,
            action=action,
            subject=subject,
            data=data,
        )
        await session.flush()
        return entry.id


def default_registry() -> JobRegistry:
    """Every job of the product, with its timeout and try budget."""
    registry = JobRegistry()
    registry.job("audit_append", timeout_s=10, max_tries=3)(audit_append)
    return registry
