"""THE command table: Telegram handlers, Discord slash commands, /help, the command menus and the
quick-action keyboards are all generated from :data:`COMMANDS` and :data:`PRESSES`.

A new command is one :class:`Command` row here plus its handler in ``bot/features/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bot.args import Arg
from bot.context import Handler, PressHandler
from bot.features import alerts, general, kol, rules, signals, trading, wallets
from bot.i18n import N_

CATEGORIES: Final[dict[str, str]] = {
    "general": N_("General"),
    "signals": N_("Signals"),
    "trading": N_("Trading"),
    "wallets": N_("Wallets"),
    "alerts": N_("Alerts and rules"),
    "kol": N_("KOL channels"),
}


@dataclass(frozen=True, slots=True)
class Command:
    """One chat command, identical on every platform."""

    name: str
    summary: str
    """English msgid: /help line, Telegram menu entry, Discord description (<= 100 chars)."""
    handler: Handler
    category: str
    args: tuple[Arg, ...] = ()
    admin_in_groups: bool = False
    """Changes a group's settings: only its admins may run it there (shown in /help)."""
    private_only: bool = False
    quick: bool = False
    """Offered as a one-tap button on /start and /help (only for commands without arguments)."""

    def usage(self) -> str:
        """``/watch <address> [alias] [tags]``."""
        return " ".join([f"/{self.name}", *(a.usage() for a in self.args)])


COMMANDS: Final[tuple[Command, ...]] = (
    Command(
        "start",
        N_("Welcome, language and disclaimer"),
        general.start,
        "general",
        args=(Arg("payload", "word", N_("deep-link payload"), required=False),),
    ),
    Command("help", N_("List the commands"), general.help_, "general", quick=True),
    Command(
        "lang",
        N_("Change the language"),
        general.lang,
        "general",
        args=(Arg("language", "choice", N_("en or fr"), required=False, choices=("en", "fr")),),
    ),
    Command(
        "signal",
        N_("Signal card of a token: Strength, risk, smart buys"),
        signals.signal,
        "signals",
        args=(Arg("token", "token", N_("mint address or $SYMBOL")),),
    ),
    Command(
        "explain",
        N_("Why a token's signal fired, or why not"),
        signals.explain,
        "signals",
        args=(Arg("token", "token", N_("mint address or $SYMBOL")),),
    ),
    Command(
        "buy",
        N_("Buy in the Mini App; you review and sign"),
        trading.buy,
        "trading",
        args=(
            Arg("mint", "token", N_("mint address or $SYMBOL")),
            Arg("sol", "sol", N_("amount in SOL, e.g. 0.5")),
        ),
    ),
    Command(
        "sell",
        N_("Sell a share of a holding in the Mini App"),
        trading.sell,
        "trading",
        args=(
            Arg("mint", "token", N_("mint address or $SYMBOL")),
            Arg("percent", "percent", N_("share to sell, e.g. 50")),
        ),
    ),
    Command(
        "positions",
        N_("Your positions from Mini App trades, with PnL"),
        trading.positions,
        "trading",
        quick=True,
    ),
    Command(
        "watch",
        N_("Track a wallet's trades"),
        wallets.watch,
        "wallets",
        args=(
            Arg("address", "address", N_("wallet address")),
            Arg("alias", "word", N_("a name for it"), required=False),
            Arg("tags", "text", N_("tags, e.g. kol smart"), required=False),
        ),
    ),
    Command(
        "unwatch",
        N_("Stop tracking a wallet"),
        wallets.unwatch,
        "wallets",
        args=(Arg("address", "address", N_("wallet address")),),
    ),
    Command(
        "list",
        N_("Your tracked wallets with balances"),
        wallets.list_,
        "wallets",
        quick=True,
    ),
    Command(
        "alerts",
        N_("This chat's alerts: on, off, min, filter, fills, topic"),
        alerts.alerts,
        "alerts",
        args=(
            Arg(
                "action",
                "choice",
                N_("what to change"),
                required=False,
                choices=alerts.ACTIONS,
            ),
            Arg("value", "text", N_("the new value"), required=False),
        ),
        admin_in_groups=True,
        quick=True,
    ),
    Command(
        "rules",
        N_("Your signal rules: list, add, enable, disable"),
        rules.rules,
        "alerts",
        args=(
            Arg("action", "choice", N_("what to do"), required=False, choices=rules.ACTIONS),
            Arg("rule", "text", N_("rule name, or name kind key=value…"), required=False),
        ),
        quick=True,
    ),
    Command(
        "publish",
        N_("Publish a call to your KOL channel"),
        kol.publish,
        "kol",
        args=(
            Arg("mint", "mint", N_("token mint address")),
            Arg("note", "text", N_("your comment"), required=False),
        ),
        private_only=True,
    ),
    Command(
        "kol",
        N_("KOL channels: link yours, see a record"),
        kol.kol,
        "kol",
        args=(
            Arg("action", "choice", N_("what to do"), required=False, choices=kol.ACTIONS),
            Arg("channel", "word", N_("@channel or id"), required=False),
        ),
    ),
    Command(
        "follow",
        N_("Get a KOL's calls in private"),
        kol.follow,
        "kol",
        args=(Arg("channel", "word", N_("@channel or id")),),
        private_only=True,
    ),
    Command(
        "unfollow",
        N_("Stop getting a KOL's calls"),
        kol.unfollow,
        "kol",
        args=(Arg("channel", "word", N_("@channel or id")),),
        private_only=True,
    ),
)

BY_NAME: Final[Mapping[str, Command]] = {c.name: c for c in COMMANDS}

PRESSES: Final[Mapping[str, PressHandler]] = {
    "lg": general.press_lang,
    "q": general.press_quick,
    "d": signals.press_details,
    "x": signals.press_explain,
    "k": kol.press_call,
    "rs": rules.press_save_draft,
}
"""Button actions (the ``action`` part of signed callback data) and their handlers."""


def quick_commands() -> list[Command]:
    """Commands offered as one-tap buttons."""
    return [c for c in COMMANDS if c.quick and not any(a.required for a in c.args)]
