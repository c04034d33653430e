"""``solai bot``: run the Telegram and/or Discord bots whose tokens are set.

Telegram polls by default; ``--webhook-url https://…/telegram`` sets a webhook instead and
serves it on ``--listen`` (put HTTPS in front). Discord connects to the gateway. Both answer
through one command core over the configured storage, bus and jobs, and in the embedded mode
this process also runs the alert fan-out jobs with the bots' own clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from bot.core import CommandCore
from bot.fanout import Fanout, Sender, attached, chat_migrator, process_limiter
from bot.telegram_adapter import Links, TelegramSender, build_application, publish_commands
from bot.telegram_webhook import set_webhook, webhook_app, webhook_secret
from engine.settings import ConfigError, Settings, get_settings
from workers import migrate
from workers.jobs.registry import default_registry
from workers.runtime import open_deps

logger = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``bot`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "bot",
        help="run the Telegram and/or Discord bots (SOLAI_TELEGRAM_TOKEN, SOLAI_DISCORD_TOKEN)",
    )
    p.add_argument(
        "--webhook-url",
        default=None,
        help="receive Telegram updates at this public HTTPS URL instead of polling",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:8081",
        help="host:port the webhook receiver binds (with --webhook-url)",
    )
    p.add_argument(
        "--no-sync", action="store_true", help="do not publish the Discord slash commands"
    )
    p.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the schema before starting"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check a token is set, migrate, and run until interrupted."""
    settings = get_settings()
    if settings.telegram_token is None and settings.discord_token is None:
        raise ConfigError(
            "neither SOLAI_TELEGRAM_TOKEN nor SOLAI_DISCORD_TOKEN is set: set one or both to run "
            "the bots (the console chat of `solai demo` needs no token)"
        )
    if not args.no_migrate:
        migrate.upgrade(settings.database_url)
    return asyncio.run(serve(settings, args))


async def serve(settings: Settings, args: argparse.Namespace) -> int:
    """Open resources, start each configured bot, wait for SIGINT/SIGTERM, stop in reverse."""
    async with open_deps(settings, default_registry()) as deps:
        senders: dict[str, Sender] = {}
        async with contextlib.AsyncExitStack() as stack:
            core = CommandCore(deps)
            if settings.telegram_token is not None:
                senders["telegram"] = await _start_telegram(stack, settings, core, args)
            if settings.discord_token is not None:
                senders["discord"] = await _start_discord(stack, settings, core, args)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            with attached(deps, Fanout(deps, senders)):
                print(f"SolAI bots running: {', '.join(sorted(senders))} (Ctrl-C to stop)")
                await stop.wait()
    return 0


async def _start_telegram(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    core: CommandCore,
    args: argparse.Namespace,
) -> Sender:
    app = build_application(settings, core, webhook=bool(args.webhook_url))
    await stack.enter_async_context(app)
    await publish_commands(app.bot)
    await app.start()
    stack.push_async_callback(app.stop)
    if args.webhook_url:
        secret = webhook_secret(settings)
        await set_webhook(app, args.webhook_url, secret)
        host, _, port = args.listen.rpartition(":")
        # The receiver serves the path of the public URL (a proxy in front keeps it).
        path = urlsplit(args.webhook_url).path or "/telegram"
        config = uvicorn.Config(
            webhook_app(app, secret=secret, path=path),
            host=host or "127.0.0.1",
            port=int(port),
            log_level="warning",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())

        async def stop_server() -> None:
            """Stop the webhook receiver."""
            server.should_exit = True
            await task

        stack.push_async_callback(stop_server)
        logger.info("telegram: webhook at %s, listening on %s", args.webhook_url, args.listen)
    else:
        assert app.updater is not None
        await app.bot.delete_webhook()
        await app.updater.start_polling(allowed_updates=["message", "callback_query"])
        stack.push_async_callback(app.updater.stop)
        logger.info("telegram: polling %s", settings.telegram_bot_api_url)
    links = Links(settings.public_url, app.bot.username, settings.telegram_webapp_name)
    return TelegramSender(
        app.bot,
        process_limiter("telegram", core.deps),
        links,
        on_migrate=chat_migrator(core.deps),
    )


async def _start_discord(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    core: CommandCore,
    args: argparse.Namespace,
) -> Sender:
    from bot.discord_adapter import DiscordBot, DiscordSender

    assert settings.discord_token is not None
    client = DiscordBot(core, public_url=settings.public_url, sync_commands=not args.no_sync)
    await stack.enter_async_context(client)
    await client.login(settings.discord_token.get_secret_value())
    task = asyncio.create_task(client.connect())

    async def stop_client() -> None:
        """Close the gateway connection and wait for it."""
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop_client)
    logger.info("discord: connecting")
    return DiscordSender(client, process_limiter("discord", core.deps), settings.public_url)
