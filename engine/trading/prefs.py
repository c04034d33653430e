"""A user's trading preferences, kept in ``users.settings["trading"]``.

Slippage for exits, how long a signing link lives before it is re-priced, how many times, and
the auto-trade policy. A stored value that no longer validates falls back to its default with a
logged warning: a malformed setting must not stop a stop-loss.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import User
from engine.storage.repos import users as user_repo
from engine.trading.params import parse_params
from engine.trading.policy import TradingPolicy

logger = logging.getLogger(__name__)

SETTINGS_KEY = "trading"


class TradingPrefs(BaseModel):
    """Per-user trading settings with safe defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    slippage_bps: int = Field(default=500, ge=1, le=5000)
    exit_link_ttl_s: int = Field(default=120, ge=15, le=3600)
    max_exit_attempts: int = Field(default=15, ge=1, le=200)
    server_signer: bool = False
    """Opt-in: let an unlocked server signer execute buys the policy allows."""
    policy: TradingPolicy = Field(default_factory=TradingPolicy)

    @property
    def exit_link_ttl_ms(self) -> int:
        """Link lifetime in milliseconds."""
        return self.exit_link_ttl_s * 1000


def prefs_from_settings(settings: dict[str, Any] | None) -> TradingPrefs:
    """The prefs stored in a user's settings; invalid fields fall back to their defaults."""
    raw = dict((settings or {}).get(SETTINGS_KEY) or {})
    try:
        return TradingPrefs.model_validate(raw)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        logger.warning("ignoring invalid trading settings %s", sorted(bad))
        kept = {k: v for k, v in raw.items() if k not in bad and k in TradingPrefs.model_fields}
        try:
            return TradingPrefs.model_validate(kept)
        except ValidationError:
            return TradingPrefs()


async def load_prefs(session: AsyncSession, *, user_id: int) -> TradingPrefs:
    """A user's trading prefs (defaults for an unknown user)."""
    user = await session.get(User, user_id)
    return prefs_from_settings(user.settings if user is not None else None)


async def save_prefs(session: AsyncSession, *, user_id: int, prefs: dict[str, Any]) -> TradingPrefs:
    """Validate and store a user's trading prefs; errors name the field."""
    parsed = parse_params(TradingPrefs, prefs, name="trading")
    user = await user_repo.lock_user(session, user_id=user_id)
    if user is None:
        raise LookupError(f"no user {user_id}")
    user.settings = {**(user.settings or {}), SETTINGS_KEY: parsed.model_dump(mode="json")}
    await session.flush()
    return parsed
