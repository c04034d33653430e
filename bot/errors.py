"""Errors shown to the person who typed the command, translated; service errors mapped by code."""

from __future__ import annotations

from typing import Any, Final

from bot.i18n import N_
from engine.services.errors import ServiceError


class UserError(Exception):
    """A problem the user can fix; ``message`` is an English msgid with ``%(name)s`` params."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


# Every service error code the bot can meet, with the message it shows.
SERVICE_MESSAGES: Final[dict[str, str]] = {
    "not_address": N_("not a Solana address: %(value)s"),
    "alias_too_long": N_("the alias is %(length)s characters long; at most %(limit)s"),
    "bad_tag": N_("bad tag: %(reason)s"),
    "too_many_wallets": N_("you already watch the maximum of %(limit)s wallets"),
    "not_watched": N_("%(value)s is not on your watchlist"),
    "bad_query": N_("not a mint address or symbol: %(value)s"),
    "unknown_token": N_("no data for %(value)s yet"),
    "bad_language": N_("unsupported language %(value)s; choose one of %(choices)s"),
    "bad_venue": N_("unknown venue %(value)s; known: %(choices)s"),
    "bad_filter": N_("bad filter %(name)s: %(reason)s"),
    "bad_strength": N_("minimum Strength must be between 0 and 3, got %(value)s"),
    "bad_rule_name": N_("a rule name is 1-48 of a-z, 0-9, _ or -, got %(value)s"),
    "bad_rule_kind": N_("unknown rule kind %(value)s; known: %(choices)s"),
    "bad_rule_params": N_("rule parameters rejected: %(reason)s"),
    "bad_rules": N_("your rules do not load: %(reason)s"),
    "too_many_rules": N_("at most %(limit)s rules per user"),
    "no_rule": N_("no rule named %(value)s"),
    "not_amount": N_("not an amount: %(value)s"),
    "sub_lamport": N_("%(value)s SOL has more than 9 decimals"),
    "sol_out_of_range": N_("%(value)s SOL is outside %(min)s-%(max)s SOL"),
    "percent_out_of_range": N_("%(value)s is not a percentage between 0.01 and 100"),
    "channel_taken": N_("this channel is linked to another KOL"),
    "not_kol": N_("only the channel's KOL may publish there"),
    "no_kol": N_("no KOL channel %(value)s"),
    "note_too_long": N_("the note is %(length)s characters long; at most %(limit)s"),
    "self_follow": N_("you cannot follow your own channel"),
}


def from_service(exc: ServiceError) -> UserError:
    """The user-facing form of a service error (its English text when the code is new)."""
    message = SERVICE_MESSAGES.get(exc.code)
    if message is None:
        return UserError(N_("%(reason)s"), reason=str(exc))
    # Placeholders the service did not fill would raise: fill them with blanks instead.
    params = {k: "" for k in _placeholders(message)} | {k: str(v) for k, v in exc.params.items()}
    return UserError(message, **params)


def _placeholders(message: str) -> set[str]:
    import re

    return set(re.findall(r"%\((\w+)\)s", message))
