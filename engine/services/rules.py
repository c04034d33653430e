"""A user's signal rules: the effective list (defaults, global, own), add, enable and disable.

Rules are data (``rules`` rows layered over the defaults by name, see ``engine.signals.rules``):
disabling a default rule stores a user row of that name with ``enabled`` false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from engine.services.errors import InvalidInput, NotFound
from engine.signals.rules import RULE_KINDS, RuleConfigError, RuleSet
from engine.storage.repos import trading as trading_repo

Origin = Literal["default", "global", "user"]
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
MAX_USER_RULES: Final = 50


@dataclass(frozen=True, slots=True)
class RuleView:
    """One effective rule as the user sees it."""

    name: str
    kind: str
    title: str
    role: str
    enabled: bool
    params: dict[str, Any]
    origin: Origin


def rule_kinds() -> list[str]:
    """Every rule kind a user may add."""
    return sorted(RULE_KINDS)


def check_rule_name(name: str) -> str:
    """A rule name: 1-48 of a-z, 0-9, _ or -, starting with a letter or digit."""
    value = name.strip().lower()
    if not _NAME.match(value):
        raise InvalidInput(
            "bad_rule_name",
            f"rule name {name[:48]!r} must be 1-48 of a-z, 0-9, _ or -",
            field="name",
            value=name[:48],
        )
    return value


async def list_rules(session: AsyncSession, *, user_id: int) -> list[RuleView]:
    """The user's effective rules, defaults first, each with where it comes from."""
    rows = await trading_repo.list_rules(session, user_id=user_id)
    try:
        rule_set = RuleSet.from_rows(rows, user_id=user_id)
    except RuleConfigError as exc:
        raise InvalidInput("bad_rules", str(exc), field="rules", reason=str(exc)) from None
    origin: dict[str, Origin] = {}
    for row in rows:
        origin[row.name] = "user" if row.user_id == user_id else origin.get(row.name, "global")
    return [
        RuleView(
            name=r.name,
            kind=r.kind,
            title=r.title,
            role=r.role,
            enabled=r.enabled,
            params=r.params_dict(),
            origin=origin.get(r.name, "default"),
        )
        for r in rule_set.rules
    ]


async def add_rule(
    session: AsyncSession,
    *,
    user_id: int,
    name: str,
    kind: str,
    params: dict[str, Any],
    now_ms: int,
) -> RuleView:
    """Create or replace one of the user's rules after validating its parameters."""
    rule_name = check_rule_name(name)
    if kind not in RULE_KINDS:
        raise InvalidInput(
            "bad_rule_kind",
            f"unknown rule kind {kind[:32]!r}; known: {', '.join(rule_kinds())}",
            field="kind",
            value=kind[:32],
            choices=", ".join(rule_kinds()),
        )
    try:
        rule = RULE_KINDS[kind].parse(params, name=rule_name)
    except RuleConfigError as exc:
        raise InvalidInput(
            "bad_rule_params", str(exc), field="params", reason="; ".join(exc.errors)
        ) from None
    rows = await trading_repo.list_rules(session, user_id=user_id, include_global=False)
    if rule_name not in {r.name for r in rows} and len(rows) >= MAX_USER_RULES:
        raise InvalidInput(
            "too_many_rules",
            f"at most {MAX_USER_RULES} rules per user",
            field="name",
            limit=MAX_USER_RULES,
        )
    # The whole set must still load: a name may not change the kind of a default or global rule.
    try:
        RuleSet.from_rows(
            [
                *await trading_repo.list_rules(session, user_id=user_id),
                _Row(rule_name, kind, user_id),
            ],
            user_id=user_id,
        )
    except RuleConfigError as exc:
        raise InvalidInput("bad_rules", str(exc), field="name", reason=str(exc)) from None
    # ``enabled`` lives in the row's column only, so enable/disable can never disagree with it.
    stored = {k: v for k, v in rule.params_dict().items() if k != "enabled"}
    saved = await trading_repo.save_rule(
        session,
        name=rule_name,
        kind=kind,
        params=stored,
        now_ms=now_ms,
        user_id=user_id,
        enabled=rule.enabled,
    )
    return RuleView(
        saved.name, saved.kind, rule.title, rule.role, saved.enabled, dict(saved.params), "user"
    )


async def set_rule_enabled(
    session: AsyncSession, *, user_id: int, name: str, enabled: bool, now_ms: int
) -> RuleView:
    """Enable or disable one of the user's effective rules by name."""
    rule_name = check_rule_name(name)
    current = {r.name: r for r in await list_rules(session, user_id=user_id)}
    view = current.get(rule_name)
    if view is None:
        raise NotFound("no_rule", f"no rule named {rule_name!r}", value=rule_name)
    own = {
        r.name: r
        for r in await trading_repo.list_rules(session, user_id=user_id, include_global=False)
    }
    row = own.get(rule_name)
    if row is not None:
        await trading_repo.set_rule_enabled(
            session, rule_id=row.id, user_id=user_id, enabled=enabled, now_ms=now_ms
        )
    else:
        # Overriding a default or global rule for this user only: an empty params row.
        await trading_repo.save_rule(
            session,
            name=rule_name,
            kind=view.kind,
            params={},
            now_ms=now_ms,
            user_id=user_id,
            enabled=enabled,
        )
    return RuleView(view.name, view.kind, view.title, view.role, enabled, view.params, view.origin)


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    kind: str
    user_id: int | None
    enabled: bool = True

    @property
    def params(self) -> dict[str, Any]:
        """A probe row carries no parameters: only its name and kind are checked."""
        return {}
