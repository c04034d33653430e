"""Receive Telegram updates by webhook: a tiny ASGI app that feeds ``application.update_queue``.

The Application is built with ``webhook=True`` (``.updater(None)``): nothing polls, and this app
takes each POSTed update, checks Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header against
the secret given to ``setWebhook``, and queues it; ``application.start()`` processes the queue.
Serve it with uvicorn behind HTTPS (Telegram only calls HTTPS URLs on ports 443, 80, 88, 8443).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from telegram import Update
from telegram.ext import Application

from engine.settings import Settings

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALLOWED_UPDATES: Final = ["message", "callback_query", "channel_post", "my_chat_member"]
MAX_BODY: Final = 1 << 20


def webhook_secret(settings: Settings) -> str:
    """The ``secret_token`` for setWebhook, derived from SOLAI_SECRET_KEY (stable, not logged)."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"telegram-webhook", hashlib.sha256).hexdigest()


async def set_webhook(
    application: Application[Any, Any, Any, Any, Any, Any], url: str, secret: str
) -> None:
    """Point Telegram at ``url`` with our secret header."""
    await application.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)


def webhook_app(
    application: Application[Any, Any, Any, Any, Any, Any], *, secret: str, path: str = "/telegram"
) -> ASGIApp:
    """An ASGI app accepting updates at ``path``; 403 without the right secret header."""

    async def respond(send: Send, status: int) -> None:
        """An empty answer with a status."""
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] != path or scope["method"] != "POST":
            await respond(send, 404)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        given = headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            await respond(send, 403)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await respond(send, 413)
                return
        try:
            update = Update.de_json(json.loads(body), application.bot)
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("webhook body is not an update: %s", exc)
            await respond(send, 400)
            return
        await application.update_queue.put(update)
        await respond(send, 200)

    return app
