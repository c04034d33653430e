"""Every command through the command core: parsing, validation, services, rendering, buttons."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.commands import COMMANDS, Command
from bot.context import Caller, Invocation, NoPlatformOps, Place, Press
from bot.core import CommandCore
from bot.limits import UserRateLimit
from bot.reply import Button, Reply
from bot.text import to_plain
from engine.deps import Deps
from engine.services import accounts, alerts
from engine.storage.models import User
from tests.bot.conftest import FakeAgent
from tests.bot.seed import (
    MINT,
    MINT2,
    NOW,
    SOL,
    WHALE,
    add_risk,
    add_signal,
    add_token,
    add_trades,
    address,
)


def place(kind: str = "private", chat_id: str = "100", topic: int | None = None) -> Place:
    return Place(chat_id, kind, "Chat", topic)  # type: ignore[arg-type]


async def run(
    core: CommandCore,
    command: str,
    args: str | dict[str, str | None] = "",
    *,
    user: str = "100",
    lang: str = "en",
    where: Place | None = None,
    admin: bool = True,
) -> Reply:
    caller = Caller("telegram", user, f"u{user}", lang)
    return await core.run(
        Invocation(caller, where or place(chat_id=user), command, args, NoPlatformOps(admin=admin))
    )


def text(reply: Reply) -> str:
    parts = [reply.title or "", to_plain(reply.html)]
    parts += [text(r) for r in reply.extra]
    return "\n".join(parts)


def buttons(reply: Reply) -> list[Button]:
    return [b for row in reply.buttons for b in row]


def callbacks(reply: Reply) -> list[str]:
    return [b.data for b in buttons(reply) if b.kind == "callback"]


async def press(
    core: CommandCore, data: str, *, user: str = "100", chat: str | None = None
) -> Reply:
    caller = Caller("telegram", user, f"u{user}", "en")
    return await core.press(Press(caller, place(chat_id=chat or user), data))


async def test_start_shows_disclaimer_languages_and_records_consent(
    core: CommandCore, deps: Deps
) -> None:
    reply = await run(core, "start")
    body = text(reply)
    assert "not financial advice" in body and "signed by you" in body
    labels = [b.label for b in buttons(reply)]
    assert {"English", "Français", "/list", "/alerts"} <= set(labels)
    async with deps.sessions() as s:
        user = (await s.scalars(select(User))).one()
    assert user.settings["disclaimer_ts"] == NOW


async def test_start_deep_link_opens_the_token_card(core: CommandCore, deps: Deps) -> None:
    await add_token(deps)
    reply = await run(core, "start", f"s_{MINT}")
    assert len(reply.extra) == 1 and "$BONK2" in (reply.extra[0].title or "")


async def test_help_lists_every_command_of_the_table(core: CommandCore) -> None:
    body = text(await run(core, "help"))
    for cmd in COMMANDS:
        if cmd.name != "start":
            assert cmd.usage() in body, cmd.name


async def test_lang_switches_replies_to_french_and_names_a_bad_choice(core: CommandCore) -> None:
    assert "English" in text(await run(core, "lang"))
    assert "Français" in text(await run(core, "lang", "fr"))
    assert "Commandes" in text(await run(core, "help"))
    bad = text(await run(core, "lang", "de"))
    assert "de" in bad and "en, fr" in bad


async def test_first_contact_language_comes_from_the_platform(core: CommandCore) -> None:
    assert "Commandes" in text(await run(core, "help", user="7", lang="fr-FR"))
    assert "Commands" in text(await run(core, "help", user="8", lang="pt-BR"))


async def test_signal_card_has_strength_components_risk_smart_buys_and_narrative(
    core: CommandCore, deps: Deps
) -> None:
    await add_token(deps)
    await add_trades(deps)
    await add_risk(deps)
    await add_signal(deps, 101, narrative="Smart wallets are piling in.")
    from tests.bot.seed import add_fill

    await add_fill(deps)
    reply = await run(core, "signal", MINT)
    body = text(reply)
    assert reply.title == "$BONK2 (Bonk Two)"
    for expected in (
        "Strength 2.20/3",
        "smart money: 2.10",
        "momentum: 1.40",
        "Smart Buy Burst: 3 tracked wallets",
        "Risk: low",
        "Liquidity: 35 SOL",
        "24h volume: 5 SOL",
        "Latest smart buys:",
        "3 SOL",
        "Smart wallets are piling in.",
        MINT,
    ):
        assert expected in body, expected
    trades = [b for b in buttons(reply) if b.kind == "trade"]
    assert [b.intent.amount for b in trades if b.intent] == [SOL // 10, SOL // 2, SOL]
    assert len(callbacks(reply)) == 2  # refresh and explain


async def test_signal_by_symbol_warns_when_the_symbol_is_shared(
    core: CommandCore, deps: Deps
) -> None:
    await add_token(deps)
    await add_token(deps, MINT2, name="Copycat", symbol="bonk2")
    await add_signal(deps, 7, MINT)
    body = text(await run(core, "signal", "$bonk2"))
    assert MINT in body and "1 other token uses this symbol" in body


async def test_signal_without_a_signal_says_why_not(core: CommandCore, deps: Deps) -> None:
    await add_token(deps)
    await add_trades(deps)
    reply = await run(core, "signal", MINT)
    body = text(reply)
    assert "No signal for this token yet." in body
    assert "No signal for" in body.split("yet.", 1)[1]  # the near miss, replayed from ticks
    assert not [b for b in buttons(reply) if b.kind == "trade"]  # risk unknown: no buy
    assert "No buy button" in body


async def test_signal_of_an_unknown_token_and_bad_query(core: CommandCore) -> None:
    assert "no data for NOPE yet" in text(await run(core, "signal", "NOPE"))
    bad = text(await run(core, "signal", "x" * 50))
    assert "not a mint address or symbol" in bad
    assert "Usage: /signal <token>" in text(await run(core, "signal"))


async def test_explain_hands_over_to_the_agent(
    core: CommandCore, deps: Deps, agent: FakeAgent
) -> None:
    await add_token(deps)
    await add_signal(deps, 5)
    body = text(await run(core, "explain", "BONK2", lang="fr"))
    assert "three tracked wallets bought" in body
    assert agent.explained and agent.explained[0][1:] == (MINT, "fr")


async def test_explain_falls_back_when_the_agent_fails(deps: Deps) -> None:
    class Broken(FakeAgent):
        async def explain(self, *, user_id: int, mint: str, language: str = "en") -> Any:
            raise RuntimeError("provider down")

    core = CommandCore(deps, agent=Broken(), rate_limit=UserRateLimit(burst=1000))
    await add_token(deps)
    await add_signal(deps, 5)
    body = text(await run(core, "explain", MINT))
    assert "three tracked wallets bought 9 SOL" in body and "automatic summary" in body


@pytest.mark.parametrize(
    ("amount", "lamports"),
    [("0.5", SOL // 2), ("0,25", SOL // 4), ("1", SOL), ("0.001", 1_000_000), ("1000", 1000 * SOL)],
)
async def test_buy_opens_the_mini_app_prefilled_in_lamports(
    core: CommandCore, deps: Deps, amount: str, lamports: int
) -> None:
    await add_token(deps)
    await add_risk(deps)
    reply = await run(core, "buy", f"{MINT} {amount}")
    (button,) = buttons(reply)
    assert button.kind == "trade" and button.intent is not None
    assert (button.intent.side, button.intent.mint, button.intent.amount) == ("buy", MINT, lamports)
    assert "Nothing is executed without your signature" in text(reply)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-1", "not an amount: -1"),
        ("1e3", "not an amount: 1e3"),
        ("nan", "not an amount: nan"),
        ("inf", "not an amount: inf"),
        ("0.5.1", "not an amount: 0.5.1"),
        ("0.0000000001", "has more than 9 decimals"),
        ("0.0001", "outside 0.001-1000 SOL"),
        ("5000", "outside 0.001-1000 SOL"),
        ("0", "outside 0.001-1000 SOL"),
    ],
)
async def test_buy_refuses_bad_amounts_naming_them(
    core: CommandCore, amount: str, message: str
) -> None:
    reply = await run(core, "buy", f"{MINT} {amount}")
    assert reply.tone == "error" and message in text(reply)
    assert "Usage: /buy <mint> <sol>" in text(reply)


async def test_buy_names_a_bad_mint_and_refuses_unchecked_or_critical_tokens(
    core: CommandCore, deps: Deps
) -> None:
    # A symbol nobody launched: named back, nothing to buy.
    unknown = await run(core, "buy", "xyz 1")
    assert "no data for xyz yet" in text(unknown) and not buttons(unknown)
    unchecked = await run(core, "buy", f"{MINT} 1")
    assert not buttons(unchecked) and "No buy for now" in text(unchecked)
    await add_risk(deps, freeze=True)
    critical = await run(core, "buy", f"{MINT} 1")
    assert not buttons(critical) and "freeze authority" in text(critical)


async def test_sell_prefills_a_share_in_basis_points(core: CommandCore, deps: Deps) -> None:
    reply = await run(core, "sell", f"{MINT} 12.5%")
    (button,) = buttons(reply)
    assert button.intent is not None and button.intent.amount == 1250
    assert "Sell 12.50% of your holding" in text(reply)
    assert "not a percentage" in text(await run(core, "sell", f"{MINT} 150"))


async def test_watch_unwatch_and_list_with_monitor_counts(core: CommandCore, deps: Deps) -> None:
    body = text(await run(core, "watch", f'{WHALE} "Big Whale" kol,smart'))
    assert "Watching Big Whale" in body and "kol, smart" in body and "1 person monitors" in body
    assert "2 people monitor" in text(await run(core, "watch", WHALE, user="200"))
    listing = text(await run(core, "list"))
    assert "Big Whale" in listing and "👥 2" in listing and WHALE in listing
    async with deps.sessions() as s:
        chat = await accounts.chat_by_external(s, platform="telegram", external_id="100")
        assert chat is not None
        assert (await alerts.alert_settings(s, chat_id=chat.id)).wallet_fills
    assert "No longer watching" in text(await run(core, "unwatch", WHALE))
    assert "is not on your watchlist" in text(await run(core, "unwatch", WHALE))
    assert "You watch no wallets yet" in text(await run(core, "list"))
    assert "not a Solana address: nope" in text(await run(core, "watch", "nope"))
    assert "bad tag" in text(await run(core, "watch", f"{WHALE} a B@D!"))


async def test_rules_list_add_disable_enable(core: CommandCore) -> None:
    listing = text(await run(core, "rules"))
    assert "smart_buy_burst" in listing and "Kinds:" in listing
    saved = text(
        await run(
            core, "rules", "add big_burst smart_buy_burst min_wallets=5 min_total_lamports=10sol"
        )
    )
    assert "Rule big_burst saved." in saved
    assert "big_burst" in text(await run(core, "rules", "list"))
    assert "disabled" in text(await run(core, "rules", "disable momentum"))
    assert "⏸ momentum" in text(await run(core, "rules"))
    assert "enabled" in text(await run(core, "rules", "enable momentum"))
    bad = text(await run(core, "rules", "add x smart_buy_burst min_wallets=0"))
    assert "min_wallets" in bad
    assert "no rule named nope" in text(await run(core, "rules", "disable nope"))


async def test_rules_add_from_a_sentence_is_drafted_then_saved_by_button(
    core: CommandCore,
) -> None:
    draft = await run(core, "rules", "add alert me when 4 smart wallets buy")
    assert "4 tracked wallets" in text(draft) and "Nothing is enabled" in text(draft)
    (save,) = callbacks(draft)
    saved = await press(core, save)
    assert "Rule my_smart_buy_burst saved." in text(saved)
    assert "my_smart_buy_burst" in text(await run(core, "rules"))


async def test_alerts_on_min_filters_fills_and_topic(core: CommandCore) -> None:
    assert "Signals: off" in text(await run(core, "alerts"))
    assert "Signals: on" in text(await run(core, "alerts", "on"))
    assert "minimum Strength 2.25" in text(await run(core, "alerts", "min 2.25"))
    assert "between 0 and 3" in text(await run(core, "alerts", "min 4"))
    body = text(await run(core, "alerts", "filter risk medium"))
    assert "risk at most medium" in body
    body = text(await run(core, "alerts", "filter liquidity 20"))
    assert "liquidity at least 20 SOL" in body and "risk at most medium" in body
    assert "venues: pumpfun, pumpswap" in text(
        await run(core, "alerts", "filter venue pumpfun,pumpswap")
    )
    assert "unknown venue" in text(await run(core, "alerts", "filter venue moon"))
    assert "risk at most" not in text(await run(core, "alerts", "filter risk any"))
    assert "liquidity at least" not in text(await run(core, "alerts", "filter clear"))
    assert "Fills of watched wallets: off" in text(await run(core, "alerts", "fills off"))
    assert "from inside the forum topic" in text(await run(core, "alerts", "topic"))
    forum = place("group", "-100", topic=42)
    assert "forum topic 42" in text(await run(core, "alerts", "topic", where=forum))
    assert "is not one of" in text(await run(core, "alerts", "loud"))


async def test_in_groups_only_admins_change_settings_but_anyone_may_look(
    core: CommandCore,
) -> None:
    group = place("group", "-500")
    assert "Signals: off" in text(await run(core, "alerts", where=group, admin=False))
    refused = await run(core, "alerts", "on", where=group, admin=False)
    assert refused.tone == "error" and "only this chat's admins" in text(refused)
    assert "Signals: on" in text(await run(core, "alerts", "on", where=group, admin=True))
    assert "only this chat's admins" in text(
        await run(core, "lang", "fr", where=group, admin=False)
    )
    assert "Les alertes de ce groupe seront en Français." in text(
        await run(core, "lang", "fr", where=group)
    )
    assert "(admins)" in text(await run(core, "help", where=group))


async def test_kol_link_publish_follow_and_record(core: CommandCore, deps: Deps) -> None:
    await add_token(deps)
    await add_trades(deps)
    assert "No KOL channels yet" in text(await run(core, "kol"))
    assert "link your channel first" in text(await run(core, "publish", MINT))
    assert "is linked" in text(await run(core, "kol", "link -1007"))
    assert "use /publish in a private chat" in text(
        await run(core, "publish", MINT, where=place("group", "-9"))
    )
    assert "cannot follow your own channel" in text(await run(core, "follow", "-1007"))
    assert "You get the calls" in text(await run(core, "follow", "-1007", user="300"))
    assert "already follow" in text(await run(core, "follow", "-1007", user="300"))
    published = text(await run(core, "publish", f"{MINT} to the moon"))
    assert "Call published to 1 channel." in published
    record = text(await run(core, "kol", "record -1007"))
    assert "1 call" in record and "1 follower" in record and "No settled calls yet" in record
    assert "no KOL channel" in text(await run(core, "kol", "record -999"))
    assert "no longer follow" in text(await run(core, "unfollow", "-1007", user="300"))


async def test_unknown_command_extra_text_and_missing_arguments(core: CommandCore) -> None:
    assert "unknown command /nope" in text(await run(core, "nope"))
    assert "unexpected extra text: b c" in text(await run(core, "unwatch", f"{WHALE} b c"))
    assert "missing <address>" in text(await run(core, "unwatch"))


async def test_a_handler_crash_is_an_apology_not_a_traceback(deps: Deps) -> None:
    async def boom(ctx: Any, args: dict[str, Any]) -> Reply:
        raise RuntimeError("secret internals")

    core = CommandCore(deps, commands=(Command("boom", "x", boom, "general"),))
    reply = await run(core, "boom")
    assert "something went wrong" in text(reply) and "secret" not in text(reply)


async def test_each_user_is_throttled_with_one_polite_reply(deps: Deps) -> None:
    core = CommandCore(deps, rate_limit=UserRateLimit(burst=3, every_ms=1_000))
    replies = [await run(core, "help") for _ in range(6)]
    assert [bool(r.html) for r in replies] == [True, True, True, True, False, False]
    assert "faster than I can answer" in text(replies[3])
    assert (await run(core, "help", user="other")).html  # others are not affected
    deps.clock.advance(1_000)  # type: ignore[attr-defined]
    assert "Commands" in text(await run(core, "help"))


async def test_buttons_are_bound_to_their_user_and_signed(core: CommandCore, deps: Deps) -> None:
    await add_token(deps)
    await add_signal(deps, 77)
    card = await run(core, "signal", MINT)
    refresh, explain = callbacks(card)
    assert "$BONK2" in (await press(core, refresh)).title  # type: ignore[operator]
    assert "three tracked wallets" in text(await press(core, explain))
    stranger = await press(core, refresh, user="999", chat="100")
    assert stranger.notice == "This button is for someone else." and not stranger.html
    forged = refresh[:-2] + ("AA" if not refresh.endswith("AA") else "BB")
    assert (await press(core, forged)).notice == "This button is no longer valid."
    assert (await press(core, "garbage")).notice == "This button is no longer valid."


async def test_language_buttons_edit_the_message(core: CommandCore) -> None:
    start = await run(core, "start")
    fr = next(b.data for b in buttons(start) if b.label == "Français")
    reply = await press(core, fr)
    assert reply.edit and "Français" in text(reply) and reply.notice


async def test_console_users_work_without_numeric_ids(deps: Deps) -> None:
    from bot.console import ConsoleChat

    out: list[str] = []
    chat = ConsoleChat(CommandCore(deps, rate_limit=UserRateLimit(burst=100)), out=None)  # type: ignore[arg-type]
    chat._print = lambda t: (out.append(t), t)[1]  # type: ignore[method-assign]
    await chat.say("/start")
    assert "Disclaimer" in out[-1] and "[#2 Français]" in out[-1]
    await chat.say("#2")
    assert "Français" in out[-1]
    await chat.say("/watch " + address("console-wallet") + " mine")
    assert "Suivi de mine" in out[-1]
